// Kernels of the convolution family (see kernels/conv.h for the layout): im2col and its adjoint
// col2im over a whole batch. x, cols and dx are contiguous: x and dx [N, C, H, W], cols
// [N, C*kh*kw, oh*ow], of one floating dtype.
#pragma once
#include "core/tensor.h"
#include "kernels/conv.h"

namespace gc::cpu {
void im2col(const Tensor& x, const kernels::ConvGeom& g, const Tensor& cols);
// dx is overwritten (not accumulated into).
void col2im(const Tensor& cols, const kernels::ConvGeom& g, const Tensor& dx);
}  // namespace gc::cpu
