// The fused class losses: cross_entropy with class-index or class-probability targets, and
// nll_loss. The forward makes the softmax passes per row (max, sum of exp, then the row's loss
// from the log-sum-exp, never materialising log_softmax) and keeps each row's max and log-sum
// for the backward, which rebuilds softmax on the fly and writes the gradient in one pass.
// [N, C] logits take the unit-stride path, vectorised at the CPU's widest ISA (cpu/loops.h) with
// kernels/fast_math.h's exp; for [N, C, d1, ...] a row is strided by the
// spatial size, so index targets run on tiles of adjacent samples and probability targets run
// the row code with the stride and libm's exp. Loss sums are merged per block of rows
// in a fixed order, so results do not depend on how the rows were scheduled.
// 16-bit logits (and probability targets, weights, incoming gradients) run the float code with
// T = float on storage S: a row (or tile) is widened into float scratch as it is needed, and
// every 16-bit result is the float result rounded once, so the numbers are those of the float32
// kernels on the widened values.
#include <cstring>
#include "cpu/class_loss.h"
#include "cpu/softmax_rows.h"

namespace gc::cpu {

namespace {

using namespace rows;

template <typename T, typename S>
constexpr bool kWiden = !std::is_same_v<T, S>;  // 16-bit storage S, float compute T

// Row `base` of x (class stride cs) in the compute type: the tensor's own row, or for 16-bit
// storage the row widened into scratch (contiguous; Unit is kept, so the float code takes the
// path it takes on the tensor, and RowRef's stride of 1 reads the scratch).
template <typename T, bool Unit, typename S>
RowRef<const T, Unit> load_row(const S* x, int64_t base, int64_t C, int64_t cs, T* scratch) {
  if constexpr (kWiden<T, S>) {
    widen_run(scratch, x + base, C, Unit ? 1 : cs);
    return {scratch, 1};
  } else {
    (void)C;
    (void)scratch;
    return {x + base, cs};
  }
}

// A value of storage type S in the compute type T.
template <typename T, typename S>
inline T load(S v) {
  return static_cast<T>(v);
}

// The cross-entropy gradient row: out = k * exp((x - m) - ls) - b * w (w null: 1).
void ce_grad_f32(float* out, const float* x, int64_t C, float m, float ls, float k, float b, const float* w) {
  if (w) index_loop_widest([=](int64_t c) { out[c] = k * math::fast::exp((x[c] - m) - ls) - w[c] * b; }, C);
  else index_loop_widest([=](int64_t c) { out[c] = k * math::fast::exp((x[c] - m) - ls) - b; }, C);
}

// ------------------------------------------------------------ cross-entropy, index targets

template <typename T, typename S, bool Unit>
LossSums ce_forward_rows(const S* x, const int64_t* tgt, const T* w, const ClassLossSpec& sp, double* st, S* rows_out,
                         int64_t r0, int64_t r1, T* scratch) {
  const auto& L = sp.L;
  const int64_t C = L.C;
  const double eps = sp.smoothing;
  LossSums acc;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t y = tgt[r];
    if (y == sp.ignore_index) {
      st[2 * r] = st[2 * r + 1] = 0;
      if (rows_out) rows_out[r] = S(0);
      continue;
    }
    const RowRef<const T, Unit> xr = load_row<T, Unit>(x, L.base(r), C, L.inner, scratch);
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
    if (rows_out) rows_out[r] = static_cast<S>(static_cast<T>(loss));
    acc.loss += loss;
    acc.weight += wy;
  }
  return acc;
}

// xs, os: scratch rows for 16-bit storage (the widened logits, the float gradient).
template <typename T, typename S, bool Unit>
void ce_backward_rows(S* gx, const S* x, const int64_t* tgt, const T* w, double wall, const ClassLossSpec& sp,
                      const double* st, const S* g, int64_t gs, double scale, int64_t r0, int64_t r1, T* xs, T* os) {
  const auto& L = sp.L;
  const int64_t C = L.C;
  const double eps = sp.smoothing;
  for (int64_t r = r0; r < r1; ++r) {
    const RowRef<S, Unit> gxr{gx + L.base(r), L.inner};
    const int64_t y = tgt[r];
    if (y == sp.ignore_index) {
      for (int64_t c = 0; c < C; ++c) gxr[c] = S(0);
      continue;
    }
    const RowRef<T, Unit> out = [&] {
      if constexpr (kWiden<T, S>) return RowRef<T, Unit>{os, 1};
      else return gxr;
    }();
    const RowRef<const T, Unit> xr = load_row<T, Unit>(x, L.base(r), C, L.inner, xs);
    const T m = static_cast<T>(st[2 * r]), ls = static_cast<T>(st[2 * r + 1]);
    const double s = static_cast<double>(load<T>(g[r * gs])) * scale;
    const double wy = w ? static_cast<double>(w[y]) : 1.0;
    // (1-eps) w_y (p - onehot) + eps/C (p sum(w) - w)  =  k p - b w  - a onehot
    const double a = s * (1.0 - eps) * wy, b = s * eps / static_cast<double>(C);
    const T k = static_cast<T>(a + b * wall), bt = static_cast<T>(b);
    if constexpr (kVecRow<T, Unit>) {
      ce_grad_f32(out.p, xr.p, C, m, ls, k, bt, w && eps > 0 ? w : nullptr);
    } else if (w && eps > 0) {
      for (int64_t c = 0; c < C; ++c) out[c] = k * std::exp((xr[c] - m) - ls) - bt * w[c];
    } else {
      for (int64_t c = 0; c < C; ++c) out[c] = k * std::exp((xr[c] - m) - ls) - bt;
    }
    out[y] -= static_cast<T>(a);
    if constexpr (kWiden<T, S>) narrow_run(gxr.p, os, C, Unit ? 1 : L.inner);
  }
}

// Index targets with the class dim not last ([N, C, d1, ...]): the same math on tiles of adjacent
// samples, vectorised across the samples (see softmax_rows.h). Every sample's statistics are
// computed, ignored ones included, so that the backward's exp stays finite; ignored samples then
// get zero loss and zero gradient. Pointers are at the tile's first entry (x, gx) and first
// sample (tgt, st, rows_out, g); S is the class stride. 16-bit logits come widened into a float
// tile packed with class stride B; rows_out (R) and g (G) are of the storage type.
template <typename T, typename R>
LossSums ce_forward_tile(const T* x, const int64_t* tgt, const T* w, const ClassLossSpec& sp, double* st, R* rows_out,
                         int64_t S, int64_t B) {
  const int64_t C = sp.L.C;
  const double eps = sp.smoothing;
  T m[kTile];
  double sum[kTile], lse[kTile], sm[kTile];
  tile_max_sum_exp(x, C, S, B, m, sum, static_cast<T*>(nullptr));
  for (int64_t j = 0; j < B; ++j) {
    const T ls = static_cast<T>(std::log(sum[j]));
    st[2 * j] = m[j];
    st[2 * j + 1] = ls;
    lse[j] = static_cast<double>(m[j]) + ls;
    sm[j] = 0;
  }
  if (eps > 0) {
    for (int64_t c = 0; c < C; ++c) {
      const T* xc = x + c * S;
      const double wc = w ? static_cast<double>(w[c]) : 1.0;
      for (int64_t j = 0; j < B; ++j) sm[j] += wc * (static_cast<double>(xc[j]) - lse[j]);
    }
  }
  LossSums acc;
  for (int64_t j = 0; j < B; ++j) {
    const int64_t y = tgt[j];
    double loss = 0;
    if (y != sp.ignore_index) {
      const double wy = w ? static_cast<double>(w[y]) : 1.0;
      loss = -wy * (static_cast<double>(x[y * S + j]) - lse[j]);
      if (eps > 0) loss = (1.0 - eps) * loss - eps / static_cast<double>(C) * sm[j];
      acc.loss += loss;
      acc.weight += wy;
    }
    if (rows_out) rows_out[j] = static_cast<R>(static_cast<T>(loss));
  }
  return acc;
}

// out[j] = k[j] * exp((x[j] - m[j]) - ls[j]) - b[j] * wc across a tile.
template <typename T>
void ce_grad_tile(T* out, const T* x, const T* m, const T* ls, const T* k, const T* b, T wc, int64_t B) {
  if constexpr (std::is_same_v<T, float>) {
    index_loop_widest([=](int64_t j) { out[j] = k[j] * math::fast::exp((x[j] - m[j]) - ls[j]) - b[j] * wc; }, B);
  } else {
    for (int64_t j = 0; j < B; ++j) out[j] = k[j] * std::exp((x[j] - m[j]) - ls[j]) - b[j] * wc;
  }
}

template <typename T, typename G>
void ce_backward_tile(T* gx, const T* x, const int64_t* tgt, const T* w, double wall, const ClassLossSpec& sp,
                      const double* st, const G* g, int64_t gs, double scale, int64_t S, int64_t B) {
  const int64_t C = sp.L.C;
  const double eps = sp.smoothing;
  T m[kTile], ls[kTile], k[kTile], b[kTile], a[kTile];
  for (int64_t j = 0; j < B; ++j) {
    m[j] = static_cast<T>(st[2 * j]);
    ls[j] = static_cast<T>(st[2 * j + 1]);
    k[j] = b[j] = a[j] = T(0);
    const int64_t y = tgt[j];
    if (y == sp.ignore_index) continue;
    const double s = static_cast<double>(load<T>(g[j * gs])) * scale;
    const double wy = w ? static_cast<double>(w[y]) : 1.0;
    const double aj = s * (1.0 - eps) * wy, bj = s * eps / static_cast<double>(C);
    a[j] = static_cast<T>(aj);
    b[j] = static_cast<T>(bj);
    k[j] = static_cast<T>(aj + bj * wall);
  }
  for (int64_t c = 0; c < C; ++c) ce_grad_tile(gx + c * S, x + c * S, m, ls, k, b, w && eps > 0 ? w[c] : T(1), B);
  for (int64_t j = 0; j < B; ++j) {
    const int64_t y = tgt[j];
    if (y != sp.ignore_index) {
      gx[y * S + j] -= a[j];
    } else {
      for (int64_t c = 0; c < C; ++c) gx[c * S + j] = T(0);
    }
  }
}

// --------------------------------------------------------- cross-entropy, probability targets

template <typename T, typename S, bool Unit>
LossSums ce_prob_forward_rows(const S* x, const S* t, const T* w, const ClassLossSpec& sp, double* st, S* rows_out,
                              int64_t r0, int64_t r1, T* xs, T* ts) {
  const auto& L = sp.L;
  const int64_t C = L.C;
  const double keep = 1.0 - sp.smoothing, spread = sp.smoothing / static_cast<double>(C);
  LossSums acc;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = L.base(r);
    const RowRef<const T, Unit> xr = load_row<T, Unit>(x, b, C, L.inner, xs), tr = load_row<T, Unit>(t, b, C, L.inner, ts);
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
    if (rows_out) rows_out[r] = static_cast<S>(static_cast<T>(loss));
    acc.loss += loss;
  }
  return acc;
}

template <typename T, typename S, bool Unit>
void ce_prob_backward_rows(S* gx, S* gt, double* gw, const S* x, const S* t, const T* w, const ClassLossSpec& sp,
                           const double* st, const S* g, int64_t gs, double scale, int64_t r0, int64_t r1, T* xs,
                           T* ts) {
  const auto& L = sp.L;
  const int64_t C = L.C;
  const double keep = 1.0 - sp.smoothing, spread = sp.smoothing / static_cast<double>(C);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = L.base(r);
    const RowRef<const T, Unit> xr = load_row<T, Unit>(x, b, C, L.inner, xs), tr = load_row<T, Unit>(t, b, C, L.inner, ts);
    const T m = static_cast<T>(st[2 * r]), ls = static_cast<T>(st[2 * r + 1]);
    const double s = static_cast<double>(load<T>(g[r * gs])) * scale;
    // d/dx_c of -sum_j w_j t'_j lp_j = p_c sum_j w_j t'_j - w_c t'_c
    double tw = 0;
    for (int64_t c = 0; c < C; ++c) tw += (w ? static_cast<double>(w[c]) : 1.0) * (keep * tr[c] + spread);
    for (int64_t c = 0; c < C; ++c) {
      const T lp = (xr[c] - m) - ls;
      const double wc = w ? static_cast<double>(w[c]) : 1.0, tc = keep * tr[c] + spread;
      if (gx) gx[b + (Unit ? c : c * L.inner)] = static_cast<S>(static_cast<T>(s * (std::exp(lp) * tw - wc * tc)));
      if (gt) gt[b + (Unit ? c : c * L.inner)] = static_cast<S>(static_cast<T>(-s * keep * wc * lp));
      if (gw) gw[c] -= s * tc * lp;
    }
  }
}

// The class weights in the compute type (16-bit ones widened into buf), or null.
template <typename T, typename S>
const T* weight_ptr(const ClassLossSpec& sp, std::vector<T>& buf) {
  if (!sp.weight) return nullptr;
  if constexpr (kWiden<T, S>) {
    buf.resize(static_cast<size_t>(sp.weight->numel()));
    widen_run(buf.data(), sp.weight->data_as<S>(), sp.weight->numel());
    return buf.data();
  } else {
    return sp.weight->data_as<T>();
  }
}

template <typename T>
T* rows_ptr(const Tensor* rows_out) {
  return rows_out ? rows_out->data_as<T>() : nullptr;
}

// A scratch row of n compute values for 16-bit storage (none otherwise).
template <typename T, typename S>
std::vector<T> scratch_row(int64_t n) {
  return std::vector<T>(kWiden<T, S> ? static_cast<size_t>(n) : 0);
}

}  // namespace

LossSums cross_entropy_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& sp, const Tensor& stats,
                               const Tensor* rows_out) {
  return dispatch_float_opmath(x.dtype, "cross_entropy", [&](auto t_, auto s_) {
    using T = decltype(t_);
    using S = decltype(s_);
    const S* xi = x.data_as<S>();
    const int64_t* ti = target.data_as<int64_t>();
    std::vector<T> wbuf;
    const T* w = weight_ptr<T, S>(sp, wbuf);
    S* ro = rows_ptr<S>(rows_out);
    double* st = stats.data_as<double>();
    const RowLayout& L = sp.L;
    if (L.inner == 1)
      return sum_rows(L.rows(), L.C, [&](int64_t r0, int64_t r1) {
        auto xs = scratch_row<T, S>(L.C);
        return ce_forward_rows<T, S, true>(xi, ti, w, sp, st, ro, r0, r1, xs.data());
      });
    std::vector<LossSums> parts(tile_threads(L));
    std::vector<std::vector<T>> bufs(parts.size());
    for_each_tile(L, [&](int64_t off, int64_t row, int64_t B, int t) {
      double* tst = st + 2 * row;
      S* tro = ro ? ro + row : nullptr;
      LossSums s;
      if constexpr (kWiden<T, S>) {  // the tile widened and packed with class stride B
        bufs[t].resize(static_cast<size_t>(L.C * kTile));
        for (int64_t c = 0; c < L.C; ++c) widen_run(bufs[t].data() + c * B, xi + off + c * L.inner, B);
        s = ce_forward_tile<T>(bufs[t].data(), ti + row, w, sp, tst, tro, B, B);
      } else {
        s = ce_forward_tile<T>(xi + off, ti + row, w, sp, tst, tro, L.inner, B);
      }
      parts[t].loss += s.loss;
      parts[t].weight += s.weight;
    });
    LossSums total;
    for (auto& p : parts) {
      total.loss += p.loss;
      total.weight += p.weight;
    }
    return total;
  });
}

void cross_entropy_backward(const Tensor& gx, const Tensor& x, const Tensor& target, const ClassLossSpec& sp,
                            const Tensor& stats, const Tensor& g, int64_t g_stride, double scale) {
  dispatch_float_opmath(x.dtype, "cross_entropy_backward", [&](auto t_, auto s_) {
    using T = decltype(t_);
    using S = decltype(s_);
    S* o = gx.data_as<S>();
    const S* xi = x.data_as<S>();
    const int64_t* ti = target.data_as<int64_t>();
    std::vector<T> wbuf;
    const T* w = weight_ptr<T, S>(sp, wbuf);
    const S* gi = g.data_as<S>();
    const double* st = stats.data_as<double>();
    double wall = w ? 0.0 : static_cast<double>(sp.L.C);  // sum of the class weights
    if (w)
      for (int64_t c = 0; c < sp.L.C; ++c) wall += w[c];
    const RowLayout& L = sp.L;
    if (L.inner == 1) {
      run_rows(L.rows(), row_threads(L.rows(), L.C), [&](int64_t r0, int64_t r1, int) {
        auto xs = scratch_row<T, S>(L.C), os = scratch_row<T, S>(L.C);
        ce_backward_rows<T, S, true>(o, xi, ti, w, wall, sp, st, gi, g_stride, scale, r0, r1, xs.data(), os.data());
      });
    } else {
      std::vector<std::vector<T>> bufs(static_cast<size_t>(tile_threads(L)));
      for_each_tile(L, [&](int64_t off, int64_t row, int64_t B, int t) {
        const S* tg = gi + row * g_stride;
        if constexpr (kWiden<T, S>) {  // widened and packed with class stride B; the gradient in place
          T* buf = (bufs[t].resize(static_cast<size_t>(L.C * kTile)), bufs[t].data());
          for (int64_t c = 0; c < L.C; ++c) widen_run(buf + c * B, xi + off + c * L.inner, B);
          ce_backward_tile<T>(buf, buf, ti + row, w, wall, sp, st + 2 * row, tg, g_stride, scale, B, B);
          for (int64_t c = 0; c < L.C; ++c) narrow_run(o + off + c * L.inner, buf + c * B, B);
        } else {
          ce_backward_tile<T>(o + off, xi + off, ti + row, w, wall, sp, st + 2 * row, tg, g_stride, scale, L.inner, B);
        }
      });
    }
  });
}

LossSums cross_entropy_prob_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& sp,
                                    const Tensor& stats, const Tensor* rows_out) {
  return dispatch_float_opmath(x.dtype, "cross_entropy", [&](auto t_, auto s_) {
    using T = decltype(t_);
    using S = decltype(s_);
    const S *xi = x.data_as<S>(), *ti = target.data_as<S>();
    std::vector<T> wbuf;
    const T* w = weight_ptr<T, S>(sp, wbuf);
    S* ro = rows_ptr<S>(rows_out);
    double* st = stats.data_as<double>();
    return sum_rows(sp.L.rows(), sp.L.C, [&](int64_t r0, int64_t r1) {
      auto xs = scratch_row<T, S>(sp.L.C), ts = scratch_row<T, S>(sp.L.C);
      LossSums s;
      with_unit(sp.L, [&](auto unit) {
        s = ce_prob_forward_rows<T, S, decltype(unit)::value>(xi, ti, w, sp, st, ro, r0, r1, xs.data(), ts.data());
      });
      return s;
    });
  });
}

void cross_entropy_prob_backward(const Tensor* gx, const Tensor* gt, const Tensor* gw, const Tensor& x,
                                 const Tensor& target, const ClassLossSpec& sp, const Tensor& stats, const Tensor& g,
                                 int64_t g_stride, double scale) {
  dispatch_float_opmath(x.dtype, "cross_entropy_backward", [&](auto t_, auto s_) {
    using T = decltype(t_);
    using S = decltype(s_);
    S* ox = gx ? gx->data_as<S>() : nullptr;
    S* ot = gt ? gt->data_as<S>() : nullptr;
    const S *xi = x.data_as<S>(), *ti = target.data_as<S>(), *gi = g.data_as<S>();
    std::vector<T> wbuf;
    const T* w = weight_ptr<T, S>(sp, wbuf);
    const double* st = stats.data_as<double>();
    const int64_t R = sp.L.rows(), C = sp.L.C;
    const int nt = row_threads(R, C);
    // The weight's gradient sums over rows: each block accumulates its own copy, merged in order.
    std::vector<double> gw_parts(gw ? static_cast<size_t>(nt * C) : 0, 0.0);
    run_rows(R, nt, [&](int64_t r0, int64_t r1, int t) {
      double* gwp = gw ? gw_parts.data() + t * C : nullptr;
      auto xs = scratch_row<T, S>(C), ts = scratch_row<T, S>(C);
      with_unit(sp.L, [&](auto unit) {
        ce_prob_backward_rows<T, S, decltype(unit)::value>(ox, ot, gwp, xi, ti, w, sp, st, gi, g_stride, scale, r0, r1,
                                                           xs.data(), ts.data());
      });
    });
    if (gw) {
      S* o = gw->data_as<S>();
      for (int64_t c = 0; c < C; ++c) {
        double s = 0;
        for (int t = 0; t < nt; ++t) s += gw_parts[t * C + c];
        o[c] = static_cast<S>(static_cast<T>(s));
      }
    }
  });
}

LossSums nll_loss_forward(const Tensor& logp, const Tensor& target, const ClassLossSpec& sp, const Tensor* rows_out) {
  return dispatch_float_opmath(logp.dtype, "nll_loss", [&](auto t_, auto s_) {
    using T = decltype(t_);
    using S = decltype(s_);
    const S* xi = logp.data_as<S>();
    const int64_t* ti = target.data_as<int64_t>();
    std::vector<T> wbuf;
    const T* w = weight_ptr<T, S>(sp, wbuf);
    S* ro = rows_ptr<S>(rows_out);
    const auto& L = sp.L;
    return sum_rows(L.rows(), 1, [&](int64_t r0, int64_t r1) {
      LossSums acc;
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t y = ti[r];
        double loss = 0;
        if (y != sp.ignore_index) {
          const double wy = w ? static_cast<double>(w[y]) : 1.0;
          loss = -wy * static_cast<double>(load<T>(xi[L.base(r) + y * L.inner]));
          acc.loss += loss;
          acc.weight += wy;
        }
        if (ro) ro[r] = static_cast<S>(static_cast<T>(loss));
      }
      return acc;
    });
  });
}

void nll_loss_backward(const Tensor& gx, const Tensor& target, const ClassLossSpec& sp, const Tensor& g,
                       int64_t g_stride, double scale) {
  dispatch_float_opmath(gx.dtype, "nll_loss_backward", [&](auto t_, auto s_) {
    using T = decltype(t_);
    using S = decltype(s_);
    S* o = gx.data_as<S>();
    std::memset(static_cast<void*>(o), 0, static_cast<size_t>(gx.numel()) * sizeof(S));  // +0 in every dtype
    const int64_t* ti = target.data_as<int64_t>();
    std::vector<T> wbuf;
    const T* w = weight_ptr<T, S>(sp, wbuf);
    const S* gi = g.data_as<S>();
    const auto& L = sp.L;
    run_rows(L.rows(), row_threads(L.rows(), 1), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t y = ti[r];
        if (y == sp.ignore_index) continue;
        const double wy = w ? static_cast<double>(w[y]) : 1.0;
        o[L.base(r) + y * L.inner] =
            static_cast<S>(static_cast<T>(-static_cast<double>(load<T>(gi[r * g_stride])) * scale * wy));
      }
    });
  });
}

}  // namespace gc::cpu
