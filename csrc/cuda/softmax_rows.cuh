// Row machinery shared by the CUDA softmax kernels (softmax.cu) and class-loss kernels
// (class_loss.cu), the GPU twin of cpu/softmax_rows.h. A contiguous tensor is seen as rows along
// its class dim (RowLayout [outer, C, inner]); each row is handled by a group of G lanes:
//   G = 1   one thread per row: with inner > 1 adjacent threads take adjacent rows, whose entries
//           of one class are adjacent, so every pass over the classes reads coalesced;
//   G = 32  one warp per row (short rows), reductions by warp shuffles;
//   G = 0   the whole block per row (long rows), reductions through block_reduce.
// The lanes of a group stride over the C classes; every reduction is an all-reduce, so each lane
// holds the same row max and sum afterwards (sums are commutative per pair and the max never
// sees a NaN partial), and control flow stays uniform across the group.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include <limits>
#include <type_traits>
#include "cuda/loops.cuh"
#include "cuda/class_loss.h"
#include "cuda/softmax.h"

namespace gc::cuda::rows {

constexpr int kRowBlock = 256;          // threads per block of every row kernel
constexpr int64_t kMaxRowBlocks = 4096; // grid cap (rows are grid-strided beyond it)

// The device view of a RowLayout: where row r's C entries start (they step by `inner`).
struct Layout {
  int64_t C, inner;
  __device__ __forceinline__ int64_t base(int64_t r) const {
    return inner == 1 ? r * C : (r / inner) * C * inner + r % inner;
  }
};

inline Layout device_layout(const RowLayout& L) { return Layout{L.C, L.inner}; }

struct MaxOp {
  // Never returns a NaN `b`: partial maxima are built with `v > m ? v : m`, which skips NaN
  // entries as the CPU's row_max does (a NaN still reaches every output through the exp sum).
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return b > a ? b : a; }
};
struct SumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};

__device__ __forceinline__ float dexp(float v) { return expf(v); }
__device__ __forceinline__ double dexp(double v) { return ::exp(v); }

// 32 values of T in shared memory for block_reduce (one array per T per kernel).
template <typename T>
__device__ __forceinline__ T* scratch() {
  __shared__ T buf[32];
  return buf;
}

// The rows handled by this thread's group and the group's lanes (see the top of the file).
template <int G>
struct Group {
  static_assert(G == 0 || G == 1 || G == 32, "a row group is a thread, a warp or a block");
  __device__ __forceinline__ static int size() {
    if constexpr (G == 0) return static_cast<int>(blockDim.x);
    else return G;
  }
  __device__ __forceinline__ static int lane() {
    if constexpr (G == 0) return static_cast<int>(threadIdx.x);
    else if constexpr (G == 1) return 0;
    else return static_cast<int>(threadIdx.x & 31);
  }
  __device__ __forceinline__ static int64_t first() {
    const int per_block = static_cast<int>(blockDim.x) / size();
    return static_cast<int64_t>(blockIdx.x) * per_block + static_cast<int>(threadIdx.x) / size();
  }
  __device__ __forceinline__ static int64_t step() {
    return static_cast<int64_t>(gridDim.x) * (static_cast<int>(blockDim.x) / size());
  }
  // Combines one value per lane; the result is valid in every lane of the group. Every lane of
  // the group (for G = 0 every thread of the block) must call it.
  template <typename T, typename Op>
  __device__ __forceinline__ static T all_reduce(T v, Op op, T identity) {
    if constexpr (G == 1) {
      return v;
    } else if constexpr (G == 32) {
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
      return v;
    } else {
      return block_reduce(v, op, identity, scratch<T>());
    }
  }
};

// Passes 1 and 2 of a row: m = max_c x_c and s = sum_c exp(x_c - m) (exp in T, summed in
// double), for the row at xr with class stride cs. C == 0 gives m = -inf, s = 0.
template <int G, typename T>
__device__ __forceinline__ void row_max_sum_exp(const T* xr, int64_t C, int64_t cs, T& m, double& s) {
  using Gr = Group<G>;
  const int lane = Gr::lane(), n = Gr::size();
  const T ninf = -std::numeric_limits<T>::infinity();
  T mx = ninf;
  for (int64_t c = lane; c < C; c += n) {
    const T v = xr[c * cs];
    mx = v > mx ? v : mx;
  }
  m = Gr::all_reduce(mx, MaxOp{}, ninf);
  double acc = 0;
  for (int64_t c = lane; c < C; c += n) acc += static_cast<double>(dexp(xr[c * cs] - m));
  s = Gr::all_reduce(acc, SumOp{}, 0.0);
}

// ---- host side: how a family of rows is launched ----

struct Plan {
  int group;      // G of the kernel: 1, 32 or 0
  unsigned grid;  // blocks of kRowBlock threads
};

inline unsigned row_blocks(int64_t R, int group) {
  const int64_t per_block = group == 0 ? 1 : kRowBlock / group;
  int64_t b = (R + per_block - 1) / per_block;
  if (b < 1) b = 1;
  return static_cast<unsigned>(b < kMaxRowBlocks ? b : kMaxRowBlocks);
}

// Thread per row for tiny rows, or for strided rows when there are enough of them to fill the
// GPU (each pass then reads coalesced across the threads); otherwise a warp per row up to 1024
// classes and a block per row beyond.
inline Plan plan_rows(const RowLayout& L) {
  const int64_t R = L.rows();
  int group;
  if (L.C <= 16 || (L.inner > 1 && R >= 16384)) group = 1;
  else if (L.C <= 1024) group = 32;
  else group = 0;
  return Plan{group, row_blocks(R, group)};
}

// f(std::integral_constant<int, G>{}) for the plan's group.
template <typename F>
void with_group(int group, F&& f) {
  if (group == 1) f(std::integral_constant<int, 1>{});
  else if (group == 32) f(std::integral_constant<int, 32>{});
  else f(std::integral_constant<int, 0>{});
}

}  // namespace gc::cuda::rows
