// Fused scaled-dot-product attention (FlashAttention-2 on the CPU); formulas in kernels/attention.h.
//
// A task is one batch entry (all leading dims flattened): its dk and dv then need no cross-thread
// sums. Tasks run on OpenMP threads (gradcore.set_num_threads) once the work passes
// kParallelGrain (cpu/loops.h). Each task packs K^T (and V^T for the backward) once, then walks
// blocks of kRows query rows by kCols keys; only one such score block is ever in memory, never the
// L x S matrix. Under is_causal a row block stops at its last row's diagonal, so blocks wholly
// above it are never computed.
//
// Forward, per row block: S = Q_I K_J^T (scaled, masked), then an online softmax folds each block
// into the rows' running max m, sum l and output accumulator (acc *= exp(m_old - m_new) when the
// max grows; acc += (Z P) V_J); out = acc / l and lse = m + log(l) are written once.
//
// Backward, per block: P = exp(S - lse) recomputed, dP = Z dO_I V_J^T, D_i = <dout_i, out_i>,
//   dS = P (dP - D) scale,  dV_J += (Z P)^T dO_I,  dQ_I += dS K_J,  dK_J += dS^T Q_I.
//
// All five products go through attn::gemm (cpu/attention_tiles.h), a register-blocked kernel over
// 4 rows x up to 4 vectors, and the exp through fast_math's call-free float exp, both compiled
// once per ISA (AVX-512, AVX2, the baseline) and picked by cpu_isa(). Every copy gives the same
// bits (see cpu/attention_tiles.h).
#include "cpu/attention.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>
#include "cpu/attention_tiles.h"
#include "cpu/isa.h"
#include "cpu/loops.h"
#include "kernels/fast_math.h"

namespace gc::cpu {

namespace {

constexpr int64_t kRows = 16;  // query rows per block
constexpr int64_t kCols = 64;  // keys per score block

// e^x: fast_math's float exp (call-free, so the row loops vectorise), libm's for double.
template <typename T>
GC_ATTN_INLINE T exp_of(T x) {
  if constexpr (std::is_same_v<T, float>) return math::fast::exp(x);
  else return std::exp(x);
}

// One batch entry: its operands (contiguous, already offset to entry b) and its scratch.
template <typename T>
struct Entry {
  const AttentionParams* p;
  int64_t b;
  const T *q, *k, *v;
  const T* mask;                 // offset by b * mask_sb; null without a mask
  T *out, *lse;                  // written by the forward, read by the backward
  const T* dout;                 // backward only
  T *dq, *dk, *dv;               // backward only
  T *kt, *vt, *s, *dp, *acc, *m, *l, *d;  // scratch: K^T, V^T, two score blocks, row state

  // One buffer holds all the scratch; carve() points the scratch fields into it.
  static int64_t scratch_size(const AttentionParams& p) {
    return (p.E + p.Ev) * p.S + 2 * kRows * kCols + kRows * p.Ev + 2 * kRows + p.L;
  }
  void carve(T* w) {
    const AttentionParams& P = *p;
    kt = w;
    vt = kt + P.E * P.S;
    s = vt + P.Ev * P.S;
    dp = s + kRows * kCols;
    acc = dp + kRows * kCols;
    m = acc + kRows * P.Ev;
    l = m + kRows;
    d = l + kRows;
  }
};

// dst[c * n + j] = src[j * w + c]: an n x w matrix transposed. Float goes in 4 x 4 blocks through
// registers (4 row loads, 8 shuffles, 4 column stores): element by element, the strided stores cost
// a tenth of the forward's time at bench_gpt's shape. The edges and double go element by element.
template <typename T>
GC_ATTN_INLINE void pack_transposed(const T* src, int64_t n, int64_t w, T* dst) {
  int64_t n4 = 0, w4 = 0;
  if constexpr (std::is_same_v<T, float>) {
    typedef float V4 __attribute__((vector_size(16)));
    typedef int32_t I4 __attribute__((vector_size(16)));
    n4 = n / 4 * 4;
    w4 = w / 4 * 4;
    for (int64_t j = 0; j < n4; j += 4)
      for (int64_t c = 0; c < w4; c += 4) {
        V4 r[4];
        for (int q = 0; q < 4; ++q) std::memcpy(&r[q], src + (j + q) * w + c, sizeof(V4));
        const V4 t0 = __builtin_shuffle(r[0], r[1], I4{0, 4, 1, 5}), t1 = __builtin_shuffle(r[0], r[1], I4{2, 6, 3, 7});
        const V4 t2 = __builtin_shuffle(r[2], r[3], I4{0, 4, 1, 5}), t3 = __builtin_shuffle(r[2], r[3], I4{2, 6, 3, 7});
        const V4 col[4] = {__builtin_shuffle(t0, t2, I4{0, 1, 4, 5}), __builtin_shuffle(t0, t2, I4{2, 3, 6, 7}),
                           __builtin_shuffle(t1, t3, I4{0, 1, 4, 5}), __builtin_shuffle(t1, t3, I4{2, 3, 6, 7})};
        for (int q = 0; q < 4; ++q) std::memcpy(dst + (c + q) * n + j, &col[q], sizeof(V4));
      }
  }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = j < n4 ? w4 : 0; c < w; ++c) dst[c * n + j] = src[j * w + c];
}

// Row i of a score block (keys j0 .. j0 + cols): x_j = scale * x_j + mask_ij, -inf where causal
// hides j > i. One pass of whole-vector stores: a separate loop storing the -inf tail scalar by
// scalar made the next vector load of the row wait on store forwarding.
template <typename T>
GC_ATTN_INLINE void finish_scores(T* x, int64_t cols, int64_t i, int64_t j0, const Entry<T>& e) {
  const AttentionParams& p = *e.p;
  const T scale = static_cast<T>(p.scale), neg_inf = -std::numeric_limits<T>::infinity();
  const int64_t last = p.causal ? i - j0 : cols;  // the last visible jj
  if (e.mask) {
    const T* mi = e.mask + i * p.mask_sl + j0 * p.mask_ss;
    if (p.mask_ss == 1) {
      for (int64_t jj = 0; jj < cols; ++jj) x[jj] = jj > last ? neg_inf : x[jj] * scale + mi[jj];
    } else {
      for (int64_t jj = 0; jj < cols; ++jj) x[jj] = jj > last ? neg_inf : x[jj] * scale + mi[jj * p.mask_ss];
    }
  } else {
    for (int64_t jj = 0; jj < cols; ++jj) x[jj] = jj > last ? neg_inf : x[jj] * scale;
  }
}

// The passes, each run<T, W, NV>(entry) at W lanes with column strips of up to NV vectors.
struct Forward {
  template <typename T, int W, int NV>
  static GC_ATTN_INLINE void run(const Entry<T>& e) {
    const AttentionParams& p = *e.p;
    const int64_t L = p.L, S = p.S, E = p.E, Ev = p.Ev;
    const T neg_inf = -std::numeric_limits<T>::infinity();
    pack_transposed(e.k, S, E, e.kt);
    for (int64_t i0 = 0; i0 < L; i0 += kRows) {
      const int64_t rows = std::min(kRows, L - i0);
      const int64_t jend = p.causal ? std::min(S, i0 + rows) : S;
      std::fill(e.acc, e.acc + rows * Ev, T(0));
      std::fill(e.m, e.m + rows, neg_inf);
      std::fill(e.l, e.l + rows, T(0));
      for (int64_t j0 = 0; j0 < jend; j0 += kCols) {
        const int64_t cols = std::min(kCols, jend - j0);
        attn::gemm<T, W, NV>(rows, cols, E, e.q + i0 * E, E, 1, e.kt + j0, S, e.s, kCols, false);
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t i = i0 + r;
          T* x = e.s + r * kCols;
          finish_scores(x, cols, i, j0, e);
          const T m_new = std::max(e.m[r], attn::row_max(x, cols));
          const T shift = m_new == neg_inf ? T(0) : m_new;  // nothing visible yet: every exp is 0
          const T alpha = e.m[r] == m_new ? T(1) : exp_of(e.m[r] - m_new);
          for (int64_t jj = 0; jj < cols; ++jj) x[jj] = exp_of(x[jj] - shift);
          e.l[r] = e.l[r] * alpha + attn::row_sum<T>(x, nullptr, cols);
          e.m[r] = m_new;
          if (alpha != T(1)) {
            T* a = e.acc + r * Ev;
            for (int64_t c = 0; c < Ev; ++c) a[c] *= alpha;
          }
          if (p.dropout_p > 0.0)
            for (int64_t jj = 0; jj < cols; ++jj) x[jj] *= static_cast<T>(p.dropout_scale(e.b, i, j0 + jj));
        }
        attn::gemm<T, W, NV>(rows, Ev, cols, e.s, kCols, 1, e.v + j0 * Ev, Ev, e.acc, Ev, true);
      }
      for (int64_t r = 0; r < rows; ++r) {
        T* o = e.out + (i0 + r) * Ev;
        const T* a = e.acc + r * Ev;
        if (e.m[r] == neg_inf) {  // every score of the row is -inf
          std::fill(o, o + Ev, T(0));
          e.lse[i0 + r] = std::numeric_limits<T>::infinity();
          continue;
        }
        const T inv = T(1) / e.l[r];
        for (int64_t c = 0; c < Ev; ++c) o[c] = a[c] * inv;
        e.lse[i0 + r] = e.m[r] + std::log(e.l[r]);
      }
    }
  }
};

struct Backward {
  template <typename T, int W, int NV>
  static GC_ATTN_INLINE void run(const Entry<T>& e) {
    const AttentionParams& p = *e.p;
    const int64_t L = p.L, S = p.S, E = p.E, Ev = p.Ev;
    const T scale = static_cast<T>(p.scale);
    pack_transposed(e.k, S, E, e.kt);
    pack_transposed(e.v, S, Ev, e.vt);
    for (int64_t i = 0; i < L; ++i) e.d[i] = attn::row_sum(e.dout + i * Ev, e.out + i * Ev, Ev);
    for (int64_t i0 = 0; i0 < L; i0 += kRows) {
      const int64_t rows = std::min(kRows, L - i0);
      const int64_t jend = p.causal ? std::min(S, i0 + rows) : S;
      for (int64_t j0 = 0; j0 < jend; j0 += kCols) {
        const int64_t cols = std::min(kCols, jend - j0);
        attn::gemm<T, W, NV>(rows, cols, E, e.q + i0 * E, E, 1, e.kt + j0, S, e.s, kCols, false);
        attn::gemm<T, W, NV>(rows, cols, Ev, e.dout + i0 * Ev, Ev, 1, e.vt + j0, S, e.dp, kCols, false);
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t i = i0 + r;
          T *x = e.s + r * kCols, *g = e.dp + r * kCols;
          finish_scores(x, cols, i, j0, e);
          // A fully masked row has lse = +inf: every P is exp(-inf) = 0, so are its gradients.
          const T lse = e.lse[i], di = e.d[i];
          if (p.dropout_p > 0.0) {
            for (int64_t jj = 0; jj < cols; ++jj) {
              const T pij = exp_of(x[jj] - lse), z = static_cast<T>(p.dropout_scale(e.b, i, j0 + jj));
              g[jj] = pij * (z * g[jj] - di) * scale;
              x[jj] = pij * z;
            }
          } else {
            for (int64_t jj = 0; jj < cols; ++jj) {
              const T pij = exp_of(x[jj] - lse);
              g[jj] = pij * (g[jj] - di) * scale;
              x[jj] = pij;
            }
          }
        }
        // x now holds Z P and g holds dS, both rows x cols at row stride kCols.
        attn::gemm<T, W, NV>(cols, Ev, rows, e.s, 1, kCols, e.dout + i0 * Ev, Ev, e.dv + j0 * Ev, Ev, true);
        attn::gemm<T, W, NV>(rows, E, cols, e.dp, kCols, 1, e.k + j0 * E, E, e.dq + i0 * E, E, true);
        attn::gemm<T, W, NV>(cols, E, rows, e.dp, 1, kCols, e.q + i0 * E, E, e.dk + j0 * E, E, true);
      }
    }
  }
};

// One copy of a pass per ISA, each inlining the whole pass under its target; noinline for the
// baseline as in cpu/loops.h (inlined into its caller, GCC left large bodies scalar).
template <typename T>
using EntryFn = void (*)(const Entry<T>&);

template <class Pass, typename T>
__attribute__((noinline, flatten)) void on_baseline(const Entry<T>& e) {
  Pass::template run<T, 16 / sizeof(T), 2>(e);
}
#if defined(__x86_64__) && defined(__GNUC__)
template <class Pass, typename T>
__attribute__((target("avx2"), flatten)) void on_avx2(const Entry<T>& e) {
  Pass::template run<T, 32 / sizeof(T), 2>(e);
}
template <class Pass, typename T>
__attribute__((target("avx512f"), flatten)) void on_avx512(const Entry<T>& e) {
  Pass::template run<T, 64 / sizeof(T), 4>(e);
}
#endif

template <class Pass, typename T>
EntryFn<T> widest_pass() {
#if defined(__x86_64__) && defined(__GNUC__)
  const Isa isa = cpu_isa();
  if (isa >= Isa::avx512) return on_avx512<Pass, T>;
  if (isa >= Isa::avx2) return on_avx2<Pass, T>;
#endif
  return on_baseline<Pass, T>;
}

// Runs Pass over the batch entries; fill(e, b) points e at entry b's operands.
template <class Pass, typename T, typename Fill>
void run_entries(const AttentionParams& p, int64_t work, const Tensor* mask, const Fill& fill) {
  const EntryFn<T> pass = widest_pass<Pass, T>();
  for_planes(p.B, work, [&](int64_t b) {
    // Per thread, kept across calls (a training loop's steady state allocates nothing); every
    // part is written before it is read, so it is never cleared.
    thread_local std::vector<T> scratch;
    const auto size = static_cast<size_t>(Entry<T>::scratch_size(p));
    if (scratch.size() < size) scratch.resize(size);
    Entry<T> e{};
    e.p = &p;
    e.b = b;
    e.mask = mask ? mask->data_as<T>() + b * p.mask_sb : nullptr;
    e.carve(scratch.data());
    fill(e, b);
    pass(e);
  });
}

template <typename T>
void forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
             const Tensor* mask, const AttentionParams& p) {
  run_entries<Forward, T>(p, p.B * p.L * p.S * (p.E + p.Ev), mask, [&](Entry<T>& e, int64_t b) {
    e.q = q.data_as<T>() + b * p.L * p.E;
    e.k = k.data_as<T>() + b * p.S * p.E;
    e.v = v.data_as<T>() + b * p.S * p.Ev;
    e.out = out.data_as<T>() + b * p.L * p.Ev;
    e.lse = lse.data_as<T>() + b * p.L;
  });
}

template <typename T>
void backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout, const Tensor& q,
              const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, const Tensor* mask,
              const AttentionParams& p) {
  run_entries<Backward, T>(p, p.B * p.L * p.S * (2 * p.E + 3 * p.Ev), mask, [&](Entry<T>& e, int64_t b) {
    e.q = q.data_as<T>() + b * p.L * p.E;
    e.k = k.data_as<T>() + b * p.S * p.E;
    e.v = v.data_as<T>() + b * p.S * p.Ev;
    e.out = out.data_as<T>() + b * p.L * p.Ev;
    e.lse = lse.data_as<T>() + b * p.L;
    e.dout = dout.data_as<T>() + b * p.L * p.Ev;
    e.dq = dq.data_as<T>() + b * p.L * p.E;
    e.dk = dk.data_as<T>() + b * p.S * p.E;
    e.dv = dv.data_as<T>() + b * p.S * p.Ev;
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
