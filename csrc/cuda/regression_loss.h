// CUDA kernels of the mean-squared-error loss family (regression_loss.cu): the same entry points, arguments and contracts as
// csrc/cpu/regression_loss.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"

namespace gc::cuda {
double squared_error_sum(const Tensor& x, const Tensor& t);
void squared_error(const Tensor& x, const Tensor& t, const Tensor& out);
void squared_error_backward(const Tensor& x, const Tensor& t, const Tensor* g, double g_scalar, double scale,
                            Tensor* gx, Tensor* gt);
}  // namespace gc::cuda
