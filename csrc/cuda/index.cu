// CUDA indexing kernels, the contracts of csrc/cpu/index.h: the gather / scatter loops over an
// "index space" (out[i] = src[i + wrap(idx[i]) * stride], dst[i + wrap(idx[i]) * stride] (+)=
// values[i]), bounds checks, masked_fill and nonzero.
//
// The tricks:
//   first_index_out_of_range: one pass finds the first offending entry in row-major order without a
//     second scan: each thread keeps n - i of the first bad i it meets (its i only grow), a block
//     max and one atomicMax per block combine them, so the maximum is n - (first bad i); 0 means
//     none. The host reads 8 bytes back (a sync), then, only on failure, the offending value.
//   scatter with accumulate: one thread per entry, atomicAdd (int64 through unsigned 64-bit
//     wrap-around adds, bool as a logical or: a true entry stores true).
//   scatter_reduce: one thread per entry; sum through the same atomicAdd, prod / amax / amin as a
//     compare-and-swap loop on the target's bits (32 for float, 64 for double and int64), bool
//     as a store of the absorbing value only (true for or, false for and: writers agree).
//   scatter without accumulate: the CPU's "last write wins in row-major order" must hold with
//     duplicate indices (and with dst views that overlap themselves). Each entry's target byte
//     offset becomes a key, paired with its row-major position; a stable radix sort (CUB) groups
//     equal targets with positions ascending, and only the last entry of each group writes.
//     Deterministic for any input, O(n) memory, a handful of launches.
//   nonzero: flags -> exclusive scan (CUB) -> each non-zero writes its coordinates at its rank,
//     so rows come out in row-major order. Coordinates are unravelled over the dims of size > 1
//     only (at most 63 of them, as their product is at most 2^63); the others are 0.
#include "cuda/index.h"
#include <cuda_runtime.h>
#include <cub/cub.cuh>
#include <cstdint>
#include <type_traits>
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {
namespace {

__device__ __forceinline__ int64_t wrap(int64_t v, int64_t size) { return v < 0 ? v + size : v; }
__device__ __forceinline__ int64_t load_index(const char* p) { return *reinterpret_cast<const int64_t*>(p); }

template <typename T>
T scalar_as(Scalar v) {
  if constexpr (std::is_same_v<T, bool>) return v.kind == Scalar::Float ? v.d != 0 : v.i != 0;
  else return v.kind == Scalar::Float ? static_cast<T>(v.d) : static_cast<T>(v.i);
}

void check_cuda(cudaError_t e, const char* op) {
  if (e != cudaSuccess) fail(ErrorKind::Runtime, op, "CUDA error: ", cudaGetErrorString(e), " (", cudaGetErrorName(e), ")");
}

Device host() { return Device{DeviceType::CPU, -1}; }

using ull = unsigned long long;

// ---- bounds ----

__global__ void find_bad_index_kernel(int64_t n, Geom<1> g, ull lo, ull range, ull* result) {
  __shared__ ull shared[32];
  ull best = 0;  // n - i of this thread's first bad entry; 0: none
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    char* p[1];
    g.at(i, p);
    // v in [lo, size)  <=>  v - lo < size - lo, unsigned.
    if (*reinterpret_cast<const ull*>(p[0]) - lo >= range) {
      best = static_cast<ull>(n - i);
      break;  // later entries of this thread come after it
    }
  }
  best = block_reduce(best, [](ull a, ull b) { return a > b ? a : b; }, ull(0), shared);
  if (threadIdx.x == 0 && best != 0) atomicMax(result, best);
}

// Byte offset of linear index i in a device geometry (Geom::at on the host).
int64_t geom_offset(const Geom<1>& g, int64_t i) {
  int64_t off = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t idx = d == 0 ? i : i % g.shape[d];
    i = d == 0 ? 0 : i / g.shape[d];
    off += idx * g.strides[0][d];
  }
  return off;
}

// ---- element loops (typed, so each extended lambda sits in a named function) ----

template <typename T>
void gather_typed(const Tensor& out, const Tensor& src, const Tensor& idx, int64_t size, int64_t stride) {
  const int64_t step = stride * static_cast<int64_t>(sizeof(T));
  for_each<3>(out.shape, {&out, &src, &idx}, "index", [size, step] __device__(char** p) {
    *reinterpret_cast<T*>(p[0]) = *reinterpret_cast<const T*>(p[1] + wrap(load_index(p[2]), size) * step);
  });
}

__device__ __forceinline__ void accumulate(float* to, float v) { atomicAdd(to, v); }
__device__ __forceinline__ void accumulate(double* to, double v) { atomicAdd(to, v); }
__device__ __forceinline__ void accumulate(int64_t* to, int64_t v) {
  atomicAdd(reinterpret_cast<ull*>(to), static_cast<ull>(v));  // two's complement: wraps like the CPU
}
__device__ __forceinline__ void accumulate(bool* to, bool v) {
  if (v) *to = true;  // *to || v; concurrent writers all store true
}

template <typename T>
void scatter_add_typed(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride) {
  const int64_t step = stride * static_cast<int64_t>(sizeof(T));
  for_each<3>(dst.shape, {&dst, &values, &idx}, "index_put_", [size, step] __device__(char** p) {
    accumulate(reinterpret_cast<T*>(p[0] + wrap(load_index(p[2]), size) * step), *reinterpret_cast<const T*>(p[1]));
  });
}

template <kernels::ScatterReduce R, typename T>
__device__ __forceinline__ void atomic_combine(T* to, T v) {
  if constexpr (R == kernels::ScatterReduce::Sum) {
    accumulate(to, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    constexpr bool absorbing = R == kernels::ScatterReduce::Amax;  // amax is `or`, prod and amin `and`
    if (v == absorbing) *to = absorbing;
  } else {
    using Bits = std::conditional_t<sizeof(T) == 4, unsigned int, ull>;
    Bits* addr = reinterpret_cast<Bits*>(to);
    Bits old = *addr, assumed;
    do {
      assumed = old;
      T cur;
      memcpy(&cur, &assumed, sizeof(T));
      const T next = kernels::scatter_combine<R>(cur, v);
      Bits bits;
      memcpy(&bits, &next, sizeof(T));
      if (bits == assumed) break;
      old = atomicCAS(addr, assumed, bits);
    } while (old != assumed);
  }
}

template <kernels::ScatterReduce R, typename T>
void scatter_reduce_typed(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride) {
  const int64_t step = stride * static_cast<int64_t>(sizeof(T));
  for_each<3>(dst.shape, {&dst, &values, &idx}, "scatter_reduce", [size, step] __device__(char** p) {
    atomic_combine<R>(reinterpret_cast<T*>(p[0] + wrap(load_index(p[2]), size) * step), *reinterpret_cast<const T*>(p[1]));
  });
}

// Non-accumulating scatter, pass 1: entry i targets the byte at base + keys[i]; ids[i] = i.
__global__ void scatter_keys_kernel(int64_t n, Geom<3> g, int64_t size, int64_t step, int64_t* keys, int64_t* ids) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    char* p[3];
    g.at(i, p);
    keys[i] = (p[0] - g.base[0]) + wrap(load_index(p[2]), size) * step;
    ids[i] = i;
  }
}

// Pass 2, over the entries sorted by target (stable: positions ascending within a target): the
// last entry of each run of equal keys is the last in row-major order, and the only one to write.
template <typename T>
__global__ void scatter_last_kernel(int64_t n, Geom<3> g, const int64_t* keys, const int64_t* ids) {
  for (int64_t s = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; s < n;
       s += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    if (s + 1 < n && keys[s + 1] == keys[s]) continue;
    char* p[3];
    g.at(ids[s], p);
    *reinterpret_cast<T*>(g.base[0] + keys[s]) = *reinterpret_cast<const T*>(p[1]);
  }
}

template <typename T>
void scatter_set_typed(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride) {
  const char* op = "index_put_";
  const int64_t n = dst.numel();
  const int64_t step = stride * static_cast<int64_t>(sizeof(T));
  auto g = make_device_geom<3>(dst.shape, {&dst, &values, &idx}, op);
  // Keys are signed byte offsets sorted on all 64 bits: with several index tensors idx holds
  // folded element offsets (size 0, stride 1), so no cheaper bound on their range is known here.
  DeviceBuffer keys(2 * n * sizeof(int64_t)), ids(2 * n * sizeof(int64_t));
  int64_t* keys_in = keys.as<int64_t>();
  int64_t* keys_out = keys_in + n;
  int64_t* ids_in = ids.as<int64_t>();
  int64_t* ids_out = ids_in + n;
  scatter_keys_kernel<<<grid_for(n), kBlock>>>(n, g, size, step, keys_in, ids_in);
  check_launch(op);
  size_t temp_bytes = 0;
  check_cuda(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, ids_in, ids_out, n), op);
  DeviceBuffer temp(temp_bytes > 0 ? temp_bytes : 1);  // a null buffer would make the call a size query
  check_cuda(cub::DeviceRadixSort::SortPairs(temp.ptr, temp_bytes, keys_in, keys_out, ids_in, ids_out, n), op);
  check_launch(op);
  scatter_last_kernel<T><<<grid_for(n), kBlock>>>(n, g, keys_out, ids_out);
  check_launch(op);
}

template <typename T>
void masked_fill_typed(const Tensor& out, const Tensor& mask, T v) {
  for_each<2>(out.shape, {&out, &mask}, "masked_fill", [v] __device__(char** p) {
    if (*reinterpret_cast<const bool*>(p[1])) *reinterpret_cast<T*>(p[0]) = v;
  });
}

// ---- nonzero ----

template <typename T>
__global__ void count_nonzero_kernel(int64_t n, const T* x, ull* result) {
  __shared__ ull shared[32];
  ull c = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    c += x[i] != T(0);
  c = block_reduce(c, [](ull a, ull b) { return a + b; }, ull(0), shared);
  if (threadIdx.x == 0 && c != 0) atomicAdd(result, c);
}

template <typename T>
__global__ void nonzero_flags_kernel(int64_t n, const T* x, int64_t* flags) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    flags[i] = x[i] != T(0);
}

// The dims of size > 1 (ne of them, at most 63: their product is at most 2^63) and their
// positions among x's nd dims.
constexpr int kMaxBigDims = 64;
struct Unravel {
  int64_t nd;
  int ne;
  int64_t size[kMaxBigDims];
  int64_t col[kMaxBigDims];
};

template <typename T>
__global__ void nonzero_write_kernel(int64_t n, const T* x, const int64_t* pos, Unravel u, int64_t* out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    if (!(x[i] != T(0))) continue;
    int64_t* o = out + pos[i] * u.nd;
    int64_t r = i;
    int e = u.ne - 1;
    for (int64_t d = u.nd - 1; d >= 0; --d) {
      if (e >= 0 && u.col[e] == d) {
        o[d] = r % u.size[e];
        r /= u.size[e];
        --e;
      } else {
        o[d] = 0;
      }
    }
  }
}

template <typename T>
int64_t nonzero_count_typed(const Tensor& x) {
  const int64_t n = x.numel();
  if (n == 0) return 0;
  DeviceBuffer buf(sizeof(ull));
  memset_zero(buf.ptr, x.device, sizeof(ull));
  count_nonzero_kernel<T><<<grid_for(n), kBlock>>>(n, x.data_as<T>(), buf.as<ull>());
  check_launch("nonzero");
  ull count = 0;
  copy_bytes(&count, host(), buf.ptr, x.device, sizeof(ull));
  return static_cast<int64_t>(count);
}

template <typename T>
void nonzero_typed(const Tensor& out, const Tensor& x) {
  const char* op = "nonzero";
  const int64_t n = x.numel();
  Unravel u{};
  u.nd = x.dim();
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.shape[d] == 1) continue;
    u.size[u.ne] = x.shape[d];
    u.col[u.ne] = d;
    ++u.ne;
  }
  DeviceBuffer buf(2 * n * sizeof(int64_t));
  int64_t* flags = buf.as<int64_t>();
  int64_t* pos = flags + n;
  nonzero_flags_kernel<T><<<grid_for(n), kBlock>>>(n, x.data_as<T>(), flags);
  check_launch(op);
  size_t temp_bytes = 0;
  check_cuda(cub::DeviceScan::ExclusiveSum(nullptr, temp_bytes, flags, pos, n), op);
  DeviceBuffer temp(temp_bytes > 0 ? temp_bytes : 1);
  check_cuda(cub::DeviceScan::ExclusiveSum(temp.ptr, temp_bytes, flags, pos, n), op);
  check_launch(op);
  nonzero_write_kernel<T><<<grid_for(n), kBlock>>>(n, x.data_as<T>(), pos, u, out.data_as<int64_t>());
  check_launch(op);
}

}  // namespace

std::optional<int64_t> first_index_out_of_range(const Tensor& idx, int64_t lo, int64_t size) {
  const char* op = "index bounds check";
  const int64_t n = idx.numel();
  if (n == 0) return std::nullopt;
  const ull ulo = static_cast<ull>(lo), range = static_cast<ull>(size) - ulo;
  auto g = make_device_geom<1>(idx.shape, {&idx}, op);
  DeviceBuffer buf(sizeof(ull));
  memset_zero(buf.ptr, idx.device, sizeof(ull));
  find_bad_index_kernel<<<grid_for(n), kBlock>>>(n, g, ulo, range, buf.as<ull>());
  check_launch(op);
  ull key = 0;
  copy_bytes(&key, host(), buf.ptr, idx.device, sizeof(key));
  if (key == 0) return std::nullopt;
  int64_t first = 0;
  copy_bytes(&first, host(), g.base[0] + geom_offset(g, n - static_cast<int64_t>(key)), idx.device, sizeof(first));
  return first;
}

void add_index_offsets(const Tensor& off, const Tensor& idx, int64_t size, int64_t stride) {
  for_each<2>(off.shape, {&off, &idx}, "index", [size, stride] __device__(char** p) {
    *reinterpret_cast<int64_t*>(p[0]) += wrap(load_index(p[1]), size) * stride;
  });
}

void gather_kernel(const Tensor& out, const Tensor& src, const Tensor& idx, int64_t size, int64_t stride) {
  GC_DISPATCH_ALL(out.dtype, "index", [&] { gather_typed<scalar_t>(out, src, idx, size, stride); });
}

void scatter_kernel(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride,
                    bool accumulate) {
  if (dst.numel() == 0) return;
  GC_DISPATCH_ALL(dst.dtype, "index_put_", [&] {
    if (accumulate) scatter_add_typed<scalar_t>(dst, values, idx, size, stride);
    else scatter_set_typed<scalar_t>(dst, values, idx, size, stride);
  });
}

void scatter_reduce_kernel(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride,
                           kernels::ScatterReduce reduce) {
  using kernels::ScatterReduce;
  if (dst.numel() == 0) return;
  GC_DISPATCH_ALL(dst.dtype, "scatter_reduce", [&] {
    switch (reduce) {
      case ScatterReduce::Sum: return scatter_reduce_typed<ScatterReduce::Sum, scalar_t>(dst, values, idx, size, stride);
      case ScatterReduce::Prod: return scatter_reduce_typed<ScatterReduce::Prod, scalar_t>(dst, values, idx, size, stride);
      case ScatterReduce::Amax: return scatter_reduce_typed<ScatterReduce::Amax, scalar_t>(dst, values, idx, size, stride);
      case ScatterReduce::Amin: return scatter_reduce_typed<ScatterReduce::Amin, scalar_t>(dst, values, idx, size, stride);
    }
  });
}

void masked_fill_kernel(const Tensor& out, const Tensor& mask, Scalar value) {
  GC_DISPATCH_ALL(out.dtype, "masked_fill", [&] { masked_fill_typed<scalar_t>(out, mask, scalar_as<scalar_t>(value)); });
}

int64_t nonzero_count(const Tensor& x) {
  return GC_DISPATCH_ALL(x.dtype, "nonzero", [&] { return nonzero_count_typed<scalar_t>(x); });
}

void nonzero_kernel(const Tensor& out, const Tensor& x) {
  if (x.dim() == 0 || x.numel() == 0) return;  // 0-dim: the [count, 0] result holds no numbers
  GC_DISPATCH_ALL(x.dtype, "nonzero", [&] { nonzero_typed<scalar_t>(out, x); });
}

}  // namespace gc::cuda
