// The arithmetic of the fused attention kernel (cpu/attention.cpp), generic over a vector width W
// (lanes of T): a register-blocked small GEMM for the score, P V and gradient products, and row
// reductions. cpu/attention.cpp instantiates them inside one function per ISA (target attributes),
// so each copy runs at that ISA's width.
//
// Every copy gives the same bits. The build has -ffp-contract=off, so a * b + c is a rounded
// product then a rounded sum in every lane and in the scalar tails alike; each output of the GEMM
// sums its k terms in k order; the row sums keep kParts partial sums (lane l takes elements
// l, l + kParts, ...) whatever W is, then add them pairwise in a fixed tree (8 + 4 + 2 + 1 adds,
// log2(kParts) steps deep rather than kParts - 1). Only the speed follows W.
//
// Included by cpu/attention.cpp only: everything is force-inlined into its per-ISA callers.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

#define GC_ATTN_INLINE inline __attribute__((always_inline))

namespace gc::cpu::attn {
namespace {  // one copy per including TU; each caller inlines it under its own target

template <typename T, int W>
struct Lanes {
  typedef T V __attribute__((vector_size(W * sizeof(T))));
};

// C[0:MR, 0:NV*W] (+)= A[0:MR, 0:K] @ B[0:K, 0:NV*W] with A[i, k] = a[i * ars + k * acs] (any
// strides: A may be a transposed block), B rows contiguous (row stride ldb), C row stride ldc.
// MR x NV accumulator vectors stay in registers across the K loop; each k step loads NV vectors
// of B and broadcasts MR scalars of A.
template <typename T, int W, int MR, int NV>
GC_ATTN_INLINE void tile(int64_t K, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb, T* c,
                         int64_t ldc, bool accumulate) {
  using V = typename Lanes<T, W>::V;
  V r[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) {
      if (accumulate) std::memcpy(&r[i][v], c + i * ldc + v * W, sizeof(V));
      else r[i][v] = V{};
    }
  for (int64_t k = 0; k < K; ++k) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) std::memcpy(&bv[v], b + k * ldb + v * W, sizeof(V));
    for (int i = 0; i < MR; ++i) {
      const T s = a[i * ars + k * acs];
      for (int v = 0; v < NV; ++v) r[i][v] += s * bv[v];
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) std::memcpy(c + i * ldc + v * W, &r[i][v], sizeof(V));
}

constexpr int kTileRows = 4;  // MR: rows of A per tile

// Rows [0, M) of NV-vector-wide column strip: full tiles of kTileRows, then one shorter tile.
template <typename T, int W, int NV>
GC_ATTN_INLINE void strip(int64_t M, int64_t K, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb, T* c,
                          int64_t ldc, bool accumulate) {
  int64_t i = 0;
  for (; i + kTileRows <= M; i += kTileRows)
    tile<T, W, kTileRows, NV>(K, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, accumulate);
  const T* ai = a + i * ars;
  T* ci = c + i * ldc;
  const int64_t rest = M - i;
  if (rest == 3) tile<T, W, 3, NV>(K, ai, ars, acs, b, ldb, ci, ldc, accumulate);
  else if (rest == 2) tile<T, W, 2, NV>(K, ai, ars, acs, b, ldb, ci, ldc, accumulate);
  else if (rest == 1) tile<T, W, 1, NV>(K, ai, ars, acs, b, ldb, ci, ldc, accumulate);
}

// C[M, N] = A[M, K] @ B[K, N] (accumulate: C += A @ B), strides as in tile(). Column strips of
// NVMAX vectors, then one strip of the vectors left, then the last N % W columns one by one with
// the same per-element arithmetic as a lane.
template <typename T, int W, int NVMAX>
GC_ATTN_INLINE void gemm(int64_t M, int64_t N, int64_t K, const T* a, int64_t ars, int64_t acs, const T* b,
                         int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  static_assert(NVMAX >= 1 && NVMAX <= 4, "strips of 1 to 4 vectors");
  int64_t j = 0;
  for (; j + NVMAX * W <= N; j += NVMAX * W) strip<T, W, NVMAX>(M, K, a, ars, acs, b + j, ldb, c + j, ldc, accumulate);
  const int64_t nv = (N - j) / W;
  if (nv == 3) strip<T, W, 3>(M, K, a, ars, acs, b + j, ldb, c + j, ldc, accumulate);
  else if (nv == 2) strip<T, W, 2>(M, K, a, ars, acs, b + j, ldb, c + j, ldc, accumulate);
  else if (nv == 1) strip<T, W, 1>(M, K, a, ars, acs, b + j, ldb, c + j, ldc, accumulate);
  for (j += nv * W; j < N; ++j)
    for (int64_t i = 0; i < M; ++i) {
      T acc = accumulate ? c[i * ldc + j] : T(0);
      for (int64_t k = 0; k < K; ++k) acc += a[i * ars + k * acs] * b[k * ldb + j];
      c[i * ldc + j] = acc;
    }
}

constexpr int kParts = 16;  // partial sums per row reduction, whatever the vector width

// max_j x[j] (-inf for n == 0). A NaN is skipped here; the caller's exp(x - max) carries it.
template <typename T>
GC_ATTN_INLINE T row_max(const T* x, int64_t n) {
  T part[kParts];
  for (int l = 0; l < kParts; ++l) part[l] = -std::numeric_limits<T>::infinity();
  int64_t j = 0;
  for (; j + kParts <= n; j += kParts)
    for (int l = 0; l < kParts; ++l) part[l] = x[j + l] > part[l] ? x[j + l] : part[l];
  for (int l = 0; j + l < n; ++l) part[l] = x[j + l] > part[l] ? x[j + l] : part[l];
  for (int w = kParts / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) part[l] = part[l + w] > part[l] ? part[l + w] : part[l];
  return part[0];
}

// sum_j x[j] * y[j] (y == nullptr: sum_j x[j]) in kParts partial sums.
template <typename T>
GC_ATTN_INLINE T row_sum(const T* x, const T* y, int64_t n) {
  T part[kParts] = {};
  int64_t j = 0;
  if (y) {
    for (; j + kParts <= n; j += kParts)
      for (int l = 0; l < kParts; ++l) part[l] += x[j + l] * y[j + l];
    for (int l = 0; j + l < n; ++l) part[l] += x[j + l] * y[j + l];
  } else {
    for (; j + kParts <= n; j += kParts)
      for (int l = 0; l < kParts; ++l) part[l] += x[j + l];
    for (int l = 0; j + l < n; ++l) part[l] += x[j + l];
  }
  for (int w = kParts / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) part[l] += part[l + w];
  return part[0];
}

}  // namespace
}  // namespace gc::cpu::attn
