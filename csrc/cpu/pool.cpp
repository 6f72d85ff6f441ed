// Max pooling on the CPU (kernels/pool.h). Planes are independent, so threads split them and the
// backward's sums into a plane run in one fixed order.
#include "cpu/pool.h"
#include <algorithm>
#include "cpu/loops.h"

namespace gc::cpu {

namespace {

using kernels::PoolGeom;

template <typename T>
void max_plane(const T* x, const PoolGeom& g, T* out, int64_t* idx) {
  for (int64_t y = 0; y < g.oh; ++y)
    for (int64_t xo = 0; xo < g.ow; ++xo) kernels::window_max(x, g, y, xo, out[y * g.ow + xo], idx[y * g.ow + xo]);
}

}  // namespace

void max_pool2d(const Tensor& x, const PoolGeom& g, const Tensor& out, const Tensor& indices) {
  GC_DISPATCH_FLOAT(x.dtype, "max_pool2d", [&] {
    const scalar_t* xp = x.data_as<scalar_t>();
    scalar_t* op = out.data_as<scalar_t>();
    int64_t* ip = indices.data_as<int64_t>();
    const int64_t in_plane = g.H * g.W, out_plane = g.oh * g.ow;
    for_planes(g.planes, g.planes * out_plane * g.kh * g.kw, [&](int64_t p) {
      max_plane(xp + p * in_plane, g, op + p * out_plane, ip + p * out_plane);
    });
  });
}

void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const PoolGeom& g, const Tensor& dx) {
  GC_DISPATCH_FLOAT(dx.dtype, "max_pool2d_backward", [&] {
    const scalar_t* gp = gout.data_as<scalar_t>();
    const int64_t* ip = indices.data_as<int64_t>();
    scalar_t* dp = dx.data_as<scalar_t>();
    const int64_t in_plane = g.H * g.W, out_plane = g.oh * g.ow;
    for_planes(g.planes, g.planes * (in_plane + out_plane), [&](int64_t p) {
      scalar_t* d = dp + p * in_plane;
      std::fill(d, d + in_plane, scalar_t(0));
      const scalar_t* gq = gp + p * out_plane;
      const int64_t* iq = ip + p * out_plane;
      for (int64_t k = 0; k < out_plane; ++k)
        if (iq[k] >= 0) d[iq[k]] += gq[k];
    });
  });
}

}  // namespace gc::cpu
