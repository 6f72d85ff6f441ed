// CUDA kernels of the elementwise unary family (unary.cu): the same entry points, arguments and contracts as
// csrc/cpu/unary.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include <optional>
#include "core/tensor.h"
#include "kernels/unary.h"

namespace gc::cuda {
void unary_kernel(const kernels::UnaryFn& f, const Tensor& out, const Tensor& x);
void unary_backward_kernel(const kernels::UnaryFn& f, const Tensor& gx, const Tensor& g, const Tensor& v);
void clamp_kernel(const Tensor& out, const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi);
void clamp_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, bool has_lo, double lo, bool has_hi, double hi);
}  // namespace gc::cuda
