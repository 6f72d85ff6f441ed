// Helpers of the ops that work on rows along a class dim (softmax.cpp, class_loss.cpp): argument
// checks and kernel operands.
#pragma once
#include "ops/ops.h"

namespace gc::ops::rows {

inline void check_floating(const TensorPtr& x, const char* op, const char* what, const char* hint) {
  if (!is_floating(x->dtype))
    fail(ErrorKind::NotImplemented, op, "expected a floating-point ", what, " (float32 or float64) but got ",
         dtype_name(x->dtype), " with shape ", shape_str(x->shape), ". Hint: ", hint);
}

inline void check_device(const TensorPtr& x, const TensorPtr& other, const char* op, const char* what) {
  if (other && other->device != x->device)
    fail(ErrorKind::Runtime, op, "expected all tensors to be on the same device, but the input is on ",
         x->device.str(), " and the ", what, " on ", other->device.str(), ". Hint: move both with .to(device).");
}

// The data of t as a contiguous tensor of dtype dt with no autograd history: a kernel operand.
// Shares t's storage (and so its version counter) when no copy is needed.
inline TensorPtr kernel_operand(const TensorPtr& t, DType dt) {
  auto d = detach(t);
  return d->dtype != dt ? to_dtype(d, dt) : contiguous(d);
}

inline TensorPtr cast_back(const TensorPtr& g, DType dt) { return g->dtype == dt ? g : to_dtype(g, dt); }

// shape seen as [outer, C, inner] around `dim` (a 0-dim tensor is one row of one class).
inline kernels::RowLayout layout_around(const DimVector& shape, int64_t dim) {
  kernels::RowLayout L;
  if (shape.empty()) return L;
  L.C = shape[dim];
  for (int64_t d = 0; d < dim; ++d) L.outer *= shape[d];
  for (size_t d = dim + 1; d < shape.size(); ++d) L.inner *= shape[d];
  return L;
}

}  // namespace gc::ops::rows
