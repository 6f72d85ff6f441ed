// Fused scaled-dot-product attention (FlashAttention-2 on the CPU); formulas in kernels/attention.h.
//
// Forward: a task is one (batch, block of kRows query rows). It walks the keys kCols at a time:
// the kRows x kCols score block is a small GEMM against the key block packed transposed (the
// inner loop runs over contiguous keys, so it vectorises without reassociating a dot product),
// then an online softmax (exp by SIMD for float, cpu/softmax_rows.h) folds the block into each row's running max m, sum l and output
// accumulator (acc *= exp(m_old - m_new) when the max grows), adding Z_ij P_ij v_j. Only one score
// block is ever in memory: O(kRows * (kCols + Ev)) per task instead of the L x S matrix. Blocks
// wholly above a causal diagonal are skipped. out = acc / l and lse = m + log(l) are written once.
//
// Backward: a task is one batch entry (its dk, dv then need no cross-thread sums). K and V are
// packed transposed once per task; each query row recomputes its scores and dout_i V^T as
// axpys over contiguous keys (as the forward), P = exp(s - lse), and with D_i = <dout_i, out_i>:
//   dv_j += Z_ij P_ij dout_i,  dP_ij = Z_ij <dout_i, v_j>,  dS_ij = P_ij (dP_ij - D_i),
//   dq_i += scale dS_ij k_j,   dk_j += scale dS_ij q_i.
// Tasks run on OpenMP threads once the work passes kParallelGrain (cpu/loops.h).
#include "cpu/attention.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>
#include "cpu/loops.h"
#include "cpu/softmax_rows.h"

#if defined(GRADCORE_OPENMP)
#define GC_ATTN_PRAGMA(x) _Pragma(#x)
#define GC_ATTN_SIMD_SUM(v) GC_ATTN_PRAGMA(omp simd reduction(+ : v))
#else
#define GC_ATTN_SIMD_SUM(v)
#endif

namespace gc::cpu {

namespace {

constexpr int64_t kRows = 32;  // query rows per forward task
constexpr int64_t kCols = 64;  // keys per score block

template <typename T>
T dot(const T* a, const T* b, int64_t n) {
  T acc = 0;
  GC_ATTN_SIMD_SUM(acc)
  for (int64_t e = 0; e < n; ++e) acc += a[e] * b[e];
  return acc;
}

// y += a * x over n contiguous entries.
template <typename T>
void axpy(T* y, T a, const T* x, int64_t n) {
  for (int64_t e = 0; e < n; ++e) y[e] += a * x[e];
}

// x_j = exp(x_j - m) in place; returns sum_j x_j. Float rows take softmax's SIMD exp.
template <typename T>
T exp_shifted(T* x, int64_t n, T m) {
  if constexpr (std::is_same_v<T, float>) {
    return static_cast<T>(rows::sum_exp_f32(x, n, m, x));
  } else {
    T sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += x[j] = std::exp(x[j] - m);
    return sum;
  }
}

template <typename T>
struct ForwardScratch {
  std::vector<T> kt, s, acc, m, l;
  ForwardScratch(const AttentionParams& p)
      : kt(p.E * kCols), s(kRows * kCols), acc(kRows * p.Ev), m(kRows), l(kRows) {}
};

// Rows [i0, i1) of batch entry b.
template <typename T>
void forward_block(T* out, T* lse, const T* q, const T* k, const T* v, const T* mask, const AttentionParams& p,
                   int64_t b, int64_t i0, int64_t i1, ForwardScratch<T>& w) {
  const int64_t E = p.E, Ev = p.Ev, rows = i1 - i0;
  const T neg_inf = -std::numeric_limits<T>::infinity(), scale = static_cast<T>(p.scale);
  std::fill(w.acc.begin(), w.acc.begin() + rows * Ev, T(0));
  std::fill(w.m.begin(), w.m.end(), neg_inf);
  std::fill(w.l.begin(), w.l.end(), T(0));
  const T* qb = q + b * p.L * E;
  const T* kb = k + b * p.S * E;
  const T* vb = v + b * p.S * Ev;
  for (int64_t j0 = 0; j0 < p.S; j0 += kCols) {
    if (p.causal && j0 > i1 - 1) break;
    const int64_t cols = std::min(kCols, p.S - j0);
    for (int64_t jj = 0; jj < cols; ++jj)
      for (int64_t e = 0; e < E; ++e) w.kt[e * cols + jj] = kb[(j0 + jj) * E + e];
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = i0 + r;
      T* s = w.s.data() + r * kCols;
      std::fill(s, s + cols, T(0));
      const T* qi = qb + i * E;
      for (int64_t e = 0; e < E; ++e) axpy(s, qi[e], w.kt.data() + e * cols, cols);
      T mx = neg_inf;
      for (int64_t jj = 0; jj < cols; ++jj) {
        const int64_t j = j0 + jj;
        T x = s[jj] * scale;
        if (mask) x += mask[b * p.mask_sb + i * p.mask_sl + j * p.mask_ss];
        if (p.hidden(i, j)) x = neg_inf;
        s[jj] = x;
        mx = std::max(mx, x);
      }
      const T m_new = std::max(w.m[r], mx);
      if (m_new == neg_inf) continue;  // nothing visible yet in this row
      T* acc = w.acc.data() + r * Ev;
      const T alpha = std::exp(w.m[r] - m_new);
      if (alpha != T(1)) {
        for (int64_t e = 0; e < Ev; ++e) acc[e] *= alpha;
      }
      const T sum = exp_shifted(s, cols, m_new);
      for (int64_t jj = 0; jj < cols; ++jj) {
        const T pz = p.dropout_p > 0.0 ? s[jj] * static_cast<T>(p.dropout_scale(b, i, j0 + jj)) : s[jj];
        if (pz != T(0)) axpy(acc, pz, vb + (j0 + jj) * Ev, Ev);
      }
      w.l[r] = w.l[r] * alpha + sum;
      w.m[r] = m_new;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = i0 + r;
    T* o = out + (b * p.L + i) * Ev;
    const T* acc = w.acc.data() + r * Ev;
    if (w.m[r] == neg_inf) {
      std::fill(o, o + Ev, T(0));
      lse[b * p.L + i] = std::numeric_limits<T>::infinity();
      continue;
    }
    const T inv = T(1) / w.l[r];
    for (int64_t e = 0; e < Ev; ++e) o[e] = acc[e] * inv;
    lse[b * p.L + i] = w.m[r] + std::log(w.l[r]);
  }
}

template <typename T>
void forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
             const Tensor* mask, const AttentionParams& p) {
  const int64_t blocks = (p.L + kRows - 1) / kRows;
  const int64_t work = p.B * p.L * p.S * (p.E + p.Ev);
  T *o = out.data_as<T>(), *ls = lse.data_as<T>();
  const T *qd = q.data_as<T>(), *kd = k.data_as<T>(), *vd = v.data_as<T>();
  const T* md = mask ? mask->data_as<T>() : nullptr;
  for_planes(p.B * blocks, work, [&](int64_t task) {
    ForwardScratch<T> w(p);
    const int64_t b = task / blocks, i0 = (task % blocks) * kRows;
    forward_block(o, ls, qd, kd, vd, md, p, b, i0, std::min(p.L, i0 + kRows), w);
  });
}

template <typename T>
void backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout, const Tensor& q,
              const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, const Tensor* mask,
              const AttentionParams& p) {
  const int64_t L = p.L, S = p.S, E = p.E, Ev = p.Ev;
  const T* md = mask ? mask->data_as<T>() : nullptr;
  const T scale = static_cast<T>(p.scale);
  for_planes(p.B, p.B * L * S * (2 * p.E + 2 * p.Ev), [&](int64_t b) {
    std::vector<T> prow(S), dprow(S), kt(E * S), vt(Ev * S);
    const T* qb = q.data_as<T>() + b * L * E;
    const T* kb = k.data_as<T>() + b * S * E;
    const T* vb = v.data_as<T>() + b * S * Ev;
    const T* ob = out.data_as<T>() + b * L * Ev;
    const T* gb = dout.data_as<T>() + b * L * Ev;
    const T* lb = lse.data_as<T>() + b * L;
    T* dqb = dq.data_as<T>() + b * L * E;
    T* dkb = dk.data_as<T>() + b * S * E;
    T* dvb = dv.data_as<T>() + b * S * Ev;
    for (int64_t j = 0; j < S; ++j) {
      for (int64_t e = 0; e < E; ++e) kt[e * S + j] = kb[j * E + e];
      for (int64_t e = 0; e < Ev; ++e) vt[e * S + j] = vb[j * Ev + e];
    }
    for (int64_t i = 0; i < L; ++i) {
      if (std::isinf(lb[i]) && lb[i] > 0) continue;  // a fully masked row: P = 0
      const T *qi = qb + i * E, *gi = gb + i * Ev;
      const T Di = dot(gi, ob + i * Ev, Ev);
      const int64_t jend = p.causal ? std::min(S, i + 1) : S;
      std::fill(prow.begin(), prow.begin() + jend, T(0));
      std::fill(dprow.begin(), dprow.begin() + jend, T(0));
      for (int64_t e = 0; e < E; ++e) axpy(prow.data(), qi[e], kt.data() + e * S, jend);
      for (int64_t e = 0; e < Ev; ++e) axpy(dprow.data(), gi[e], vt.data() + e * S, jend);
      for (int64_t j = 0; j < jend; ++j) {
        prow[j] *= scale;
        if (md) prow[j] += md[b * p.mask_sb + i * p.mask_sl + j * p.mask_ss];
      }
      exp_shifted(prow.data(), jend, lb[i]);
      for (int64_t j = 0; j < jend; ++j) {
        const T pij = prow[j];
        if (pij == T(0)) continue;
        const T z = static_cast<T>(p.dropout_scale(b, i, j));
        if (z != T(0)) axpy(dvb + j * Ev, pij * z, gi, Ev);
        const T ds = pij * (z * dprow[j] - Di) * scale;
        axpy(dqb + i * E, ds, kb + j * E, E);
        axpy(dkb + j * E, ds, qi, E);
      }
    }
  });
}

}  // namespace

void attention_forward_kernel(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                              const Tensor& v, const Tensor* mask, const AttentionParams& p) {
  if (q.dtype == DType::Float64) forward<double>(out, lse, q, k, v, mask, p);
  else forward<float>(out, lse, q, k, v, mask, p);
}

void attention_backward_kernel(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout,
                               const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const Tensor& lse, const Tensor* mask, const AttentionParams& p) {
  if (q.dtype == DType::Float64) backward<double>(dq, dk, dv, dout, q, k, v, out, lse, mask, p);
  else backward<float>(dq, dk, dv, dout, q, k, v, out, lse, mask, p);
}

}  // namespace gc::cpu
