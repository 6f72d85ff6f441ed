// CUDA GEMM behind ops::gemm_into: out [.., M, N] = alpha * a @ b + beta * out (+ bias[j], then
// ReLU), batched, over any strides, for float32, float64 and int64 — the contract of
// csrc/cpu/matmul.h (beta == 0 never reads out; a batch of 1 in a or b broadcasts).
//
// Paths, first that applies:
//   cuBLAS (GRADCORE_CUBLAS, float32/float64, K > 0): every matrix must have a unit stride in one
//     of its two dims. cuBLAS is column-major and cannot transpose C, so a row-major C is done as
//     C^T = B^T A^T (an operand with unit column stride is a transposed column-major matrix). One
//     cublas<S|D>gemm, or the strided-batched variant with batch stride 0 for a broadcast operand.
//     Bias and ReLU then take one elementwise pass over out (the order of the CPU epilogue:
//     (alpha * acc + beta * out) + bias, then ReLU).
//   vector shapes (M == 1 or N == 1): y = A x as a GEMV, one warp per output (lanes split K and
//     meet in a shuffle reduction) or, for a matrix with contiguous rows of outputs, one thread
//     per output so the loads coalesce across outputs.
//   gradcore's tiled kernel otherwise: a 64 x 64 block tile of C per 256-thread block, each
//     thread a 4 x 4 register micro-tile, K in slices of 16 staged through shared memory. The
//     micro-tile is strided (thread (tx, ty) owns rows ty + 16 i and columns tx + 16 j), so the
//     shared-memory reads of a warp are broadcasts (A) and 16 consecutive words (B), both
//     conflict-free, and the stores to a row-major C coalesce. Tiles are loaded along whichever
//     dim of the operand is contiguous (arbitrary strides, edges zero-filled); the next K slice is
//     fetched into registers while the current one is multiplied. The shared rows are padded to
//     65 elements, so storing a k-contiguous tile (a warp writes down 16 rows) costs at most a
//     2-way bank conflict instead of 16-way. 64 x 64 keeps enough blocks in flight for the
//     mid-sized products of training (a 128 x 128 tile would leave most SMs idle below
//     1024 x 1024), at 8 KiB of shared memory (16 KiB for double and int64).
//     A column-major C runs as C^T = B^T A^T so its stores coalesce too.
// Accumulation is in the scalar type (float for float32, as cuBLAS); int64 accumulates in
// unsigned 64-bit arithmetic, wrapping on overflow exactly like the CPU kernel.
//
// bfloat16 and float16 (out, a, b and bias all of one of them) are read as they are and
// accumulate in float32; the epilogue runs in float32 and rounds once to 16 bits (to nearest,
// ties to even, by core/half.h's conversions, as every 16-bit store of the backend):
//   cuBLAS (GRADCORE_CUBLAS, same layout rules): cublasGemm(StridedBatched)Ex with CUDA_R_16BF /
//     CUDA_R_16F operands and CUBLAS_COMPUTE_32F (tensor cores). Without bias and ReLU it writes
//     out itself (alpha * acc + beta * out in float32, rounded once); with either it writes the
//     float32 product into scratch and one pass applies the epilogue below, so the bias is still
//     added before the only rounding.
//   vector shapes: the GEMV kernels above, in float32.
//   the tensor-core kernel otherwise (gemm_tc_kernel): WMMA 16x16x16 fragments, a 128 x 128 block
//     tile (8 warps of 64 x 32) when there are enough tiles to fill the GPU, else 64 x 64 (4 warps
//     of 32 x 32), K in slices of 32. Each operand tile is staged through shared memory in the
//     orientation its global layout has (A as [m][k] row-major or [k][m] column-major fragments,
//     B as [k][n] or [n][k]), so the global loads run along the contiguous dim: 16-byte loads of
//     8 values where the operand allows (unit stride, 16-byte aligned rows), 8 strided scalar loads
//     otherwise (any strides), zero outside the matrix. Shared rows are padded by 8 values (16
//     bytes): every fragment pointer stays 32-byte aligned and the leading dims multiples of 8, as
//     wmma::load_matrix_sync requires. The next K slice is fetched into registers while the current
//     one is multiplied. Each 16 x 16 accumulator goes through a per-warp float scratch in shared
//     memory to the epilogue (store()), a half warp per row of 16 columns. A column-major C runs
//     as C^T = B^T A^T. Built for an architecture below sm_80 (no bf16 WMMA there), the same
//     kernel multiplies the staged tiles with plain float32 FMAs instead.
#include "cuda/matmul.h"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>
#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>
#include "cuda/loops.cuh"
#include "cuda/runtime.h"
#ifdef GRADCORE_CUBLAS
#include <cublas_v2.h>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>
#endif

namespace gc::cuda {
namespace {

// Matrix n of a batch: element (i, j) at data[n * bs + i * rs + j * cs] (elements).
template <typename P>
struct Mat {
  P* data;
  int64_t bs, rs, cs;
};

// The type the epilogue computes in: the scalar type, float32 for the 16-bit floats.
template <typename T>
struct OpMath {
  using type = T;
};
template <>
struct OpMath<BFloat16> {
  using type = float;
};
template <>
struct OpMath<Half> {
  using type = float;
};

// What happens to each element as it is stored (see store()). The bias of element (i, j) is
// bias[i * brs + j * bcs]: (0, 1) for the caller's row vector, (1, 0) in a transposed problem.
template <typename T>
struct Epi {
  typename OpMath<T>::type alpha, beta;
  const T* bias;
  int64_t brs, bcs;
  bool relu;
};

template <typename T>
struct Problem {
  int64_t batch, M, N, K;
  Mat<const T> A, B;
  Mat<T> C;
  Epi<T> e;
};

// The accumulator: the scalar type, except int64 which wraps in unsigned arithmetic, and the
// 16-bit floats, which accumulate in float32.
template <typename T>
struct AccOf {
  using type = typename OpMath<T>::type;
};
template <>
struct AccOf<int64_t> {
  using type = unsigned long long;
};

// c = alpha * acc + beta * c (c not read when beta == 0), + bias[bi], then ReLU (NaN stays NaN),
// in OpMath<T> (for 16-bit floats: in float32, rounded once as c is written).
template <typename T>
__device__ __forceinline__ void store(T* c, typename AccOf<T>::type acc, const Epi<T>& e, int64_t bi) {
  if constexpr (std::is_same_v<T, int64_t>) {
    using U = unsigned long long;
    U v = static_cast<U>(e.alpha) * acc;
    if (e.beta != 0) v += static_cast<U>(e.beta) * static_cast<U>(*c);
    if (e.bias) v += static_cast<U>(e.bias[bi]);
    const auto s = static_cast<int64_t>(v);
    *c = e.relu && s < 0 ? 0 : s;
  } else {
    using S = typename OpMath<T>::type;
    S v = e.alpha * static_cast<S>(acc);
    if (e.beta != S(0)) v += e.beta * static_cast<S>(*c);
    if (e.bias) v += static_cast<S>(e.bias[bi]);
    if (e.relu) v = v < S(0) ? S(0) : v;
    *c = static_cast<T>(v);
  }
}

// C^T = B^T A^T: the same product with rows and columns swapped.
template <typename T>
Problem<T> transposed(const Problem<T>& p) {
  Problem<T> t = p;
  t.M = p.N;
  t.N = p.M;
  t.A = {p.B.data, p.B.bs, p.B.cs, p.B.rs};
  t.B = {p.A.data, p.A.bs, p.A.cs, p.A.rs};
  t.C = {p.C.data, p.C.bs, p.C.cs, p.C.rs};
  t.e.brs = p.e.bcs;
  t.e.bcs = p.e.brs;
  return t;
}

// ---- the tiled kernel ----

constexpr int BM = 64, BN = 64, BK = 16;  // block tile of C, depth of a K slice
constexpr int TM = 4, TN = 4;             // micro-tile of one thread
constexpr int kTX = BN / TN, kTY = BM / TM;
constexpr int kThreads = kTX * kTY;                // 256
constexpr int kLoadsA = BM * BK / kThreads;        // 4 elements of the A slice per thread
constexpr int kLoadsB = BK * BN / kThreads;        // 4 of the B slice
static_assert(BM * BK % kThreads == 0 && BK * BN % kThreads == 0, "tile loads must split evenly");

// Blocks loop over (matrix, tile) pairs, so any batch and any number of tiles fit in the grid
// limits; every loop bound is uniform over the block, so the barriers are too.
// a_k_fast / b_n_fast: the direction in which consecutive threads load (the operand's contiguous
// dim, so the global loads coalesce).
template <typename T>
__global__ void __launch_bounds__(kThreads) gemm_tiled_kernel(Problem<T> p, int64_t tiles_m, int64_t tiles,
                                                              bool a_k_fast, bool b_n_fast) {
  using Acc = typename AccOf<T>::type;
  __shared__ T As[BK][BM + 1];
  __shared__ T Bs[BK][BN + 1];
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % kTX, ty = tid / kTX;
  const int64_t ksteps = (p.K + BK - 1) / BK;

  // Position (row, k) of load r of this thread within the A slice, and (k, col) within B's.
  auto a_pos = [&](int r, int& mm, int& kk) {
    const int e = tid + r * kThreads;
    if (a_k_fast) kk = e % BK, mm = e / BK;
    else mm = e % BM, kk = e / BM;
  };
  auto b_pos = [&](int r, int& kk, int& nn) {
    const int e = tid + r * kThreads;
    if (b_n_fast) nn = e % BN, kk = e / BN;
    else kk = e % BK, nn = e / BK;
  };

  for (int64_t n = blockIdx.z; n < p.batch; n += gridDim.z) {
    const T* a = p.A.data + n * p.A.bs;
    const T* b = p.B.data + n * p.B.bs;
    for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      const int64_t m0 = tile % tiles_m * BM, n0 = tile / tiles_m * BN;
      T ra[kLoadsA], rb[kLoadsB];
      // Global -> registers: the K slice starting at k0, zero outside the matrices.
      auto fetch = [&](int64_t k0) {
#pragma unroll
        for (int r = 0; r < kLoadsA; ++r) {
          int mm, kk;
          a_pos(r, mm, kk);
          const int64_t gm = m0 + mm, gk = k0 + kk;
          ra[r] = gm < p.M && gk < p.K ? a[gm * p.A.rs + gk * p.A.cs] : T(0);
        }
#pragma unroll
        for (int r = 0; r < kLoadsB; ++r) {
          int kk, nn;
          b_pos(r, kk, nn);
          const int64_t gk = k0 + kk, gn = n0 + nn;
          rb[r] = gk < p.K && gn < p.N ? b[gk * p.B.rs + gn * p.B.cs] : T(0);
        }
      };
      // Registers -> shared memory.
      auto stash = [&] {
#pragma unroll
        for (int r = 0; r < kLoadsA; ++r) {
          int mm, kk;
          a_pos(r, mm, kk);
          As[kk][mm] = ra[r];
        }
#pragma unroll
        for (int r = 0; r < kLoadsB; ++r) {
          int kk, nn;
          b_pos(r, kk, nn);
          Bs[kk][nn] = rb[r];
        }
      };

      Acc acc[TM][TN];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = Acc(0);

      if (ksteps > 0) {
        fetch(0);
        stash();
      }
      __syncthreads();
      for (int64_t t = 0; t < ksteps; ++t) {
        if (t + 1 < ksteps) fetch((t + 1) * BK);  // in flight while this slice is multiplied
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
          Acc av[TM], bv[TN];
#pragma unroll
          for (int i = 0; i < TM; ++i) av[i] = static_cast<Acc>(As[kk][ty + kTY * i]);
#pragma unroll
          for (int j = 0; j < TN; ++j) bv[j] = static_cast<Acc>(Bs[kk][tx + kTX * j]);
#pragma unroll
          for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] += av[i] * bv[j];
        }
        __syncthreads();  // every thread is done reading this slice ...
        if (t + 1 < ksteps) stash();
        __syncthreads();  // ... before the next one is visible to all
      }

      T* c = p.C.data + n * p.C.bs;
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const int64_t gm = m0 + ty + kTY * i;
        if (gm >= p.M) continue;
#pragma unroll
        for (int j = 0; j < TN; ++j) {
          const int64_t gn = n0 + tx + kTX * j;
          if (gn < p.N) store(c + gm * p.C.rs + gn * p.C.cs, acc[i][j], p.e, gm * p.e.brs + gn * p.e.bcs);
        }
      }
    }
  }
}

int64_t iabs(int64_t v) { return v < 0 ? -v : v; }

template <typename T>
void gemm_tiled(const Problem<T>& p0) {
  // Work on C^T when C is column-major, so the stores (consecutive threads: consecutive columns)
  // coalesce.
  const Problem<T> p = p0.C.cs != 1 && p0.C.rs == 1 ? transposed(p0) : p0;
  const int64_t tiles_m = (p.M + BM - 1) / BM, tiles_n = (p.N + BN - 1) / BN, tiles = tiles_m * tiles_n;
  const bool a_k_fast = iabs(p.A.cs) <= iabs(p.A.rs);
  const bool b_n_fast = iabs(p.B.cs) <= iabs(p.B.rs);
  dim3 grid(static_cast<unsigned>(std::min<int64_t>(tiles, INT_MAX)), 1,
            static_cast<unsigned>(std::min<int64_t>(p.batch, 65535)));
  gemm_tiled_kernel<T><<<grid, kThreads>>>(p, tiles_m, tiles, a_k_fast, b_n_fast);
  check_launch("matmul");
}

// ---- 16-bit floats: the tensor-core kernel ----

// WMMA on bfloat16 needs sm_80; the host pass sees the declarations of every architecture.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define GC_TENSOR_CORES 1
#else
#define GC_TENSOR_CORES 0
#endif

// CUDA's 16-bit types of gradcore's (the same bits: sign, exponent, mantissa, in a uint16).
template <typename T>
struct CudaHalf;
template <>
struct CudaHalf<BFloat16> {
  using type = __nv_bfloat16;
};
template <>
struct CudaHalf<Half> {
  using type = __half;
};
static_assert(sizeof(__nv_bfloat16) == 2 && sizeof(__half) == 2 && sizeof(BFloat16) == 2 && sizeof(Half) == 2,
              "16-bit floats are stored in 2 bytes");

// Block tile BM x BN of C, K slice BK, warp tile WM x WN (FM x FN fragments of 16 x 16).
template <int BM_, int BN_, int WM_, int WN_>
struct TcTile {
  static constexpr int BM = BM_, BN = BN_, BK = 32, WM = WM_, WN = WN_;
  static constexpr int kWarpsN = BN / WN, kWarps = (BM / WM) * kWarpsN, kThreads = 32 * kWarps;
  static constexpr int FM = WM / 16, FN = WN / 16;
  static_assert(BM % WM == 0 && BN % WN == 0 && WM % 16 == 0 && WN % 16 == 0 && BK % 16 == 0, "tile shapes");
};
using TcLarge = TcTile<128, 128, 64, 32>;  // 8 warps, 2 x 4
using TcSmall = TcTile<64, 64, 32, 32>;    // 4 warps, 2 x 2

constexpr int kTcPad = 8;  // 16-bit values of padding per shared row: 16 bytes

// One operand tile of OUTER x INNER 16-bit values, staged in shared memory as s[o][i] (row pitch
// kLd). Global element (o, i) is base[o * os + i * is], for o < olim and i < ilim, zero elsewhere.
// Thread tid moves chunks of 8 consecutive inner values, chunk c being number tid + c * THREADS:
// with vec (is == 1, os a multiple of 8, base 16-byte aligned, i0 a multiple of 8, so every chunk
// starts 16-byte aligned) a chunk that lies inside the matrix is one 16-byte load, else 8 scalar
// loads. The chunks wait in registers between fetch() and stash().
template <int OUTER, int INNER, int THREADS>
struct TileStage {
  static constexpr int kPerRow = INNER / 8, kChunks = OUTER * kPerRow / THREADS, kLd = INNER + kTcPad;
  static_assert(INNER % 16 == 0 && OUTER % 16 == 0 && OUTER * kPerRow % THREADS == 0, "chunks must split evenly");
  static_assert(kLd % 8 == 0, "WMMA needs a leading dim that is a multiple of 8 16-bit values (16 bytes)");
  uint4 r[kChunks];

  __device__ __forceinline__ void fetch(const uint16_t* base, int64_t os, int64_t is, int64_t o0, int64_t i0,
                                        int64_t olim, int64_t ilim, bool vec, int tid) {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int e = tid + c * THREADS;
      const int64_t go = o0 + e / kPerRow, gi = i0 + e % kPerRow * 8;
      if (vec && go < olim && gi + 8 <= ilim) {
        r[c] = __ldg(reinterpret_cast<const uint4*>(base + go * os + gi));
      } else {
        uint32_t w[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int64_t i = gi + 2 * q;
          const uint32_t lo = go < olim && i < ilim ? base[go * os + i * is] : 0u;
          const uint32_t hi = go < olim && i + 1 < ilim ? base[go * os + (i + 1) * is] : 0u;
          w[q] = lo | hi << 16;  // little-endian: the lower address is the low half
        }
        r[c] = make_uint4(w[0], w[1], w[2], w[3]);
      }
    }
  }
  __device__ __forceinline__ void stash(uint16_t* s, int tid) const {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int e = tid + c * THREADS;
      *reinterpret_cast<uint4*>(s + e / kPerRow * kLd + e % kPerRow * 8) = r[c];  // 16-byte aligned: kLd % 8 == 0
    }
  }
};

template <typename T>
__device__ __forceinline__ float half_value(uint16_t bits) {
  return static_cast<float>(T::from_bits(bits));
}

// C = epilogue(A @ B) for 16-bit T. kAK: A is staged k-contiguous ([m][k], row-major fragments),
// else m-contiguous ([k][m], column-major); kBN: B as [k][n] (row-major), else [n][k]
// (column-major). Blocks loop over (matrix, tile) pairs like gemm_tiled_kernel; every loop bound
// is uniform over the block, so the barriers are too.
template <typename T, typename G, bool kAK, bool kBN>
__global__ void __launch_bounds__(G::kThreads) gemm_tc_kernel(Problem<T> p, int64_t tiles_m, int64_t tiles,
                                                               bool a_vec, bool b_vec) {
  constexpr int BM = G::BM, BN = G::BN, BK = G::BK, FM = G::FM, FN = G::FN;
  using StageA = TileStage<kAK ? BM : BK, kAK ? BK : BM, G::kThreads>;
  using StageB = TileStage<kBN ? BK : BN, kBN ? BN : BK, G::kThreads>;
  constexpr int kALd = StageA::kLd, kBLd = StageB::kLd;
  __shared__ __align__(128) uint16_t As[(kAK ? BM : BK) * kALd];
  __shared__ __align__(128) uint16_t Bs[(kBN ? BK : BN) * kBLd];
  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32;
  const int wm0 = warp / G::kWarpsN * G::WM, wn0 = warp % G::kWarpsN * G::WN;  // the warp's tile in the block's
  const int64_t ksteps = (p.K + BK - 1) / BK;
#if GC_TENSOR_CORES
  namespace wmma = nvcuda::wmma;
  using W = typename CudaHalf<T>::type;
  using LA = std::conditional_t<kAK, wmma::row_major, wmma::col_major>;
  using LB = std::conditional_t<kBN, wmma::row_major, wmma::col_major>;
  constexpr int kEpiLd = 20;  // leading dim of a warp's float scratch (a multiple of 4, as WMMA wants for float)
  __shared__ __align__(128) float Cs[G::kWarps][16 * kEpiLd];  // each warp's 16 x 16 scratch: 1280 bytes
  float* scratch = Cs[warp];
#endif

  for (int64_t n = blockIdx.z; n < p.batch; n += gridDim.z) {
    const auto* a = reinterpret_cast<const uint16_t*>(p.A.data + n * p.A.bs);
    const auto* b = reinterpret_cast<const uint16_t*>(p.B.data + n * p.B.bs);
    for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      const int64_t m0 = tile % tiles_m * BM, n0 = tile / tiles_m * BN;
      StageA sa;
      StageB sb;
      // Global -> registers: the K slice starting at k0, along each operand's staged inner dim.
      auto fetch = [&](int64_t k0) {
        if constexpr (kAK) sa.fetch(a, p.A.rs, p.A.cs, m0, k0, p.M, p.K, a_vec, tid);  // (m, k)
        else sa.fetch(a, p.A.cs, p.A.rs, k0, m0, p.K, p.M, a_vec, tid);                // (k, m)
        if constexpr (kBN) sb.fetch(b, p.B.rs, p.B.cs, k0, n0, p.K, p.N, b_vec, tid);  // (k, n)
        else sb.fetch(b, p.B.cs, p.B.rs, n0, k0, p.N, p.K, b_vec, tid);                // (n, k)
      };

#if GC_TENSOR_CORES
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][FN];
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
#else
      // Element q of fragment (i, j) of this lane: row (q * 32 + lane) / 16, column (q * 32 + lane) % 16,
      // the order the epilogue stores in.
      float acc[FM][FN][8];
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j)
#pragma unroll
          for (int q = 0; q < 8; ++q) acc[i][j][q] = 0.0f;
#endif

      if (ksteps > 0) {
        fetch(0);
        sa.stash(As, tid);
        sb.stash(Bs, tid);
      }
      __syncthreads();
      for (int64_t t = 0; t < ksteps; ++t) {
        if (t + 1 < ksteps) fetch((t + 1) * BK);  // in flight while this slice is multiplied
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
#if GC_TENSOR_CORES
          // Fragment pointers: row offsets are multiples of 16 rows of kLd values (kLd % 8 == 0,
          // so 256 bytes each), column offsets multiples of 16 values (32 bytes): 32-byte aligned.
          wmma::fragment<wmma::matrix_a, 16, 16, 16, W, LA> fa[FM];
          wmma::fragment<wmma::matrix_b, 16, 16, 16, W, LB> fb[FN];
#pragma unroll
          for (int i = 0; i < FM; ++i) {
            const uint16_t* s = kAK ? As + (wm0 + 16 * i) * kALd + kk : As + kk * kALd + wm0 + 16 * i;
            wmma::load_matrix_sync(fa[i], reinterpret_cast<const W*>(s), kALd);
          }
#pragma unroll
          for (int j = 0; j < FN; ++j) {
            const uint16_t* s = kBN ? Bs + kk * kBLd + wn0 + 16 * j : Bs + (wn0 + 16 * j) * kBLd + kk;
            wmma::load_matrix_sync(fb[j], reinterpret_cast<const W*>(s), kBLd);
          }
#pragma unroll
          for (int i = 0; i < FM; ++i)
#pragma unroll
            for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
#else
#pragma unroll
          for (int i = 0; i < FM; ++i)
#pragma unroll
            for (int j = 0; j < FN; ++j)
#pragma unroll
              for (int q = 0; q < 8; ++q) {
                const int r = (q * 32 + lane) / 16, cc = (q * 32 + lane) % 16;
                const int mm = wm0 + 16 * i + r, nn = wn0 + 16 * j + cc;
                float s = acc[i][j][q];
                for (int k = kk; k < kk + 16; ++k)
                  s += half_value<T>(kAK ? As[mm * kALd + k] : As[k * kALd + mm]) *
                       half_value<T>(kBN ? Bs[k * kBLd + nn] : Bs[nn * kBLd + k]);
                acc[i][j][q] = s;
              }
#endif
        }
        __syncthreads();  // every warp is done reading this slice ...
        if (t + 1 < ksteps) {
          sa.stash(As, tid);
          sb.stash(Bs, tid);
        }
        __syncthreads();  // ... before the next one is visible to all
      }

      // Epilogue, fragment by fragment: lane l stores elements q * 32 + l of the 16 x 16 fragment
      // (row (q * 32 + l) / 16, column (q * 32 + l) % 16): a half warp writes 16 consecutive
      // columns of one row.
      T* c = p.C.data + n * p.C.bs;
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) {
#if GC_TENSOR_CORES
          wmma::store_matrix_sync(scratch, acc[i][j], kEpiLd, wmma::mem_row_major);
          __syncwarp();  // the fragment is in the scratch for every lane
#endif
#pragma unroll
          for (int q = 0; q < 8; ++q) {
            const int r = (q * 32 + lane) / 16, cc = (q * 32 + lane) % 16;
            const int64_t gm = m0 + wm0 + 16 * i + r, gn = n0 + wn0 + 16 * j + cc;
#if GC_TENSOR_CORES
            const float v = scratch[r * kEpiLd + cc];
#else
            const float v = acc[i][j][q];
#endif
            if (gm < p.M && gn < p.N) store(c + gm * p.C.rs + gn * p.C.cs, v, p.e, gm * p.e.brs + gn * p.e.bcs);
          }
#if GC_TENSOR_CORES
          __syncwarp();  // every lane has read the scratch before the next fragment overwrites it
#endif
        }
    }
  }
}

// True when 16-byte loads of 8 values along the inner dim are aligned wherever a chunk starts at
// an inner index that is a multiple of 8 (see TileStage).
template <typename T>
bool vec_loads(const Mat<const T>& m, int64_t outer_stride, int64_t inner_stride) {
  return inner_stride == 1 && outer_stride % 8 == 0 && m.bs % 8 == 0 && reinterpret_cast<uintptr_t>(m.data) % 16 == 0;
}

template <typename T, typename G, bool kAK, bool kBN>
void launch_tc(const Problem<T>& p, bool a_vec, bool b_vec) {
  const int64_t tiles_m = (p.M + G::BM - 1) / G::BM, tiles = tiles_m * ((p.N + G::BN - 1) / G::BN);
  dim3 grid(static_cast<unsigned>(std::min<int64_t>(tiles, INT_MAX)), 1,
            static_cast<unsigned>(std::min<int64_t>(p.batch, 65535)));
  gemm_tc_kernel<T, G, kAK, kBN><<<grid, G::kThreads>>>(p, tiles_m, tiles, a_vec, b_vec);
}

template <typename T, typename G>
void launch_tc(const Problem<T>& p, bool a_k, bool b_n, bool a_vec, bool b_vec) {
  if (a_k && b_n) launch_tc<T, G, true, true>(p, a_vec, b_vec);
  else if (a_k) launch_tc<T, G, true, false>(p, a_vec, b_vec);
  else if (b_n) launch_tc<T, G, false, true>(p, a_vec, b_vec);
  else launch_tc<T, G, false, false>(p, a_vec, b_vec);
}

template <typename T>
void gemm_tc(const Problem<T>& p0) {
  // Work on C^T when C is column-major, so the stores (a half warp: 16 consecutive columns) coalesce.
  const Problem<T> p = p0.C.cs != 1 && p0.C.rs == 1 ? transposed(p0) : p0;
  // Stage each operand along its contiguous dim (the smaller stride where neither is 1).
  const bool a_k = p.A.cs == 1 || (p.A.rs != 1 && iabs(p.A.cs) <= iabs(p.A.rs));
  const bool b_n = p.B.cs == 1 || (p.B.rs != 1 && iabs(p.B.cs) <= iabs(p.B.rs));
  const bool a_vec = a_k ? vec_loads(p.A, p.A.rs, p.A.cs) : vec_loads(p.A, p.A.cs, p.A.rs);
  const bool b_vec = b_n ? vec_loads(p.B, p.B.rs, p.B.cs) : vec_loads(p.B, p.B.cs, p.B.rs);
  // 128 x 128 tiles when they fill every SM at least once, else 64 x 64 for more blocks in flight.
  const int64_t large_tiles = p.batch * ((p.M + TcLarge::BM - 1) / TcLarge::BM) * ((p.N + TcLarge::BN - 1) / TcLarge::BN);
  if (large_tiles >= sm_count()) launch_tc<T, TcLarge>(p, a_k, b_n, a_vec, b_vec);
  else launch_tc<T, TcSmall>(p, a_k, b_n, a_vec, b_vec);
  check_launch("matmul");
}

// ---- vector shapes ----

// y[n, r] = store(sum_k X[n, r, k] * x[n, k]) for r < R: G threads per output (G = 32: the lanes
// of a warp split K and meet in a shuffle reduction; G = 1: one thread walks K). The output's bias
// index is r * bias_inc. With G = 32 all lanes of a warp share r, so the loop and the shuffles
// are warp-uniform.
template <typename T, int G>
__global__ void gemv_kernel(int64_t batch, int64_t R, int64_t K, Mat<const T> X, Mat<const T> x, Mat<T> y,
                            Epi<T> e, int64_t bias_inc) {
  using Acc = typename AccOf<T>::type;
  const int lane = static_cast<int>(threadIdx.x % G);
  const int64_t total = batch * R;
  const int64_t first = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / G;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x / G;
  for (int64_t t = first; t < total; t += step) {
    const int64_t n = t / R, r = t % R;
    const T* row = X.data + n * X.bs + r * X.rs;
    const T* v = x.data + n * x.bs;
    Acc s = Acc(0);
    for (int64_t k = lane; k < K; k += G) s += static_cast<Acc>(row[k * X.cs]) * static_cast<Acc>(v[k * x.cs]);
    if constexpr (G > 1) {
#pragma unroll
      for (int o = G / 2; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    }
    if (lane == 0) store(y.data + n * y.bs + r * y.cs, s, e, r * bias_inc);
  }
}

// M == 1 or N == 1. N == 1: y = A b (rows of A); M == 1: y^T = B^T a^T (columns of B).
template <typename T>
void gemv(const Problem<T>& p) {
  const bool col = p.N == 1;
  const int64_t R = col ? p.M : p.N;
  // X: R x K; x: K values at stride x.cs; y: R values at stride y.cs.
  const Mat<const T> X = col ? p.A : Mat<const T>{p.B.data, p.B.bs, p.B.cs, p.B.rs};
  const Mat<const T> x = col ? Mat<const T>{p.B.data, p.B.bs, 0, p.B.rs} : Mat<const T>{p.A.data, p.A.bs, 0, p.A.cs};
  const Mat<T> y = col ? Mat<T>{p.C.data, p.C.bs, 0, p.C.rs} : Mat<T>{p.C.data, p.C.bs, 0, p.C.cs};
  const int64_t bias_inc = col ? p.e.brs : p.e.bcs;
  // A thread per output where outputs are adjacent in memory (rows of X contiguous along R) and
  // there are enough of them, or where K is too short to share; a warp per output otherwise.
  const bool per_thread = p.K < 32 || (X.rs == 1 && X.cs != 1 && R >= 4096);
  const int64_t total = p.batch * R;
  if (per_thread) {
    gemv_kernel<T, 1><<<grid_for(total), kBlock>>>(p.batch, R, p.K, X, x, y, p.e, bias_inc);
  } else {
    gemv_kernel<T, 32><<<grid_for(total * 32), kBlock>>>(p.batch, R, p.K, X, x, y, p.e, bias_inc);
  }
  check_launch("matmul");
}

#ifdef GRADCORE_CUBLAS
// ---- cuBLAS ----

[[noreturn]] void fail_cublas(cublasStatus_t s) {
  fail(ErrorKind::Runtime, "matmul", "cuBLAS error ", static_cast<int>(s), " (", cublasGetStatusString(s), ")");
}

// One handle per device, created on first use with that device current, bound to the default
// stream; never destroyed (tensors may be freed during interpreter shutdown).
cublasHandle_t cublas_handle() {
  static std::mutex mu;
  static auto* handles = new std::vector<cublasHandle_t>();
  const int dev = current_device();
  std::lock_guard<std::mutex> lock(mu);
  if (static_cast<int>(handles->size()) <= dev) handles->resize(static_cast<size_t>(dev) + 1, nullptr);
  cublasHandle_t& h = (*handles)[static_cast<size_t>(dev)];
  if (!h) {
    cublasStatus_t s = cublasCreate(&h);
    if (s != CUBLAS_STATUS_SUCCESS) {
      h = nullptr;
      fail_cublas(s);
    }
    s = cublasSetStream(h, nullptr);
    if (s != CUBLAS_STATUS_SUCCESS) fail_cublas(s);
    // 16-bit products reduce in float32 too (no split-K partial sums rounded to 16 bits); float32
    // and float64 products are not mixed-precision, so this changes nothing for them.
    s = cublasSetMathMode(h, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    if (s != CUBLAS_STATUS_SUCCESS) fail_cublas(s);
  }
  return h;
}

// X (R x Cn, element (r, c) at r * rs + c * cs) as a column-major cuBLAS operand: X = op(stored),
// stored with leading dim ld. False when neither dim has unit stride (or ld does not fit).
struct ColMajor {
  cublasOperation_t op;
  int64_t ld;
};
bool as_col_major(int64_t R, int64_t Cn, int64_t rs, int64_t cs, ColMajor& o) {
  const int64_t r1 = std::max<int64_t>(R, 1), c1 = std::max<int64_t>(Cn, 1);
  if ((rs == 1 || R == 1) && (Cn == 1 || cs >= r1)) o = {CUBLAS_OP_N, Cn == 1 ? r1 : cs};
  else if ((cs == 1 || Cn == 1) && (R == 1 || rs >= c1)) o = {CUBLAS_OP_T, R == 1 ? c1 : rs};
  else return false;
  return o.ld <= INT_MAX;
}

cublasStatus_t cublas_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, long long sa, const float* B, int ldb,
                           long long sb, const float* beta, float* C, int ldc, long long sc, int batch) {
  if (batch == 1) return cublasSgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}
cublasStatus_t cublas_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double* alpha, const double* A, int lda, long long sa, const double* B, int ldb,
                           long long sb, const double* beta, double* C, int ldc, long long sc, int batch) {
  if (batch == 1) return cublasDgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

// out[n, i, j] = relu?(out[n, i, j] + bias[i * brs + j * bcs]): the epilogue after cuBLAS.
template <typename T>
__global__ void bias_relu_kernel(int64_t total, int64_t M, int64_t N, Mat<T> C, Epi<T> e) {
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t j = t % N, r = t / N, i = r % M, n = r / M;
    T* c = C.data + n * C.bs + i * C.rs + j * C.cs;
    T v = *c;
    if (e.bias) v += e.bias[i * e.brs + j * e.bcs];
    if (e.relu) v = v < T(0) ? T(0) : v;
    *c = v;
  }
}

// out[n, i, j] = store(acc[n, i, j]) (alpha, beta, bias, ReLU in float32, rounded once) from the
// float32 product acc that cuBLAS wrote column-major: element (n, i, j) at t = n * M * N + j * M + i.
template <typename T>
__global__ void epilogue16_kernel(int64_t total, int64_t M, int64_t N, const float* acc, Mat<T> C, Epi<T> e) {
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = t % M, r = t / M, j = r % N, n = r / N;
    store(C.data + n * C.bs + i * C.rs + j * C.cs, acc[t], e, i * e.brs + j * e.bcs);
  }
}

// The 16-bit product of gemm_cublas (p: the column-major problem, o*: its cuBLAS operands).
template <typename T>
void gemm_cublas16(cublasHandle_t h, const Problem<T>& p, const ColMajor& oa, const ColMajor& ob, const ColMajor& oc) {
  constexpr cudaDataType kType = std::is_same_v<T, BFloat16> ? CUDA_R_16BF : CUDA_R_16F;
  // Without bias and ReLU cuBLAS computes the whole epilogue; with either, A @ B goes to float32
  // scratch (alpha 1, beta 0) and epilogue16_kernel applies alpha, beta, bias and ReLU.
  const bool direct = !p.e.bias && !p.e.relu;
  const float one = 1.0f, zero = 0.0f;
  const float* alpha = direct ? &p.e.alpha : &one;
  const float* beta = direct ? &p.e.beta : &zero;
  const int64_t mn = p.M * p.N;
  DeviceBuffer scratch(direct ? 0 : static_cast<size_t>(p.batch * mn) * sizeof(float));
  const cudaDataType ctype = direct ? kType : CUDA_R_32F;
  const int64_t ldc = direct ? oc.ld : p.M, sc = direct ? p.C.bs : mn;
  const size_t csize = direct ? sizeof(T) : sizeof(float);
  char* c0 = direct ? reinterpret_cast<char*>(p.C.data) : static_cast<char*>(scratch.ptr);
  constexpr int64_t kChunk = 65535;  // matrices per call
  for (int64_t n0 = 0; n0 < p.batch; n0 += kChunk) {
    const int cnt = static_cast<int>(std::min(kChunk, p.batch - n0));
    const void* A = p.A.data + n0 * p.A.bs;
    const void* B = p.B.data + n0 * p.B.bs;
    void* C = c0 + static_cast<size_t>(n0 * sc) * csize;
    const int m = static_cast<int>(p.M), n = static_cast<int>(p.N), k = static_cast<int>(p.K);
    const cublasStatus_t s =
        cnt == 1 ? cublasGemmEx(h, oa.op, ob.op, m, n, k, alpha, A, kType, static_cast<int>(oa.ld), B, kType,
                                static_cast<int>(ob.ld), beta, C, ctype, static_cast<int>(ldc), CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT)
                 : cublasGemmStridedBatchedEx(h, oa.op, ob.op, m, n, k, alpha, A, kType, static_cast<int>(oa.ld),
                                              p.A.bs, B, kType, static_cast<int>(ob.ld), p.B.bs, beta, C, ctype,
                                              static_cast<int>(ldc), sc, cnt, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS) fail_cublas(s);
  }
  check_launch("matmul");
  if (!direct) {
    const int64_t total = p.batch * mn;
    epilogue16_kernel<T><<<grid_for(total), kBlock>>>(total, p.M, p.N, static_cast<const float*>(scratch.ptr), p.C, p.e);
    check_launch("matmul");
  }
}

// GRADCORE_CUBLAS=0 in the environment (read once per process) keeps matmul off cuBLAS, so tests
// reach gradcore's own kernels for every layout in a build that has it.
bool cublas_enabled() {
  static const bool on = [] {
    const char* s = std::getenv("GRADCORE_CUBLAS");
    return !(s && std::strcmp(s, "0") == 0);
  }();
  return on;
}

// The product through cuBLAS when every operand fits its layout rules; false: not done.
template <typename T>
bool gemm_cublas(const Problem<T>& p0) {
  if (p0.K == 0 || !cublas_enabled()) return false;
  ColMajor oc{}, oa{}, ob{};
  // cuBLAS writes a column-major C; a C with unit column stride is computed as C^T = B^T A^T.
  Problem<T> p = p0;
  if (!as_col_major(p.M, p.N, p.C.rs, p.C.cs, oc) || oc.op != CUBLAS_OP_N) {
    p = transposed(p0);
    if (!as_col_major(p.M, p.N, p.C.rs, p.C.cs, oc) || oc.op != CUBLAS_OP_N) return false;
  }
  if (!as_col_major(p.M, p.K, p.A.rs, p.A.cs, oa) || !as_col_major(p.K, p.N, p.B.rs, p.B.cs, ob)) return false;
  if (p.M > INT_MAX || p.N > INT_MAX || p.K > INT_MAX) return false;
  if (p.batch > 1) {
    // Batch strides as cuBLAS takes them; the matrices of C must not overlap.
    if (p.A.bs < 0 || p.B.bs < 0 || p.C.bs < oc.ld * (p.N - 1) + p.M) return false;
  }
  cublasHandle_t h = cublas_handle();
  if constexpr (is_half_v<T>) {
    gemm_cublas16(h, p, oa, ob, oc);
  } else {
    const T alpha = p.e.alpha, beta = p.e.beta;
    constexpr int64_t kChunk = 65535;  // matrices per call
    for (int64_t n0 = 0; n0 < p.batch; n0 += kChunk) {
      const int cnt = static_cast<int>(std::min(kChunk, p.batch - n0));
      cublasStatus_t s = cublas_gemm(h, oa.op, ob.op, static_cast<int>(p.M), static_cast<int>(p.N),
                                     static_cast<int>(p.K), &alpha, p.A.data + n0 * p.A.bs, static_cast<int>(oa.ld),
                                     p.A.bs, p.B.data + n0 * p.B.bs, static_cast<int>(ob.ld), p.B.bs, &beta,
                                     p.C.data + n0 * p.C.bs, static_cast<int>(oc.ld), p.C.bs, cnt);
      if (s != CUBLAS_STATUS_SUCCESS) fail_cublas(s);
    }
    check_launch("matmul");
    if (p0.e.bias || p0.e.relu) {
      const int64_t total = p0.batch * p0.M * p0.N;
      bias_relu_kernel<T><<<grid_for(total), kBlock>>>(total, p0.M, p0.N, p0.C, p0.e);
      check_launch("matmul");
    }
  }
  return true;
}
#endif  // GRADCORE_CUBLAS

template <typename T>
void gemm(const Problem<T>& p) {
  if (p.batch == 0 || p.M == 0 || p.N == 0) return;
#ifdef GRADCORE_CUBLAS
  if constexpr (!std::is_same_v<T, int64_t>) {
    if (gemm_cublas(p)) return;
  }
#endif
  if (p.M == 1 || p.N == 1) gemv(p);
  else if constexpr (is_half_v<T>) gemm_tc(p);
  else gemm_tiled(p);
}

template <typename P>
Mat<P> mat_of(const Tensor& t) {
  const int64_t d = t.dim();
  const int64_t bs = d == 3 && t.shape[0] != 1 ? t.strides[0] : 0;  // a batch of 1 broadcasts
  return {reinterpret_cast<P*>(t.data()), bs, t.strides[d - 2], t.strides[d - 1]};
}

}  // namespace

void gemm_kernel(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta, const Tensor* bias,
                 bool relu) {
  const int64_t d = out.dim();
  auto run = [&](auto zero) {
    using scalar_t = decltype(zero);
    using S = typename OpMath<scalar_t>::type;
    // The bias is a row vector added to every row of C: bias[i * 0 + j * 1].
    Epi<scalar_t> e{static_cast<S>(alpha), static_cast<S>(beta), bias ? bias->data_as<scalar_t>() : nullptr, 0, 1,
                    relu};
    Problem<scalar_t> p{d == 3 ? out.shape[0] : 1, out.shape[d - 2], out.shape[d - 1], a.shape[d - 1],
                        mat_of<const scalar_t>(a), mat_of<const scalar_t>(b), mat_of<scalar_t>(out), e};
    gemm(p);
  };
  // bfloat16 and float16 natively (ops::gemm_into dispatches them here as they are).
  if (out.dtype == DType::BFloat16) return run(BFloat16{});
  if (out.dtype == DType::Float16) return run(Half{});
  GC_DISPATCH_NUMERIC(out.dtype, "gemm", [&] { run(scalar_t{}); });
}

}  // namespace gc::cuda
