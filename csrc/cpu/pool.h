// Kernels of the pooling family (max and average, sliding or adaptive windows) (layout and meaning in kernels/pool.h). x, out, indices, g and dx
// are contiguous; out/indices/g are [planes, oh, ow], x/dx [planes, H, W]; indices are int64.
#pragma once
#include "core/tensor.h"
#include "kernels/pool.h"

namespace gc::cpu {
void max_pool2d(const Tensor& x, const kernels::PoolGeom& g, const Tensor& out, const Tensor& indices);
// dx[p, indices[p, y, x]] += g[p, y, x]; dx is overwritten.
void max_pool2d_backward(const Tensor& g, const Tensor& indices, const kernels::PoolGeom& geo, const Tensor& dx);
void avg_pool2d(const Tensor& x, const kernels::PoolGeom& g, const Tensor& out);
// dx[p, h, w] = sum of g[p, y, x] / divisor over the windows holding (h, w); dx is overwritten.
void avg_pool2d_backward(const Tensor& g, const kernels::PoolGeom& geo, const Tensor& dx);
}  // namespace gc::cpu
