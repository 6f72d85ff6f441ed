// Softmax and log_softmax. Every row makes three passes over its C entries:
//   1. m = max_c x_c                       (softmax(x) = softmax(x - m), so exp never overflows)
//   2. s = sum_c exp(x_c - m)             (in double; float lanes are flushed to it in blocks)
//   3. write: softmax = exp(x - m) / s (pass 2 stored exp(x - m), so pass 3 only scales),
//      log_softmax = (x - m) - log(s) (x - m is exact for the large entries).
// With the class dim last the rows are unit-stride: float rows run the exp passes with
// kernels/fast_math.h's exp at the CPU's widest ISA (cpu/loops.h) and the compiler vectorises the rest. With the class dim elsewhere a
// row is strided by `inner`, so the passes run on tiles of adjacent rows instead, vectorised
// across the rows (see softmax_tile). Threads take contiguous blocks of rows or tiles once the
// work passes kParallelGrain. Rows of 16-bit floats are widened into float scratch a row (or a
// tile) at a time and rounded once on the way out (see softmax_half).
#include "cpu/softmax_rows.h"

namespace gc::cpu {

namespace rows {

// ---- unit-stride float rows ----

// Partial maxima in kLanes interleaved lanes, which the compiler vectorises (a single running max
// is one long dependency chain).
float max_f32(const float* x, int64_t C) {
  constexpr int64_t kLanes = 16;
  float m = -std::numeric_limits<float>::infinity();
  int64_t c = 0;
  if (C >= kLanes) {
    float lane[kLanes];
    std::copy(x, x + kLanes, lane);
    for (c = kLanes; c + kLanes <= C; c += kLanes)
      for (int64_t j = 0; j < kLanes; ++j) lane[j] = x[c + j] > lane[j] ? x[c + j] : lane[j];
    for (float v : lane) m = v > m ? v : m;
  }
  for (; c < C; ++c) m = x[c] > m ? x[c] : m;
  return m;
}

// sum_c exp(x_c - m), also stored to out when given. A block of kBlock exps is written (to out,
// or to scratch) by one loop at the widest ISA, then summed in float in kLanes interleaved lanes;
// the blocks are added in double, so long rows keep double-like accuracy.
double sum_exp_f32(const float* x, int64_t C, float m, float* out) {
  constexpr int64_t kBlock = 256, kLanes = 16;
  float scratch[kBlock];
  double s = 0;
  for (int64_t b = 0; b < C; b += kBlock) {
    const int64_t n = std::min(kBlock, C - b);
    float* e = out ? out + b : scratch;
    const float* xb = x + b;
    index_loop_widest<true>([=](int64_t c) { e[c] = math::fast::exp(xb[c] - m); }, n);
    float lane[kLanes] = {};
    int64_t c = 0;
    for (; c + kLanes <= n; c += kLanes)
      for (int64_t j = 0; j < kLanes; ++j) lane[j] += e[c + j];
    float part = 0;
    for (; c < n; ++c) part += e[c];
    for (float v : lane) part += v;
    s += part;
  }
  return s;
}

}  // namespace rows

namespace {

using namespace rows;

// The log_softmax gradient row: out = g - exp(y) * s (out may be g).
void log_softmax_grad_f32(float* out, const float* g, const float* y, int64_t C, float s) {
  index_loop_widest([=](int64_t c) { out[c] = g[c] - math::fast::exp(y[c]) * s; }, C);
}

// ---- class dim last: one row at a time, unit stride ----

template <typename T>
void softmax_rows(T* out, const T* x, int64_t C, bool log, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    RowRef<const T, true> xr{x + r * C, 1};
    T* yr = out + r * C;
    const T m = row_max(xr, C);
    if (log) {
      const T ls = static_cast<T>(std::log(row_sum_exp(xr, C, m, static_cast<T*>(nullptr))));
      for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) - ls;
    } else {
      const T inv = static_cast<T>(1.0 / row_sum_exp(xr, C, m, yr));
      for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
    }
  }
}

template <typename T>
void softmax_backward_rows(T* gx, const T* g, const T* y, int64_t C, bool log, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const T *gr = g + r * C, *yr = y + r * C;
    T* out = gx + r * C;
    double acc = 0;
    if (log) {
      // d/dx_j of sum_c g_c (x_c - lse) = g_j - softmax_j * sum_c g_c, with softmax = exp(y)
      GC_SIMD_SUM(acc)
      for (int64_t c = 0; c < C; ++c) acc += gr[c];
      const T sg = static_cast<T>(acc);
      if constexpr (std::is_same_v<T, float>) log_softmax_grad_f32(out, gr, yr, C, sg);
      else
        for (int64_t c = 0; c < C; ++c) out[c] = gr[c] - std::exp(yr[c]) * sg;
    } else {
      // the Jacobian diag(y) - y y^T applied to g: y * (g - <g, y>)
      GC_SIMD_SUM(acc)
      for (int64_t c = 0; c < C; ++c) acc += static_cast<double>(gr[c]) * yr[c];
      const T dot = static_cast<T>(acc);
      for (int64_t c = 0; c < C; ++c) out[c] = yr[c] * (gr[c] - dot);
    }
  }
}

// out = g - exp(y) * s across a tile (s per row).
template <typename T>
void sub_exp_scaled_tile(T* out, const T* g, const T* y, const T* s, int64_t B) {
  if constexpr (std::is_same_v<T, float>) {
    index_loop_widest([=](int64_t j) { out[j] = g[j] - math::fast::exp(y[j]) * s[j]; }, B);
  } else {
    for (int64_t j = 0; j < B; ++j) out[j] = g[j] - std::exp(y[j]) * s[j];
  }
}

// The three passes for the tile of B rows starting at x (class stride st); the first two are
// tile_max_sum_exp, which also leaves exp(x - m) in y for softmax.
template <typename T>
void softmax_tile(T* y, const T* x, int64_t C, int64_t st, int64_t B, bool log) {
  T m[kTile], fin[kTile];
  double sum[kTile];
  tile_max_sum_exp(x, C, st, B, m, sum, log ? nullptr : y);
  if (log) {
    for (int64_t j = 0; j < B; ++j) fin[j] = static_cast<T>(std::log(sum[j]));
    for (int64_t c = 0; c < C; ++c) {
      const T* xc = x + c * st;
      T* yc = y + c * st;
      for (int64_t j = 0; j < B; ++j) yc[j] = (xc[j] - m[j]) - fin[j];
    }
  } else {
    for (int64_t j = 0; j < B; ++j) fin[j] = static_cast<T>(1.0 / sum[j]);
    for (int64_t c = 0; c < C; ++c) {
      T* yc = y + c * st;
      for (int64_t j = 0; j < B; ++j) yc[j] *= fin[j];
    }
  }
}

template <typename T>
void softmax_backward_tile(T* gx, const T* g, const T* y, int64_t C, int64_t st, int64_t B, bool log) {
  double acc[kTile];
  T s[kTile];
  for (int64_t j = 0; j < B; ++j) acc[j] = 0;
  for (int64_t c = 0; c < C; ++c) {
    const T *gc = g + c * st, *yc = y + c * st;
    if (log)
      for (int64_t j = 0; j < B; ++j) acc[j] += gc[j];
    else
      for (int64_t j = 0; j < B; ++j) acc[j] += static_cast<double>(gc[j]) * yc[j];
  }
  for (int64_t j = 0; j < B; ++j) s[j] = static_cast<T>(acc[j]);
  for (int64_t c = 0; c < C; ++c) {
    const T *gc = g + c * st, *yc = y + c * st;
    T* oc = gx + c * st;
    if (log) sub_exp_scaled_tile(oc, gc, yc, s, B);
    else
      for (int64_t j = 0; j < B; ++j) oc[j] = yc[j] * (gc[j] - s[j]);
  }
}

template <typename T>
void softmax_typed(const Tensor& out, const Tensor& x, const RowLayout& L, bool log) {
  T* o = out.data_as<T>();
  const T* xi = x.data_as<T>();
  if (L.inner == 1) {
    run_rows(L.rows(), row_threads(L.rows(), L.C),
             [&](int64_t r0, int64_t r1, int) { softmax_rows<T>(o, xi, L.C, log, r0, r1); });
  } else {
    for_each_tile(L, [&](int64_t off, int64_t, int64_t B, int) {
      softmax_tile<T>(o + off, xi + off, L.C, L.inner, B, log);
    });
  }
}

template <typename T>
void softmax_backward_typed(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log) {
  T* o = gx.data_as<T>();
  const T *gi = g.data_as<T>(), *yi = y.data_as<T>();
  if (L.inner == 1) {
    run_rows(L.rows(), row_threads(L.rows(), L.C),
             [&](int64_t r0, int64_t r1, int) { softmax_backward_rows<T>(o, gi, yi, L.C, log, r0, r1); });
  } else {
    for_each_tile(L, [&](int64_t off, int64_t, int64_t B, int) {
      softmax_backward_tile<T>(o + off, gi + off, yi + off, L.C, L.inner, B, log);
    });
  }
}

// ---- 16-bit storage S: each row (or tile of rows) is widened into float scratch, the float
// code above runs on it in place, and the results are rounded once as they are stored. The float
// code addresses a tile only through its class stride, so a tile packed with stride B computes
// exactly what it computes in the tensor: the results are those of the float32 kernel on the
// widened values. ----

// A tile of B rows (class stride st in the tensor) widened into buf, packed with class stride B.
template <typename S>
void widen_tile(float* buf, const S* x, int64_t C, int64_t st, int64_t B) {
  for (int64_t c = 0; c < C; ++c) widen_run(buf + c * B, x + c * st, B);
}
template <typename S>
void narrow_tile(S* x, const float* buf, int64_t C, int64_t st, int64_t B) {
  for (int64_t c = 0; c < C; ++c) narrow_run(x + c * st, buf + c * B, B);
}

template <typename S>
void softmax_half(const Tensor& out, const Tensor& x, const RowLayout& L, bool log) {
  S* o = out.data_as<S>();
  const S* xi = x.data_as<S>();
  const int64_t C = L.C;
  if (L.inner == 1) {
    run_rows(L.rows(), row_threads(L.rows(), C), [&](int64_t r0, int64_t r1, int) {
      std::vector<float> buf(static_cast<size_t>(C));
      for (int64_t r = r0; r < r1; ++r) {
        widen_run(buf.data(), xi + r * C, C);
        softmax_rows<float>(buf.data(), buf.data(), C, log, 0, 1);
        narrow_run(o + r * C, buf.data(), C);
      }
    });
  } else {
    std::vector<std::vector<float>> bufs(static_cast<size_t>(tile_threads(L)));
    for_each_tile(L, [&](int64_t off, int64_t, int64_t B, int t) {
      auto& buf = bufs[t];
      buf.resize(static_cast<size_t>(C * kTile));
      widen_tile(buf.data(), xi + off, C, L.inner, B);
      softmax_tile<float>(buf.data(), buf.data(), C, B, B, log);
      narrow_tile(o + off, buf.data(), C, L.inner, B);
    });
  }
}

template <typename S>
void softmax_backward_half(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log) {
  S* o = gx.data_as<S>();
  const S *gi = g.data_as<S>(), *yi = y.data_as<S>();
  const int64_t C = L.C;
  if (L.inner == 1) {
    run_rows(L.rows(), row_threads(L.rows(), C), [&](int64_t r0, int64_t r1, int) {
      std::vector<float> gb(static_cast<size_t>(C)), yb(static_cast<size_t>(C));
      for (int64_t r = r0; r < r1; ++r) {
        widen_run(gb.data(), gi + r * C, C);
        widen_run(yb.data(), yi + r * C, C);
        softmax_backward_rows<float>(gb.data(), gb.data(), yb.data(), C, log, 0, 1);
        narrow_run(o + r * C, gb.data(), C);
      }
    });
  } else {
    std::vector<std::vector<float>> bufs(static_cast<size_t>(tile_threads(L)));
    for_each_tile(L, [&](int64_t off, int64_t, int64_t B, int t) {
      auto& buf = bufs[t];
      buf.resize(static_cast<size_t>(2 * C * kTile));
      float *gb = buf.data(), *yb = gb + C * B;
      widen_tile(gb, gi + off, C, L.inner, B);
      widen_tile(yb, yi + off, C, L.inner, B);
      softmax_backward_tile<float>(gb, gb, yb, C, B, B, log);
      narrow_tile(o + off, gb, C, L.inner, B);
    });
  }
}

}  // namespace

// 16-bit floats are read and written here (float opmath, see softmax_half).
void softmax_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, bool log) {
  if (out.numel() == 0) return;
  if (is_half(x.dtype)) return dispatch_half(x.dtype, [&](auto s) { softmax_half<decltype(s)>(out, x, L, log); });
  GC_DISPATCH_FLOAT(x.dtype, "softmax", [&] { softmax_typed<scalar_t>(out, x, L, log); });
}

void softmax_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log) {
  if (gx.numel() == 0) return;
  if (is_half(y.dtype))
    return dispatch_half(y.dtype, [&](auto s) { softmax_backward_half<decltype(s)>(gx, g, y, L, log); });
  GC_DISPATCH_FLOAT(y.dtype, "softmax_backward", [&] { softmax_backward_typed<scalar_t>(gx, g, y, L, log); });
}

}  // namespace gc::cpu
