// Max pooling on CUDA, the twins of csrc/cpu/pool.cpp (kernels/pool.h). Forward: one thread per
// output. Backward: one thread per input element, gathering the gradients of the windows whose
// argmax it is (no atomics, so the result is deterministic).
#include "cuda/pool.h"
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

using kernels::PoolGeom;

template <typename T>
__global__ void max_pool_kernel(const T* x, PoolGeom g, T* out, int64_t* idx, int64_t total) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t xo = e % g.ow, y = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    T best;
    int64_t at;
    kernels::window_max(x + p * g.H * g.W, g, y, xo, best, at);
    out[e] = best;
    idx[e] = at;
  }
}

template <typename T>
__global__ void max_pool_backward_kernel(const T* gout, const int64_t* idx, PoolGeom g, T* dx, int64_t total) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, p = e / (g.W * g.H), pos = h * g.W + w;
    const int64_t base = p * g.oh * g.ow;
    T acc = 0;
    // The output rows/columns whose windows can contain (h, w): y*sh - ph + i*dh == h for some i.
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ty = h + g.ph - i * g.dh;
      if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.oh) continue;
      const int64_t y = ty / g.sh;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tx = w + g.pw - j * g.dw;
        if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.ow) continue;
        const int64_t k = base + y * g.ow + tx / g.sw;
        if (idx[k] == pos) acc += gout[k];
      }
    }
    dx[e] = acc;
  }
}

}  // namespace

void max_pool2d(const Tensor& x, const PoolGeom& g, const Tensor& out, const Tensor& indices) {
  GC_DISPATCH_FLOAT(x.dtype, "max_pool2d", [&] {
    const int64_t total = g.planes * g.oh * g.ow;
    if (total == 0) return;
    max_pool_kernel<scalar_t><<<grid_for(total), kBlock>>>(x.data_as<scalar_t>(), g, out.data_as<scalar_t>(),
                                                           indices.data_as<int64_t>(), total);
    check_launch("max_pool2d");
  });
}

void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const PoolGeom& g, const Tensor& dx) {
  GC_DISPATCH_FLOAT(dx.dtype, "max_pool2d_backward", [&] {
    const int64_t total = g.planes * g.H * g.W;
    if (total == 0) return;
    max_pool_backward_kernel<scalar_t><<<grid_for(total), kBlock>>>(gout.data_as<scalar_t>(), indices.data_as<int64_t>(),
                                                                    g, dx.data_as<scalar_t>(), total);
    check_launch("max_pool2d_backward");
  });
}

}  // namespace gc::cuda
