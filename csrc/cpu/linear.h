// Kernels of the fused Linear (+ ReLU) backward, each one pass over the output gradient.
#pragma once
#include "core/tensor.h"

namespace gc::cpu {

// db[j] = sum_i g[i, j]. g: 2-D [M, N], any strides; db: contiguous [N]. float32/float64.
void column_sum(const Tensor& g, const Tensor& db);

// The gradient through a ReLU whose output is y, and the bias gradient in the same pass:
// gm[i, j] = y[i, j] > 0 ? g[i, j] : 0, and (when db is non-null) db[j] = sum_i gm[i, j].
// g, y: 2-D [M, N], any strides; gm: contiguous [M, N]; db: contiguous [N].
void relu_mask_column_sum(const Tensor& g, const Tensor& y, const Tensor& gm, const Tensor* db);

}  // namespace gc::cpu
