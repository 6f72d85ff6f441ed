// CPU elementwise binary kernels: each op's functor (kernels/binary.h) run by the strided loops of
// cpu/loops.h, which the compiler vectorises where the formula allows. binary_kernel and
// binary_backward_kernel read and write 16-bit floats themselves (float opmath, cpu/loops.h).
#include "cpu/binary.h"
#include "cpu/loops.h"

namespace gc::cpu {

void binary_kernel(kernels::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha) {
  kernels::visit_binary(op, [&](auto f) {
    using F = decltype(f);
    if (is_half(a.dtype)) {
      return dispatch_half(a.dtype, [&](auto tag) {
        using S = decltype(tag);
        if constexpr (kernels::kBinaryInfoOf<F>.grad_a == kernels::BinaryReads::Passes) {
          const auto al = static_cast<float>(alpha.d);
          if (al != 1.0f) return binary_loop<S, S, S>(out, a, b, Opmath<kernels::WithAlpha<F, float>>{{f, al}});
        }
        binary_loop<Store16<decltype(f(float{}, float{})), S>, S, S>(out, a, b, Opmath<F>{f});
      });
    }
    dispatch_dtype_set<kernels::dtype_set(kernels::kBinaryInfoOf<F>.dtype)>(a.dtype, kernels::kBinaryInfoOf<F>.name, [&](auto tag) {
      using T = decltype(tag);
      using O = decltype(f(T{}, T{}));
      if constexpr (kernels::kBinaryInfoOf<F>.grad_a == kernels::BinaryReads::Passes && !std::is_same_v<T, bool>) {
        const T al = static_cast<T>(std::is_integral_v<T> ? static_cast<double>(alpha.i) : alpha.d);
        if (al != T(1)) return binary_loop<T, T, T>(out, a, b, kernels::WithAlpha<F, T>{f, al});
      }
      binary_loop<O, T, T>(out, a, b, f);
    });
  });
}

void binary_backward_kernel(kernels::BinaryOp op, bool for_b, const Tensor& gx, const Tensor& g, const Tensor& a,
                            const Tensor& b, const Tensor& y) {
  kernels::visit_binary(op, [&](auto f) {
    using F = decltype(f);
    if (is_half(gx.dtype)) {
      return dispatch_half(gx.dtype, [&](auto tag) {
        using S = decltype(tag);
        if (for_b) quaternary_loop<S>(gx, g, a, b, y, Opmath<kernels::BinaryGradB<F>>{{f}});
        else quaternary_loop<S>(gx, g, a, b, y, Opmath<kernels::BinaryGradA<F>>{{f}});
      });
    }
    GC_DISPATCH_FLOAT(gx.dtype, kernels::kBinaryInfoOf<F>.name, [&] {
      if (for_b) quaternary_loop<scalar_t>(gx, g, a, b, y, kernels::BinaryGradB<F>{f});
      else quaternary_loop<scalar_t>(gx, g, a, b, y, kernels::BinaryGradA<F>{f});
    });
  });
}

void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  GC_DISPATCH_ALL(out.dtype, "where", [&] {
    ternary_loop<scalar_t, bool, scalar_t, scalar_t>(out, cond, a, b, kernels::Where{});
  });
}

}  // namespace gc::cpu
