// The direct path of the CPU GEMM (see cpu/matmul.cpp, "x @ W^T at small batch"), generic over
// an ISA's vector traits X (cpu/matmul/x86.h); compiled in each x86 kernel TU under its flags.
//
// It computes C^T = W @ x^T, so W, the large operand, is the broadcast side and is read where it
// lies (rows contiguous along k), and only x^T is packed (NRS-wide panels). A tile is MR rows of W
// by NV vectors of a panel, kept in MR * NV accumulators: per k step NV vector loads of the panel,
// MR broadcasts from W and MR * NV FMAs. K is summed in the packed path's slices, in its order,
// so every element is that path's result bit for bit.
#pragma once
#include <utility>
#include "cpu/matmul/x86.h"

namespace gc::cpu::gemm {
namespace {

// Rows i < mr of A (A[i, p] = a[i * lda + p], read in place; rows past mr repeat row 0 and are
// discarded), times columns [0, NV * W) of a packed panel (row p at b + p * NRS), over kc steps;
// element (i, j), j < nr, is stored through the epilogue (beta == 0) at c[i * rsc + j * csc].
// K is summed in slices of ks, each scaled by alpha and added to the running sum of the earlier
// ones, as the packed path sums its K slices through C: the same operations in the same order.
template <class X, int MR, int NV, int NRS>
void direct_tile(int64_t kc, int64_t ks, const typename X::T* a, int64_t lda, int mr,
                 const typename X::T* __restrict b, typename X::T* c, int64_t rsc, int64_t csc, int nr,
                 const Epilogue<typename X::T>& e) {
  using T = typename X::T;
  using V = typename X::V;
  constexpr int W = X::W;
  const T* ar[MR];
  _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) ar[i] = a + (i < mr ? i : 0) * lda;
  const bool scale = e.alpha != T(1);
  const V alpha = X::set1(e.alpha);
  alignas(64) T sum[MR][NV * W];
  for (int64_t p0 = 0; p0 < kc; p0 += ks) {
    const int64_t p1 = std::min(kc, p0 + ks);
    V acc[MR][NV];
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i)
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) acc[i][v] = X::zero();
    _Pragma("GCC unroll 4") for (int64_t p = p0; p < p1; ++p) {
      V bv[NV];
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) bv[v] = X::load(b + p * NRS + v * W);
      _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {
        const V ai = X::set1(ar[i][p]);
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) acc[i][v] = X::fma(ai, bv[v], acc[i][v]);
      }
    }
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i)
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; ++v) {
        T* s = &sum[i][v * W];
        const V x = scale ? X::mul(alpha, acc[i][v]) : acc[i][v];
        X::store(s, p0 == 0 ? x : X::add(x, X::load(s)));
      }
  }
  // C^T's tile is a block of C's rows: for each j, mr values 1 apart (x @ W^T's row j). alpha is
  // applied; the bias and ReLU remain.
  const Epilogue<T> rest{T(1), T(0), e.bias, e.brs, e.bcs, e.relu};
  for (int j = 0; j < nr; ++j)
    for (int i = 0; i < mr; ++i) store(c + i * rsc + j * csc, sum[i][j], rest, i, j);
}

// The table of tiles, by panel width in vectors (index nv - 1).
template <class X, int MR, int NV, int NRS, int... Is>
constexpr DirectKernel<typename X::T> direct_table(std::integer_sequence<int, Is...>) {
  return {MR, NRS, X::W, {&direct_tile<X, MR, Is + 1, NRS>...}, &pack_b_simd<typename X::T, NRS>};
}
template <class X, int MR, int NV>
constexpr DirectKernel<typename X::T> direct_kernel() {
  return direct_table<X, MR, NV, NV * X::W>(std::make_integer_sequence<int, NV>{});
}

}  // namespace
}  // namespace gc::cpu::gemm
