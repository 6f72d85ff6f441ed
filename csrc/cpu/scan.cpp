// Scans on the CPU: each row is one sequential pass (kernels/sort.h's scan_row), so threads split
// the rows. When the scanned dim is not the innermost (inner > 1), rows that are neighbours in
// memory run one after the other on a thread, so a cache line of x serves `inner` rows in turn.
#include "cpu/scan.h"
#include "cpu/loops.h"

namespace gc::cpu {

namespace {
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
