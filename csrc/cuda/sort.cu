// Sort and topk on CUDA, the twins of csrc/cpu/sort.cpp. One block per row runs a bitonic
// sorting network over the row's (value, position) pairs, padded to P = the next power of two
// with entries that order after everything. The order is kernels::SortOrder, which breaks ties by
// position: the network (not stable by itself) then gives the stable result, the CPU's exactly.
// The network is log2(P) (log2(P) + 1) / 2 stages, each one pass of P / 2 compare-exchanges shared
// by the block's threads and a __syncthreads. Rows whose pairs fit in kSharedBytes sort in shared
// memory; longer rows run the same network in a global scratch buffer (one slice per block, the
// grid capped so the scratch stays within kScratchBytes). topk sorts the row (largest first, or
// smallest first) and keeps its first k entries.
#include "cuda/sort.h"
#include <cuda_runtime.h>
#include <algorithm>
#include "cuda/loops.cuh"
#include "cuda/runtime.h"
#include "kernels/sort.h"

namespace gc::cuda {

namespace {

constexpr int kSortThreads = 1024;
constexpr int64_t kSharedBytes = 32 * 1024;
constexpr int64_t kScratchBytes = int64_t(256) << 20;

template <typename T>
struct RowOrder {
  kernels::SortOrder<T> order;
  int64_t C;  // positions >= C are padding, ordered after every entry
  __device__ bool before(T a, int64_t ia, T b, int64_t ib) const {
    if (ia >= C) return false;
    if (ib >= C) return true;
    return order.before(a, ia, b, ib);
  }
};

template <typename T>
__device__ void bitonic_sort(T* key, int64_t* pos, int64_t P, const RowOrder<T>& ord) {
  for (int64_t size = 2; size <= P; size <<= 1)
    for (int64_t stride = size >> 1; stride > 0; stride >>= 1) {
      for (int64_t t = threadIdx.x; t < P / 2; t += blockDim.x) {
        const int64_t i = 2 * t - (t & (stride - 1)), j = i + stride;
        const bool ascending = (i & size) == 0;
        if (ord.before(key[j], pos[j], key[i], pos[i]) == ascending) {
          const T kv = key[i];
          key[i] = key[j];
          key[j] = kv;
          const int64_t pv = pos[i];
          pos[i] = pos[j];
          pos[j] = pv;
        }
      }
      __syncthreads();
    }
}

// scratch_pos/scratch_key: null for the shared-memory path, else P entries per block.
template <typename T>
__global__ void __launch_bounds__(kSortThreads)
    sort_rows_kernel(T* values, int64_t* indices, const T* x, RowLayout L, int64_t k, int64_t P, RowOrder<T> ord,
                     int64_t* scratch_pos, T* scratch_key) {
  extern __shared__ int64_t sort_smem[];  // P positions, then P keys
  int64_t* pos = scratch_pos ? scratch_pos + blockIdx.x * P : sort_smem;
  T* key = scratch_key ? scratch_key + blockIdx.x * P : reinterpret_cast<T*>(sort_smem + P);
  const RowLayout out{L.outer, k, L.inner};
  for (int64_t r = blockIdx.x; r < L.rows(); r += gridDim.x) {
    const int64_t b = L.base(r);
    for (int64_t c = threadIdx.x; c < P; c += blockDim.x) {
      pos[c] = c;
      key[c] = c < L.C ? x[b + c * L.inner] : T{};
    }
    __syncthreads();
    bitonic_sort(key, pos, P, ord);
    const int64_t ob = out.base(r);
    for (int64_t c = threadIdx.x; c < k; c += blockDim.x) {
      values[ob + c * L.inner] = key[c];
      indices[ob + c * L.inner] = pos[c];
    }
    __syncthreads();
  }
}

template <typename T>
void sort_rows(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, int64_t k,
               bool descending, const char* op) {
  const int64_t R = L.rows();
  if (R == 0 || k == 0) return;
  int64_t P = 1;
  while (P < L.C) P <<= 1;
  const int threads = static_cast<int>(std::min<int64_t>(kSortThreads, std::max<int64_t>(32, P / 2)));
  const int64_t pair_bytes = P * static_cast<int64_t>(sizeof(int64_t) + sizeof(T));
  const RowOrder<T> ord{{descending}, L.C};
  if (pair_bytes <= kSharedBytes) {
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(R, 65535LL * 8));
    sort_rows_kernel<T><<<grid, threads, static_cast<size_t>(pair_bytes)>>>(
        values.data_as<T>(), indices.data_as<int64_t>(), x.data_as<T>(), L, k, P, ord, nullptr, nullptr);
  } else {
    const int64_t grid = std::max<int64_t>(1, std::min<int64_t>(R, kScratchBytes / pair_bytes));
    DeviceBuffer pos(sizeof(int64_t) * static_cast<size_t>(grid * P));
    DeviceBuffer key(sizeof(T) * static_cast<size_t>(grid * P));
    sort_rows_kernel<T><<<static_cast<unsigned>(grid), threads, 0>>>(
        values.data_as<T>(), indices.data_as<int64_t>(), x.data_as<T>(), L, k, P, ord, pos.as<int64_t>(),
        key.as<T>());
  }
  check_launch(op);
}

}  // namespace

void sort_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, bool descending) {
  GC_DISPATCH_ALL(x.dtype, "sort", [&] { sort_rows<scalar_t>(values, indices, x, L, L.C, descending, "sort"); });
}

void topk_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const RowLayout& L, int64_t k,
                 bool largest, bool /*sorted*/) {
  GC_DISPATCH_ALL(x.dtype, "topk", [&] { sort_rows<scalar_t>(values, indices, x, L, k, largest, "topk"); });
}

}  // namespace gc::cuda
