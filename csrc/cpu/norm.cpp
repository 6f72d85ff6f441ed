// Batch norm on the CPU (kernels/norm.h). Channels are independent, so threads split them; each
// channel's sums run in one fixed order (n, then s), in double.
#include "cpu/norm.h"
#include "cpu/loops.h"

namespace gc::cpu {

namespace {

using kernels::ChannelLayout;

// f(row pointer offset, length) over channel c's N rows of S contiguous elements.
template <typename F>
inline void channel_rows(const ChannelLayout& L, int64_t c, const F& f) {
  for (int64_t n = 0; n < L.N; ++n) f((n * L.C + c) * L.S, L.S);
}

template <typename T>
double param(const Tensor* t, int64_t c, double none) {
  return t ? static_cast<double>(t->data_as<T>()[c]) : none;
}

}  // namespace

void batch_norm_stats(const Tensor& x, const ChannelLayout& L, const Tensor& mean, const Tensor& var) {
  GC_DISPATCH_FLOAT(x.dtype, "batch_norm", [&] {
    const scalar_t* xp = x.data_as<scalar_t>();
    const double M = static_cast<double>(L.count());
    for_planes(L.C, L.N * L.C * L.S * 2, [&](int64_t c) {
      double sum = 0;
      channel_rows(L, c, [&](int64_t off, int64_t n) {
        double s = 0;
        for (int64_t i = 0; i < n; ++i) s += xp[off + i];
        sum += s;
      });
      const double mu = sum / M;
      double sq = 0;
      channel_rows(L, c, [&](int64_t off, int64_t n) {
        double s = 0;
        for (int64_t i = 0; i < n; ++i) {
          const double d = xp[off + i] - mu;
          s += d * d;
        }
        sq += s;
      });
      mean.data_as<scalar_t>()[c] = static_cast<scalar_t>(mu);
      var.data_as<scalar_t>()[c] = static_cast<scalar_t>(sq / M);
    });
  });
}

void batch_norm_apply(const Tensor& x, const ChannelLayout& L, const Tensor& mean, const Tensor& var,
                      const Tensor* weight, const Tensor* bias, double eps, const Tensor& y) {
  GC_DISPATCH_FLOAT(x.dtype, "batch_norm", [&] {
    const scalar_t* xp = x.data_as<scalar_t>();
    scalar_t* yp = y.data_as<scalar_t>();
    for_planes(L.C, L.N * L.C * L.S, [&](int64_t c) {
      double scale, shift;
      kernels::bn_scale_shift(mean.data_as<scalar_t>()[c], var.data_as<scalar_t>()[c], param<scalar_t>(weight, c, 1.0),
                              param<scalar_t>(bias, c, 0.0), eps, scale, shift);
      const scalar_t a = static_cast<scalar_t>(scale), b = static_cast<scalar_t>(shift);
      channel_rows(L, c, [&](int64_t off, int64_t n) {
        for (int64_t i = 0; i < n; ++i) yp[off + i] = xp[off + i] * a + b;
      });
    });
  });
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const ChannelLayout& L, const Tensor& mean,
                         const Tensor& var, const Tensor* weight, double eps, bool batch_stats, const Tensor* dx,
                         const Tensor* dw, const Tensor* db) {
  GC_DISPATCH_FLOAT(x.dtype, "batch_norm_backward", [&] {
    const scalar_t* gp = dy.data_as<scalar_t>();
    const scalar_t* xp = x.data_as<scalar_t>();
    for_planes(L.C, L.N * L.C * L.S * 3, [&](int64_t c) {
      const double mu = mean.data_as<scalar_t>()[c], v = var.data_as<scalar_t>()[c];
      double sum_dy = 0, sum_dy_xmu = 0;
      channel_rows(L, c, [&](int64_t off, int64_t n) {
        double s = 0, t = 0;
        for (int64_t i = 0; i < n; ++i) {
          const double g = gp[off + i];
          s += g;
          t += g * (xp[off + i] - mu);
        }
        sum_dy += s;
        sum_dy_xmu += t;
      });
      if (dw) dw->data_as<scalar_t>()[c] = static_cast<scalar_t>(sum_dy_xmu * kernels::bn_invstd(v, eps));
      if (db) db->data_as<scalar_t>()[c] = static_cast<scalar_t>(sum_dy);
      if (!dx) return;
      double k_dy, k_x, k_0;
      kernels::bn_grad_coeffs(sum_dy, sum_dy_xmu, v, param<scalar_t>(weight, c, 1.0), eps, L.count(), batch_stats, k_dy,
                              k_x, k_0);
      const scalar_t a = static_cast<scalar_t>(k_dy), b = static_cast<scalar_t>(k_x), z = static_cast<scalar_t>(k_0);
      const scalar_t m = static_cast<scalar_t>(mu);
      scalar_t* dp = dx->data_as<scalar_t>();
      channel_rows(L, c, [&](int64_t off, int64_t n) {
        for (int64_t i = 0; i < n; ++i) dp[off + i] = a * gp[off + i] + b * (xp[off + i] - m) + z;
      });
    });
  });
}

}  // namespace gc::cpu
