// CUDA layer-norm and RMS-norm kernels (layer_norm.cu): the same entry points, arguments and
// contracts as csrc/cpu/layer_norm.h, on tensors on the current CUDA device, launched on the
// default stream. Formulas in kernels/layer_norm.h. x, y, dy, dx are contiguous, R = numel / N
// rows of N elements, of float32 or float64 (16-bit inputs arrive widened to float32 through
// GC_KERNEL_16); mean, rstd [R], weight, bias, dw, db [N] are contiguous of the same dtype. mean
// is null for RMS norm; weight, bias, dx, dw, db may be null (no affine, or a gradient not wanted).
#pragma once
#include "core/tensor.h"
#include "kernels/layer_norm.h"

namespace gc::cuda {
// y = (x - mean) * rstd * weight + bias, and the rows' mean and rstd.
void layer_norm_forward(const Tensor& x, int64_t N, kernels::RowNorm kind, const Tensor* weight, const Tensor* bias,
                        double eps, const Tensor* mean, const Tensor& rstd, const Tensor& y);
// The gradients of layer_norm_forward from its saved mean and rstd.
void layer_norm_backward(const Tensor& dy, const Tensor& x, int64_t N, kernels::RowNorm kind, const Tensor* mean,
                         const Tensor& rstd, const Tensor* weight, const Tensor* dx, const Tensor* dw,
                         const Tensor* db);
}  // namespace gc::cuda
