// CPU kernels of the elementwise unary family. The ops and their formulas are kernels/unary.h's.
#pragma once
#include <optional>
#include "core/tensor.h"
#include "kernels/unary.h"

namespace gc::cpu {
// out = f(x), out of the row's result dtype (x already converted to the dtype it computes in).
void unary_kernel(const kernels::UnaryFn& f, const Tensor& out, const Tensor& x);
// gx = g * f'(x) in one pass from the incoming gradient g and v, the input or the output as f's
// row says (g itself when it says Nothing). All of one floating dtype and shape.
void unary_backward_kernel(const kernels::UnaryFn& f, const Tensor& gx, const Tensor& g, const Tensor& v);
// out = clamp(x, lo, hi) for the bounds that are given (integer bounds stay exact for int64).
void clamp_kernel(const Tensor& out, const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi);
// gx = g where lo <= x <= hi, else 0.
void clamp_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, bool has_lo, double lo, bool has_hi, double hi);
}  // namespace gc::cpu
