// CUDA kernels of the elementwise unary family (unary.cu): the same entry points, arguments and contracts as
// csrc/cpu/unary.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "cpu/unary.h"

namespace gc::cuda {
void unary_kernel(ops::UnaryOp op, const Tensor& out, const Tensor& x);
void unary_backward_kernel(ops::UnaryOp op, const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& y);
void clamp_kernel(const Tensor& out, const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi);
void clamp_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, bool has_lo, double lo, bool has_hi, double hi);
void activation_kernel(int kind, const Tensor& out, const Tensor& x, double p0, double p1);
void activation_backward_kernel(int kind, const Tensor& gx, const Tensor& g, const Tensor& x, double p0, double p1);
}  // namespace gc::cuda
