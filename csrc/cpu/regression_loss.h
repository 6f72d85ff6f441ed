// Kernels of the fused mean-squared-error loss.
#pragma once
#include "core/tensor.h"

namespace gc::cpu {

// sum((x - t)^2) over contiguous x and t of one floating dtype and size, accumulated in double.
double squared_error_sum(const Tensor& x, const Tensor& t);
// out[i] = (x[i] - t[i])^2 (reduction 'none'); all contiguous.
void squared_error(const Tensor& x, const Tensor& t, const Tensor& out);
// gx[i] = scale * g[i] * (x[i] - t[i]) and gt = -gx, where g is one value (g_scalar, when g is
// null) or a contiguous tensor of x's size; gx or gt may be null.
void squared_error_backward(const Tensor& x, const Tensor& t, const Tensor* g, double g_scalar, double scale,
                            Tensor* gx, Tensor* gt);

}  // namespace gc::cpu
