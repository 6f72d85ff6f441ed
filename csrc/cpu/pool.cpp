// Max and average pooling on the CPU (kernels/pool.h). Planes are independent, so threads split
// them; the max backward's sums into a plane run in one fixed order.
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

// The window count of each output and each input position's user count, as a work estimate.
int64_t window_work(const PoolGeom& g) {
  return g.adaptive ? (g.H / std::max<int64_t>(g.oh, 1) + 2) * (g.W / std::max<int64_t>(g.ow, 1) + 2) : g.kh * g.kw;
}

}  // namespace

void max_pool2d(const Tensor& x, const PoolGeom& g, const Tensor& out, const Tensor& indices) {
  GC_DISPATCH_FLOAT(x.dtype, "max_pool2d", [&] {
    const scalar_t* xp = x.data_as<scalar_t>();
    scalar_t* op = out.data_as<scalar_t>();
    int64_t* ip = indices.data_as<int64_t>();
    const int64_t in_plane = g.H * g.W, out_plane = g.oh * g.ow;
    for_planes(g.planes, g.planes * out_plane * window_work(g), [&](int64_t p) {
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

void avg_pool2d(const Tensor& x, const PoolGeom& g, const Tensor& out) {
  GC_DISPATCH_FLOAT(x.dtype, "avg_pool2d", [&] {
    const scalar_t* xp = x.data_as<scalar_t>();
    scalar_t* op = out.data_as<scalar_t>();
    const int64_t in_plane = g.H * g.W, out_plane = g.oh * g.ow;
    for_planes(g.planes, g.planes * out_plane * window_work(g), [&](int64_t p) {
      const scalar_t* plane = xp + p * in_plane;
      scalar_t* o = op + p * out_plane;
      for (int64_t y = 0; y < g.oh; ++y)
        for (int64_t xo = 0; xo < g.ow; ++xo) o[y * g.ow + xo] = kernels::window_avg(plane, g, y, xo);
    });
  });
}

void avg_pool2d_backward(const Tensor& gout, const PoolGeom& g, const Tensor& dx) {
  GC_DISPATCH_FLOAT(dx.dtype, "avg_pool2d_backward", [&] {
    const scalar_t* gp = gout.data_as<scalar_t>();
    scalar_t* dp = dx.data_as<scalar_t>();
    const int64_t in_plane = g.H * g.W, out_plane = g.oh * g.ow;
    for_planes(g.planes, g.planes * in_plane * window_work(g), [&](int64_t p) {
      const scalar_t* gq = gp + p * out_plane;
      scalar_t* d = dp + p * in_plane;
      for (int64_t h = 0; h < g.H; ++h)
        for (int64_t w = 0; w < g.W; ++w) d[h * g.W + w] = kernels::avg_grad(gq, g, h, w);
    });
  });
}

}  // namespace gc::cpu
