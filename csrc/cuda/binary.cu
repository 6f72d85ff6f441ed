// CUDA elementwise binary kernels: each op's functor from kernels/binary.h, the same formula the
// CPU runs, compiled for the device and run by the shared loops of loops.cuh. Errors are thrown on
// the host before any launch.
#include <cuda_runtime.h>
#include "cuda/binary.h"
#include "cuda/loops.cuh"

namespace gc::cuda {

void binary_kernel(kernels::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha) {
  kernels::visit_binary(op, [&](auto f) {
    using F = decltype(f);
    constexpr const char* name = kernels::kBinaryInfoOf<F>.name;
    dispatch_dtype_set<kernels::dtype_set(kernels::kBinaryInfoOf<F>.dtype)>(a.dtype, name, [&](auto tag) {
      using T = decltype(tag);
      using O = decltype(f(T{}, T{}));
      if constexpr (kernels::kBinaryInfoOf<F>.grad_a == kernels::BinaryReads::Passes && !std::is_same_v<T, bool>) {
        const T al = static_cast<T>(std::is_integral_v<T> ? static_cast<double>(alpha.i) : alpha.d);
        if (al != T(1)) return binary_loop<T, T, T>(out, a, b, name, kernels::WithAlpha<F, T>{f, al});
      }
      binary_loop<O, T, T>(out, a, b, name, f);
    });
  });
}

void binary_backward_kernel(kernels::BinaryOp op, bool for_b, const Tensor& gx, const Tensor& g, const Tensor& a,
                            const Tensor& b, const Tensor& y) {
  kernels::visit_binary(op, [&](auto f) {
    using F = decltype(f);
    constexpr const char* name = kernels::kBinaryInfoOf<F>.name;
    GC_DISPATCH_FLOAT(gx.dtype, name, [&] {
      if (for_b) quaternary_loop<scalar_t>(gx, g, a, b, y, name, kernels::BinaryGradB<F>{f});
      else quaternary_loop<scalar_t>(gx, g, a, b, y, name, kernels::BinaryGradA<F>{f});
    });
  });
}

void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  GC_DISPATCH_ALL(out.dtype, "where", [&] {
    ternary_loop<scalar_t, bool, scalar_t, scalar_t>(out, cond, a, b, "where", kernels::Where{});
  });
}

}  // namespace gc::cuda
