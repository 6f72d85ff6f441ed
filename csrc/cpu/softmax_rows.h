// Row machinery shared by the softmax kernels (cpu/softmax.cpp) and the class-loss kernels
// (cpu/class_loss.cpp): how rows are split across threads, a strided view of one row, and the
// three-pass row statistics (max, then log of the sum of exp(x - max)). Float rows with unit
// stride and float tiles compute exp with kernels/fast_math.h in loops vectorised at the CPU's
// widest ISA (cpu/loops.h index_loop_widest); everything else runs plain loops and libm.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>
#include "cpu/loops.h"
#include "cpu/class_loss.h"
#include "cpu/softmax.h"
#include "kernels/fast_math.h"

#ifdef GRADCORE_OPENMP
#define GC_PRAGMA(x) _Pragma(#x)
#define GC_SIMD_MAX(v) GC_PRAGMA(omp simd reduction(max : v))
#define GC_SIMD_SUM(v) GC_PRAGMA(omp simd reduction(+ : v))
#else
#define GC_SIMD_MAX(v)
#define GC_SIMD_SUM(v)
#endif

namespace gc::cpu::rows {

// Threads for R rows of C entries: one below the grain, at most one per row.
inline int row_threads(int64_t R, int64_t C) {
  if (R < 2 || R * std::max<int64_t>(C, 1) < kParallelGrain) return 1;
  return static_cast<int>(std::min<int64_t>(get_num_threads(), R));
}

// Runs fn(r0, r1, t) over nt contiguous blocks of the rows [0, R).
template <typename F>
void run_rows(int64_t R, int nt, F&& fn) {
#ifdef GRADCORE_OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(nt)
    {
      int t = omp_get_thread_num(), T = omp_get_num_threads();
      int64_t chunk = (R + T - 1) / T, r0 = std::min(R, chunk * t), r1 = std::min(R, r0 + chunk);
      fn(r0, r1, t);
    }
    return;
  }
#endif
  fn(int64_t(0), R, 0);
}

// Runs fn(r0, r1) -> LossSums over the rows and adds the blocks' sums in block order.
template <typename F>
LossSums sum_rows(int64_t R, int64_t C, F&& fn) {
  int nt = row_threads(R, C);
  std::vector<LossSums> parts(nt);
  run_rows(R, nt, [&](int64_t r0, int64_t r1, int t) { parts[t] = fn(r0, r1); });
  LossSums total;
  for (auto& p : parts) {
    total.loss += p.loss;
    total.weight += p.weight;
  }
  return total;
}

// One row's C entries with class stride cs; Unit makes the stride a compile-time 1 so the
// loops over it vectorise.
template <typename T, bool Unit>
struct RowRef {
  T* p;
  int64_t cs;
  T& operator[](int64_t c) const { return p[Unit ? c : c * cs]; }
};

// Unit-stride float rows (defined in cpu/softmax.cpp).
float max_f32(const float* x, int64_t C);
// sum_c exp(x_c - m), also stored to out when given.
double sum_exp_f32(const float* x, int64_t C, float m, float* out);

// Rows that take the SIMD float path.
template <typename T, bool Unit>
constexpr bool kVecRow = Unit && std::is_same_v<T, float>;

template <typename T, bool Unit>
T row_max(RowRef<const T, Unit> x, int64_t C) {
  if constexpr (kVecRow<T, Unit>) return max_f32(x.p, C);
  T m = -std::numeric_limits<T>::infinity();
  GC_SIMD_MAX(m)
  for (int64_t c = 0; c < C; ++c) m = std::max(m, x[c]);
  return m;
}

// sum_c exp(x_c - m), also written to out when given.
template <typename T, bool Unit>
double row_sum_exp(RowRef<const T, Unit> x, int64_t C, T m, T* out) {
  if constexpr (kVecRow<T, Unit>) return sum_exp_f32(x.p, C, m, out);
  double s = 0;
  for (int64_t c = 0; c < C; ++c) {
    const T e = std::exp(x[c] - m);
    if (out) out[Unit ? c : c * x.cs] = e;
    s += e;
  }
  return s;
}

// Row max and log(sum(exp(x - max))). A NaN anywhere in the row makes the sum NaN, so it
// propagates to every output of the row, as in PyTorch.
template <typename T, bool Unit>
void row_stats(RowRef<const T, Unit> x, int64_t C, T& m, T& logsum) {
  m = row_max(x, C);
  logsum = static_cast<T>(std::log(row_sum_exp(x, C, m, static_cast<T*>(nullptr))));
}

// Calls body(std::bool_constant<inner == 1>{}): the Unit argument of the row templates.
template <typename F>
void with_unit(const RowLayout& L, F&& body) {
  if (L.inner == 1) body(std::true_type{});
  else body(std::false_type{});
}

// ---- class dim not last: tiles of adjacent rows ----
// A tile is up to kTile rows with the same outer index and adjacent inner positions. For every
// class those rows' entries are contiguous, so each pass walks the C classes with unit-stride
// loops across the tile: the vectorised direction is the rows, and each class's cache lines are
// read once per pass rather than once per row.
constexpr int64_t kTile = 64;
constexpr int64_t kFlush = 256;  // classes summed in the logits' precision before going to double

// m[j] = max(m[j], x[j]) across a tile of B rows.
template <typename T>
void max_tile(T* m, const T* x, int64_t B) {
  for (int64_t j = 0; j < B; ++j) m[j] = x[j] > m[j] ? x[j] : m[j];
}

// part[j] += e_j = exp(x[j] - m[j]) across a tile of B rows, also storing e to out when given.
template <typename T>
void exp_shift_tile(const T* x, const T* m, T* part, T* out, int64_t B) {
  if constexpr (std::is_same_v<T, float>) {
    if (out) {
      index_loop_widest([=](int64_t j) {
        const float e = math::fast::exp(x[j] - m[j]);
        out[j] = e;
        part[j] += e;
      }, B);
    } else {
      index_loop_widest([=](int64_t j) { part[j] += math::fast::exp(x[j] - m[j]); }, B);
    }
  } else {
    for (int64_t j = 0; j < B; ++j) {
      const T e = std::exp(x[j] - m[j]);
      if (out) out[j] = e;
      part[j] += e;
    }
  }
}

// Row max m[j] and sum[j] = sum_c exp(x_c[j] - m[j]) for the tile's B rows (class stride st),
// also storing the exp terms to out (same layout) when given. Sums run in the logits'
// precision over kFlush classes at a time, then in double.
template <typename T>
void tile_max_sum_exp(const T* x, int64_t C, int64_t st, int64_t B, T* m, double* sum, T* out) {
  T part[kTile];
  for (int64_t j = 0; j < B; ++j) {
    m[j] = -std::numeric_limits<T>::infinity();
    part[j] = T(0);
    sum[j] = 0;
  }
  for (int64_t c = 0; c < C; ++c) max_tile(m, x + c * st, B);
  for (int64_t c = 0; c < C; ++c) {
    exp_shift_tile(x + c * st, m, part, out ? out + c * st : nullptr, B);
    if ((c + 1) % kFlush == 0 || c + 1 == C) {
      for (int64_t j = 0; j < B; ++j) {
        sum[j] += part[j];
        part[j] = T(0);
      }
    }
  }
}

// Runs fn(offset, row, B, t) for every tile of rows: `offset` is the tile's first entry in the
// [outer, C, inner] tensor, `row` its first row index, B its size (the last tile of an outer
// index may be short) and t the block of tiles (thread) it belongs to.
inline int64_t tile_count(const RowLayout& L) { return L.outer * ((L.inner + kTile - 1) / kTile); }
inline int tile_threads(const RowLayout& L) { return row_threads(tile_count(L), L.C * kTile); }

template <typename F>
void for_each_tile(const RowLayout& L, F&& fn) {
  const int64_t per_outer = (L.inner + kTile - 1) / kTile, n = tile_count(L);
  const int nt = tile_threads(L);
  run_rows(n, nt, [&](int64_t t0, int64_t t1, int t) {
    for (int64_t i = t0; i < t1; ++i) {
      const int64_t o = i / per_outer, s0 = (i % per_outer) * kTile;
      fn(o * L.C * L.inner + s0, o * L.inner + s0, std::min(kTile, L.inner - s0), t);
    }
  });
}

}  // namespace gc::cpu::rows
