// The elementwise engine of the CUDA backend, shared by every kernel family.
//
// N operands (output first) are walked over one broadcast shape. The host plans the walk with
// kernels/geom.h's make_geom (size-1 dims dropped, dims merged where every operand is contiguous
// across them, byte strides 0 on broadcast dims) and passes the result by value as a Geom<N>;
// each GPU thread turns its linear index into N byte offsets. After merging, most calls have one
// dim (a plain strided loop with no divisions). Grid-stride loops with 64-bit indices, so any
// size launches with a bounded grid.
#pragma once
#include <cuda_runtime.h>
#include <array>
#include <cstdint>
#include "core/tensor.h"
#include "kernels/geom.h"
#include "cuda/runtime.h"

namespace gc::cuda {

constexpr int kMaxDims = 16;        // dims left after merging; more raise a clear error
constexpr int kBlock = 256;         // threads per block of the elementwise kernels

// Blocks for n work items, one item per thread, capped (grid-stride loops cover the rest).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  int64_t b = (n + block - 1) / block;
  if (b < 1) b = 1;
  const int64_t cap = 65535LL * 8;
  return static_cast<unsigned>(b < cap ? b : cap);
}

// for (e in [0, total)) spread over the whole grid, 64-bit indices: the loop of every one-thread-
// per-item kernel.
#define GC_GRID_LOOP(e, total)                                                                    \
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < (total); \
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)

template <int N>
struct Geom {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];  // bytes
  char* base[N];

  // Byte pointers of the N operands at linear index i (row-major over shape).
  __device__ __forceinline__ void at(int64_t i, char** p) const {
#pragma unroll
    for (int k = 0; k < N; ++k) p[k] = base[k];
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t s = shape[d];
      int64_t idx = d == 0 ? i : i % s;
      i = d == 0 ? 0 : i / s;
#pragma unroll
      for (int k = 0; k < N; ++k) p[k] += idx * strides[k][d];
    }
  }
};

template <int N>
Geom<N> make_device_geom(const DimVector& shape, const std::array<const Tensor*, N>& ts, const char* op) {
  auto g = kernels::make_geom<N>(shape, ts);
  if (g.ndim > kMaxDims)
    fail(ErrorKind::Runtime, op, "CUDA kernels take at most ", kMaxDims, " non-contiguous dims, got ", g.ndim,
         ". Hint: call .contiguous() first.");
  Geom<N> d;
  d.ndim = static_cast<int>(g.ndim);
  for (int i = 0; i < d.ndim; ++i) {
    d.shape[i] = g.shape[i];
    for (int k = 0; k < N; ++k) d.strides[k][i] = g.strides[k][i];
  }
  for (int k = 0; k < N; ++k) d.base[k] = g.base[k];
  return d;
}

template <int N, typename F>
__global__ void elementwise_kernel(int64_t n, Geom<N> g, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    char* p[N];
    g.at(i, p);
    f(p);
  }
}

// f(char** p) on the device for every element of `shape`; p[k] points at operand k's element.
template <int N, typename F>
void for_each(const DimVector& shape, const std::array<const Tensor*, N>& ts, const char* op, F f) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  if (n == 0) return;
  auto g = make_device_geom<N>(shape, ts, op);
  elementwise_kernel<N><<<grid_for(n), kBlock>>>(n, g, f);
  check_launch(op);
}

// out = op(in) elementwise (in broadcast to out's shape); op is a __device__ functor or lambda.
template <typename out_t, typename in_t, typename Op>
void unary_loop(const Tensor& out, const Tensor& in, const char* name, Op op) {
  for_each<2>(out.shape, {&out, &in}, name, [op] __device__(char** p) {
    *reinterpret_cast<out_t*>(p[0]) = op(*reinterpret_cast<const in_t*>(p[1]));
  });
}

template <typename out_t, typename a_t, typename b_t, typename Op>
void binary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const char* name, Op op) {
  for_each<3>(out.shape, {&out, &a, &b}, name, [op] __device__(char** p) {
    *reinterpret_cast<out_t*>(p[0]) = op(*reinterpret_cast<const a_t*>(p[1]), *reinterpret_cast<const b_t*>(p[2]));
  });
}

template <typename out_t, typename a_t, typename b_t, typename c_t, typename Op>
void ternary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, const char* name, Op op) {
  for_each<4>(out.shape, {&out, &a, &b, &c}, name, [op] __device__(char** p) {
    *reinterpret_cast<out_t*>(p[0]) = op(*reinterpret_cast<const a_t*>(p[1]), *reinterpret_cast<const b_t*>(p[2]),
                                         *reinterpret_cast<const c_t*>(p[3]));
  });
}

// out = op(a, b, c, d) for operands of one type T (the fused binary backward).
template <typename T, typename Op>
void quaternary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& d,
                     const char* name, Op op) {
  for_each<5>(out.shape, {&out, &a, &b, &c, &d}, name, [op] __device__(char** p) {
    *reinterpret_cast<T*>(p[0]) = op(*reinterpret_cast<const T*>(p[1]), *reinterpret_cast<const T*>(p[2]),
                                     *reinterpret_cast<const T*>(p[3]), *reinterpret_cast<const T*>(p[4]));
  });
}

// Scratch device memory on the current device, returned to the caching allocator when it goes
// out of scope (stream-ordered: later kernels on the default stream run after the ones using it).
struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  int dev = 0;
  explicit DeviceBuffer(size_t n) : bytes(n), dev(current_device()) { ptr = allocator(dev).allocate(n); }
  ~DeviceBuffer() {
    if (ptr) allocator(dev).deallocate(ptr, bytes);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr);
  }
};

// Streaming multiprocessors of the current device (grids are sized to fill them).
inline int sm_count() {
  int dev = current_device(), n = 0;
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) {
    (void)cudaGetLastError();  // clear the error so check_launch does not report it
    n = 108;
  }
  return n;
}

// Smallest power of two >= v, within [1, cap] (cap a power of two).
inline int pow2_cap(int64_t v, int cap) {
  int r = 1;
  while (r < cap && r < v) r <<= 1;
  return r;
}

// ---- block-level reductions (blockDim.x a multiple of 32, at most 1024) ----

template <typename T, typename Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, o));
  return v;
}

// Combines one value per thread of the block; the result is valid in every thread.
// `shared` must hold 32 T. Every thread of the block must call it.
template <typename T, typename Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T identity, T* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_reduce(v, op);
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int nwarps = (blockDim.x + 31) >> 5;
  v = lane < nwarps ? shared[lane] : identity;
  v = warp_reduce(v, op);
  return __shfl_sync(0xffffffffu, v, 0);
}

}  // namespace gc::cuda
