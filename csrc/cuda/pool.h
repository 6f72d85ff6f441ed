// CUDA kernels of the pooling family (pool.cu): the same entry points, arguments and contracts as
// csrc/cpu/pool.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"
#include "kernels/pool.h"

namespace gc::cuda {
void max_pool2d(const Tensor& x, const kernels::PoolGeom& g, const Tensor& out, const Tensor& indices);
void max_pool2d_backward(const Tensor& g, const Tensor& indices, const kernels::PoolGeom& geo, const Tensor& dx);
void avg_pool2d(const Tensor& x, const kernels::PoolGeom& g, const Tensor& out);
void avg_pool2d_backward(const Tensor& g, const kernels::PoolGeom& geo, const Tensor& dx);
}  // namespace gc::cuda
