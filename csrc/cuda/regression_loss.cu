// The fused mean-squared-error kernels on CUDA, the twins of csrc/cpu/regression_loss.cpp, over
// contiguous operands: the sum of squared differences (accumulated in double), the elementwise
// squared differences, and both gradients in one pass.
//
// The trick for the sum: a bounded grid of blocks, each thread summing a grid-stride share in
// double and each block folding its threads with block_reduce into one partial; the few partials
// (at most kMaxPartials) are copied to the host and added there in block order, which is both the
// second pass and the read-back the caller needs, and keeps the result deterministic.
#include "cuda/regression_loss.h"
#include <cuda_runtime.h>
#include <vector>
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

constexpr int64_t kMaxPartials = 1024;

struct AddD {
  __device__ __forceinline__ double operator()(double a, double b) const { return a + b; }
};

template <typename T>
__global__ void __launch_bounds__(kBlock) squared_error_sum_kernel(const T* a, const T* b, int64_t n, double* part) {
  __shared__ double sh[32];
  double s = 0.0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += d * d;
  }
  s = block_reduce(s, AddD{}, 0.0, sh);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

template <typename T>
__global__ void squared_error_kernel(const T* a, const T* b, T* o, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const T d = a[i] - b[i];
    o[i] = d * d;
  }
}

// v = (g ? s * g[i] : k) * (a[i] - b[i]); ox[i] = v, ot[i] = -v where those are non-null.
template <typename T>
__global__ void squared_error_backward_kernel(const T* a, const T* b, const T* g, T k, T s, T* ox, T* ot, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const T v = (g ? s * g[i] : k) * (a[i] - b[i]);
    if (ox) ox[i] = v;
    if (ot) ot[i] = -v;
  }
}

}  // namespace

double squared_error_sum(const Tensor& x, const Tensor& t) {
  return GC_DISPATCH_FLOAT(x.dtype, "mse_loss", [&] {
    using T = scalar_t;
    const int64_t n = x.numel();
    if (n == 0) return 0.0;
    const int64_t want = grid_for(n);
    const int64_t blocks = want < kMaxPartials ? want : kMaxPartials;
    DeviceBuffer buf(sizeof(double) * static_cast<size_t>(blocks));
    double* part = static_cast<double*>(buf.ptr);
    squared_error_sum_kernel<T><<<static_cast<unsigned>(blocks), kBlock>>>(x.data_as<T>(), t.data_as<T>(), n, part);
    check_launch("mse_loss");
    std::vector<double> host(static_cast<size_t>(blocks));
    copy_bytes(host.data(), Device{}, part, x.device, sizeof(double) * host.size());
    double s = 0.0;
    for (double v : host) s += v;
    return s;
  });
}

void squared_error(const Tensor& x, const Tensor& t, const Tensor& out) {
  GC_DISPATCH_FLOAT(x.dtype, "mse_loss", [&] {
    using T = scalar_t;
    const int64_t n = x.numel();
    if (n == 0) return;
    squared_error_kernel<T><<<grid_for(n), kBlock>>>(x.data_as<T>(), t.data_as<T>(), out.data_as<T>(), n);
    check_launch("mse_loss");
  });
}

void squared_error_backward(const Tensor& x, const Tensor& t, const Tensor* g, double g_scalar, double scale,
                            Tensor* gx, Tensor* gt) {
  GC_DISPATCH_FLOAT(x.dtype, "mse_loss_backward", [&] {
    using T = scalar_t;
    const int64_t n = x.numel();
    if (n == 0 || (!gx && !gt)) return;
    const T k = static_cast<T>(scale * g_scalar), s = static_cast<T>(scale);
    squared_error_backward_kernel<T><<<grid_for(n), kBlock>>>(
        x.data_as<T>(), t.data_as<T>(), g ? g->data_as<T>() : nullptr, k, s, gx ? gx->data_as<T>() : nullptr,
        gt ? gt->data_as<T>() : nullptr, n);
    check_launch("mse_loss_backward");
  });
}

}  // namespace gc::cuda
