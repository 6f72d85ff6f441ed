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

// Output (y, x)'s window over one plane: the max and its flat position (-1 for a window with no
// input position). Both backends run this.
template <typename T>
GC_HOST_DEVICE inline void window_max(const T* plane, const PoolGeom& g, int64_t y, int64_t x, T& best, int64_t& at) {
  best = T(0);
  at = -1;
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t h = y * g.sh - g.ph + i * g.dh;
    if (h < 0 || h >= g.H) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t w = x * g.sw - g.pw + j * g.dw;
      if (w < 0 || w >= g.W) continue;
      const T v = plane[h * g.W + w];
      if (at < 0 || v > best || (v != v && best == best)) best = v, at = h * g.W + w;  // v != v: NaN wins
    }
  }
}

}  // namespace gc::kernels
