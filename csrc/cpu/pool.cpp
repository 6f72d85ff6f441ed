// Max and average pooling on the CPU (kernels/pool.h). Planes are independent, so threads split
// them; the backward's sums into a plane run in one fixed order. Outputs whose sliding window lies
// wholly inside the input (all of them without padding or ceil_mode) skip the bounds checks of
// the shared window formulas, which the border outputs and adaptive windows run; the average
// backward scatters each output's share into its window instead of gathering per input.
#include "cpu/pool.h"
#include <algorithm>
#include "cpu/loops.h"

namespace gc::cpu {

namespace {

using kernels::PoolGeom;

// The outputs [lo, hi) along one dim whose sliding window lies inside [0, in).
void interior(int64_t out, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t& lo, int64_t& hi) {
  lo = (p + s - 1) / s;                       // o*s - p >= 0
  const int64_t last = in - 1 - d * (k - 1) + p;  // o*s - p + d*(k-1) <= in - 1
  hi = last < 0 ? 0 : std::min(out, last / s + 1);
  if (hi < lo) hi = lo;
}

// One output row's interior outputs [x0, x1), starting at input offset `start` for x0: the max
// over each window (offsets i*rstep + j*dw), first on ties. Written with selects (random data
// makes a branch per compare a coin toss; the compiler keeps `v > m || v != v` a branch, so NaN
// is only noted here): a window holding a NaN, rare, is redone by window_max and its NaN rule.
// KH/KW > 0 fix the kernel at compile time.
template <int KH, int KW, typename T>
void interior_row(const T* __restrict x, int64_t start, int64_t x0, int64_t x1, const PoolGeom& g, int64_t y,
                  T* __restrict o, int64_t* __restrict ix) {
  const int64_t nh = KH > 0 ? KH : g.kh, nw = KW > 0 ? KW : g.kw, rstep = g.dh * g.W;
  for (int64_t xo = x0; xo < x1; ++xo) {
    const int64_t base = start + (xo - x0) * g.sw;
    T best = x[base];
    int64_t where = base;
    bool nan = false;
    for (int64_t i = 0; i < nh; ++i)
      for (int64_t j = 0; j < nw; ++j) {
        const int64_t at = base + i * rstep + j * g.dw;
        const T v = x[at];
        nan |= v != v;
        const bool gt = v > best;
        best = gt ? v : best;
        where = gt ? at : where;
      }
    if (nan) kernels::window_max(x, g, y, xo, best, where);
    o[xo] = best;
    ix[xo] = where;
  }
}

template <int KH, int KW, typename T>
void max_plane_sliding(const T* x, const PoolGeom& g, T* out, int64_t* idx) {
  int64_t ylo, yhi, xlo, xhi;
  interior(g.oh, g.H, g.kh, g.sh, g.ph, g.dh, ylo, yhi);
  interior(g.ow, g.W, g.kw, g.sw, g.pw, g.dw, xlo, xhi);
  for (int64_t y = 0; y < g.oh; ++y) {
    T* o = out + y * g.ow;
    int64_t* ix = idx + y * g.ow;
    const bool row_inside = y >= ylo && y < yhi;
    const int64_t a = row_inside ? xlo : g.ow, b = row_inside ? xhi : g.ow;  // [a, b): interior outputs
    for (int64_t xo = 0; xo < a; ++xo) kernels::window_max(x, g, y, xo, o[xo], ix[xo]);
    if (a < b) interior_row<KH, KW>(x, (y * g.sh - g.ph) * g.W + (a * g.sw - g.pw), a, b, g, y, o, ix);
    for (int64_t xo = b; xo < g.ow; ++xo) kernels::window_max(x, g, y, xo, o[xo], ix[xo]);
  }
}

template <typename T>
void max_plane(const T* x, const PoolGeom& g, T* out, int64_t* idx) {
  if (g.adaptive) {
    for (int64_t y = 0; y < g.oh; ++y)
      for (int64_t xo = 0; xo < g.ow; ++xo) kernels::window_max(x, g, y, xo, out[y * g.ow + xo], idx[y * g.ow + xo]);
  } else if (g.kh == 2 && g.kw == 2) {
    max_plane_sliding<2, 2>(x, g, out, idx);
  } else if (g.kh == 3 && g.kw == 3) {
    max_plane_sliding<3, 3>(x, g, out, idx);
  } else {
    max_plane_sliding<0, 0>(x, g, out, idx);
  }
}

// d in of average pooling over one plane: each output's gradient / divisor added over its window.
template <typename T>
void avg_backward_plane(const T* gq, const PoolGeom& g, T* d) {
  std::fill(d, d + g.H * g.W, T(0));
  for (int64_t y = 0; y < g.oh; ++y) {
    const kernels::Span r = kernels::row_span(g, y);
    int64_t h0, h1;
    kernels::clip_span(r, g.H, h0, h1);
    for (int64_t xo = 0; xo < g.ow; ++xo) {
      const kernels::Span c = kernels::col_span(g, xo);
      const int64_t div = kernels::avg_divisor(g, r, c);
      if (div == 0) continue;
      int64_t w0, w1;
      kernels::clip_span(c, g.W, w0, w1);
      const T v = gq[y * g.ow + xo] / static_cast<T>(div);
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w) d[h * g.W + w] += v;
    }
  }
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
      avg_backward_plane(gp + p * out_plane, g, dp + p * in_plane);
    });
  });
}

}  // namespace gc::cpu
