// The contract of the pooling kernels shared by csrc/cpu/pool.cpp and csrc/cuda/pool.cu: the
// geometry of a 2-D pooling window over x [N, C, H, W] (planes = N * C, contiguous), the max and
// the average over it, and the gradients of both, one formula for both backends.
//
// Windows. Output row y covers input rows first + i*step for i < count, positions outside [0, H)
// skipped (zero or -inf padding: they never win a max and only count_include_pad counts them):
//   sliding (max_pool2d, avg_pool2d): first = y*sh - ph, step = dh, count = kh;
//   adaptive (adaptive_*_pool2d):     rows [floor(y*H/oh), ceil((y+1)*H/oh)).
// Columns likewise.
//
//   max: out[p, y, x] = the window's max; indices[p, y, x] = its flat position h * W + w in the
//   plane, the first one in (i, j) order on ties; NaN wins, the last NaN in (i, j) order when there
//   are several (PyTorch's rule: take v when v > max or v is NaN).
//   avg: the window's sum over in-range positions divided by divisor_override when set, else by the
//   window's size clipped to the padded input (count_include_pad) or to the input.
//
// Gradients are gathered per input position from the outputs whose windows hold it (no scatter,
// no atomics: deterministic and parallel on both backends).
#pragma once
#include <cstdint>
#include "core/host_device.h"

namespace gc::kernels {

struct PoolGeom {
  int64_t planes, H, W;            // N * C, input height, width
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t oh, ow;
  bool adaptive = false;           // adaptive windows (k, s, p, d unused)
  bool count_include_pad = true;   // avg: padded positions count in the divisor
  int64_t divisor = 0;             // avg: divisor_override when > 0
};

// One output's window along one dim: positions first + i*step, i < count; padded_count is the
// window's size clipped to the padded input (avg's count_include_pad divisor).
struct Span {
  int64_t first, step, count, padded_count;
};

GC_HOST_DEVICE inline Span pool_span(int64_t o, int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d,
                                     bool adaptive) {
  if (adaptive) {
    const int64_t b = o * in / out, e = ((o + 1) * in + out - 1) / out;
    return {b, 1, e - b, e - b};
  }
  const int64_t b = o * s - p, end = b + k < in + p ? b + k : in + p;
  return {b, d, k, end - b};
}

GC_HOST_DEVICE inline Span row_span(const PoolGeom& g, int64_t y) {
  return pool_span(y, g.H, g.oh, g.kh, g.sh, g.ph, g.dh, g.adaptive);
}
GC_HOST_DEVICE inline Span col_span(const PoolGeom& g, int64_t x) {
  return pool_span(x, g.W, g.ow, g.kw, g.sw, g.pw, g.dw, g.adaptive);
}

// Whether input position i is in the window, and the outputs [lo, hi) whose windows may hold it.
GC_HOST_DEVICE inline bool span_holds(const Span& s, int64_t i) {
  const int64_t t = i - s.first;
  return t >= 0 && t % s.step == 0 && t / s.step < s.count;
}
GC_HOST_DEVICE inline void span_users(int64_t i, int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d,
                                      bool adaptive, int64_t& lo, int64_t& hi) {
  if (adaptive) {
    lo = i * out / in;
    hi = ((i + 1) * out + in - 1) / in;
    return;
  }
  const int64_t t = i + p - d * (k - 1);  // o*s - p + d*(k-1) >= i
  lo = t <= 0 ? 0 : (t + s - 1) / s;
  hi = (i + p) / s + 1;                   // o*s - p <= i
  if (hi > out) hi = out;
}

// Output (y, x)'s window over one plane: the max and its flat position (-1 for a window with no
// input position).
template <typename T>
GC_HOST_DEVICE inline void window_max(const T* plane, const PoolGeom& g, int64_t y, int64_t x, T& best, int64_t& at) {
  const Span r = row_span(g, y), c = col_span(g, x);
  best = T(0);
  at = -1;
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t h = r.first + i * r.step;
    if (h < 0 || h >= g.H) continue;
    for (int64_t j = 0; j < c.count; ++j) {
      const int64_t w = c.first + j * c.step;
      if (w < 0 || w >= g.W) continue;
      const T v = plane[h * g.W + w];
      if (at < 0 || v > best || v != v) best = v, at = h * g.W + w;  // v != v: NaN wins
    }
  }
}

// The in-range part [b, e) of a step-1 span over [0, in).
GC_HOST_DEVICE inline void clip_span(const Span& s, int64_t in, int64_t& b, int64_t& e) {
  b = s.first < 0 ? 0 : s.first;
  e = s.first + s.count < in ? s.first + s.count : in;
}

// What average pooling divides output (y, x)'s sum by (0 for a window with no input position).
GC_HOST_DEVICE inline int64_t avg_divisor(const PoolGeom& g, const Span& r, const Span& c) {
  int64_t h0, h1, w0, w1;
  clip_span(r, g.H, h0, h1);
  clip_span(c, g.W, w0, w1);
  if (h0 >= h1 || w0 >= w1) return 0;
  if (g.divisor > 0) return g.divisor;
  return g.count_include_pad ? r.padded_count * c.padded_count : (h1 - h0) * (w1 - w0);
}

template <typename T>
GC_HOST_DEVICE inline T window_avg(const T* plane, const PoolGeom& g, int64_t y, int64_t x) {
  const Span r = row_span(g, y), c = col_span(g, x);
  const int64_t div = avg_divisor(g, r, c);
  if (div == 0) return T(0);
  int64_t h0, h1, w0, w1;
  clip_span(r, g.H, h0, h1);
  clip_span(c, g.W, w0, w1);
  T sum = 0;
  for (int64_t h = h0; h < h1; ++h)
    for (int64_t w = w0; w < w1; ++w) sum += plane[h * g.W + w];
  return sum / static_cast<T>(div);
}

// d loss / d in[p, h, w] of average pooling: the sum of gout / divisor over the windows holding it.
template <typename T>
GC_HOST_DEVICE inline T avg_grad(const T* gplane, const PoolGeom& g, int64_t h, int64_t w) {
  int64_t ylo, yhi, xlo, xhi;
  span_users(h, g.H, g.oh, g.kh, g.sh, g.ph, 1, g.adaptive, ylo, yhi);
  span_users(w, g.W, g.ow, g.kw, g.sw, g.pw, 1, g.adaptive, xlo, xhi);
  T acc = 0;
  for (int64_t y = ylo; y < yhi; ++y) {
    const Span r = row_span(g, y);
    if (!span_holds(r, h)) continue;
    for (int64_t x = xlo; x < xhi; ++x) {
      const Span c = col_span(g, x);
      if (span_holds(c, w)) acc += gplane[y * g.ow + x] / static_cast<T>(avg_divisor(g, r, c));
    }
  }
  return acc;
}

// d loss / d in[p, h, w] of max pooling: the sum of gout over the windows whose argmax it is.
template <typename T>
GC_HOST_DEVICE inline T max_grad(const T* gplane, const int64_t* iplane, const PoolGeom& g, int64_t h, int64_t w) {
  int64_t ylo, yhi, xlo, xhi;
  span_users(h, g.H, g.oh, g.kh, g.sh, g.ph, g.dh, g.adaptive, ylo, yhi);
  span_users(w, g.W, g.ow, g.kw, g.sw, g.pw, g.dw, g.adaptive, xlo, xhi);
  const int64_t pos = h * g.W + w;
  T acc = 0;
  for (int64_t y = ylo; y < yhi; ++y)
    for (int64_t x = xlo; x < xhi; ++x)
      if (iplane[y * g.ow + x] == pos) acc += gplane[y * g.ow + x];
  return acc;
}

}  // namespace gc::kernels
