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
#include "cpu/matmul/avx512.h"

namespace gc::cpu::gemm {

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
