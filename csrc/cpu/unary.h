#pragma once
#include <type_traits>
#include "ops/ops.h"

namespace gc::cpu {
// out = op(x), out and x of one dtype (LogicalNot: bool out).
void unary_kernel(ops::UnaryOp op, const Tensor& out, const Tensor& x);
// gx = g * op'(x) in one pass, from the incoming gradient g, the input x and the output y
// (whichever the derivative is cheapest from). All of one floating dtype and shape.
void unary_backward_kernel(ops::UnaryOp op, const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& y);
// out = clamp(x, lo, hi) for the bounds that are given (integer bounds stay exact for int64).
void clamp_kernel(const Tensor& out, const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi);
// A clamp bound in the tensor's type T (0 when absent): integer bounds stay exact for int64.
template <typename T>
T clamp_bound(const std::optional<Scalar>& s) {
  if (!s) return T(0);
  if constexpr (std::is_floating_point_v<T>) return static_cast<T>(s->d);
  else return static_cast<T>(s->i);
}
// gx = g where lo <= x <= hi, else 0.
void clamp_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, bool has_lo, double lo, bool has_hi, double hi);
// Parametrised activations: kind 0 leaky_relu(p0 = slope), 1 gelu(p0 = tanh approx flag), 2 softplus(p0 = beta, p1 = threshold).
void activation_kernel(int kind, const Tensor& out, const Tensor& x, double p0, double p1);
void activation_backward_kernel(int kind, const Tensor& gx, const Tensor& g, const Tensor& x, double p0, double p1);
}  // namespace gc::cpu
