// Layer norm and RMS norm on CUDA, the twins of csrc/cpu/layer_norm.cpp (kernels/layer_norm.h):
// one block per row for the row sums (block_reduce, in the compute type) and the row's y or dx;
// dw and db by one thread per column walking down the rows (neighbouring threads read
// neighbouring columns, so every row's loads coalesce), with no [R, N] temporary.
#include "cuda/layer_norm.h"
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

using kernels::RowNorm;

constexpr int kRowBlock = 128;  // threads per row

struct Add {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};

inline unsigned row_grid(int64_t R) { return static_cast<unsigned>(R < 65535LL * 8 ? R : 65535LL * 8); }

template <typename T>
__global__ void forward_kernel(const T* x, int64_t R, int64_t N, bool layer, const T* w, const T* b, double eps,
                               T* mean, T* rstd, T* y) {
  __shared__ T shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* xr = x + r * N;
    T m = 0;
    if (layer) {
      T s = 0;
      for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += xr[i];
      m = block_reduce(s, Add{}, T(0), shared) / static_cast<T>(N);
    }
    T q = 0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const T d = xr[i] - m;
      q += d * d;
    }
    const T rs = kernels::norm_rstd(block_reduce(q, Add{}, T(0), shared) / static_cast<T>(N), eps);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const T v = (xr[i] - m) * rs;
      y[r * N + i] = (w ? v * w[i] : v) + (b ? b[i] : T(0));
    }
    if (threadIdx.x == 0) {
      if (mean) mean[r] = m;
      rstd[r] = rs;
    }
  }
}

template <typename T>
__global__ void grad_input_kernel(const T* dy, const T* x, int64_t R, int64_t N, bool layer, const T* mean,
                                  const T* rstd, const T* w, T* dx) {
  __shared__ T shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T *gr = dy + r * N, *xr = x + r * N;
    const T m = mean ? mean[r] : T(0), rs = rstd[r];
    T s1 = 0, s2 = 0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const T g = w ? gr[i] * w[i] : gr[i];
      s1 += g;
      s2 += g * (xr[i] - m) * rs;
    }
    s1 = block_reduce(s1, Add{}, T(0), shared);
    s2 = block_reduce(s2, Add{}, T(0), shared);
    const T mg = layer ? s1 / static_cast<T>(N) : T(0), mgx = s2 / static_cast<T>(N);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const T g = w ? gr[i] * w[i] : gr[i];
      dx[r * N + i] = kernels::norm_dx(g, (xr[i] - m) * rs, rs, mg, mgx);
    }
  }
}

template <typename T>
__global__ void grad_params_kernel(const T* dy, const T* x, int64_t R, int64_t N, const T* mean, const T* rstd,
                                   T* dw, T* db) {
  GC_GRID_LOOP(i, N) {
    T sw = 0, sb = 0;
    for (int64_t r = 0; r < R; ++r) {
      const T g = dy[r * N + i];
      sw += g * (x[r * N + i] - (mean ? mean[r] : T(0))) * rstd[r];
      sb += g;
    }
    if (dw) dw[i] = sw;
    if (db) db[i] = sb;
  }
}

}  // namespace

void layer_norm_forward(const Tensor& x, int64_t N, RowNorm kind, const Tensor* weight, const Tensor* bias, double eps,
                        const Tensor* mean, const Tensor& rstd, const Tensor& y) {
  GC_DISPATCH_FLOAT(x.dtype, "layer_norm", [&] {
    if (x.numel() == 0) return;
    const int64_t R = x.numel() / N;
    forward_kernel<scalar_t><<<row_grid(R), kRowBlock>>>(x.data_as<scalar_t>(), R, N, kind == RowNorm::Layer,
                                                         data_or_null<scalar_t>(weight), data_or_null<scalar_t>(bias),
                                                         eps, data_or_null<scalar_t>(mean), rstd.data_as<scalar_t>(),
                                                         y.data_as<scalar_t>());
    check_launch("layer_norm");
  });
}

void layer_norm_backward(const Tensor& dy, const Tensor& x, int64_t N, RowNorm kind, const Tensor* mean,
                         const Tensor& rstd, const Tensor* weight, const Tensor* dx, const Tensor* dw,
                         const Tensor* db) {
  GC_DISPATCH_FLOAT(x.dtype, "layer_norm_backward", [&] {
    if (N == 0) return;
    const int64_t R = x.numel() / N;
    if (dx && R > 0) {
      grad_input_kernel<scalar_t><<<row_grid(R), kRowBlock>>>(dy.data_as<scalar_t>(), x.data_as<scalar_t>(), R, N,
                                                              kind == RowNorm::Layer, data_or_null<scalar_t>(mean),
                                                              rstd.data_as<scalar_t>(), data_or_null<scalar_t>(weight),
                                                              dx->data_as<scalar_t>());
      check_launch("layer_norm_backward");
    }
    if (dw || db) {
      grad_params_kernel<scalar_t><<<grid_for(N), kBlock>>>(dy.data_as<scalar_t>(), x.data_as<scalar_t>(), R, N,
                                                            data_or_null<scalar_t>(mean), rstd.data_as<scalar_t>(),
                                                            data_or_null<scalar_t>(dw), data_or_null<scalar_t>(db));
      check_launch("layer_norm_backward");
    }
  });
}

}  // namespace gc::cuda
