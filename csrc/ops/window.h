// The argument check shared by the ops that slide a 2-D window (pool.cpp: max/avg pooling,
// conv.cpp: unfold/fold): kernel, stride and dilation must be positive, with PyTorch's messages.
#pragma once
#include "core/error.h"

namespace gc::ops {

inline void check_window(const char* op, const int64_t kernel[2], const int64_t stride[2], const int64_t dilation[2]) {
  for (int d = 0; d < 2; ++d) {
    if (kernel[d] <= 0)
      fail(ErrorKind::Runtime, op, "kernel size should be greater than zero, but got kernel_size=", pair_str(kernel));
    if (stride[d] <= 0) fail(ErrorKind::Runtime, op, "stride should be greater than zero, but got stride=", pair_str(stride));
    if (dilation[d] <= 0)
      fail(ErrorKind::Runtime, op, "dilation should be greater than zero, but got dilation=", pair_str(dilation));
  }
}

}  // namespace gc::ops
