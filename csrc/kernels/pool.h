// The contract of the pooling kernels shared by csrc/cpu/pool.cpp and csrc/cuda/pool.cu: the
// geometry of a 2-D pooling window over x [N, C, H, W] (planes = N * C, contiguous) and, for max
// pooling, what the indices mean.
//
//   out[p, y, x] = max over i < kh, j < kw of in[p, y*sh - ph + i*dh, x*sw - pw + j*dw] (positions
//   outside the input are skipped); indices[p, y, x] = the argmax's flat position h * W + w in its
//   plane, the first one in (i, j) order on ties; NaN wins (a NaN in the window is the result, as
//   in PyTorch).
#pragma once
#include <cstdint>
#include "core/host_device.h"

namespace gc::kernels {

struct PoolGeom {
  int64_t planes, H, W;            // N * C, input height, width
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t oh, ow;
};

}  // namespace gc::kernels
