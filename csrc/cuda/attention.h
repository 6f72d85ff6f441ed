// CUDA fused scaled-dot-product attention (attention.cu): the same entry points, arguments and
// contracts as csrc/cpu/attention.h, on tensors that live on the current CUDA device.
#pragma once
#include "core/tensor.h"
#include "kernels/attention.h"

namespace gc::cuda {

using kernels::AttentionParams;

void attention_forward_kernel(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                              const Tensor& v, const Tensor* mask, const AttentionParams& p);
void attention_backward_kernel(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout,
                               const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const Tensor& lse, const Tensor* mask, const AttentionParams& p);

}  // namespace gc::cuda
