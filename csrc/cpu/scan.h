// Scans along a dim on the CPU (cpu/scan.cpp): cumsum, cumprod and cumprod's backward. Operands
// are contiguous, of one dtype, and seen as rows around the scanned dim (RowLayout).
#pragma once
#include "core/tensor.h"
#include "kernels/softmax.h"
#include "kernels/sort.h"

namespace gc::cpu {

using kernels::RowLayout;
using kernels::ScanOp;

// out = the running sum (product) of x along each row, from the end when `reverse`.
void scan_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, ScanOp op, bool reverse);
// gx = the gradient of out = cumprod(x) given the output's gradient g (kernels::cumprod_backward_row).
void cumprod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& out,
                             const RowLayout& L);

}  // namespace gc::cpu
