// MSE loss kernels: one pass over input and target forward, one pass backward producing both
// gradients. Contiguous operands only; the op makes them so.
#include "cpu/regression_loss.h"

namespace gc::cpu {

double squared_error_sum(const Tensor& x, const Tensor& t) {
  return GC_DISPATCH_FLOAT(x.dtype, "mse_loss", [&] {
    const scalar_t* a = x.data_as<scalar_t>();
    const scalar_t* b = t.data_as<scalar_t>();
    const int64_t n = x.numel();
    constexpr int L = 8;  // independent partial sums: vectorises without reassociation
    double part[L] = {};
    int64_t i = 0;
    for (; i + L <= n; i += L)
      for (int l = 0; l < L; ++l) {
        const double d = static_cast<double>(a[i + l]) - static_cast<double>(b[i + l]);
        part[l] += d * d;
      }
    double s = 0;
    for (int l = 0; l < L; ++l) s += part[l];
    for (; i < n; ++i) {
      const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
      s += d * d;
    }
    return s;
  });
}

void squared_error(const Tensor& x, const Tensor& t, const Tensor& out) {
  GC_DISPATCH_FLOAT(x.dtype, "mse_loss", [&] {
    const scalar_t* a = x.data_as<scalar_t>();
    const scalar_t* b = t.data_as<scalar_t>();
    scalar_t* o = out.data_as<scalar_t>();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t d = a[i] - b[i];
      o[i] = d * d;
    }
  });
}

void squared_error_backward(const Tensor& x, const Tensor& t, const Tensor* g, double g_scalar, double scale,
                            Tensor* gx, Tensor* gt) {
  GC_DISPATCH_FLOAT(x.dtype, "mse_loss_backward", [&] {
    const scalar_t* a = x.data_as<scalar_t>();
    const scalar_t* b = t.data_as<scalar_t>();
    const scalar_t* gp = g ? g->data_as<scalar_t>() : nullptr;
    scalar_t* ox = gx ? gx->data_as<scalar_t>() : nullptr;
    scalar_t* ot = gt ? gt->data_as<scalar_t>() : nullptr;
    const scalar_t k = static_cast<scalar_t>(scale * g_scalar), s = static_cast<scalar_t>(scale);
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t v = (gp ? s * gp[i] : k) * (a[i] - b[i]);
      if (ox) ox[i] = v;
      if (ot) ot[i] = -v;
    }
  });
}

}  // namespace gc::cpu
