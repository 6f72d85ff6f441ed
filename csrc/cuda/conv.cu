// im2col / col2im on CUDA, the twins of csrc/cpu/conv.cpp (layout in kernels/conv.h). One thread per
// element written: im2col per cols entry, col2im per dx element, which gathers the cols entries
// that read it (no atomics, so the sums are deterministic and in the CPU's (i, j) order).
#include "cuda/conv.h"
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

using kernels::ConvGeom;

template <typename T>
__global__ void im2col_kernel(const T* x, ConvGeom g, T* cols, int64_t total) {
  const int64_t L = g.oh * g.ow, R = g.C * g.kh * g.kw;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t l = e % L, r = (e / L) % R, n = e / (L * R);
    const int64_t j = r % g.kw, i = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
    const int64_t y = l / g.ow, xo = l % g.ow;
    const int64_t iy = y * g.sh - g.ph + i * g.dh, ix = xo * g.sw - g.pw + j * g.dw;
    cols[e] = (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) ? x[((n * g.C + c) * g.H + iy) * g.W + ix] : T(0);
  }
}

template <typename T>
__global__ void col2im_kernel(const T* cols, ConvGeom g, T* dx, int64_t total) {
  const int64_t L = g.oh * g.ow, R = g.C * g.kh * g.kw;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, c = (e / (g.W * g.H)) % g.C, n = e / (g.W * g.H * g.C);
    T acc = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ty = h + g.ph - i * g.dh;  // = y * sh for the output row y that read (h, w)
      if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.oh) continue;
      const int64_t y = ty / g.sh;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tx = w + g.pw - j * g.dw;
        if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.ow) continue;
        const int64_t r = (c * g.kh + i) * g.kw + j;
        acc += cols[(n * R + r) * L + y * g.ow + tx / g.sw];
      }
    }
    dx[e] = acc;
  }
}

}  // namespace

void im2col(const Tensor& x, const ConvGeom& g, const Tensor& cols) {
  GC_DISPATCH_FLOAT(x.dtype, "conv2d", [&] {
    const int64_t total = g.N * g.rows() * g.cols();
    if (total == 0) return;
    im2col_kernel<scalar_t><<<grid_for(total), kBlock>>>(x.data_as<scalar_t>(), g, cols.data_as<scalar_t>(), total);
    check_launch("conv2d");
  });
}

void col2im(const Tensor& cols, const ConvGeom& g, const Tensor& dx) {
  GC_DISPATCH_FLOAT(dx.dtype, "conv2d_backward", [&] {
    const int64_t total = g.N * g.C * g.H * g.W;
    if (total == 0) return;
    col2im_kernel<scalar_t><<<grid_for(total), kBlock>>>(cols.data_as<scalar_t>(), g, dx.data_as<scalar_t>(), total);
    check_launch("conv2d_backward");
  });
}

}  // namespace gc::cuda
