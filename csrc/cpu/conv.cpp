// im2col / col2im on the CPU (layout in kernels/conv.h). Work is split over (image, channel)
// planes: each plane of x fills its own kh*kw rows of cols, and each plane of dx gathers from its
// own rows, so threads never write the same memory and the sums are in a fixed order.
#include "cpu/conv.h"
#include <algorithm>
#include "cpu/loops.h"
#include <cstring>

namespace gc::cpu {

namespace {

using kernels::ConvGeom;

// f(p) for planes p in [0, n), in parallel when the work pays for the threads.
// The output columns [x0, x1) whose input column x*sw - pw + jj (jj = j*dw) lies in [0, W).
inline void valid_range(int64_t ow, int64_t sw, int64_t pw, int64_t jj, int64_t W, int64_t& x0, int64_t& x1) {
  // x*sw + (jj - pw) >= 0  <=>  x >= ceil((pw - jj) / sw);  < W  <=>  x <= floor((W - 1 - jj + pw) / sw)
  const int64_t lo = pw - jj, hi = W - 1 - jj + pw;
  x0 = lo <= 0 ? 0 : (lo + sw - 1) / sw;
  x1 = hi < 0 ? 0 : std::min(ow, hi / sw + 1);
  if (x1 < x0) x1 = x0;
}

template <typename T>
void im2col_plane(const T* xp, const ConvGeom& g, T* rows) {  // rows: this plane's kh*kw rows
  const int64_t L = g.oh * g.ow;
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      T* out = rows + (i * g.kw + j) * L;
      int64_t x0, x1;
      valid_range(g.ow, g.sw, g.pw, j * g.dw, g.W, x0, x1);
      for (int64_t y = 0; y < g.oh; ++y) {
        T* o = out + y * g.ow;
        const int64_t iy = y * g.sh - g.ph + i * g.dh;
        if (iy < 0 || iy >= g.H) {
          std::fill(o, o + g.ow, T(0));
          continue;
        }
        const T* row = xp + iy * g.W;
        const int64_t off = j * g.dw - g.pw;  // input column of output column x: x * sw + off
        std::fill(o, o + x0, T(0));
        if (g.sw == 1 && x1 > x0) {
          std::memcpy(o + x0, row + (x0 + off), static_cast<size_t>(x1 - x0) * sizeof(T));
        } else {
          for (int64_t x = x0; x < x1; ++x) o[x] = row[x * g.sw + off];
        }
        std::fill(o + x1, o + g.ow, T(0));
      }
    }
}

template <typename T>
void col2im_plane(const T* rows, const ConvGeom& g, T* dxp) {
  std::fill(dxp, dxp + g.H * g.W, T(0));
  const int64_t L = g.oh * g.ow;
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const T* in = rows + (i * g.kw + j) * L;
      int64_t x0, x1;
      valid_range(g.ow, g.sw, g.pw, j * g.dw, g.W, x0, x1);
      for (int64_t y = 0; y < g.oh; ++y) {
        const int64_t iy = y * g.sh - g.ph + i * g.dh;
        if (iy < 0 || iy >= g.H) continue;
        const T* c = in + y * g.ow;
        T* row = dxp + iy * g.W;
        const int64_t off = j * g.dw - g.pw;
        for (int64_t x = x0; x < x1; ++x) row[x * g.sw + off] += c[x];
      }
    }
}

}  // namespace

void im2col(const Tensor& x, const ConvGeom& g, const Tensor& cols) {
  GC_DISPATCH_FLOAT(x.dtype, "conv2d", [&] {
    const scalar_t* xp = x.data_as<scalar_t>();
    scalar_t* cp = cols.data_as<scalar_t>();
    const int64_t plane = g.H * g.W, block = g.kh * g.kw * g.oh * g.ow;
    for_planes(g.N * g.C, g.N * g.rows() * g.cols(), [&](int64_t p) { im2col_plane(xp + p * plane, g, cp + p * block); });
  });
}

void col2im(const Tensor& cols, const ConvGeom& g, const Tensor& dx) {
  GC_DISPATCH_FLOAT(dx.dtype, "conv2d_backward", [&] {
    const scalar_t* cp = cols.data_as<scalar_t>();
    scalar_t* dp = dx.data_as<scalar_t>();
    const int64_t plane = g.H * g.W, block = g.kh * g.kw * g.oh * g.ow;
    for_planes(g.N * g.C, g.N * g.rows() * g.cols(), [&](int64_t p) { col2im_plane(cp + p * block, g, dp + p * plane); });
  });
}

}  // namespace gc::cpu
