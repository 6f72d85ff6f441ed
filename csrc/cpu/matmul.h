// The CPU GEMM behind ops::gemm_into: C = alpha * A @ B + beta * C over a batch of strided
// matrices. Any strides work (transposed, sliced, expanded operands are read in place); beta == 0
// never reads C, so C may be uninitialised.
#pragma once
#include "core/tensor.h"

namespace gc::cpu {

// out [.., M, N], a [.., M, K], b [.., K, N], all 2-D or all 3-D, of one dtype (float32, float64
// or int64); a batch size of 1 in a or b broadcasts. Shapes are checked by the caller.
void gemm_kernel(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta);

}  // namespace gc::cpu
