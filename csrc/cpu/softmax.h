// Softmax on the CPU (cpu/softmax.cpp). Every kernel works on contiguous tensors seen as rows
// along the class dim (see RowLayout); the ops layer (ops/softmax.cpp) makes operands contiguous
// and casts them to one floating dtype before calling in, so kernels never fail.
#pragma once
#include "core/tensor.h"
#include "kernels/softmax.h"

namespace gc::cpu {

using kernels::RowLayout;

// out = softmax(x) or log_softmax(x) along the class dim (out, x: same shape and dtype).
void softmax_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, bool log);
// gx from the output y and its gradient g: softmax gx = y * (g - sum(g * y)),
// log_softmax gx = g - exp(y) * sum(g).
void softmax_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log);

}  // namespace gc::cpu
