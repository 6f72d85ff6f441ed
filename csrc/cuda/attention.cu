// Fused scaled-dot-product attention on CUDA, the twins of csrc/cpu/attention.cpp (formulas in
// kernels/attention.h). A block holds kWarps warps and is one (batch entry, tile of kWarps query
// rows); each warp owns one query row: its lanes split the head dims, a dot product is a warp
// sum, and the row's output accumulator lives in shared memory. The forward folds keys in one at
// a time with an online softmax (running max m, sum l; acc *= exp(m_old - m_new)), so no score is
// stored. The backward recomputes each P_ij from the saved logsumexp; dq stays in the warp's row,
// dk and dv gather over query rows with atomicAdd.
#include "cuda/attention.h"
#include <cmath>
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

using kernels::AttentionParams;

constexpr int kWarps = 4;  // query rows per block

template <typename T>
__device__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// <a, b> over n entries, the lanes taking every 32nd.
template <typename T>
__device__ T warp_dot(const T* a, const T* b, int64_t n) {
  T part = 0;
  for (int64_t e = threadIdx.x; e < n; e += 32) part += a[e] * b[e];
  return warp_sum(part);
}

template <typename T>
__device__ T score(const T* qi, const T* k, const T* mask, const AttentionParams& p, int64_t b, int64_t i,
                   int64_t j) {
  T s = warp_dot(qi, k + (b * p.S + j) * p.E, p.E) * static_cast<T>(p.scale);
  if (mask) s += mask[b * p.mask_sb + i * p.mask_sl + j * p.mask_ss];
  return s;
}

template <typename T>
__global__ void attention_forward_rows(T* out, T* lse, const T* q, const T* k, const T* v, const T* mask,
                                       AttentionParams p) {
  extern __shared__ unsigned char shared[];
  const int64_t b = blockIdx.x, i = static_cast<int64_t>(blockIdx.y) * kWarps + threadIdx.y;
  if (i >= p.L) return;
  const int64_t Ev = p.Ev;
  T* acc = reinterpret_cast<T*>(shared) + threadIdx.y * Ev;
  for (int64_t e = threadIdx.x; e < Ev; e += 32) acc[e] = 0;
  const T inf = static_cast<T>(HUGE_VAL);
  const T* qi = q + (b * p.L + i) * p.E;
  T m = -inf, l = 0;
  const int64_t jend = p.causal ? min(p.S, i + 1) : p.S;
  for (int64_t j = 0; j < jend; ++j) {
    const T s = score(qi, k, mask, p, b, i, j);
    if (s == -inf) continue;
    const T m_new = max(m, s);
    const T alpha = exp(m - m_new), pij = exp(s - m_new);
    const T pz = pij * static_cast<T>(p.dropout_scale(b, i, j));
    const T* vj = v + (b * p.S + j) * Ev;
    for (int64_t e = threadIdx.x; e < Ev; e += 32) acc[e] = acc[e] * alpha + pz * vj[e];
    l = l * alpha + pij;
    m = m_new;
  }
  T* o = out + (b * p.L + i) * Ev;
  const bool dead = m == -inf;
  for (int64_t e = threadIdx.x; e < Ev; e += 32) o[e] = dead ? T(0) : acc[e] / l;
  if (threadIdx.x == 0) lse[b * p.L + i] = dead ? inf : m + log(l);
}

template <typename T>
__global__ void attention_backward_rows(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                                        const T* out, const T* lse, const T* mask, AttentionParams p) {
  extern __shared__ unsigned char shared[];
  const int64_t b = blockIdx.x, i = static_cast<int64_t>(blockIdx.y) * kWarps + threadIdx.y;
  if (i >= p.L) return;
  const int64_t E = p.E, Ev = p.Ev, row = b * p.L + i;
  const T li = lse[row];
  if (li == static_cast<T>(HUGE_VAL)) return;  // a fully masked row: P = 0, dq stays 0
  T* dqi = reinterpret_cast<T*>(shared) + threadIdx.y * E;
  for (int64_t e = threadIdx.x; e < E; e += 32) dqi[e] = 0;
  const T *qi = q + row * E, *gi = dout + row * Ev;
  const T Di = warp_dot(gi, out + row * Ev, Ev), scale = static_cast<T>(p.scale);
  const int64_t jend = p.causal ? min(p.S, i + 1) : p.S;
  for (int64_t j = 0; j < jend; ++j) {
    const T pij = exp(score(qi, k, mask, p, b, i, j) - li);
    if (pij == T(0)) continue;
    const T z = static_cast<T>(p.dropout_scale(b, i, j));
    const T* vj = v + (b * p.S + j) * Ev;
    const T ds = pij * (z * warp_dot(gi, vj, Ev) - Di) * scale;
    if (z != T(0))
      for (int64_t e = threadIdx.x; e < Ev; e += 32) atomicAdd(dv + (b * p.S + j) * Ev + e, pij * z * gi[e]);
    const T* kj = k + (b * p.S + j) * E;
    for (int64_t e = threadIdx.x; e < E; e += 32) {
      dqi[e] += ds * kj[e];
      atomicAdd(dk + (b * p.S + j) * E + e, ds * qi[e]);
    }
  }
  for (int64_t e = threadIdx.x; e < E; e += 32) dq[row * E + e] = dqi[e];
}

dim3 grid_of(const AttentionParams& p) {
  return dim3(static_cast<unsigned>(p.B), static_cast<unsigned>((p.L + kWarps - 1) / kWarps));
}

}  // namespace

void attention_forward_kernel(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                              const Tensor& v, const Tensor* mask, const AttentionParams& p) {
  if (p.B == 0 || p.L == 0) return;
  const dim3 block(32, kWarps);
  if (q.dtype == DType::Float64) {
    attention_forward_rows<double><<<grid_of(p), block, kWarps * p.Ev * sizeof(double)>>>(
        out.data_as<double>(), lse.data_as<double>(), q.data_as<double>(), k.data_as<double>(),
        v.data_as<double>(), data_or_null<double>(mask), p);
  } else {
    attention_forward_rows<float><<<grid_of(p), block, kWarps * p.Ev * sizeof(float)>>>(
        out.data_as<float>(), lse.data_as<float>(), q.data_as<float>(), k.data_as<float>(), v.data_as<float>(),
        data_or_null<float>(mask), p);
  }
  check_launch("scaled_dot_product_attention");
}

void attention_backward_kernel(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout,
                               const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const Tensor& lse, const Tensor* mask, const AttentionParams& p) {
  if (p.B == 0 || p.L == 0) return;
  const dim3 block(32, kWarps);
  if (q.dtype == DType::Float64) {
    attention_backward_rows<double><<<grid_of(p), block, kWarps * p.E * sizeof(double)>>>(
        dq.data_as<double>(), dk.data_as<double>(), dv.data_as<double>(), dout.data_as<double>(),
        q.data_as<double>(), k.data_as<double>(), v.data_as<double>(), out.data_as<double>(),
        lse.data_as<double>(), data_or_null<double>(mask), p);
  } else {
    attention_backward_rows<float><<<grid_of(p), block, kWarps * p.E * sizeof(float)>>>(
        dq.data_as<float>(), dk.data_as<float>(), dv.data_as<float>(), dout.data_as<float>(), q.data_as<float>(),
        k.data_as<float>(), v.data_as<float>(), out.data_as<float>(), lse.data_as<float>(),
        data_or_null<float>(mask), p);
  }
  check_launch("scaled_dot_product_attention_backward");
}

}  // namespace gc::cuda
