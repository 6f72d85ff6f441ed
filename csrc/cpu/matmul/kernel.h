// The contract between the GEMM's driver (cpu/matmul.cpp: blocking, threads, which path) and its
// kernels, one translation unit per instruction set, each compiled with its own flags:
//   cpu/matmul/baseline.cpp   the x86-64 baseline (or any CPU): portable C++ that GCC vectorises
//   cpu/matmul/avx2.cpp       -mavx2 -mfma: intrinsics, float 6 x 16, double 6 x 8
//   cpu/matmul/avx512.cpp     -mavx512f: intrinsics, float 12 x 32, double 12 x 16
//   cpu/matmul/avx512_bf16.cpp -mavx512bf16: bfloat16 pairs by vdpbf16ps into float, 12 x 32
// Each exports one function, kernel_<isa><T>(), returning a Kernel: its register tile, blocking
// and function pointers. The driver calls the one cpu_isa() names (cpu/isa.h), once per process.
//
// A Kernel<T, S, P> reads operands of type S (the source: T itself, or 16-bit BFloat16/Half bits),
// packs them into panels of P (T itself; or, for the bf16 dot product, uint32_t pairs holding
// two consecutive k values of one row or column) and accumulates in T.
//
// Code shared by several kernel TUs (the helpers below, cpu/matmul/x86.h, direct.h, sparse.h)
// lives in an unnamed namespace: every TU compiles its own copy under its own flags. Were it
// inline with external linkage, the linker would keep one copy for all, and that could be the
// AVX-512 one, called on a CPU without AVX-512.
#pragma once
#include <algorithm>
#include <cstdint>
#include "core/half.h"

namespace gc::cpu::gemm {

// What happens to each element as it is stored: c = alpha * acc + beta * c (beta == 0: c is not
// read), then + bias[i*brs + j*bcs] when bias is set, then ReLU when relu is set.
template <typename T>
struct Epilogue {
  T alpha, beta;
  const T* bias;
  int64_t brs, bcs;
  bool relu;
};

// Micro-kernel: C[0:mr, 0:nr] <- epilogue(A panel @ B panel) over kc packed steps; the panels are
// zero-padded to MR x kc and kc x NR. e.bias already points at this tile's (0, 0).
// (kc counts packed steps: k values, or k pairs for the bf16 dot product.)
template <typename T, typename P = T>
using MicroFn = void (*)(int64_t kc, const P* a, const P* b, T* c, int64_t rsc, int64_t csc, int mr, int nr,
                         const Epilogue<T>& e);
// dst[panel][p][i] = a[i0 + i, p], W (= MR) rows per panel, rows past m zero. (Pairs: dst[panel][p][i]
// holds a[i0 + i, 2p] in its low half and a[i0 + i, 2p + 1] in its high half, zero past kc.)
template <typename S, typename P = S>
using PackAFn = void (*)(int64_t m, int64_t kc, const S* a, int64_t rs, int64_t cs, P* dst);
// dst[panel][p][j] = b[p, j0 + j], W (= NR) columns per panel, columns past n zero (pairs likewise).
template <typename S, typename P = S>
using PackBFn = void (*)(int64_t kc, int64_t n, const S* b, int64_t rs, int64_t cs, P* dst);

// A with many exact zeros (see "sparse A" in cpu/matmul.cpp): C[i, :] for rows [i0, i1) of one
// product, from bit masks of A's nonzeros. B and C are contiguous along j; beta == 0.
template <typename T>
struct SparseA {
  int64_t K, N;
  const T* a;
  int64_t ars;           // A[i, k] = a[i * ars + k]
  const uint64_t* mask;  // bit k % 64 of mask[i * words + k / 64] is set when A[i, k] != 0
  int64_t words;
  const T* b;
  int64_t brs;  // B[k, j] = b[k * brs + j]
  T* c;
  int64_t crs;  // C[i, j] = c[i * crs + j]
  Epilogue<T> epi;  // bias (when set) indexed by j
};
// One ISA's sparse-A routines (cpu/matmul/sparse.h).
template <typename T>
struct SparseKernel {
  void (*rows)(const SparseA<T>& s, int64_t i0, int64_t i1) = nullptr;  // the product, rows [i0, i1)
  // mask[i * words + k / 64] bit k % 64 = (A[i, k] != 0) for A's rows at a + i * ars (contiguous).
  void (*masks)(const T* a, int64_t ars, int64_t M, int64_t K, int64_t words, uint64_t* mask) = nullptr;
  bool (*finite)(const T* b, int64_t brs, int64_t K, int64_t N) = nullptr;  // no inf or NaN in B
  int64_t (*count)(const T* p, int64_t n) = nullptr;  // nonzeros (NaN included) among p[0, n)
  // dst[i * ldd + k] = src[k * lds + i] for k < rows, i < cols: a transposing copy.
  void (*transpose)(const T* src, int64_t lds, int64_t rows, int64_t cols, T* dst, int64_t ldd) = nullptr;
};

// x @ W^T at small batch (see "direct" in cpu/matmul.cpp, cpu/matmul/direct.h): a tile of
// C^T = W @ x^T from rows i < mr of W read in place (A[i, p] = a[i * lda + p]) and one packed
// panel of x^T, K summed in slices of ks, stored through the epilogue (beta == 0) at
// c[i * rsc + j * csc] for j < nr.
template <typename T>
using DirectFn = void (*)(int64_t kc, int64_t ks, const T* a, int64_t lda, int mr, const T* b, T* c, int64_t rsc,
                          int64_t csc, int nr, const Epilogue<T>& e);
template <typename T>
struct DirectKernel {
  int mr = 0, nr = 0, width = 1;  // rows of W per tile, columns per packed panel, vector width
  DirectFn<T> tile[4] = {};       // by the panel's width in vectors ([nv - 1]); null: no such path
  PackBFn<T> pack = nullptr;      // packs x^T into nr-wide panels
};

// One ISA's GEMM kernels.
template <typename T, typename S = T, typename P = T>
struct Kernel {
  int mr, nr;
  int64_t kc, mc, nc;  // blocking: depth of a K slice (a multiple of kstep), rows of an A block, columns of a B block
  MicroFn<T, P> micro;
  PackAFn<S, P> pack_a;
  PackBFn<S, P> pack_b;
  // Shorter micro-kernels over the same packed panels, for edge panels of at most `rows` real
  // rows (ascending; rows == 0: none).
  struct Short {
    int rows;
    MicroFn<T, P> fn;
  } shorter[2] = {};
  SparseKernel<T> sparse;  // none (null) on the baseline ISA and for 16-bit sources
  DirectKernel<T> direct;  // likewise
  int kstep = 1;           // k values per packed element (2: bf16 pairs)
};

// The kernel TUs, for T = float and double. The x86 ones exist where GRADCORE_X86_KERNELS is set
// (CMake sets it on x86-64, where it compiles them with their flags).
template <typename T>
Kernel<T> kernel_baseline();
template <typename T>
Kernel<T> kernel_avx2();
template <typename T>
Kernel<T> kernel_avx512();
// bfloat16 A and B, float accumulation and C, by vdpbf16ps (GRADCORE_X86_KERNELS only).
Kernel<float, BFloat16, uint32_t> kernel_avx512_bf16();

// A per-thread buffer of at least `bytes`, 64-byte aligned, kept across calls so a training
// loop's steady state allocates nothing. Slots 0, 1 and 2 are independent buffers. (Defined in the
// driver, compiled for the baseline.)
void* scratch_bytes(int slot, int64_t bytes);

#define GC_ALWAYS_INLINE inline __attribute__((always_inline))

namespace {  // one copy per TU, under its flags (see the top of this file)

GC_ALWAYS_INLINE int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
GC_ALWAYS_INLINE int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

template <typename T>
GC_ALWAYS_INLINE T* scratch(int slot, int64_t n) {
  return static_cast<T*>(scratch_bytes(slot, n * static_cast<int64_t>(sizeof(T))));
}

// One element through the epilogue. (i, j) index the bias.
template <typename T>
GC_ALWAYS_INLINE void store(T* c, T acc, const Epilogue<T>& e, int64_t i, int64_t j) {
  T v = e.alpha * acc;
  if (e.beta != T(0)) v += e.beta * *c;
  if (e.bias) v += e.bias[i * e.brs + j * e.bcs];
  if (e.relu) v = v < T(0) ? T(0) : v;  // NaN is not < 0: it stays NaN, as in torch.relu
  *c = v;
}

// An mr x nr block of accumulators (row stride ld) through the epilogue into C. Without ReLU or
// beta (a Linear's output) the block is a plain loop: through store() per element, GCC compared
// each value with 0 before testing e.relu, a branch on the data that mispredicted for half the
// elements and tripled the time of x @ W^T + b with 65 output features (all of whose tiles come
// here, computing C^T).
template <typename T>
GC_ALWAYS_INLINE void store_block(const T* acc, int64_t ld, T* c, int64_t rsc, int64_t csc, int mr, int nr,
                                  const Epilogue<T>& e) {
  if (!e.relu && e.beta == T(0)) {
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) {
        T v = e.alpha * acc[i * ld + j];
        if (e.bias) v += e.bias[i * e.brs + j * e.bcs];
        c[i * rsc + j * csc] = v;
      }
    return;
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) store(c + i * rsc + j * csc, acc[i * ld + j], e, i, j);
}

// Generic packing of one W-wide panel: dst[p * W + i] = src[i * ld_i + p * ld_p] for i < w,
// zero for w <= i < W. Both panel kinds are this with the roles of the strides swapped.
template <typename T, int W>
GC_ALWAYS_INLINE void pack_panel_generic(int w, int64_t kc, const T* src, int64_t ld_i, int64_t ld_p, T* dst) {
  if (w == W && ld_i == 1) {  // each k step copies W contiguous values
    for (int64_t p = 0; p < kc; ++p)
      for (int i = 0; i < W; ++i) dst[p * W + i] = src[p * ld_p + i];
    return;
  }
  for (int i = 0; i < w; ++i)
    for (int64_t p = 0; p < kc; ++p) dst[p * W + i] = src[i * ld_i + p * ld_p];
  for (int i = w; i < W; ++i)
    for (int64_t p = 0; p < kc; ++p) dst[p * W + i] = T(0);
}

template <typename T>
using PanelFn = void (*)(int w, int64_t kc, const T* src, int64_t ld_i, int64_t ld_p, T* dst);

// A whole block, panel by panel: `count` rows of A (ld_i = A's row stride, ld_p its k stride) or
// columns of B (ld_i = B's column stride, ld_p its k stride), W per panel, each by Panel.
template <typename T, int W, PanelFn<T> Panel>
GC_ALWAYS_INLINE void pack_panels(int64_t count, int64_t kc, const T* src, int64_t ld_i, int64_t ld_p, T* dst) {
  for (int64_t i0 = 0; i0 < count; i0 += W, dst += W * kc)
    Panel(static_cast<int>(std::min<int64_t>(W, count - i0)), kc, src + i0 * ld_i, ld_i, ld_p, dst);
}

}  // namespace
}  // namespace gc::cpu::gemm
