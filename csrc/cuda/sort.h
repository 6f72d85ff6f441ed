// CUDA kernels of sorting (sort.cu): the same entry points, arguments and contracts as
// csrc/cpu/sort.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"
#include "kernels/softmax.h"

namespace gc::cuda {
using kernels::RowLayout;
void sort_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, bool descending);
void topk_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, int64_t k,
                 bool largest, bool sorted);
}  // namespace gc::cuda
