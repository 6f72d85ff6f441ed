// The contract of the convolution kernels shared by csrc/cpu/conv.cpp and csrc/cuda/conv.cu: the
// geometry of a 2-D convolution and the im2col layout both backends write and read.
//
// A convolution of x [N, C, H, W] with weight [O, C / groups, kh, kw] is, per image and group, one
// GEMM: weight_g [O/g, Cg*kh*kw] @ cols_g [Cg*kh*kw, oh*ow], where cols holds, for every output
// position, the input patch it sees:
//   cols[n, r, l] = x[n, c, y*sh - ph + i*dh, x*sw - pw + j*dw]   (0 outside the input)
//   with r = (c*kh + i)*kw + j  (c over all C channels, so group g's rows are a contiguous block)
//   and  l = y*ow + x.
// col2im is its adjoint: dx[n, c, h, w] = sum of the cols entries im2col read from (n, c, h, w).
#pragma once
#include <cstdint>
#include "core/host_device.h"

namespace gc::kernels {

struct ConvGeom {
  int64_t N, C, H, W;            // input batch, channels (all groups), height, width
  int64_t kh, kw;                // kernel
  int64_t sh, sw, ph, pw, dh, dw;  // stride, zero padding, dilation
  int64_t oh, ow;                // output size
  GC_HOST_DEVICE int64_t rows() const { return C * kh * kw; }  // of cols per image
  GC_HOST_DEVICE int64_t cols() const { return oh * ow; }      // of cols per image
};

}  // namespace gc::kernels
