// The contract of the softmax kernels, shared by both backends: how the ops lay a tensor out as
// rows along the class dim (the class losses use the same rows: kernels/class_loss.h).
#pragma once
#include <cstdint>
#include "core/host_device.h"
#include "core/tensor.h"

namespace gc::kernels {

// A contiguous tensor viewed as [outer, C, inner] around its class dim. Row r is the sample
// (r / inner, r % inner): its C entries start at (r / inner) * C * inner + r % inner and step by
// `inner`. inner == 1 (class dim last) is the unit-stride fast path. The sort and scan kernels
// (kernels/sort.h) walk rows around their dim the same way, on both backends.
struct RowLayout {
  int64_t outer = 1, C = 1, inner = 1;
  GC_HOST_DEVICE int64_t rows() const { return outer * inner; }
  GC_HOST_DEVICE int64_t base(int64_t r) const { return inner == 1 ? r * C : (r / inner) * C * inner + r % inner; }
};

}  // namespace gc::kernels
