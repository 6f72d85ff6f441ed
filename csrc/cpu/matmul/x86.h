// The x86 pieces shared by the GEMM's AVX2 and AVX-512 kernels (cpu/matmul/avx2.cpp,
// avx512.cpp): transposing packs (AVX 8x8 / 4x4 register transposes) and the micro-kernel, generic
// over an ISA's vector traits X. Included by those TUs only, each compiling its own copy under its
// own flags (unnamed namespace; see cpu/matmul/kernel.h).
//
// X provides: T (float or double), V (its vector), W (lanes), zero, set1, load (aligned), loadu,
// store, storeu, fma(a, b, c) = a * b + c, mul, add, max, nonzero_bits(p) (bit l: p[l] != 0).
#pragma once
#include <immintrin.h>
#include "cpu/matmul/kernel.h"

namespace gc::cpu::gemm {
namespace {

// The k step of micro_simd for float and double traits (derived from FmaStep<their own type>):
// broadcast, aligned load, FMA.
template <class X>
struct FmaStep {
  template <typename P>
  static GC_ALWAYS_INLINE auto bcast(const P* a) { return X::set1(*a); }
  template <typename P>
  static GC_ALWAYS_INLINE auto loadb(const P* b) { return X::load(b); }
  template <typename V>
  static GC_ALWAYS_INLINE V madd(V a, V b, V c) { return X::fma(a, b, c); }
};

// 8 rows of 8 floats (r[i] = row i) -> r[p] = column p.
GC_ALWAYS_INLINE void transpose8x8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int q = 0; q < 4; ++q) {
    t[2 * q] = _mm256_unpacklo_ps(r[2 * q], r[2 * q + 1]);
    t[2 * q + 1] = _mm256_unpackhi_ps(r[2 * q], r[2 * q + 1]);
  }
  for (int h = 0; h < 2; ++h) {
    __m256 *th = t + 4 * h, *sh = s + 4 * h;
    sh[0] = _mm256_shuffle_ps(th[0], th[2], _MM_SHUFFLE(1, 0, 1, 0));
    sh[1] = _mm256_shuffle_ps(th[0], th[2], _MM_SHUFFLE(3, 2, 3, 2));
    sh[2] = _mm256_shuffle_ps(th[1], th[3], _MM_SHUFFLE(1, 0, 1, 0));
    sh[3] = _mm256_shuffle_ps(th[1], th[3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int q = 0; q < 4; ++q) {
    r[q] = _mm256_permute2f128_ps(s[q], s[q + 4], 0x20);
    r[q + 4] = _mm256_permute2f128_ps(s[q], s[q + 4], 0x31);
  }
}

// 4 rows of 4 doubles (r[i] = row i) -> r[p] = column p.
GC_ALWAYS_INLINE void transpose4x4(__m256d r[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// One B x B block through registers (B = 8 floats, 4 doubles: a vector per row):
// dst[q * ldd + i] = src[i * lds + q].
GC_ALWAYS_INLINE void transpose_block(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  transpose8x8(r);
  for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + q * ldd, r[q]);
}
GC_ALWAYS_INLINE void transpose_block(const double* src, int64_t lds, double* dst, int64_t ldd) {
  __m256d r[4];
  for (int i = 0; i < 4; ++i) r[i] = _mm256_loadu_pd(src + i * lds);
  transpose4x4(r);
  for (int q = 0; q < 4; ++q) _mm256_storeu_pd(dst + q * ldd, r[q]);
}

// dst[p * W + i] = src[i * ld + p] for i < w (rows of src are contiguous along p), zero for
// w <= i < W: a transpose of a w x kc block into the panel layout. Whole 8 x 8 (float) or 4 x 4
// (double) blocks go through registers; leftovers are scalar.
template <int W>
void pack_panel_t(int w, int64_t kc, const float* src, int64_t ld, float* dst) {
  const int64_t k8 = kc / 8 * 8;
  int i0 = 0;
  for (; i0 + 8 <= w; i0 += 8) {
    const float* s = src + i0 * ld;
    for (int64_t p = 0; p < k8; p += 8) transpose_block(s + p, ld, dst + p * W + i0, W);
  }
  for (; i0 + 4 <= w; i0 += 4) {
    const float* s = src + i0 * ld;
    for (int64_t p = 0; p < k8; p += 8) {
      __m256 r0 = _mm256_loadu_ps(s + p), r1 = _mm256_loadu_ps(s + ld + p);
      __m256 r2 = _mm256_loadu_ps(s + 2 * ld + p), r3 = _mm256_loadu_ps(s + 3 * ld + p);
      __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
      __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
      __m256 c[4] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                     _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))};
      for (int q = 0; q < 4; ++q) {  // c[q] holds columns q (low half) and q + 4 (high half)
        _mm_storeu_ps(dst + (p + q) * W + i0, _mm256_castps256_ps128(c[q]));
        _mm_storeu_ps(dst + (p + q + 4) * W + i0, _mm256_extractf128_ps(c[q], 1));
      }
    }
  }
  for (int64_t p = 0; p < k8; ++p)
    for (int i = i0; i < w; ++i) dst[p * W + i] = src[i * ld + p];
  for (int64_t p = k8; p < kc; ++p)
    for (int i = 0; i < w; ++i) dst[p * W + i] = src[i * ld + p];
  for (int64_t p = 0; p < kc; ++p)
    for (int i = w; i < W; ++i) dst[p * W + i] = 0.0f;
}

template <int W>
void pack_panel_t(int w, int64_t kc, const double* src, int64_t ld, double* dst) {
  const int64_t k4 = kc / 4 * 4;
  int i0 = 0;
  for (; i0 + 4 <= w; i0 += 4) {
    const double* s = src + i0 * ld;
    for (int64_t p = 0; p < k4; p += 4) transpose_block(s + p, ld, dst + p * W + i0, W);
  }
  for (int64_t p = 0; p < k4; ++p)
    for (int i = i0; i < w; ++i) dst[p * W + i] = src[i * ld + p];
  for (int64_t p = k4; p < kc; ++p)
    for (int i = 0; i < w; ++i) dst[p * W + i] = src[i * ld + p];
  for (int64_t p = 0; p < kc; ++p)
    for (int i = w; i < W; ++i) dst[p * W + i] = 0.0;
}

// dst[i * ldd + k] = src[k * lds + i] for k < rows, i < cols (rows of src contiguous along i):
// whole blocks through registers (transpose_block), the edges scalar.
template <typename T>
void transpose_copy(const T* src, int64_t lds, int64_t rows, int64_t cols, T* dst, int64_t ldd) {
  constexpr int64_t B = 32 / sizeof(T);
  const int64_t rb = rows / B * B, cb = cols / B * B;
  for (int64_t k0 = 0; k0 < rb; k0 += B)
    for (int64_t i0 = 0; i0 < cb; i0 += B) transpose_block(src + k0 * lds + i0, lds, dst + i0 * ldd + k0, ldd);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t k = i < cb ? rb : 0; k < rows; ++k) dst[i * ldd + k] = src[k * lds + i];
}

// Packing with the transposing fast path: rows of the source contiguous along k (row-major A;
// B that is a transposed row-major matrix, as W in x @ W^T). Copies are vectorised by GCC.
template <typename T, int W>
GC_ALWAYS_INLINE void pack_panel_simd(int w, int64_t kc, const T* src, int64_t ld_i, int64_t ld_p, T* dst) {
  if (ld_p == 1 && ld_i != 1)
    pack_panel_t<W>(w, kc, src, ld_i, dst);
  else
    pack_panel_generic<T, W>(w, kc, src, ld_i, ld_p, dst);
}

template <typename T, int MR>
void pack_a_simd(int64_t m, int64_t kc, const T* a, int64_t rs, int64_t cs, T* dst) {
  pack_panels<T, MR, &pack_panel_simd<T, MR>>(m, kc, a, rs, cs, dst);
}

template <typename T, int NR>
void pack_b_simd(int64_t kc, int64_t n, const T* b, int64_t rs, int64_t cs, T* dst) {
  pack_panels<T, NR, &pack_panel_simd<T, NR>>(n, kc, b, cs, rs, dst);
}

// The micro-kernel for vector traits X and an MR x NV*W register tile, reading A panels packed AS
// (>= MR) rows tall: with MR < AS the same packed panel feeds a shorter kernel that only computes
// the real rows of an edge panel (64 rows are 5 x 12 + 4: the last panel costs 4 rows of work,
// not 12). Full-width tiles of a row-major C store straight from the registers (rows past mr
// skipped); others go through a local block and the scalar epilogue.
//
// Each k step is X::bcast (A's value of row i, broadcast), X::loadb (B's vectors) and X::madd
// (acc += a * b): an FMA for float and double; for bf16 pairs (X::P = uint32_t) one vdpbf16ps
// adds both products of a pair.
template <class X, int AS, int MR, int NV>
void micro_simd(int64_t kc, const typename X::P* __restrict a, const typename X::P* __restrict b, typename X::T* c,
                int64_t rsc, int64_t csc, int mr, int nr, const Epilogue<typename X::T>& e) {
  using T = typename X::T;
  using V = typename X::V;
  constexpr int W = X::W, NR = NV * W;
  V acc[MR][NV];
  _Pragma("GCC unroll 32") for (int i = 0; i < MR; ++i)
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) acc[i][v] = X::zero();
  for (int i = 0; i < mr; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * rsc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * rsc + (nr - 1) * csc), _MM_HINT_T0);
  }
  _Pragma("GCC unroll 4") for (int64_t p = 0; p < kc; ++p) {
    V bv[NV];
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) bv[v] = X::loadb(b + v * W);
    _Pragma("GCC unroll 32") for (int i = 0; i < MR; ++i) {
      const V ai = X::bcast(a + i);
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) acc[i][v] = X::madd(ai, bv[v], acc[i][v]);
    }
    a += AS;
    b += NR;
  }
  if (nr == NR && csc == 1) {
    const V alpha = X::set1(e.alpha), beta = X::set1(e.beta), zero = X::zero();
    const bool scale = e.alpha != T(1), read_c = e.beta != T(0);
    _Pragma("GCC unroll 32") for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) {
        T* ci = c + i * rsc + v * W;
        V x = scale ? X::mul(alpha, acc[i][v]) : acc[i][v];
        if (read_c) x = X::fma(beta, X::loadu(ci), x);
        if (e.bias)
          x = X::add(x, e.bcs == 1 ? X::loadu(e.bias + i * e.brs + v * W)
                                   : X::set1(e.bias[i * e.brs + v * W * e.bcs]));
        if (e.relu) x = X::max(zero, x);  // max(0, NaN) is the second operand: NaN
        X::storeu(ci, x);
      }
    }
    return;
  }
  alignas(64) T buf[MR * NR];
  _Pragma("GCC unroll 32") for (int i = 0; i < MR; ++i)
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) X::store(buf + i * NR + v * W, acc[i][v]);
  store_block(buf, NR, c, rsc, csc, mr, nr, e);
}

}  // namespace
}  // namespace gc::cpu::gemm
