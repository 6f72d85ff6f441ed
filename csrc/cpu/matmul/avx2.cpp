// The GEMM's AVX2 kernel (see cpu/matmul/kernel.h), compiled with -mavx2 -mfma: float 6 x 16 and
// double 6 x 8 register tiles (12 accumulators of 16), the sparse-A and direct paths.
#include "cpu/matmul/kernel.h"
#if defined(GRADCORE_X86_KERNELS)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "cpu/matmul/avx2.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt sets them)"
#endif
#include "cpu/matmul/direct.h"
#include "cpu/matmul/sparse.h"
#include "cpu/matmul/x86.h"

namespace gc::cpu::gemm {
namespace {

struct Avx2F : FmaStep<Avx2F> {
  using P = float;  // packed as it is
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  static GC_ALWAYS_INLINE V zero() { return _mm256_setzero_ps(); }
  static GC_ALWAYS_INLINE V set1(T x) { return _mm256_set1_ps(x); }
  static GC_ALWAYS_INLINE V load(const T* p) { return _mm256_load_ps(p); }
  static GC_ALWAYS_INLINE V loadu(const T* p) { return _mm256_loadu_ps(p); }
  static GC_ALWAYS_INLINE void store(T* p, V v) { _mm256_store_ps(p, v); }
  static GC_ALWAYS_INLINE void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
  static GC_ALWAYS_INLINE V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static GC_ALWAYS_INLINE V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static GC_ALWAYS_INLINE V add(V a, V b) { return _mm256_add_ps(a, b); }
  static GC_ALWAYS_INLINE V max(V a, V b) { return _mm256_max_ps(a, b); }
  // Bit l set when p[l] != 0 (NaN included).
  static GC_ALWAYS_INLINE unsigned nonzero_bits(const T* p) {
    return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_setzero_ps(), _CMP_NEQ_UQ)));
  }
};
struct Avx2D : FmaStep<Avx2D> {
  using P = double;  // packed as it is
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  static GC_ALWAYS_INLINE V zero() { return _mm256_setzero_pd(); }
  static GC_ALWAYS_INLINE V set1(T x) { return _mm256_set1_pd(x); }
  static GC_ALWAYS_INLINE V load(const T* p) { return _mm256_load_pd(p); }
  static GC_ALWAYS_INLINE V loadu(const T* p) { return _mm256_loadu_pd(p); }
  static GC_ALWAYS_INLINE void store(T* p, V v) { _mm256_store_pd(p, v); }
  static GC_ALWAYS_INLINE void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
  static GC_ALWAYS_INLINE V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static GC_ALWAYS_INLINE V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static GC_ALWAYS_INLINE V add(V a, V b) { return _mm256_add_pd(a, b); }
  static GC_ALWAYS_INLINE V max(V a, V b) { return _mm256_max_pd(a, b); }
  static GC_ALWAYS_INLINE unsigned nonzero_bits(const T* p) {
    return static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p), _mm256_setzero_pd(), _CMP_NEQ_UQ)));
  }
};

}  // namespace

template <typename T>
Kernel<T> kernel_avx2() {
  using X = std::conditional_t<std::is_same_v<T, float>, Avx2F, Avx2D>;
  constexpr int MR = 6, NV = 2, NR = NV * X::W;
  Kernel<T> k{MR, NR, 256, 144, 2048 / static_cast<int64_t>(sizeof(T)), &micro_simd<X, MR, MR, NV>,
              &pack_a_simd<T, MR>, &pack_b_simd<T, NR>, {{3, &micro_simd<X, MR, 3, NV>}, {0, nullptr}}, {}, {}};
  // Up to 8 accumulators of C's row; a 64-deep slice of B is 64 x 8 vectors (16 KiB float, 8 KiB double).
  k.sparse = {&sparse_rows<X, 8, 1>, &sparse_masks<X>, &sparse_finite<X>, &sparse_count<X>, &transpose_copy<T>};
  // 6 rows of W by 2 vectors: 12 accumulators of 16.
  k.direct = direct_kernel<X, 6, 2>();
  return k;
}

template Kernel<float> kernel_avx2<float>();
template Kernel<double> kernel_avx2<double>();

}  // namespace gc::cpu::gemm
#endif  // GRADCORE_X86_KERNELS
