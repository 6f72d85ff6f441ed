// CUDA kernels of the indexing family (index.cu): the same entry points, arguments and contracts as
// csrc/cpu/index.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include <optional>
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/scatter.h"

namespace gc::cuda {
std::optional<int64_t> first_index_out_of_range(const Tensor& idx, int64_t lo, int64_t size);
void add_index_offsets(const Tensor& off, const Tensor& idx, int64_t size, int64_t stride);
void gather_kernel(const Tensor& out, const Tensor& src, const Tensor& idx, int64_t size, int64_t stride);
void scatter_kernel(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride,
                    bool accumulate);
void scatter_reduce_kernel(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride,
                           kernels::ScatterReduce reduce);
void masked_fill_kernel(const Tensor& out, const Tensor& mask, Scalar value);
int64_t nonzero_count(const Tensor& x);
void nonzero_kernel(const Tensor& out, const Tensor& x);
}  // namespace gc::cuda
