// CPU kernels of the elementwise binary family. The ops and their formulas are kernels/binary.h's.
#pragma once
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/binary.h"

namespace gc::cpu {
// out = a op b, a and b of one dtype (the compute dtype), broadcast to out's shape; out has the
// compute dtype, or bool for comparisons and logical ops. alpha scales b for add and sub.
void binary_kernel(kernels::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha);
// gx = g * d(a op b)/da (for_b: /db) in one pass; g, a, b, y (the output) of the compute dtype,
// broadcast to gx's shape (the output's); a, b or y may be g itself where the row reads none.
void binary_backward_kernel(kernels::BinaryOp op, bool for_b, const Tensor& gx, const Tensor& g, const Tensor& a,
                            const Tensor& b, const Tensor& y);
// out = cond ? a : b (a, b and out of one dtype, cond bool).
void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
}  // namespace gc::cpu
