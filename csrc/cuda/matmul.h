// CUDA kernels of the matmul (cuBLAS where the toolkit has it, else a tiled kernel) family (matmul.cu): the same entry points, arguments and contracts as
// csrc/cpu/matmul.h, on tensors that live on the current CUDA device. Launched on the default stream.
// gemm_kernel also takes bfloat16 and float16 (out, a, b and bias of one of them) as they are:
// tensor cores, float32 accumulation and epilogue, one rounding to 16 bits per element.
#pragma once
#include "core/tensor.h"

namespace gc::cuda {
void gemm_kernel(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta,
                 const Tensor* bias = nullptr, bool relu = false);
}  // namespace gc::cuda
