// CPU elementwise unary kernels: each op's functor (kernels/unary.h) run by the strided loops of
// cpu/loops.h, which the compiler vectorises where the formula allows. unary_kernel and
// unary_backward_kernel read and write 16-bit floats themselves (float opmath, cpu/loops.h).
#include "cpu/unary.h"
#include "cpu/loops.h"

namespace gc::cpu {

void unary_kernel(const kernels::UnaryFn& fn, const Tensor& out, const Tensor& x) {
  std::visit([&](const auto& op) {
    using F = std::decay_t<decltype(op)>;
    kernels::with_static_form(op, [&](const auto& f) {
      using G = std::decay_t<decltype(f)>;
      if (is_half(x.dtype)) {
        return dispatch_half(x.dtype, [&](auto tag) {
          using S = decltype(tag);
          unary_loop<Store16<decltype(f(float{})), S>, S>(out, x, Opmath<G>{f});
        });
      }
      dispatch_dtype_set<kernels::dtype_set(kernels::kUnaryInfoOf<F>.dtype)>(x.dtype, kernels::kUnaryInfoOf<F>.name, [&](auto tag) {
        using T = decltype(tag);
        unary_loop<decltype(f(T{})), T>(out, x, f);
      });
    });
  }, fn);
}

void unary_backward_kernel(const kernels::UnaryFn& fn, const Tensor& gx, const Tensor& g, const Tensor& v) {
  std::visit([&](const auto& op) {
    using F = std::decay_t<decltype(op)>;
    kernels::with_static_form(op, [&](const auto& f) {
      using G = std::decay_t<decltype(f)>;
      if (is_half(gx.dtype)) {
        return dispatch_half(gx.dtype, [&](auto tag) {
          using S = decltype(tag);
          binary_loop<S, S, S>(gx, g, v, Opmath<kernels::UnaryGrad<G>>{{f}});
        });
      }
      GC_DISPATCH_FLOAT(gx.dtype, kernels::kUnaryInfoOf<F>.name, [&] {
        binary_loop<scalar_t, scalar_t, scalar_t>(gx, g, v, kernels::UnaryGrad<G>{f});
      });
    });
  }, fn);
}

void clamp_kernel(const Tensor& out, const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  GC_DISPATCH_NUMERIC(x.dtype, "clamp", [&] {
    using T = scalar_t;
    unary_loop<T, T>(out, x, kernels::Clamp<T>{lo.has_value(), hi.has_value(), kernels::clamp_bound<T>(lo), kernels::clamp_bound<T>(hi)});
  });
}

void clamp_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, bool has_lo, double lo, bool has_hi, double hi) {
  GC_DISPATCH_FLOAT(gx.dtype, "clamp backward", [&] {
    using T = scalar_t;
    binary_loop<T, T, T>(gx, g, x, kernels::ClampGrad<T>{has_lo, has_hi, static_cast<T>(lo), static_cast<T>(hi)});
  });
}

}  // namespace gc::cpu
