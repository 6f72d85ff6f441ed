// The GEMM's AVX-512 kernel (see cpu/matmul/kernel.h), compiled with -mavx512f -mavx2 -mfma: float
// 12 x 32 and double 12 x 16 register tiles (24 accumulators of 32), with shorter kernels for edge
// panels, the sparse-A and direct paths. Packing uses the AVX2 transposes of cpu/matmul/x86.h.
#include "cpu/matmul/kernel.h"
#if defined(GRADCORE_X86_KERNELS)
#if !defined(__AVX512F__) || !defined(__FMA__)
#error "cpu/matmul/avx512.cpp must be compiled with -mavx512f -mavx2 -mfma (CMakeLists.txt sets them)"
#endif
#include "cpu/matmul/direct.h"
#include "cpu/matmul/sparse.h"
#include "cpu/matmul/x86.h"

namespace gc::cpu::gemm {
namespace {

struct Avx512F {
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
struct Avx512D {
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

template <typename T>
Kernel<T> kernel_avx512() {
  using X = std::conditional_t<std::is_same_v<T, float>, Avx512F, Avx512D>;
  constexpr int MR = 12, NV = 2, NR = NV * X::W;
  // float: 384-deep slices, 512-column blocks; double: 256 x 512 measured best (2048^3: 0.93 of
  // OpenBLAS against 0.89 for 384 x 256).
  constexpr int64_t KC = std::is_same_v<T, float> ? 384 : 256;
  Kernel<T> k{MR, NR, KC, 144, 512, &micro_simd<X, MR, MR, NV>,
              &pack_a_simd<T, MR>, &pack_b_simd<T, NR>,
              {{4, &micro_simd<X, MR, 4, NV>}, {8, &micro_simd<X, MR, 8, NV>}}, {}, {}};
  // Up to 7 accumulators of C's row; a 64-deep slice of B is 64 x 7 vectors (28 KiB).
  k.sparse = {&sparse_rows<X, 7, 1>, &sparse_masks<X>, &sparse_finite<X>, &sparse_count<X>, &transpose_copy<T>};
  // 6 rows of W by 4 vectors (64 floats of a batch): 24 accumulators of 32.
  k.direct = direct_kernel<X, 6, 4>();
  return k;
}

template Kernel<float> kernel_avx512<float>();
template Kernel<double> kernel_avx512<double>();

}  // namespace gc::cpu::gemm
#endif  // GRADCORE_X86_KERNELS
