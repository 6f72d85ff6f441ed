// The arithmetic of the fused attention kernel (cpu/attention.cpp), generic over a vector width W
// (lanes of T): a register-blocked small GEMM for the score, P V and gradient products, and row
// reductions. cpu/attention.cpp instantiates them inside one function per ISA (target attributes),
// so each copy runs at that ISA's width.
//
// Every copy gives the same bits. The build has -ffp-contract=off, so a * b + c is a rounded
// product then a rounded sum in every lane and in the scalar tails alike; each output of the GEMM
// sums its k terms in k order; the row sums keep kParts partial sums (lane l takes elements
// l, l + kParts, ...) whatever W is, then fold them by a fixed tree. Only the speed follows W.
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

// The kParts partials as one vector (GCC splits it into W-lane registers), folded by a fixed tree:
// halves, quarters, then pairs of lanes. In registers: through an array on the stack, the tree's narrow
// reloads of wide stores stalled store forwarding (a tenth of the forward's time).
template <typename T>
struct Parts {
  typedef T V __attribute__((vector_size(kParts * sizeof(T))));
};

// a = max(a, b) (kMax; a NaN in b is skipped) or a += b, on vectors or scalars alike.
template <bool kMax, typename V>
GC_ATTN_INLINE void combine(V& a, const V& b) {
  if constexpr (kMax) a = b > a ? b : a;
  else a += b;
}

template <bool kMax, typename T>
GC_ATTN_INLINE T fold(const typename Parts<T>::V& v) {
  static_assert(kParts == 16, "the tree below folds 16 lanes");
  auto h8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  combine<kMax>(h8, __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
  auto h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3);
  combine<kMax>(h4, __builtin_shufflevector(h8, h8, 4, 5, 6, 7));
  T a = h4[0], b = h4[1];
  combine<kMax>(a, T(h4[2]));
  combine<kMax>(b, T(h4[3]));
  combine<kMax>(a, b);
  return a;
}

// x[j .. j + kParts) as a vector, lanes past m = n - j set to fill.
template <typename T>
GC_ATTN_INLINE void load_parts(typename Parts<T>::V& v, const T* x, int64_t m, T fill) {
  if (m >= kParts) {
    std::memcpy(&v, x, sizeof v);
    return;
  }
  T t[kParts];
  for (int l = 0; l < kParts; ++l) t[l] = l < m ? x[l] : fill;
  std::memcpy(&v, t, sizeof v);
}

// max_j x[j] (-inf for n == 0). A NaN is skipped here; the caller's exp(x - max) carries it.
template <typename T>
GC_ATTN_INLINE T row_max(const T* x, int64_t n) {
  using V = typename Parts<T>::V;
  const T lo = -std::numeric_limits<T>::infinity();
  V acc = V{} + lo, v;
  for (int64_t j = 0; j < n; j += kParts) {
    load_parts<T>(v, x + j, n - j, lo);
    combine<true>(acc, v);
  }
  return fold<true, T>(acc);
}

// sum_j x[j] * y[j] (y == nullptr: sum_j x[j]).
template <typename T>
GC_ATTN_INLINE T row_sum(const T* x, const T* y, int64_t n) {
  using V = typename Parts<T>::V;
  V acc = V{}, v, w;
  for (int64_t j = 0; j < n; j += kParts) {
    load_parts<T>(v, x + j, n - j, T(0));
    if (y) {
      load_parts<T>(w, y + j, n - j, T(0));
      v *= w;
    }
    acc += v;
  }
  return fold<false, T>(acc);
}

}  // namespace
}  // namespace gc::cpu::attn
