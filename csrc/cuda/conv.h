// CUDA kernels of the convolution family (conv.cu): the same entry points, arguments and contracts
// as csrc/cpu/conv.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"
#include "kernels/conv.h"

namespace gc::cuda {
void im2col(const Tensor& x, const kernels::ConvGeom& g, const Tensor& cols);
void col2im(const Tensor& cols, const kernels::ConvGeom& g, const Tensor& dx);
}  // namespace gc::cuda
