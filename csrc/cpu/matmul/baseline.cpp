// The GEMM's portable kernel (see cpu/matmul/kernel.h): plain C++ that GCC vectorises for the
// x86-64 baseline (SSE2) or whatever CPU the build targets; float 6 x 8, double 6 x 4 tiles.
#include "cpu/matmul/kernel.h"

namespace gc::cpu::gemm {
namespace {

template <typename T, int MR>
void pack_a_generic(int64_t m, int64_t kc, const T* a, int64_t rs, int64_t cs, T* dst) {
  pack_panels<T, MR, &pack_panel_generic<T, MR>>(m, kc, a, rs, cs, dst);
}

template <typename T, int NR>
void pack_b_generic(int64_t kc, int64_t n, const T* b, int64_t rs, int64_t cs, T* dst) {
  pack_panels<T, NR, &pack_panel_generic<T, NR>>(n, kc, b, cs, rs, dst);
}

// k is the outer loop so the MR x NR accumulators stay in registers; each step is MR broadcasts
// times NR/width vector multiply-adds. `unroll 1` stops GCC from fully unrolling the j loop
// before the vectoriser sees it: unrolled first, SLP spills the block to the stack; left as a
// loop, it becomes exactly NR/width vector operations per row.
template <typename T, int MR, int NR>
void micro_generic(int64_t kc, const T* __restrict a, const T* __restrict b, T* c, int64_t rsc, int64_t csc, int mr,
                   int nr, const Epilogue<T>& e) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      const T ai = a[p * MR + i];
#pragma GCC unroll 1
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[p * NR + j];
    }
  }
  store_block(&acc[0][0], NR, c, rsc, csc, mr, nr, e);
}

}  // namespace

template <typename T>
Kernel<T> kernel_baseline() {
  constexpr int MR = 6, NR = 32 / sizeof(T);
  return {MR, NR, 256, 144, 2048 / static_cast<int64_t>(sizeof(T)), &micro_generic<T, MR, NR>,
          &pack_a_generic<T, MR>, &pack_b_generic<T, NR>, {}, {}, {}};
}

template Kernel<float> kernel_baseline<float>();
template Kernel<double> kernel_baseline<double>();

}  // namespace gc::cpu::gemm
