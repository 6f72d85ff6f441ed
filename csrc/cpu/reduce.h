// Reductions on the CPU. A reduction over a set of dims is planned as M independent outputs
// (the kept dims) each folding K inputs (the reduced dims, merged where contiguous). Threads
// split the outputs when there are enough of them, otherwise they split K and merge partials.
#pragma once
#include <algorithm>
#include <array>
#include <limits>
#include <vector>
#include "core/host_device.h"
#include "core/tensor.h"
#include "cpu/loops.h"
#include "kernels/reduce.h"

namespace gc::cpu {

using kernels::ReducePlan;
using kernels::WelfordAcc;
using kernels::kept_offset;


// Calls run(offset, k, n, stride) for the reduced elements k in [k0, k1) of the output whose
// base offset (in elements) is `base`, one call per stretch along the innermost reduced dim:
// element k + j (j < n) is at offset + j * stride.
template <typename F>
inline void for_reduced_runs(const ReducePlan& p, int64_t base, int64_t k0, int64_t k1, F&& run) {
  const int64_t nd = static_cast<int64_t>(p.red_shape.size());
  if (k0 >= k1) return;
  if (nd == 0) return run(base, int64_t(0), int64_t(1), int64_t(0));
  if (nd == 1) return run(base + k0 * p.red_strides[0], k0, k1 - k0, p.red_strides[0]);
  DimVector idx(nd);
  int64_t rem = k0, off = base;
  for (int64_t d = nd - 1; d >= 0; --d) {
    idx[d] = rem % p.red_shape[d];
    rem /= p.red_shape[d];
    off += idx[d] * p.red_strides[d];
  }
  const int64_t last = nd - 1, ls = p.red_strides[last];
  for (int64_t k = k0; k < k1;) {
    int64_t n = std::min(p.red_shape[last] - idx[last], k1 - k);
    run(off, k, n, ls);
    k += n;
    off += n * ls;
    idx[last] += n;
    for (int64_t d = last; d > 0 && idx[d] == p.red_shape[d]; --d) {
      off -= idx[d] * p.red_strides[d];
      idx[d] = 0;
      idx[d - 1]++;
      off += p.red_strides[d - 1];
    }
  }
}

// Calls visit(offset, k) for each reduced element k in [k0, k1).
template <typename F>
inline void for_reduced(const ReducePlan& p, int64_t base, int64_t k0, int64_t k1, F&& visit) {
  for_reduced_runs(p, base, k0, k1, [&](int64_t off, int64_t k, int64_t n, int64_t s) {
    for (int64_t j = 0; j < n; ++j) visit(off + j * s, k + j);
  });
}

// ---- the generic fold ----
// An accumulator Acc has add(value, k) (k: the element's position among the reduced ones) and
// merge(other). Partial folds over any split of the k range are merged in any order, so merge
// must not depend on order (arg-max/min breaks ties by the smaller k). write(m, acc) stores
// output m. Two layouts get their own loops, both for the same reason: a single fold per output
// is one long dependency chain (an add every ~4 cycles) and, when the reduced dim is not the
// innermost, a strided walk.
//  - inner: unit-stride reduced runs are folded into kFoldLanes interleaved partials, which the
//    CPU runs in parallel, then merged;
//  - outer: when the innermost kept dim has stride 1 (sum over the batch of a [N, C] tensor),
//    kOuterBlock outputs are folded side by side, row by row: unit-stride loads and independent
//    accumulators, which the compiler vectorises for sums.
constexpr int kFoldLanes = 8;
constexpr int64_t kOuterBlock = 256;

// ---- unit-stride runs of float32 / float64, vectorised ----
// An accumulator may fold a whole unit-stride run itself: add_run(q, n, k) (the run holds
// elements k .. k + n - 1) returns false when it has no such path for T or for so short a run.
// The generic lanes above run at the baseline's width (SSE2: kFoldLanes doubles are 4 chains of
// 2), so a float32 sum ran at a third of PyTorch's speed and max, whose accumulator also carries
// a NaN flag, did not vectorise at all. These folds write their lanes
// out as plain arrays, four vectors' worth of independent chains, compiled for the widest
// vectors (call_widest) and combined in a fixed order: the same bits on every ISA.
template <typename T>
inline constexpr int kRunLanes = 256 / sizeof(T);
// Runs shorter than 2 * kRunLanes (a softmax-sized row of 64) fold in one vector's worth of lanes:
// a 64-lane tree costs as much as such a row.
template <typename T>
inline constexpr int kShortLanes = 64 / sizeof(T);
// float32 sums add kSumBlock values into float lanes (each lane adds kSumBlock / kRunLanes = 4 of
// them) before the block goes into the double sums: converting every value to double halved the
// speed, and a float partial of 4 values keeps the total at double accuracy in practice (2^20
// times 0.1f rounds correctly; with partials of 16 values it was 2 ulps off, as PyTorch's float
// cascade is).
constexpr int64_t kSumBlock = 256;

template <typename T>
inline constexpr bool run_float_v = std::is_same_v<T, float> || std::is_same_v<T, double>;
// Whether a run of n values of T takes the vector folds: T is float32/float64 and the run fills
// the short lanes twice.
template <typename T>
constexpr bool run_vectorised(int64_t n) {
  if constexpr (run_float_v<T>) return n >= 2 * kShortLanes<T>;
  else return false;
}

// The sum over j < n of f(q[j]) (f takes and returns T), in double. The lanes are combined as a
// tree (halves added pairwise): a chain of 64 dependent adds cost as much as a short row's fold.
template <int L, typename T, typename F>
GC_ALWAYS_INLINE_LOOP double lanes_sum_w(const T* q, int64_t n, const F& f) {
  constexpr int64_t block_len = std::is_same_v<T, float> ? kSumBlock : std::numeric_limits<int64_t>::max();
  double part[L] = {};
  const int64_t whole = n - n % L;
  int64_t j = 0;
  while (j < whole) {
    const int64_t end = whole - j > block_len ? j + block_len : whole;
    T block[L] = {};
    for (; j < end; j += L)
      for (int l = 0; l < L; ++l) block[l] += f(q[j + l]);
    for (int l = 0; l < L; ++l) part[l] += static_cast<double>(block[l]);
  }
  for (int w = L / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) part[l] += part[l + w];
  double s = part[0];
  for (; j < n; ++j) s += static_cast<double>(f(q[j]));
  return s;
}

// The largest (IsMax) or smallest f(q[j]) over j < n, NaN aside (`*nan` is set when one was seen),
// starting from `start`.
template <bool IsMax, int L, typename T, typename F>
GC_ALWAYS_INLINE_LOOP T lanes_extreme_w(const T* q, int64_t n, T start, const F& f, bool* nan) {
  using Bits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  T m[L];
  Bits bad[L] = {};
  for (int l = 0; l < L; ++l) m[l] = start;
  int64_t j = 0;
  for (; j + L <= n; j += L)
    for (int l = 0; l < L; ++l) {
      const T x = f(q[j + l]);
      m[l] = (IsMax ? x > m[l] : x < m[l]) ? x : m[l];
      bad[l] |= static_cast<Bits>(x != x);
    }
  for (int w = L / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) {
      m[l] = (IsMax ? m[l + w] > m[l] : m[l + w] < m[l]) ? m[l + w] : m[l];
      bad[l] |= bad[l + w];
    }
  T r = m[0];
  Bits any = bad[0];
  for (; j < n; ++j) {
    const T x = f(q[j]);
    r = (IsMax ? x > r : x < r) ? x : r;
    any |= static_cast<Bits>(x != x);
  }
  *nan = *nan || any != 0;
  return r;
}

// The index of the first j < n with q[j] == v (or, when nan, the first NaN); n when none. Blocks of
// lanes are tested whole (a vector OR), then the block that holds it is searched.
template <int L, typename T>
GC_ALWAYS_INLINE_LOOP int64_t lanes_find_w(const T* q, int64_t n, T v, bool nan) {
  using Bits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  auto match = [v, nan](T x) { return nan ? x != x : x == v; };
  int64_t j = 0;
  for (; j + L <= n; j += L) {
    Bits hit = 0;
    for (int l = 0; l < L; ++l) hit |= static_cast<Bits>(match(q[j + l]));
    if (hit) break;
  }
  for (; j < n; ++j)
    if (match(q[j])) return j;
  return n;
}

// The folds above with kRunLanes lanes for long runs, kShortLanes for short ones.
template <typename T, typename F>
GC_ALWAYS_INLINE_LOOP double lanes_sum(const T* q, int64_t n, const F& f) {
  return n >= 2 * kRunLanes<T> ? lanes_sum_w<kRunLanes<T>>(q, n, f) : lanes_sum_w<kShortLanes<T>>(q, n, f);
}
template <bool IsMax, typename T, typename F>
GC_ALWAYS_INLINE_LOOP T lanes_extreme(const T* q, int64_t n, T start, const F& f, bool* nan) {
  return n >= 2 * kRunLanes<T> ? lanes_extreme_w<IsMax, kRunLanes<T>>(q, n, start, f, nan)
                               : lanes_extreme_w<IsMax, kShortLanes<T>>(q, n, start, f, nan);
}
template <typename T>
GC_ALWAYS_INLINE_LOOP int64_t lanes_find(const T* q, int64_t n, T v, bool nan) {
  return n >= 2 * kRunLanes<T> ? lanes_find_w<kRunLanes<T>>(q, n, v, nan) : lanes_find_w<kShortLanes<T>>(q, n, v, nan);
}

template <typename Acc, typename T, typename = void>
struct has_add_run : std::false_type {};
template <typename Acc, typename T>
struct has_add_run<Acc, T,
                   std::void_t<decltype(std::declval<Acc&>().add_run(std::declval<const T*>(), int64_t(), int64_t()))>>
    : std::true_type {};

template <typename T, typename Acc>
inline void fold_range(const T* data, const ReducePlan& p, int64_t base, int64_t k0, int64_t k1, const Acc& init,
                       Acc& acc) {
  for_reduced_runs(p, base, k0, k1, [&](int64_t off, int64_t k, int64_t n, int64_t s) {
    const T* q = data + off;
    int64_t j = 0;
    if constexpr (has_add_run<Acc, T>::value)
      if (s == 1 && acc.add_run(q, n, k)) return;
    if (s == 1 && n >= 4 * kFoldLanes) {
      std::array<Acc, kFoldLanes> lane;
      lane.fill(init);
      for (; j + kFoldLanes <= n; j += kFoldLanes)
        for (int l = 0; l < kFoldLanes; ++l) lane[l].add(q[j + l], k + j + l);
      for (const auto& l : lane) acc.merge(l);
    }
    for (; j < n; ++j) acc.add(q[j * s], k + j);
  });
}

// A sum in a wide accumulator A (double for floats, int64 for integers and bool).
template <typename A>
struct SumAcc {
  A s = 0;
  template <typename V>
  void add(V v, int64_t) { s += static_cast<A>(v); }
  void merge(const SumAcc& o) { s += o.s; }
  template <typename T>
  bool add_run(const T* q, int64_t n, int64_t) {
    if constexpr (std::is_same_v<A, double> && run_float_v<T>) {
      if (!run_vectorised<T>(n)) return false;
      s += call_widest([=] { return lanes_sum(q, n, [](T v) { return v; }); });
      return true;
    }
    return false;
  }
};

// Column sums of float32 rows of n <= kOuterBlock entries, added one row at a time: a row goes
// into float partial sums, as wide as the CPU's vectors (index_loop_widest: 16 lanes with
// AVX-512, where the double accumulators' loop ran 2 wide), and every kFlushRows rows the partials
// go into the double sums, so a long column keeps near double accuracy (a partial rounds at
// most kFlushRows times). Every column adds its rows in order on every ISA level: the sums are
// the same bits on each.
class ColumnSumsF32 {
 public:
  static constexpr int kFlushRows = 32;
  ColumnSumsF32(double* sums, int64_t n) : sums_(sums), n_(n) { std::fill(part_, part_ + n, 0.0f); }
  void add(const float* row) {
    float* part = part_;
    index_loop_widest<true>([=](int64_t c) { part[c] += row[c]; }, n_);
    if (++rows_ == kFlushRows) flush();
  }
  void flush() {
    for (int64_t c = 0; c < n_; ++c) {
      sums_[c] += part_[c];
      part_[c] = 0.0f;
    }
    rows_ = 0;
  }

 private:
  double* sums_;
  int64_t n_;
  int rows_ = 0;
  float part_[kOuterBlock];
};

// Folds reduced elements [k0, k1) of outputs (mo, c0 .. c0 + cb) into accs[0 .. cb). Float32
// sums take ColumnSumsF32's wide float loop; the generic fold is its twin in the tests.
template <typename T, typename Acc>
inline void fold_outer_block(const T* data, const ReducePlan& p, int64_t base, int64_t cb, int64_t k0, int64_t k1,
                             Acc* accs) {
  if constexpr (std::is_same_v<T, float> && std::is_same_v<Acc, SumAcc<double>>) {
    if (k1 - k0 >= 2 * ColumnSumsF32::kFlushRows) {
      double sums[kOuterBlock];
      for (int64_t c = 0; c < cb; ++c) sums[c] = accs[c].s;
      ColumnSumsF32 col(sums, cb);
      for_reduced(p, base, k0, k1, [&](int64_t off, int64_t) { col.add(data + off); });
      col.flush();
      for (int64_t c = 0; c < cb; ++c) accs[c].s = sums[c];
      return;
    }
  }
  for_reduced(p, base, k0, k1, [&](int64_t off, int64_t k) {
    const T* row = data + off;
    for (int64_t c = 0; c < cb; ++c) accs[c].add(row[c], k);
  });
}

template <typename T, typename Acc, typename Write>
void reduce_outer(const T* data, const ReducePlan& p, const Acc& init, Write& write) {
  const int64_t C = p.kept_shape.back(), K = p.K;
  const int64_t nblk = (C + kOuterBlock - 1) / kOuterBlock, tasks = (p.M / C) * nblk;
  int nt = get_num_threads();
  const bool big = p.M * K >= kParallelGrain && nt > 1;
  auto task_geom = [&](int64_t t, int64_t& m0, int64_t& cb) {
    int64_t mo = t / nblk, c0 = (t % nblk) * kOuterBlock;
    cb = std::min(kOuterBlock, C - c0);
    m0 = mo * C + c0;
  };
  if (!big || tasks >= nt) {
#ifdef GRADCORE_OPENMP
#pragma omp parallel for num_threads(nt) if (big) schedule(static)
#endif
    for (int64_t t = 0; t < tasks; ++t) {
      int64_t m0, cb;
      task_geom(t, m0, cb);
      std::array<Acc, kOuterBlock> accs;
      accs.fill(init);
      fold_outer_block(data, p, kept_offset(p, m0), cb, 0, K, accs.data());
      for (int64_t c = 0; c < cb; ++c) write(m0 + c, accs[c]);
    }
    return;
  }
  // Few blocks, many rows: each thread folds a slice of the rows, then the slices merge.
  for (int64_t t = 0; t < tasks; ++t) {
    int64_t m0, cb;
    task_geom(t, m0, cb);
    const int64_t base = kept_offset(p, m0);
    std::vector<Acc> parts(static_cast<size_t>(nt) * cb, init);
#ifdef GRADCORE_OPENMP
#pragma omp parallel num_threads(nt)
    {
      int th = omp_get_thread_num(), T_ = omp_get_num_threads();
      int64_t chunk = (K + T_ - 1) / T_, k0 = std::min(K, chunk * th), k1 = std::min(K, k0 + chunk);
      fold_outer_block(data, p, base, cb, k0, k1, parts.data() + th * cb);
    }
#else
    fold_outer_block(data, p, base, cb, 0, K, parts.data());
#endif
    for (int th = 1; th < nt; ++th)
      for (int64_t c = 0; c < cb; ++c) parts[c].merge(parts[th * cb + c]);
    for (int64_t c = 0; c < cb; ++c) write(m0 + c, parts[c]);
  }
}

template <typename T, typename Acc, typename Write>
void reduce_loop(const Tensor& x, const ReducePlan& p, const Acc& init, Write write) {
  const T* data = x.data_as<T>();
  const int64_t M = p.M, K = p.K;
  if (M == 0) return;
  if (!p.kept_shape.empty() && p.kept_strides.back() == 1 && !p.red_shape.empty() && K > 1)
    return reduce_outer<T>(data, p, init, write);
  int nt = get_num_threads();
  bool big = M * K >= kParallelGrain && nt > 1;
  if (!big || M >= nt) {
    // Outputs [m0, m1). With one unit-stride run per output (a reduction over the last dim, e.g.
    // sum(-1) over rows of 64) and an accumulator with a vector fold, the block runs in one
    // function compiled for the widest ISA, the fold inlined, instead of one dispatch per row.
    auto rows = [&](int64_t m0, int64_t m1) {
      auto fold = [&] {
        for (int64_t m = m0; m < m1; ++m) {
          Acc acc = init;
          fold_range(data, p, kept_offset(p, m), 0, K, init, acc);
          write(m, acc);
        }
      };
      if constexpr (has_add_run<Acc, T>::value)
        if (p.red_shape.size() == 1 && p.red_strides[0] == 1 && run_vectorised<T>(K)) return call_widest(fold);
      fold();
    };
#ifdef GRADCORE_OPENMP
#pragma omp parallel num_threads(nt) if (big)
    {
      const int t = omp_get_thread_num(), T_ = omp_get_num_threads();
      const int64_t chunk = (M + T_ - 1) / T_, m0 = std::min(M, chunk * t);
      rows(m0, std::min(M, m0 + chunk));
    }
#else
    rows(0, M);
#endif
    return;
  }
  // Few outputs, many inputs each: split K across threads and merge the partial folds.
  for (int64_t m = 0; m < M; ++m) {
    std::vector<Acc> parts(nt, init);
    int64_t base = kept_offset(p, m);
#ifdef GRADCORE_OPENMP
#pragma omp parallel num_threads(nt)
    {
      int t = omp_get_thread_num(), T_ = omp_get_num_threads();
      int64_t chunk = (K + T_ - 1) / T_, k0 = std::min(K, chunk * t), k1 = std::min(K, k0 + chunk);
      fold_range(data, p, base, k0, k1, init, parts[t]);
    }
#else
    fold_range(data, p, base, 0, K, init, parts[0]);
#endif
    Acc total = parts[0];
    for (int t = 1; t < nt; ++t) total.merge(parts[t]);
    write(m, total);
  }
}

// Calls fn(m, base) for every output m with the offset of its first reduced element; threads
// split the outputs when the whole reduction is large.
template <typename F>
void for_each_output(const ReducePlan& p, F fn) {
  if (p.M == 0) return;
  int nt = get_num_threads();
  bool big = p.M * p.K >= kParallelGrain && nt > 1 && p.M > 1;
#ifdef GRADCORE_OPENMP
#pragma omp parallel for num_threads(nt) if (big) schedule(static)
#endif
  for (int64_t m = 0; m < p.M; ++m) fn(m, kept_offset(p, m));
  (void)big;
}

// Every kernel below writes output m of a contiguous `out` (M elements, the kept dims in
// row-major order) and accumulates floats in double.

// out = sum over the plan, computed with a wide accumulator (double for floats, int64 for
// integers and bool); scale multiplies the result (1/K for mean).
void sum_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double scale);
// out = sum((x - mean)^2) / max(0, K - correction), or its square root; Welford's update.
void var_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double correction, bool take_sqrt);
// out = product (int64 for integer and bool inputs).
void prod_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p);
// out = max (is_max) or min; NaN propagates. K must be > 0.
void minmax_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_max);
// indices = position k (row-major over the reduced dims) of the max (min), the first one among
// ties, the first NaN if any; values (optional) = that element. K must be > 0.
void arg_minmax_kernel(const Tensor* values, const Tensor& indices, const Tensor& x, const ReducePlan& p, bool is_max);
// out = vector p-norm: ord 0 (count of non-zeros), 1, 2, +-inf, or any other p.
void norm_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double ord);
// out (bool) = any / all of x != 0.
void any_all_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_all);

// Backward kernels. gx and x share shape and (contiguous) strides, so one plan addresses both;
// g is contiguous with M elements.
// gx = g * product of the other elements of each reduction (exact when x holds zeros).
void prod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const ReducePlan& p);
// gx (zeroed by the caller) receives g[m] at the reduced element indices[m] of output m.
void index_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& indices, const ReducePlan& p);

}  // namespace gc::cpu
