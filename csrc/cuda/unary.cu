// CUDA elementwise unary kernels: each op's functor from kernels/unary.h, the same formula the CPU
// runs, compiled for the device and run by the shared loops of loops.cuh. float stays in float
// (expf, tanhf, ...), so results agree with the CPU to a few ulp. Unsupported dtypes throw on the
// host, before any launch, with the CPU's messages.
#include <cuda_runtime.h>
#include "cuda/loops.cuh"
#include "cuda/unary.h"

namespace gc::cuda {

void unary_kernel(const kernels::UnaryFn& fn, const Tensor& out, const Tensor& x) {
  std::visit([&](const auto& f) {
    using F = std::decay_t<decltype(f)>;
    constexpr const char* name = kernels::kUnaryInfoOf<F>.name;
    dispatch_dtype_set<kernels::dtype_set(kernels::kUnaryInfoOf<F>.dtype)>(x.dtype, name, [&](auto tag) {
      using T = decltype(tag);
      unary_loop<decltype(f(T{})), T>(out, x, name, f);
    });
  }, fn);
}

void unary_backward_kernel(const kernels::UnaryFn& fn, const Tensor& gx, const Tensor& g, const Tensor& v) {
  std::visit([&](const auto& f) {
    using F = std::decay_t<decltype(f)>;
    constexpr const char* name = kernels::kUnaryInfoOf<F>.name;
    GC_DISPATCH_FLOAT(gx.dtype, name, [&] {
      binary_loop<scalar_t, scalar_t, scalar_t>(gx, g, v, name, kernels::UnaryGrad<F>{f});
    });
  }, fn);
}

void clamp_kernel(const Tensor& out, const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  GC_DISPATCH_NUMERIC(x.dtype, "clamp", [&] {
    using T = scalar_t;
    unary_loop<T, T>(out, x, "clamp", kernels::Clamp<T>{lo.has_value(), hi.has_value(), kernels::clamp_bound<T>(lo), kernels::clamp_bound<T>(hi)});
  });
}

void clamp_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, bool has_lo, double lo, bool has_hi, double hi) {
  GC_DISPATCH_FLOAT(gx.dtype, "clamp backward", [&] {
    using T = scalar_t;
    binary_loop<T, T, T>(gx, g, x, "clamp backward", kernels::ClampGrad<T>{has_lo, has_hi, static_cast<T>(lo), static_cast<T>(hi)});
  });
}

}  // namespace gc::cuda
