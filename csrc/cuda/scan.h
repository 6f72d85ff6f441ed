// CUDA kernels of the scans (scan.cu): the same entry points, arguments and contracts as
// csrc/cpu/scan.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"
#include "kernels/softmax.h"
#include "kernels/sort.h"

namespace gc::cuda {
using kernels::RowLayout;
using kernels::ScanOp;
void scan_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, ScanOp op, bool reverse);
void cumprod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& out,
                             const RowLayout& L);
}  // namespace gc::cuda
