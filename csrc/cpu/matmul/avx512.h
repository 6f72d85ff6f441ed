// The AVX-512 vector traits of the GEMM's micro-kernels (cpu/matmul/x86.h), shared by the
// avx512 and avx512_bf16 kernel TUs, each compiling its own copy (see cpu/matmul/kernel.h).
#pragma once
#include "cpu/matmul/x86.h"

namespace gc::cpu::gemm {
namespace {

struct Avx512F : FmaStep<Avx512F> {
  using P = float;  // packed as it is
  using T = float;
  using V = __m512;
  static constexpr int W = 16;
  static GC_ALWAYS_INLINE V zero() { return _mm512_setzero_ps(); }
  static GC_ALWAYS_INLINE V set1(T x) { return _mm512_set1_ps(x); }
  static GC_ALWAYS_INLINE V load(const T* p) { return _mm512_load_ps(p); }
  static GC_ALWAYS_INLINE V loadu(const T* p) { return _mm512_loadu_ps(p); }
  static GC_ALWAYS_INLINE void store(T* p, V v) { _mm512_store_ps(p, v); }
  static GC_ALWAYS_INLINE void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
  static GC_ALWAYS_INLINE V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static GC_ALWAYS_INLINE V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static GC_ALWAYS_INLINE V add(V a, V b) { return _mm512_add_ps(a, b); }
  // Masked with a full mask: the unmasked intrinsic trips GCC 12's -Wmaybe-uninitialized.
  static GC_ALWAYS_INLINE V max(V a, V b) { return _mm512_mask_max_ps(a, 0xFFFF, a, b); }
  static GC_ALWAYS_INLINE unsigned nonzero_bits(const T* p) {
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_setzero_ps(), _CMP_NEQ_UQ);
  }
};
struct Avx512D : FmaStep<Avx512D> {
  using P = double;  // packed as it is
  using T = double;
  using V = __m512d;
  static constexpr int W = 8;
  static GC_ALWAYS_INLINE V zero() { return _mm512_setzero_pd(); }
  static GC_ALWAYS_INLINE V set1(T x) { return _mm512_set1_pd(x); }
  static GC_ALWAYS_INLINE V load(const T* p) { return _mm512_load_pd(p); }
  static GC_ALWAYS_INLINE V loadu(const T* p) { return _mm512_loadu_pd(p); }
  static GC_ALWAYS_INLINE void store(T* p, V v) { _mm512_store_pd(p, v); }
  static GC_ALWAYS_INLINE void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
  static GC_ALWAYS_INLINE V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static GC_ALWAYS_INLINE V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static GC_ALWAYS_INLINE V add(V a, V b) { return _mm512_add_pd(a, b); }
  static GC_ALWAYS_INLINE V max(V a, V b) { return _mm512_mask_max_pd(a, 0xFF, a, b); }
  static GC_ALWAYS_INLINE unsigned nonzero_bits(const T* p) {
    return _mm512_cmp_pd_mask(_mm512_loadu_pd(p), _mm512_setzero_pd(), _CMP_NEQ_UQ);
  }
};

}  // namespace
}  // namespace gc::cpu::gemm
