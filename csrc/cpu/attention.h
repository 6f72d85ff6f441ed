// Fused scaled-dot-product attention on the CPU (cpu/attention.cpp); formulas in
// kernels/attention.h. The ops layer (ops/attention.cpp) passes contiguous q [B, L, E],
// k [B, S, E], v [B, S, Ev] of one floating dtype, and the mask (when given) in that dtype.
#pragma once
#include "core/tensor.h"
#include "kernels/attention.h"

namespace gc::cpu {

using kernels::AttentionParams;

// out [B, L, Ev] and lse [B, L] (the per-row logsumexp the backward recomputes P from).
void attention_forward_kernel(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                              const Tensor& v, const Tensor* mask, const AttentionParams& p);
// dq, dk, dv (zero-filled by the caller, shapes of q, k, v) from dout and the forward's out, lse.
void attention_backward_kernel(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout,
                               const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const Tensor& lse, const Tensor* mask, const AttentionParams& p);

}  // namespace gc::cpu
