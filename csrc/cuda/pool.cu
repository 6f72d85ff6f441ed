// Max and average pooling on CUDA, the twins of csrc/cpu/pool.cpp (kernels/pool.h). Forward: one
// thread per output. Backward: one thread per input element, gathering the gradients of the
// windows that hold it (no atomics, so the result is deterministic).
#include "cuda/pool.h"
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

using kernels::PoolGeom;

template <typename T>
__global__ void max_pool_kernel(const T* x, PoolGeom g, T* out, int64_t* idx, int64_t total) {
  GC_GRID_LOOP(e, total) {
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
  GC_GRID_LOOP(e, total) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, p = e / (g.W * g.H), base = p * g.oh * g.ow;
    dx[e] = kernels::max_grad(gout + base, idx + base, g, h, w);
  }
}

template <typename T>
__global__ void avg_pool_kernel(const T* x, PoolGeom g, T* out, int64_t total) {
  GC_GRID_LOOP(e, total) {
    const int64_t xo = e % g.ow, y = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    out[e] = kernels::window_avg(x + p * g.H * g.W, g, y, xo);
  }
}

template <typename T>
__global__ void avg_pool_backward_kernel(const T* gout, PoolGeom g, T* dx, int64_t total) {
  GC_GRID_LOOP(e, total) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, p = e / (g.W * g.H);
    dx[e] = kernels::avg_grad(gout + p * g.oh * g.ow, g, h, w);
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

void avg_pool2d(const Tensor& x, const PoolGeom& g, const Tensor& out) {
  GC_DISPATCH_FLOAT(x.dtype, "avg_pool2d", [&] {
    const int64_t total = g.planes * g.oh * g.ow;
    if (total == 0) return;
    avg_pool_kernel<scalar_t><<<grid_for(total), kBlock>>>(x.data_as<scalar_t>(), g, out.data_as<scalar_t>(), total);
    check_launch("avg_pool2d");
  });
}

void avg_pool2d_backward(const Tensor& gout, const PoolGeom& g, const Tensor& dx) {
  GC_DISPATCH_FLOAT(dx.dtype, "avg_pool2d_backward", [&] {
    const int64_t total = g.planes * g.H * g.W;
    if (total == 0) return;
    avg_pool_backward_kernel<scalar_t><<<grid_for(total), kBlock>>>(gout.data_as<scalar_t>(), g, dx.data_as<scalar_t>(),
                                                                    total);
    check_launch("avg_pool2d_backward");
  });
}

}  // namespace gc::cuda
