// Softmax and log_softmax on CUDA, with the CPU kernels' numerics (cpu/softmax.cpp). Every row
// makes three passes over its C entries:
//   1. m = max_c x_c                 (softmax(x) = softmax(x - m), so exp never overflows)
//   2. s = sum_c exp(x_c - m)        (exp in the tensor's dtype, summed in double)
//   3. write: softmax = exp(x - m) * (1 / s), log_softmax = (x - m) - log(s).
// Pass 3 recomputes exp(x - m) rather than storing it in pass 2: the same value, and one read
// of x instead of a write and a read of out. Rows go to a thread, a warp or a block depending
// on C and the class stride (see cuda/softmax_rows.cuh); the backward is one reduction (sum g
// or <g, y>, in double) and one elementwise pass per row.
#include "cuda/softmax_rows.cuh"

namespace gc::cuda {

namespace {

using namespace rows;

template <int G, typename T>
__global__ void __launch_bounds__(kRowBlock)
    softmax_rows_kernel(T* out, const T* x, Layout L, int64_t R, bool is_log) {
  using Gr = Group<G>;
  const int lane = Gr::lane(), n = Gr::size();
  const int64_t C = L.C, cs = L.inner;
  for (int64_t r = Gr::first(); r < R; r += Gr::step()) {
    const int64_t b = L.base(r);
    const T* xr = x + b;
    T* yr = out + b;
    T m;
    double s;
    row_max_sum_exp<G>(xr, C, cs, m, s);
    if (is_log) {
      const T ls = static_cast<T>(::log(s));
      for (int64_t c = lane; c < C; c += n) yr[c * cs] = (xr[c * cs] - m) - ls;
    } else {
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t c = lane; c < C; c += n) yr[c * cs] = dexp(xr[c * cs] - m) * inv;
    }
  }
}

// softmax:     gx = y * (g - <g, y>)          (the Jacobian diag(y) - y y^T applied to g)
// log_softmax: gx = g - exp(y) * sum(g)       (exp(y) is softmax)
template <int G, typename T>
__global__ void __launch_bounds__(kRowBlock)
    softmax_backward_rows_kernel(T* gx, const T* g, const T* y, Layout L, int64_t R, bool is_log) {
  using Gr = Group<G>;
  const int lane = Gr::lane(), n = Gr::size();
  const int64_t C = L.C, cs = L.inner;
  for (int64_t r = Gr::first(); r < R; r += Gr::step()) {
    const int64_t b = L.base(r);
    const T *gr = g + b, *yr = y + b;
    T* out = gx + b;
    double acc = 0;
    if (is_log) {
      for (int64_t c = lane; c < C; c += n) acc += static_cast<double>(gr[c * cs]);
    } else {
      for (int64_t c = lane; c < C; c += n) acc += static_cast<double>(gr[c * cs]) * static_cast<double>(yr[c * cs]);
    }
    const T s = static_cast<T>(Gr::all_reduce(acc, SumOp{}, 0.0));
    if (is_log) {
      for (int64_t c = lane; c < C; c += n) out[c * cs] = gr[c * cs] - dexp(yr[c * cs]) * s;
    } else {
      for (int64_t c = lane; c < C; c += n) out[c * cs] = yr[c * cs] * (gr[c * cs] - s);
    }
  }
}

}  // namespace

void softmax_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, bool log) {
  if (out.numel() == 0) return;
  GC_DISPATCH_FLOAT(x.dtype, "softmax", [&] {
    using T = scalar_t;
    const Plan p = plan_rows(L);
    with_group(p.group, [&](auto grp) {
      softmax_rows_kernel<decltype(grp)::value, T>
          <<<p.grid, kRowBlock>>>(out.data_as<T>(), x.data_as<T>(), device_layout(L), L.rows(), log);
    });
    check_launch(log ? "log_softmax" : "softmax");
  });
}

void softmax_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log) {
  if (gx.numel() == 0) return;
  GC_DISPATCH_FLOAT(y.dtype, "softmax_backward", [&] {
    using T = scalar_t;
    const Plan p = plan_rows(L);
    with_group(p.group, [&](auto grp) {
      softmax_backward_rows_kernel<decltype(grp)::value, T><<<p.grid, kRowBlock>>>(
          gx.data_as<T>(), g.data_as<T>(), y.data_as<T>(), device_layout(L), L.rows(), log);
    });
    check_launch(log ? "log_softmax_backward" : "softmax_backward");
  });
}

}  // namespace gc::cuda
