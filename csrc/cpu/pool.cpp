// Max pooling on the CPU (kernels/pool.h). Planes are independent, so threads split them and the
// backward's sums into a plane run in one fixed order.
#include "cpu/pool.h"
#include <algorithm>
#include <cmath>
#ifdef GRADCORE_OPENMP
#include <omp.h>
#endif

namespace gc::cpu {

namespace {

using kernels::PoolGeom;

template <typename F>
void for_planes(int64_t n, int64_t work, const F& f) {
#ifdef GRADCORE_OPENMP
  const int nt = static_cast<int>(std::min<int64_t>(get_num_threads(), n));
  if (nt > 1 && work >= (int64_t(1) << 16)) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t p = 0; p < n; ++p) f(p);
    return;
  }
#endif
  for (int64_t p = 0; p < n; ++p) f(p);
}

template <typename T>
void max_plane(const T* x, const PoolGeom& g, T* out, int64_t* idx) {
  for (int64_t y = 0; y < g.oh; ++y)
    for (int64_t xo = 0; xo < g.ow; ++xo) {
      T best = T(0);
      int64_t at = -1;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t h = y * g.sh - g.ph + i * g.dh;
        if (h < 0 || h >= g.H) continue;
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t w = xo * g.sw - g.pw + j * g.dw;
          if (w < 0 || w >= g.W) continue;
          const T v = x[h * g.W + w];
          if (at < 0 || v > best || (std::isnan(v) && !std::isnan(best))) best = v, at = h * g.W + w;
        }
      }
      out[y * g.ow + xo] = best;
      idx[y * g.ow + xo] = at;
    }
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
