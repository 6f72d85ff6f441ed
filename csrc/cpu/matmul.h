// The CPU GEMM behind ops::gemm_into: C = alpha * A @ B + beta * C over a batch of strided
// matrices, with an optional fused epilogue (bias, then ReLU) for Linear. Any strides work
// (transposed, sliced, expanded operands are read in place); beta == 0 never reads C, so C may be
// uninitialised.
#pragma once
#include "core/tensor.h"

namespace gc::cpu {

// out [.., M, N], a [.., M, K], b [.., K, N], all 2-D or all 3-D, of one dtype (float32, float64,
// int64, bfloat16 or float16: 16-bit operands accumulate in float32 and round once as C is stored);
// a batch size of 1 in a or b broadcasts. Shapes are checked by the caller.
//
//   out[n, i, j] = alpha * sum_k a[n, i, k] * b[n, k, j] + beta * out[n, i, j] + bias[j]
//   then, when relu, out[n, i, j] = out[n, i, j] < 0 ? 0 : out[n, i, j]   (NaN stays NaN)
//
// bias, when not null, is a contiguous 1-D tensor of N elements of out's dtype (the caller
// checks). Both happen as the final result is stored, with no extra pass over out; with
// beta == 0, out is still never read.
void gemm_kernel(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta,
                 const Tensor* bias = nullptr, bool relu = false);

// How many products so far took the sparse-A path (an A with many exact zeros, as a ReLU-masked
// gradient: its zero terms are skipped). For tests: GRADCORE_GEMM_SPARSE=0 turns the path off,
// =1 takes it whenever the layouts allow, at any size and density.
int64_t gemm_sparse_calls();
// How many took the direct path (x @ W^T at small batch, W read in place).
int64_t gemm_direct_calls();
// Which kernel multiplies matrices of a 16-bit dtype on this CPU: "dot" (bfloat16 by vdpbf16ps)
// or "widen" (the float kernel over blocks widened as they are packed). For tests.
const char* gemm_16_kernel(DType dtype);

}  // namespace gc::cpu
