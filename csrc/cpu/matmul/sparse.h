// The sparse-A path of the CPU GEMM (see cpu/matmul.cpp, "sparse A"), generic over an ISA's
// vector traits X (cpu/matmul/x86.h); compiled in each x86 kernel TU under its flags.
//
// dW = g^T @ x with g masked by a ReLU multiplies about half of g's entries, exact zeros, through
// whole rows of x. This path walks each row of A's nonzeros (bit masks, k ascending) and keeps a
// V-vector block of C's row in registers: per nonzero, one broadcast of A[i, k] and V FMAs with V
// loads of B's row k. Column chunks of B are KW * 64 rows deep so they stay in L1 while all of
// this thread's rows of A pass over them; a row's accumulators go through C between K chunks
// (stored and reloaded exactly, so every element is one FMA chain in k order). Columns past the
// last whole vector are a scalar std::fma chain over the same terms.
#pragma once
#include <cmath>
#include <cstring>
#include <type_traits>
#include "cpu/matmul/x86.h"

namespace gc::cpu::gemm {
namespace {

// Rows [i0, i1) x columns [jc, jc + V * W) over the nonzeros in mask words [w0, w1); bp is B's
// rows [64 * w0, 64 * w1) of those columns, packed (row p at bp + p * V * W).
template <class X, int V>
GC_ALWAYS_INLINE void sparse_chunk(const SparseA<typename X::T>& s, const typename X::T* bp, int64_t i0, int64_t i1,
                                   int64_t jc, int64_t w0, int64_t w1, bool first, bool last) {
  using T = typename X::T;
  using Vec = typename X::V;
  constexpr int W = X::W, CW = V * W;
  // Everything the loop reads from s, in locals: C's stores could alias s's fields for all the
  // compiler knows, and it would reload them (and re-test alpha) for every row.
  T* const c = s.c + jc;
  const T* const a = s.a;
  const uint64_t* const mask = s.mask;
  const int64_t crs = s.crs, ars = s.ars, words = s.words;
  const T* const bias = last ? s.epi.bias : nullptr;
  const bool scale = last && s.epi.alpha != T(1), relu = last && s.epi.relu;
  const Vec alpha = X::set1(s.epi.alpha), zero = X::zero();
  for (int64_t i = i0; i < i1; ++i) {
    T* ci = c + i * crs;
    Vec acc[V];
    _Pragma("GCC unroll 16") for (int v = 0; v < V; ++v) acc[v] = first ? zero : X::loadu(ci + v * W);
    const T* ai = a + i * ars;
    const uint64_t* mi = mask + i * words;
    for (int64_t w = w0; w < w1; ++w) {
      uint64_t m = mi[w];
      const T* aw = ai + w * 64;
      const T* bw = bp + (w - w0) * 64 * CW;
      while (m) {
        const int k = __builtin_ctzll(m);
        m &= m - 1;
        const Vec av = X::set1(aw[k]);
        const T* bk = bw + k * CW;
        _Pragma("GCC unroll 16") for (int v = 0; v < V; ++v) acc[v] = X::fma(av, X::load(bk + v * W), acc[v]);
      }
    }
    // The last K slice applies the epilogue as the packed micro-kernel does (beta == 0); earlier
    // ones store the running sums.
    _Pragma("GCC unroll 16") for (int v = 0; v < V; ++v) {
      Vec x = scale ? X::mul(alpha, acc[v]) : acc[v];
      if (bias) x = X::add(x, X::loadu(bias + jc + v * W));
      if (relu) x = X::max(zero, x);
      X::storeu(ci + v * W, x);
    }
  }
}

// Columns [j0, N) (fewer than one vector) of rows [i0, i1), all of K.
template <typename T>
GC_ALWAYS_INLINE void sparse_tail(const SparseA<T>& s, int64_t i0, int64_t i1, int64_t j0) {
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t j = j0; j < s.N; ++j) {
      T acc = 0;
      for (int64_t w = 0; w < s.words; ++w)
        for (uint64_t m = s.mask[i * s.words + w]; m; m &= m - 1) {
          const int64_t k = w * 64 + __builtin_ctzll(m);
          acc = std::fma(s.a[i * s.ars + k], s.b[k * s.brs + j], acc);
        }
      store(s.c + i * s.crs + j, acc, s.epi, 0, j);
    }
}

// B's columns [jc, jc + CW), all K rows, into dst (row stride CW): the panel the rows of A walk
// over, contiguous and aligned, so its rows neither straddle lines nor collide in L1's sets (a
// row stride of B that is a multiple of 4 KiB would map every row to the same set).
template <typename T, int CW>
GC_ALWAYS_INLINE void sparse_pack_b(const SparseA<T>& s, int64_t jc, T* dst) {
  for (int64_t p = 0; p < s.K; ++p) std::memcpy(dst + p * CW, s.b + p * s.brs + jc, CW * sizeof(T));
}

// f(integral_constant<int, nv>) for a run-time nv in [1, NV].
template <int NV, class F>
GC_ALWAYS_INLINE void with_width(int nv, const F& f) {
  if constexpr (NV > 1) {
    if (nv < NV) return with_width<NV - 1>(nv, f);
  }
  f(std::integral_constant<int, NV>{});
}

// Loops: for each column panel of B (packed, in L2), for each KW * 64-deep slice of it (in L1),
// each row of A. The N / W whole vectors are split into panels of at most V vectors, as even as
// possible (784 floats: 7 panels of 7 vectors), so no panel is a mostly idle narrow pass.
template <class X, int V, int KW>
void sparse_rows(const SparseA<typename X::T>& s, int64_t i0, int64_t i1) {
  using T = typename X::T;
  constexpr int W = X::W;
  T* bp = scratch<T>(0, s.K * V * W);
  const int64_t nvec = s.N / W, panels = (nvec + V - 1) / V;
  int64_t jc = 0;
  for (int64_t p = 0; p < panels; ++p) {
    const int nv = static_cast<int>(nvec / panels + (p < nvec % panels ? 1 : 0));
    with_width<V>(nv, [&](auto v_tag) {
      constexpr int NV = decltype(v_tag)::value;
      sparse_pack_b<T, NV * W>(s, jc, bp);
      for (int64_t w0 = 0; w0 < s.words; w0 += KW) {
        const int64_t w1 = std::min<int64_t>(s.words, w0 + KW);
        sparse_chunk<X, NV>(s, bp + w0 * 64 * (NV * W), i0, i1, jc, w0, w1, w0 == 0, w1 == s.words);
      }
    });
    jc += nv * W;
  }
  if (jc < s.N) sparse_tail(s, i0, i1, jc);
}

// mask[i * words + k / 64] bit k % 64 = (A[i, k] != 0), for rows of A contiguous along k. NaN is
// nonzero (NaN * b must reach C).
template <class X>
void sparse_masks(const typename X::T* a, int64_t ars, int64_t M, int64_t K, int64_t words, uint64_t* mask) {
  using T = typename X::T;
  constexpr int W = X::W;
  for (int64_t i = 0; i < M; ++i) {
    const T* row = a + i * ars;
    for (int64_t w = 0; w < words; ++w) {
      const int64_t k0 = w * 64, k1 = std::min(K, k0 + 64);
      uint64_t m = 0;
      int64_t k = k0;
      for (; k + W <= k1; k += W) m |= uint64_t(X::nonzero_bits(row + k)) << (k - k0);
      for (; k < k1; ++k) m |= uint64_t(row[k] != T(0)) << (k - k0);
      mask[i * words + w] = m;
    }
  }
}

// True when B (rows contiguous) holds no inf or NaN: b * 0 is exactly 0 for every finite b.
template <class X>
bool sparse_finite(const typename X::T* b, int64_t brs, int64_t K, int64_t N) {
  using T = typename X::T;
  using Vec = typename X::V;
  constexpr int W = X::W;
  const Vec zero = X::zero();
  Vec acc[4] = {zero, zero, zero, zero};
  T tail = 0;
  for (int64_t k = 0; k < K; ++k) {
    const T* row = b + k * brs;
    int64_t j = 0;
    for (; j + 4 * W <= N; j += 4 * W)
      for (int u = 0; u < 4; ++u) acc[u] = X::fma(X::loadu(row + j + u * W), zero, acc[u]);
    for (; j + W <= N; j += W) acc[0] = X::fma(X::loadu(row + j), zero, acc[0]);
    for (; j < N; ++j) tail += row[j] * T(0);
  }
  alignas(64) T out[W];
  X::store(out, X::add(X::add(acc[0], acc[1]), X::add(acc[2], acc[3])));
  for (int l = 0; l < W; ++l) tail += out[l];
  return tail == T(0);
}

// Nonzeros (NaN included) among p[0, n).
template <class X>
int64_t sparse_count(const typename X::T* p, int64_t n) {
  using T = typename X::T;
  constexpr int W = X::W;
  int64_t count = 0, k = 0;
  for (; k + W <= n; k += W) count += __builtin_popcount(X::nonzero_bits(p + k));
  for (; k < n; ++k) count += p[k] != T(0);
  return count;
}

}  // namespace
}  // namespace gc::cpu::gemm
