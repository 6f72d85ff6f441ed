// Scans on the CPU. Each row is one sequential pass, so threads split the rows. When the scanned
// dim is the innermost (inner == 1) a row is a unit-stride run: kernels/sort.h's scan_row walks it.
// Otherwise neighbouring rows are neighbours in memory, and a block of kInnerBlock of them advances
// together, one step of the scan at a time: each step is one unit-stride, vectorisable pass over
// the block's running values instead of kInnerBlock strided walks (about 10x at [256, 1024] over
// dim 0). Both accumulate as scan_row does (double, or wrapping uint64).
#include "cpu/scan.h"
#include <array>
#include "cpu/loops.h"

namespace gc::cpu {

namespace {
constexpr int64_t kInnerBlock = 256;

template <typename T>
void scan_inner_blocks(T* out, const T* x, const RowLayout& L, ScanOp op, bool reverse) {
  using A = kernels::scan_acc_t<T>;
  const int64_t nblk = (L.inner + kInnerBlock - 1) / kInnerBlock;
  for_planes(L.outer * nblk, L.rows() * L.C, [&](int64_t p) {
    const int64_t i0 = (p % nblk) * kInnerBlock, n = std::min(kInnerBlock, L.inner - i0);
    const int64_t base = (p / nblk) * L.C * L.inner + i0;
    std::array<A, kInnerBlock> acc;
    acc.fill(op == ScanOp::Sum ? A(0) : A(1));
    for (int64_t j = 0; j < L.C; ++j) {
      const int64_t off = base + (reverse ? L.C - 1 - j : j) * L.inner;
      if (op == ScanOp::Sum)
        for (int64_t i = 0; i < n; ++i) acc[i] += kernels::scan_widen(x[off + i]);
      else
        for (int64_t i = 0; i < n; ++i) acc[i] *= kernels::scan_widen(x[off + i]);
      for (int64_t i = 0; i < n; ++i) out[off + i] = static_cast<T>(acc[i]);
    }
  });
}
template <typename F>
void for_each_row(const RowLayout& L, const F& f) {
  const int64_t R = L.rows();
  if (R == 0 || L.C == 0) return;
  const int64_t chunks = std::min<int64_t>(R, 4 * static_cast<int64_t>(get_num_threads()));
  for_planes(chunks, R * L.C, [&](int64_t c) {
    for (int64_t r = c * R / chunks, end = (c + 1) * R / chunks; r < end; ++r) f(L.base(r));
  });
}
}  // namespace

void scan_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, ScanOp op, bool reverse) {
  GC_DISPATCH_ALL(x.dtype, op == ScanOp::Sum ? "cumsum" : "cumprod", [&] {
    using T = scalar_t;
    const T* xp = x.data_as<T>();
    T* o = out.data_as<T>();
    if (L.inner > 1 && L.C > 1) return scan_inner_blocks(o, xp, L, op, reverse);
    for_each_row(L, [&](int64_t b) { kernels::scan_row(o + b, xp + b, L.C, L.inner, op, reverse); });
  });
}

void cumprod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& out,
                             const RowLayout& L) {
  GC_DISPATCH_FLOAT(x.dtype, "cumprod_backward", [&] {
    using T = scalar_t;
    const T *gp = g.data_as<T>(), *xp = x.data_as<T>(), *yp = out.data_as<T>();
    T* gxp = gx.data_as<T>();
    for_each_row(L, [&](int64_t b) { kernels::cumprod_backward_row(gxp + b, gp + b, xp + b, yp + b, L.C, L.inner); });
  });
}

}  // namespace gc::cpu
