// CUDA kernels of softmax (softmax.cu): the same entry points, arguments and contracts as
// csrc/cpu/softmax.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"
#include "kernels/softmax.h"

namespace gc::cuda {
using kernels::RowLayout;
void softmax_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, bool log);
void softmax_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log);
}  // namespace gc::cuda
