// The walk every elementwise loop of both backends shares: N operands (output first) over one
// broadcast shape, with per-operand byte strides (0 on broadcast dims), size-1 dims dropped and
// dims merged wherever every operand is contiguous across them. The CPU loops (cpu/loops.h) walk
// it directly; the CUDA ones (cuda/loops.cuh) copy it into a kernel argument.
#pragma once
#include <array>
#include "core/tensor.h"

namespace gc::kernels {

template <size_t N>
struct LoopGeom {
  int64_t ndim = 0;
  DimVector shape;
  std::array<DimVector, N> strides;  // bytes
  std::array<char*, N> base;
};

// Byte strides of `t` viewed at broadcast shape `shape` (trailing-aligned, 0 where broadcast).
inline DimVector broadcast_byte_strides(const Tensor& t, const DimVector& shape) {
  DimVector st(shape.size(), 0);
  int64_t off = static_cast<int64_t>(shape.size()) - t.dim();
  int64_t isz = static_cast<int64_t>(t.itemsize());
  for (int64_t d = 0; d < t.dim(); ++d)
    st[off + d] = (t.shape[d] == 1 && shape[off + d] != 1) ? 0 : t.strides[d] * isz;
  return st;
}

template <size_t N>
LoopGeom<N> make_geom(const DimVector& shape, const std::array<const Tensor*, N>& ts) {
  LoopGeom<N> g;
  std::array<DimVector, N> full;
  for (size_t k = 0; k < N; ++k) {
    full[k] = broadcast_byte_strides(*ts[k], shape);
    g.base[k] = ts[k]->data();
  }
  // Drop size-1 dims, then merge dim d into d+1 when every operand is contiguous across them.
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (g.ndim > 0) {
      bool merge = true;
      int64_t last = g.ndim - 1;
      for (size_t k = 0; k < N && merge; ++k) merge = g.strides[k][last] == full[k][d] * shape[d];
      if (merge) {
        g.shape[last] *= shape[d];
        for (size_t k = 0; k < N; ++k) g.strides[k][last] = full[k][d];
        continue;
      }
    }
    g.shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) g.strides[k].push_back(full[k][d]);
    ++g.ndim;
  }
  return g;
}

}  // namespace gc::kernels
