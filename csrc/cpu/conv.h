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

// The convolution as GEMMs over im2col columns, image by image (cpu/conv.cpp), for contiguous x
// [N, C, H, W], w [O, C/groups, kh, kw], out / gout [N, O, oh, ow], bias / db [O]:
//   conv2d_forward:     out = conv(x, w) (+ bias)                      (out overwritten)
//   conv2d_input_grad:  dx = col2im(W^T @ gout)                        (dx overwritten)
//   conv2d_weight_grad: dw = sum_n gout[n] @ cols[n]^T, db = gout summed over N, oh, ow (either may
//                       be null; both overwritten)
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const kernels::ConvGeom& g, int64_t groups,
                    const Tensor& out);
void conv2d_input_grad(const Tensor& gout, const Tensor& w, const kernels::ConvGeom& g, int64_t groups, const Tensor& dx);
void conv2d_weight_grad(const Tensor& x, const Tensor& gout, const kernels::ConvGeom& g, int64_t groups, const Tensor* dw,
                        const Tensor* db);
}  // namespace gc::cpu
