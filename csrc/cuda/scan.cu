// Scans on CUDA, the twins of csrc/cpu/scan.cpp: one thread per row runs the row's sequential
// pass (kernels/sort.h's scan_row and cumprod_backward_row, the CPU's own code). Neighbouring
// threads take neighbouring rows, which are neighbours in memory when the scanned dim is not the
// innermost, so each step of the pass is one coalesced load across the warp.
#include "cuda/scan.h"
#include <cuda_runtime.h>
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {
template <typename T>
__global__ void scan_rows_kernel(T* out, const T* x, RowLayout L, ScanOp op, bool reverse) {
  GC_GRID_LOOP(r, L.rows()) {
    const int64_t b = L.base(r);
    kernels::scan_row(out + b, x + b, L.C, L.inner, op, reverse);
  }
}

template <typename T>
__global__ void cumprod_backward_rows_kernel(T* gx, const T* g, const T* x, const T* out, RowLayout L) {
  GC_GRID_LOOP(r, L.rows()) {
    const int64_t b = L.base(r);
    kernels::cumprod_backward_row(gx + b, g + b, x + b, out + b, L.C, L.inner);
  }
}
}  // namespace

void scan_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, ScanOp op, bool reverse) {
  const char* name = op == ScanOp::Sum ? "cumsum" : "cumprod";
  if (L.rows() == 0 || L.C == 0) return;
  GC_DISPATCH_ALL(x.dtype, name, [&] {
    using T = scalar_t;
    scan_rows_kernel<T><<<grid_for(L.rows()), kBlock>>>(out.data_as<T>(), x.data_as<T>(), L, op, reverse);
  });
  check_launch(name);
}

void cumprod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& out,
                             const RowLayout& L) {
  if (L.rows() == 0 || L.C == 0) return;
  GC_DISPATCH_FLOAT(x.dtype, "cumprod_backward", [&] {
    using T = scalar_t;
    cumprod_backward_rows_kernel<T><<<grid_for(L.rows()), kBlock>>>(gx.data_as<T>(), g.data_as<T>(), x.data_as<T>(),
                                                                     out.data_as<T>(), L);
  });
  check_launch("cumprod_backward");
}

}  // namespace gc::cuda
