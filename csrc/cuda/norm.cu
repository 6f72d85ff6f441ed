// Batch norm on CUDA, the twins of csrc/cpu/norm.cpp (kernels/norm.h): one block per channel for
// the per-channel sums (block_reduce, in double), one thread per element for y and dx.
#include "cuda/norm.h"
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

using kernels::ChannelLayout;

constexpr int kChannelBlock = 256;

struct Add {
  __device__ double operator()(double a, double b) const { return a + b; }
};

template <typename T>
__device__ double param(const T* p, int64_t c, double none) {
  return p ? static_cast<double>(p[c]) : none;
}

template <typename T>
__global__ void stats_kernel(const T* x, ChannelLayout L, T* mean, T* var) {
  __shared__ double shared[32];
  const int64_t c = blockIdx.x, M = L.count();
  double s = 0;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) s += static_cast<double>(x[L.at(c, k)]);
  const double mu = block_reduce(s, Add{}, 0.0, shared) / static_cast<double>(M);
  double q = 0;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
    const double d = static_cast<double>(x[L.at(c, k)]) - mu;
    q += d * d;
  }
  q = block_reduce(q, Add{}, 0.0, shared);
  if (threadIdx.x == 0) {
    mean[c] = static_cast<T>(mu);
    var[c] = static_cast<T>(q / static_cast<double>(M));
  }
}

template <typename T>
__global__ void apply_kernel(const T* x, ChannelLayout L, const T* mean, const T* var, const T* w, const T* b,
                             double eps, T* y, int64_t total) {
  GC_GRID_LOOP(e, total) {
    const int64_t c = (e / L.S) % L.C;
    double scale, shift;
    kernels::bn_scale_shift(mean[c], var[c], param(w, c, 1.0), param(b, c, 0.0), eps, scale, shift);
    y[e] = x[e] * static_cast<T>(scale) + static_cast<T>(shift);
  }
}

// Per channel: sum(dy) and sum(dy * (x - mean)) into sums[2c], sums[2c + 1], and dw / db.
template <typename T>
__global__ void grad_sums_kernel(const T* dy, const T* x, ChannelLayout L, const T* mean, const T* var, double eps,
                                 double* sums, T* dw, T* db) {
  __shared__ double shared[32];
  const int64_t c = blockIdx.x, M = L.count();
  const double mu = mean[c];
  double s = 0, t = 0;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
    const int64_t i = L.at(c, k);
    const double g = dy[i];
    s += g;
    t += g * (static_cast<double>(x[i]) - mu);
  }
  s = block_reduce(s, Add{}, 0.0, shared);
  t = block_reduce(t, Add{}, 0.0, shared);
  if (threadIdx.x == 0) {
    sums[2 * c] = s;
    sums[2 * c + 1] = t;
    if (dw) dw[c] = static_cast<T>(t * kernels::bn_invstd(var[c], eps));
    if (db) db[c] = static_cast<T>(s);
  }
}

template <typename T>
__global__ void grad_input_kernel(const T* dy, const T* x, ChannelLayout L, const T* mean, const T* var, const T* w,
                                  double eps, bool batch_stats, const double* sums, T* dx, int64_t total) {
  GC_GRID_LOOP(e, total) {
    const int64_t c = (e / L.S) % L.C;
    double k_dy, k_x, k_0;
    kernels::bn_grad_coeffs(sums[2 * c], sums[2 * c + 1], var[c], param(w, c, 1.0), eps, L.count(), batch_stats, k_dy,
                            k_x, k_0);
    dx[e] = static_cast<T>(k_dy) * dy[e] + static_cast<T>(k_x) * (x[e] - mean[c]) + static_cast<T>(k_0);
  }
}

}  // namespace

void batch_norm_stats(const Tensor& x, const ChannelLayout& L, const Tensor& mean, const Tensor& var) {
  GC_DISPATCH_FLOAT(x.dtype, "batch_norm", [&] {
    if (L.C == 0) return;
    stats_kernel<scalar_t><<<static_cast<unsigned>(L.C), kChannelBlock>>>(x.data_as<scalar_t>(), L,
                                                                          mean.data_as<scalar_t>(), var.data_as<scalar_t>());
    check_launch("batch_norm");
  });
}

void batch_norm_apply(const Tensor& x, const ChannelLayout& L, const Tensor& mean, const Tensor& var,
                      const Tensor* weight, const Tensor* bias, double eps, const Tensor& y) {
  GC_DISPATCH_FLOAT(x.dtype, "batch_norm", [&] {
    const int64_t total = L.N * L.C * L.S;
    if (total == 0) return;
    apply_kernel<scalar_t><<<grid_for(total), kBlock>>>(x.data_as<scalar_t>(), L, mean.data_as<scalar_t>(),
                                                        var.data_as<scalar_t>(), data_or_null<scalar_t>(weight),
                                                        data_or_null<scalar_t>(bias), eps, y.data_as<scalar_t>(),
                                                        total);
    check_launch("batch_norm");
  });
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const ChannelLayout& L, const Tensor& mean,
                         const Tensor& var, const Tensor* weight, double eps, bool batch_stats, const Tensor* dx,
                         const Tensor* dw, const Tensor* db) {
  GC_DISPATCH_FLOAT(x.dtype, "batch_norm_backward", [&] {
    if (L.C == 0) return;
    auto sums = empty_tensor({2 * L.C}, DType::Float64, x.device);
    grad_sums_kernel<scalar_t><<<static_cast<unsigned>(L.C), kChannelBlock>>>(
        dy.data_as<scalar_t>(), x.data_as<scalar_t>(), L, mean.data_as<scalar_t>(), var.data_as<scalar_t>(), eps,
        sums->data_as<double>(), data_or_null<scalar_t>(dw), data_or_null<scalar_t>(db));
    check_launch("batch_norm_backward");
    const int64_t total = L.N * L.C * L.S;
    if (!dx || total == 0) return;
    grad_input_kernel<scalar_t><<<grid_for(total), kBlock>>>(
        dy.data_as<scalar_t>(), x.data_as<scalar_t>(), L, mean.data_as<scalar_t>(), var.data_as<scalar_t>(),
        data_or_null<scalar_t>(weight), eps, batch_stats, sums->data_as<double>(), dx->data_as<scalar_t>(), total);
    check_launch("batch_norm_backward");
  });
}

}  // namespace gc::cuda
