// CUDA kernels of the elementwise binary family (binary.cu): the same entry points, arguments and contracts as
// csrc/cpu/binary.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/binary.h"

namespace gc::cuda {
void binary_kernel(kernels::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha);
void binary_backward_kernel(kernels::BinaryOp op, bool for_b, const Tensor& gx, const Tensor& g, const Tensor& a,
                            const Tensor& b, const Tensor& y);
void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
}  // namespace gc::cuda
