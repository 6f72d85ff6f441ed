// CUDA kernels of the matmul (cuBLAS where the toolkit has it, else a tiled kernel) family (matmul.cu): the same entry points, arguments and contracts as
// csrc/cpu/matmul.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"

namespace gc::cuda {
void gemm_kernel(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta,
                 const Tensor* bias = nullptr, bool relu = false);
}  // namespace gc::cuda
