// CUDA batch-norm kernels (norm.cu): the same entry points, arguments and contracts as
// csrc/cpu/norm.h, on tensors on the current CUDA device. Launched on the default stream.
// Layout and formulas in kernels/norm.h. x, y, dy, dx are contiguous [N, C, *]
// of one floating dtype; mean, var, weight, bias, dw, db are contiguous [C] of the same dtype;
// weight / bias / dw / db / dx may be null (no affine, or a gradient not wanted).
#pragma once
#include "core/tensor.h"
#include "kernels/norm.h"

namespace gc::cuda {
// mean[c] and biased var[c] over each channel's N * S elements.
void batch_norm_stats(const Tensor& x, const kernels::ChannelLayout& L, const Tensor& mean, const Tensor& var);
// y = (x - mean) / sqrt(var + eps) * weight + bias.
void batch_norm_apply(const Tensor& x, const kernels::ChannelLayout& L, const Tensor& mean, const Tensor& var,
                      const Tensor* weight, const Tensor* bias, double eps, const Tensor& y);
// The gradients of batch_norm_apply; batch_stats: mean and var were the batch's (training).
void batch_norm_backward(const Tensor& dy, const Tensor& x, const kernels::ChannelLayout& L, const Tensor& mean,
                         const Tensor& var, const Tensor* weight, double eps, bool batch_stats, const Tensor* dx,
                         const Tensor* dw, const Tensor* db);
}  // namespace gc::cuda
