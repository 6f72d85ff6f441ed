// CUDA kernels of the fused Linear backward family (linear.cu): the same entry points, arguments and contracts as
// csrc/cpu/linear.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"

namespace gc::cuda {
void column_sum(const Tensor& g, const Tensor& db);
void relu_mask_column_sum(const Tensor& g, const Tensor& y, const Tensor& gm, const Tensor* db);
}  // namespace gc::cuda
