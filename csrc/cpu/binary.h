#pragma once
#include "ops/ops.h"

namespace gc::cpu {
// out = a op b, a and b of one dtype (the compute dtype), broadcast to out's shape; out has the
// compute dtype, or bool for comparisons and logical ops. alpha scales b for Add and Sub.
void binary_kernel(ops::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha);
// out = cond ? a : b (a, b and out of one dtype, cond bool).
void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
}  // namespace gc::cpu
