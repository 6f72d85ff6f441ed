// Softmax and the fused class losses. Every row makes the same three passes over its C entries:
//   1. m = max_c x_c                       (softmax(x) = softmax(x - m), so exp never overflows)
//   2. s = sum_c exp(x_c - m)             (accumulated in double)
//   3. write: softmax = exp(x - m) / s, log_softmax = (x - m) - log(s), or the loss of the row.
// With the class dim last (inner == 1) the loops are unit-stride and the max, sum and scaling
// passes vectorise (`omp simd` lets the compiler reorder the reductions); exp stays scalar libm.
// Otherwise the same code runs with the class stride `inner` (the strided fallback). Rows are
// independent: threads take contiguous blocks of rows once the work passes kParallelGrain, and
// loss sums are merged per block in a fixed order so results do not depend on scheduling.
#include "cpu/softmax.h"
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>
#include "cpu/loops.h"

#ifdef GRADCORE_OPENMP
#define GC_PRAGMA(x) _Pragma(#x)
#define GC_SIMD_MAX(v) GC_PRAGMA(omp simd reduction(max : v))
#define GC_SIMD_SUM(v) GC_PRAGMA(omp simd reduction(+ : v))
#else
#define GC_SIMD_MAX(v)
#define GC_SIMD_SUM(v)
#endif

namespace gc::cpu {

namespace {

// Threads for R rows of C entries: one below the grain, at most one per row.
int row_threads(int64_t R, int64_t C) {
  if (R < 2 || R * std::max<int64_t>(C, 1) < kParallelGrain) return 1;
  return static_cast<int>(std::min<int64_t>(get_num_threads(), R));
}

// Runs fn(r0, r1, t) over nt contiguous blocks of the rows [0, R).
template <typename F>
void run_rows(int64_t R, int nt, F&& fn) {
#ifdef GRADCORE_OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(nt)
    {
      int t = omp_get_thread_num(), T = omp_get_num_threads();
      int64_t chunk = (R + T - 1) / T, r0 = std::min(R, chunk * t), r1 = std::min(R, r0 + chunk);
      fn(r0, r1, t);
    }
    return;
  }
#endif
  fn(int64_t(0), R, 0);
}

// Runs fn(r0, r1) -> LossSums over the rows and adds the blocks' sums in block order.
template <typename F>
LossSums sum_rows(int64_t R, int64_t C, F&& fn) {
  int nt = row_threads(R, C);
  std::vector<LossSums> parts(nt);
  run_rows(R, nt, [&](int64_t r0, int64_t r1, int t) { parts[t] = fn(r0, r1); });
  LossSums total;
  for (auto& p : parts) {
    total.loss += p.loss;
    total.weight += p.weight;
  }
  return total;
}

// One row's C entries with class stride cs; Unit makes the stride a compile-time 1 so the
// loops over it vectorise.
template <typename T, bool Unit>
struct RowRef {
  T* p;
  int64_t cs;
  T& operator[](int64_t c) const { return p[Unit ? c : c * cs]; }
};

template <typename T, bool Unit>
T row_max(RowRef<const T, Unit> x, int64_t C) {
  T m = -std::numeric_limits<T>::infinity();
  GC_SIMD_MAX(m)
  for (int64_t c = 0; c < C; ++c) m = std::max(m, x[c]);
  return m;
}

// Row max and log(sum(exp(x - max))). A NaN anywhere in the row makes the sum NaN, so it
// propagates to every output of the row, as in PyTorch.
template <typename T, bool Unit>
void row_stats(RowRef<const T, Unit> x, int64_t C, T& m, T& logsum) {
  m = row_max(x, C);
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += std::exp(x[c] - m);
  logsum = static_cast<T>(std::log(s));
}

// Calls body(RowRef<...>-typed Unit tag) with Unit = (inner == 1).
template <typename F>
void with_unit(const RowLayout& L, F&& body) {
  if (L.inner == 1) body(std::true_type{});
  else body(std::false_type{});
}

// ---------------------------------------------------------------------------------- softmax

template <typename T, bool Unit>
void softmax_rows(T* out, const T* x, const RowLayout& L, bool log, int64_t r0, int64_t r1) {
  const int64_t C = L.C, cs = L.inner;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = L.base(r);
    RowRef<const T, Unit> xr{x + b, cs};
    RowRef<T, Unit> yr{out + b, cs};
    const T m = row_max(xr, C);
    double s = 0;
    if (log) {
      for (int64_t c = 0; c < C; ++c) s += std::exp(xr[c] - m);
      const T ls = static_cast<T>(std::log(s));
      for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) - ls;  // x - m is exact for the large entries
    } else {
      // Pass 2 stores exp(x - m) in the output, so pass 3 only scales it.
      for (int64_t c = 0; c < C; ++c) {
        const T e = std::exp(xr[c] - m);
        yr[c] = e;
        s += e;
      }
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
    }
  }
}

template <typename T, bool Unit>
void softmax_backward_rows(T* gx, const T* g, const T* y, const RowLayout& L, bool log, int64_t r0, int64_t r1) {
  const int64_t C = L.C, cs = L.inner;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = L.base(r);
    RowRef<const T, Unit> gr{g + b, cs}, yr{y + b, cs};
    RowRef<T, Unit> out{gx + b, cs};
    double acc = 0;
    if (log) {
      // d/dx_j of sum_c g_c (x_c - lse) = g_j - softmax_j * sum_c g_c, softmax = exp(y)
      GC_SIMD_SUM(acc)
      for (int64_t c = 0; c < C; ++c) acc += gr[c];
      const T sg = static_cast<T>(acc);
      for (int64_t c = 0; c < C; ++c) out[c] = gr[c] - std::exp(yr[c]) * sg;
    } else {
      // Jacobian diag(y) - y y^T applied to g: y * (g - <g, y>)
      GC_SIMD_SUM(acc)
      for (int64_t c = 0; c < C; ++c) acc += static_cast<double>(gr[c]) * yr[c];
      const T dot = static_cast<T>(acc);
      for (int64_t c = 0; c < C; ++c) out[c] = yr[c] * (gr[c] - dot);
    }
  }
}

template <typename T>
void softmax_typed(const Tensor& out, const Tensor& x, const RowLayout& L, bool log) {
  T* o = out.data_as<T>();
  const T* xi = x.data_as<T>();
  run_rows(L.rows(), row_threads(L.rows(), L.C), [&](int64_t r0, int64_t r1, int) {
    with_unit(L, [&](auto unit) { softmax_rows<T, decltype(unit)::value>(o, xi, L, log, r0, r1); });
  });
}

template <typename T>
void softmax_backward_typed(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log) {
  T* o = gx.data_as<T>();
  const T *gi = g.data_as<T>(), *yi = y.data_as<T>();
  run_rows(L.rows(), row_threads(L.rows(), L.C), [&](int64_t r0, int64_t r1, int) {
    with_unit(L, [&](auto unit) { softmax_backward_rows<T, decltype(unit)::value>(o, gi, yi, L, log, r0, r1); });
  });
}

// ------------------------------------------------------------ cross-entropy, index targets

template <typename T, bool Unit>
LossSums ce_forward_rows(const T* x, const int64_t* tgt, const T* w, const ClassLossSpec& sp, double* st, T* rows_out,
                         int64_t r0, int64_t r1) {
  const auto& L = sp.L;
  const int64_t C = L.C;
  const double eps = sp.smoothing;
  LossSums acc;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t y = tgt[r];
    if (y == sp.ignore_index) {
      st[2 * r] = st[2 * r + 1] = 0;
      if (rows_out) rows_out[r] = T(0);
      continue;
    }
    RowRef<const T, Unit> xr{x + L.base(r), L.inner};
    T m, ls;
    row_stats(xr, C, m, ls);
    st[2 * r] = m;
    st[2 * r + 1] = ls;
    const double lse = static_cast<double>(m) + ls;
    const double wy = w ? static_cast<double>(w[y]) : 1.0;
    double loss = -wy * (static_cast<double>(xr[y]) - lse);
    if (eps > 0) {
      // smooth = -sum_c w_c log_softmax_c: the cross-entropy against the uniform distribution
      double sm = 0;
      if (w) {
        for (int64_t c = 0; c < C; ++c) sm += static_cast<double>(w[c]) * (static_cast<double>(xr[c]) - lse);
      } else {
        for (int64_t c = 0; c < C; ++c) sm += static_cast<double>(xr[c]) - lse;
      }
      loss = (1.0 - eps) * loss - eps / static_cast<double>(C) * sm;
    }
    if (rows_out) rows_out[r] = static_cast<T>(loss);
    acc.loss += loss;
    acc.weight += wy;
  }
  return acc;
}

template <typename T, bool Unit>
void ce_backward_rows(T* gx, const T* x, const int64_t* tgt, const T* w, double wall, const ClassLossSpec& sp,
                      const double* st, const T* g, int64_t gs, double scale, int64_t r0, int64_t r1) {
  const auto& L = sp.L;
  const int64_t C = L.C;
  const double eps = sp.smoothing;
  for (int64_t r = r0; r < r1; ++r) {
    RowRef<T, Unit> out{gx + L.base(r), L.inner};
    const int64_t y = tgt[r];
    if (y == sp.ignore_index) {
      for (int64_t c = 0; c < C; ++c) out[c] = T(0);
      continue;
    }
    RowRef<const T, Unit> xr{x + L.base(r), L.inner};
    const T m = static_cast<T>(st[2 * r]), ls = static_cast<T>(st[2 * r + 1]);
    const double s = static_cast<double>(g[r * gs]) * scale;
    const double wy = w ? static_cast<double>(w[y]) : 1.0;
    // (1-eps) w_y (p - onehot) + eps/C (p sum(w) - w)  =  k p - b w  - a onehot
    const double a = s * (1.0 - eps) * wy, b = s * eps / static_cast<double>(C);
    const T k = static_cast<T>(a + b * wall), bt = static_cast<T>(b);
    if (w && eps > 0) {
      for (int64_t c = 0; c < C; ++c) out[c] = k * std::exp((xr[c] - m) - ls) - bt * w[c];
    } else {
      for (int64_t c = 0; c < C; ++c) out[c] = k * std::exp((xr[c] - m) - ls) - bt;
    }
    out[y] -= static_cast<T>(a);
  }
}

// --------------------------------------------------------- cross-entropy, probability targets

template <typename T, bool Unit>
LossSums ce_prob_forward_rows(const T* x, const T* t, const T* w, const ClassLossSpec& sp, double* st, T* rows_out,
                              int64_t r0, int64_t r1) {
  const auto& L = sp.L;
  const int64_t C = L.C;
  const double keep = 1.0 - sp.smoothing, spread = sp.smoothing / static_cast<double>(C);
  LossSums acc;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = L.base(r);
    RowRef<const T, Unit> xr{x + b, L.inner}, tr{t + b, L.inner};
    T m, ls;
    row_stats(xr, C, m, ls);
    st[2 * r] = m;
    st[2 * r + 1] = ls;
    const double lse = static_cast<double>(m) + ls;
    double loss = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double tc = keep * tr[c] + spread, wc = w ? static_cast<double>(w[c]) : 1.0;
      loss -= wc * tc * (static_cast<double>(xr[c]) - lse);
    }
    if (rows_out) rows_out[r] = static_cast<T>(loss);
    acc.loss += loss;
  }
  return acc;
}

template <typename T, bool Unit>
void ce_prob_backward_rows(T* gx, T* gt, double* gw, const T* x, const T* t, const T* w, const ClassLossSpec& sp,
                           const double* st, const T* g, int64_t gs, double scale, int64_t r0, int64_t r1) {
  const auto& L = sp.L;
  const int64_t C = L.C;
  const double keep = 1.0 - sp.smoothing, spread = sp.smoothing / static_cast<double>(C);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = L.base(r);
    RowRef<const T, Unit> xr{x + b, L.inner}, tr{t + b, L.inner};
    const T m = static_cast<T>(st[2 * r]), ls = static_cast<T>(st[2 * r + 1]);
    const double s = static_cast<double>(g[r * gs]) * scale;
    // d/dx_c of -sum_j w_j t'_j lp_j = p_c sum_j w_j t'_j - w_c t'_c
    double tw = 0;
    for (int64_t c = 0; c < C; ++c) tw += (w ? static_cast<double>(w[c]) : 1.0) * (keep * tr[c] + spread);
    for (int64_t c = 0; c < C; ++c) {
      const T lp = (xr[c] - m) - ls;
      const double wc = w ? static_cast<double>(w[c]) : 1.0, tc = keep * tr[c] + spread;
      if (gx) gx[b + (Unit ? c : c * L.inner)] = static_cast<T>(s * (std::exp(lp) * tw - wc * tc));
      if (gt) gt[b + (Unit ? c : c * L.inner)] = static_cast<T>(-s * keep * wc * lp);
      if (gw) gw[c] -= s * tc * lp;
    }
  }
}

template <typename T>
const T* weight_ptr(const ClassLossSpec& sp) {
  return sp.weight ? sp.weight->data_as<T>() : nullptr;
}

template <typename T>
T* rows_ptr(const Tensor* rows_out) {
  return rows_out ? rows_out->data_as<T>() : nullptr;
}

}  // namespace

void softmax_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, bool log) {
  if (out.numel() == 0) return;
  GC_DISPATCH_FLOAT(x.dtype, "softmax", [&] { softmax_typed<scalar_t>(out, x, L, log); });
}

void softmax_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log) {
  if (gx.numel() == 0) return;
  GC_DISPATCH_FLOAT(y.dtype, "softmax_backward", [&] { softmax_backward_typed<scalar_t>(gx, g, y, L, log); });
}

LossSums cross_entropy_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& sp, const Tensor& stats,
                               const Tensor* rows_out) {
  return GC_DISPATCH_FLOAT(x.dtype, "cross_entropy", [&] {
    using T = scalar_t;
    const T* xi = x.data_as<T>();
    const int64_t* ti = target.data_as<int64_t>();
    const T* w = weight_ptr<T>(sp);
    T* ro = rows_ptr<T>(rows_out);
    double* st = stats.data_as<double>();
    return sum_rows(sp.L.rows(), sp.L.C, [&](int64_t r0, int64_t r1) {
      LossSums s;
      with_unit(sp.L, [&](auto unit) { s = ce_forward_rows<T, decltype(unit)::value>(xi, ti, w, sp, st, ro, r0, r1); });
      return s;
    });
  });
}

void cross_entropy_backward(const Tensor& gx, const Tensor& x, const Tensor& target, const ClassLossSpec& sp,
                            const Tensor& stats, const Tensor& g, int64_t g_stride, double scale) {
  GC_DISPATCH_FLOAT(x.dtype, "cross_entropy_backward", [&] {
    using T = scalar_t;
    T* o = gx.data_as<T>();
    const T* xi = x.data_as<T>();
    const int64_t* ti = target.data_as<int64_t>();
    const T* w = weight_ptr<T>(sp);
    const T* gi = g.data_as<T>();
    const double* st = stats.data_as<double>();
    double wall = w ? 0.0 : static_cast<double>(sp.L.C);  // sum of the class weights
    if (w)
      for (int64_t c = 0; c < sp.L.C; ++c) wall += w[c];
    run_rows(sp.L.rows(), row_threads(sp.L.rows(), sp.L.C), [&](int64_t r0, int64_t r1, int) {
      with_unit(sp.L, [&](auto unit) {
        ce_backward_rows<T, decltype(unit)::value>(o, xi, ti, w, wall, sp, st, gi, g_stride, scale, r0, r1);
      });
    });
  });
}

LossSums cross_entropy_prob_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& sp,
                                    const Tensor& stats, const Tensor* rows_out) {
  return GC_DISPATCH_FLOAT(x.dtype, "cross_entropy", [&] {
    using T = scalar_t;
    const T *xi = x.data_as<T>(), *ti = target.data_as<T>();
    const T* w = weight_ptr<T>(sp);
    T* ro = rows_ptr<T>(rows_out);
    double* st = stats.data_as<double>();
    return sum_rows(sp.L.rows(), sp.L.C, [&](int64_t r0, int64_t r1) {
      LossSums s;
      with_unit(sp.L, [&](auto unit) { s = ce_prob_forward_rows<T, decltype(unit)::value>(xi, ti, w, sp, st, ro, r0, r1); });
      return s;
    });
  });
}

void cross_entropy_prob_backward(const Tensor* gx, const Tensor* gt, const Tensor* gw, const Tensor& x,
                                 const Tensor& target, const ClassLossSpec& sp, const Tensor& stats, const Tensor& g,
                                 int64_t g_stride, double scale) {
  GC_DISPATCH_FLOAT(x.dtype, "cross_entropy_backward", [&] {
    using T = scalar_t;
    T* ox = gx ? gx->data_as<T>() : nullptr;
    T* ot = gt ? gt->data_as<T>() : nullptr;
    const T *xi = x.data_as<T>(), *ti = target.data_as<T>(), *gi = g.data_as<T>();
    const T* w = weight_ptr<T>(sp);
    const double* st = stats.data_as<double>();
    const int64_t R = sp.L.rows(), C = sp.L.C;
    const int nt = row_threads(R, C);
    // The weight's gradient sums over rows: each block accumulates its own copy, merged in order.
    std::vector<double> gw_parts(gw ? static_cast<size_t>(nt * C) : 0, 0.0);
    run_rows(R, nt, [&](int64_t r0, int64_t r1, int t) {
      double* gwp = gw ? gw_parts.data() + t * C : nullptr;
      with_unit(sp.L, [&](auto unit) {
        ce_prob_backward_rows<T, decltype(unit)::value>(ox, ot, gwp, xi, ti, w, sp, st, gi, g_stride, scale, r0, r1);
      });
    });
    if (gw) {
      T* o = gw->data_as<T>();
      for (int64_t c = 0; c < C; ++c) {
        double s = 0;
        for (int t = 0; t < nt; ++t) s += gw_parts[t * C + c];
        o[c] = static_cast<T>(s);
      }
    }
  });
}

LossSums nll_loss_forward(const Tensor& logp, const Tensor& target, const ClassLossSpec& sp, const Tensor* rows_out) {
  return GC_DISPATCH_FLOAT(logp.dtype, "nll_loss", [&] {
    using T = scalar_t;
    const T* xi = logp.data_as<T>();
    const int64_t* ti = target.data_as<int64_t>();
    const T* w = weight_ptr<T>(sp);
    T* ro = rows_ptr<T>(rows_out);
    const auto& L = sp.L;
    return sum_rows(L.rows(), 1, [&](int64_t r0, int64_t r1) {
      LossSums acc;
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t y = ti[r];
        double loss = 0;
        if (y != sp.ignore_index) {
          const double wy = w ? static_cast<double>(w[y]) : 1.0;
          loss = -wy * static_cast<double>(xi[L.base(r) + y * L.inner]);
          acc.loss += loss;
          acc.weight += wy;
        }
        if (ro) ro[r] = static_cast<T>(loss);
      }
      return acc;
    });
  });
}

void nll_loss_backward(const Tensor& gx, const Tensor& target, const ClassLossSpec& sp, const Tensor& g,
                       int64_t g_stride, double scale) {
  GC_DISPATCH_FLOAT(gx.dtype, "nll_loss_backward", [&] {
    using T = scalar_t;
    T* o = gx.data_as<T>();
    std::memset(static_cast<void*>(o), 0, static_cast<size_t>(gx.numel()) * sizeof(T));
    const int64_t* ti = target.data_as<int64_t>();
    const T* w = weight_ptr<T>(sp);
    const T* gi = g.data_as<T>();
    const auto& L = sp.L;
    run_rows(L.rows(), row_threads(L.rows(), 1), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t y = ti[r];
        if (y == sp.ignore_index) continue;
        const double wy = w ? static_cast<double>(w[y]) : 1.0;
        o[L.base(r) + y * L.inner] = static_cast<T>(-static_cast<double>(gi[r * g_stride]) * scale * wy);
      }
    });
  });
}

}  // namespace gc::cpu
