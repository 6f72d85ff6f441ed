// Layer norm and RMS norm on the CPU (formulas in kernels/layer_norm.h). Rows are independent, so
// threads take contiguous blocks of rows, and only past kParallelGrain elements (rows::run_rows).
// Each row is two or three passes over N elements that stay in L1:
//   forward   sum(x) (layer norm), sum((x - mean)^2), then y = (x - mean) * rstd * w + b;
//   backward  sum(g) and sum(g * xhat) (also adding dy * xhat and dy into the thread's dw and db
//             rows), then dx.
// Why it is fast: every sum runs in kLanes independent accumulators, which the compiler keeps in
// one AVX-512 register (two AVX2 ones) instead of a serial chain, and the row loops are compiled
// for the widest ISA the CPU has (index_loop_widest). The lane order is fixed and -ffp-contract=off
// rules out FMAs, so every ISA gives the same bits. Blocks of kBlock elements are summed into a
// double, so long rows keep their accuracy. dw and db are summed over a thread's rows into its own
// [N] buffers (unit-stride adds, no [R, N] temporary) and the buffers added in thread order.
// 16-bit rows are widened into float scratch and the results rounded once as they are stored.
#include "cpu/layer_norm.h"
#include <algorithm>
#include <vector>
#include "cpu/softmax_rows.h"

#define GC_INLINE_LAMBDA __attribute__((always_inline))

namespace gc::cpu {

namespace {

using kernels::RowNorm;
using rows::row_threads;
using rows::run_rows;

constexpr int kLanes = 16;       // independent accumulators per sum: one AVX-512 register of floats
constexpr int64_t kBlock = 1024; // elements summed in T before the running total moves to double

// sum of f(i) for i < n (see above for the order).
template <typename T, typename F>
GC_ALWAYS_INLINE_LOOP double lane_sum(int64_t n, const F& f) {
  double total = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    T acc[kLanes] = {};
    int64_t i = b;
    for (; i + kLanes <= e; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += f(i + j);
    T s = 0;
    for (int j = 0; j < kLanes; ++j) s += acc[j];
    for (; i < e; ++i) s += f(i);
    total += s;
  }
  return total;
}

// One row's statistics and output: y may not alias x.
template <typename T>
GC_ALWAYS_INLINE_LOOP void forward_row(const T* __restrict x, T* __restrict y, int64_t N, bool layer,
                                       const T* __restrict w, const T* __restrict b, double eps, T& mean, T& rstd) {
  mean = layer ? static_cast<T>(lane_sum<T>(N, [x](int64_t i) GC_INLINE_LAMBDA { return x[i]; }) / N) : T(0);
  const T m = mean;
  const double sq = lane_sum<T>(N, [x, m](int64_t i) GC_INLINE_LAMBDA {
    const T d = x[i] - m;
    return d * d;
  });
  const T r = rstd = kernels::norm_rstd(static_cast<T>(sq / N), eps);
  for (int64_t i = 0; i < N; ++i) y[i] = (x[i] - m) * r * w[i] + b[i];
}

// One row's dx (when dx is given) and its terms of dw and db added into acc[0, N) and acc[N, 2N),
// wanted or not: without those stores GCC vectorised the sums worse, and the row took twice as
// long. dx may not alias the inputs.
template <typename T>
GC_ALWAYS_INLINE_LOOP void backward_row(const T* __restrict dy, const T* __restrict x, T* __restrict dx, int64_t N,
                                        bool layer, T mean, T rstd, const T* __restrict w, T* __restrict acc) {
  double s1 = 0, s2 = 0;
  for (int64_t b = 0; b < N; b += kBlock) {
    const int64_t e = std::min(N, b + kBlock);
    T a1[kLanes] = {}, a2[kLanes] = {};
    int64_t i = b;
    for (; i + kLanes <= e; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const T xh = (x[i + j] - mean) * rstd, g = dy[i + j] * w[i + j];
        a1[j] += g;
        a2[j] += g * xh;
        acc[i + j] += dy[i + j] * xh;
        acc[N + i + j] += dy[i + j];
      }
    T t1 = 0, t2 = 0;
    for (int j = 0; j < kLanes; ++j) {
      t1 += a1[j];
      t2 += a2[j];
    }
    for (; i < e; ++i) {
      const T xh = (x[i] - mean) * rstd, g = dy[i] * w[i];
      t1 += g;
      t2 += g * xh;
      acc[i] += dy[i] * xh;
      acc[N + i] += dy[i];
    }
    s1 += t1;
    s2 += t2;
  }
  if (!dx) return;
  const T mg = layer ? static_cast<T>(s1 / N) : T(0), mgx = static_cast<T>(s2 / N);
  for (int64_t i = 0; i < N; ++i) dx[i] = kernels::norm_dx(dy[i] * w[i], (x[i] - mean) * rstd, rstd, mg, mgx);
}

// p's data, or v filled with N copies of fill when p is null (an absent weight or bias).
template <typename T>
const T* param_or(const Tensor* p, std::vector<T>& v, int64_t N, T fill) {
  if (p) return p->data_as<T>();
  v.assign(static_cast<size_t>(N), fill);
  return v.data();
}

// T: the compute type; S: the storage type of x, y, dy, dx (T itself, or a 16-bit float).
template <typename T, typename S>
void forward_typed(const Tensor& x, int64_t N, RowNorm kind, const Tensor* weight, const Tensor* bias, double eps,
                   const Tensor* mean, const Tensor& rstd, const Tensor& y) {
  const int64_t R = x.numel() / N;
  const S* xp = x.data_as<S>();
  S* yp = y.data_as<S>();
  std::vector<T> ones, zeros;
  const T* w = param_or(weight, ones, N, T(1));
  const T* b = param_or(bias, zeros, N, T(0));
  T* mp = data_or_null<T>(mean);
  T* rp = rstd.data_as<T>();
  const bool layer = kind == RowNorm::Layer;
  run_rows(R, row_threads(R, N), [&](int64_t r0, int64_t r1, int) {
    std::vector<T> buf(is_half_v<S> ? 2 * N : 0);  // the widened row, then its float output
    index_loop_widest([&](int64_t k) GC_INLINE_LAMBDA {
      const int64_t r = r0 + k;
      T m, s;
      if constexpr (is_half_v<S>) {
        widen_run(buf.data(), xp + r * N, N);
        forward_row<T>(buf.data(), buf.data() + N, N, layer, w, b, eps, m, s);
        narrow_run(yp + r * N, buf.data() + N, N);
      } else {
        forward_row<T>(xp + r * N, yp + r * N, N, layer, w, b, eps, m, s);
      }
      if (mp) mp[r] = m;
      rp[r] = s;
    }, r1 - r0);
  });
}

template <typename T, typename S>
void backward_typed(const Tensor& dy, const Tensor& x, int64_t N, RowNorm kind, const Tensor* mean, const Tensor& rstd,
                    const Tensor* weight, const Tensor* dx, const Tensor* dw, const Tensor* db) {
  const int64_t R = x.numel() / N;
  const S *gp = dy.data_as<S>(), *xp = x.data_as<S>();
  S* dxp = data_or_null<S>(dx);
  std::vector<T> ones;
  const T* w = param_or(weight, ones, N, T(1));
  const T* mp = data_or_null<T>(mean);
  const T* rp = rstd.data_as<T>();
  const bool layer = kind == RowNorm::Layer;
  const int nt = row_threads(R, N);
  std::vector<std::vector<T>> parts(static_cast<size_t>(nt));  // per thread: its rows' dw terms, then db's
  run_rows(R, nt, [&](int64_t r0, int64_t r1, int t) {
    std::vector<T> buf(is_half_v<S> ? 3 * N : 0);  // widened dy, widened x, float dx
    parts[t].assign(static_cast<size_t>(2 * N), T(0));
    T* acc = parts[t].data();
    index_loop_widest([&](int64_t k) GC_INLINE_LAMBDA {
      const int64_t r = r0 + k;
      const T m = mp ? mp[r] : T(0), s = rp[r];
      const T *g = nullptr, *xr = nullptr;
      T* out = nullptr;
      if constexpr (is_half_v<S>) {
        widen_run(buf.data(), gp + r * N, N);
        widen_run(buf.data() + N, xp + r * N, N);
        g = buf.data();
        xr = buf.data() + N;
        out = dxp ? buf.data() + 2 * N : nullptr;
      } else {
        g = gp + r * N;
        xr = xp + r * N;
        out = dxp ? dxp + r * N : nullptr;
      }
      backward_row<T>(g, xr, out, N, layer, m, s, w, acc);
      if constexpr (is_half_v<S>) {
        if (dxp) narrow_run(dxp + r * N, out, N);
      }
    }, r1 - r0);
  });
  if (!dw && !db) return;
  T* dwp = data_or_null<T>(dw);
  T* dbp = data_or_null<T>(db);
  for (int64_t i = 0; i < N; ++i) {
    T sw = 0, sb = 0;
    for (const auto& p : parts) {
      if (p.empty()) continue;  // a thread OpenMP did not start
      sw += p[i];
      sb += p[N + i];
    }
    if (dwp) dwp[i] = sw;
    if (dbp) dbp[i] = sb;
  }
}

}  // namespace

void layer_norm_forward(const Tensor& x, int64_t N, RowNorm kind, const Tensor* weight, const Tensor* bias, double eps,
                        const Tensor* mean, const Tensor& rstd, const Tensor& y) {
  if (x.numel() == 0) return;
  dispatch_float_opmath(x.dtype, "layer_norm", [&](auto t, auto s) {
    forward_typed<decltype(t), decltype(s)>(x, N, kind, weight, bias, eps, mean, rstd, y);
  });
}

void layer_norm_backward(const Tensor& dy, const Tensor& x, int64_t N, RowNorm kind, const Tensor* mean,
                         const Tensor& rstd, const Tensor* weight, const Tensor* dx, const Tensor* dw,
                         const Tensor* db) {
  if (N == 0) return;  // dw and db are empty, and so is dx
  dispatch_float_opmath(x.dtype, "layer_norm_backward", [&](auto t, auto s) {
    backward_typed<decltype(t), decltype(s)>(dy, x, N, kind, mean, rstd, weight, dx, dw, db);
  });
}

}  // namespace gc::cpu
