// Softmax (cpu/softmax.cpp) and the class losses (cpu/class_loss.cpp) on the CPU. Every kernel
// works on contiguous tensors seen as rows along the class dim (see RowLayout); the ops layer
// (ops/softmax.cpp) makes operands contiguous, casts them to one floating dtype and validates
// targets before calling in, so kernels never fail.
#pragma once
#include "ops/ops.h"

namespace gc::cpu {

// A contiguous tensor viewed as [outer, C, inner] around its class dim. Row r is the sample
// (r / inner, r % inner): its C entries start at (r / inner) * C * inner + r % inner and step by
// `inner`. inner == 1 (class dim last) is the unit-stride fast path.
struct RowLayout {
  int64_t outer = 1, C = 1, inner = 1;
  int64_t rows() const { return outer * inner; }
  int64_t base(int64_t r) const { return inner == 1 ? r * C : (r / inner) * C * inner + r % inner; }
};

// out = softmax(x) or log_softmax(x) along the class dim (out, x: same shape and dtype).
void softmax_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, bool log);
// gx from the output y and its gradient g: softmax gx = y * (g - sum(g * y)),
// log_softmax gx = g - exp(y) * sum(g).
void softmax_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log);

// What a class loss needs besides its operands. Logits (or log-probabilities) are [N, C, S] as a
// RowLayout, one row per sample; targets are [N * S] class indices (int64) or [N, C, S]
// probabilities of the logits' dtype; weight is null or [C] of the logits' dtype.
struct ClassLossSpec {
  RowLayout L;
  const Tensor* weight = nullptr;
  int64_t ignore_index = -100;
  double smoothing = 0.0;
};

// Sum of the per-sample losses and of the weights of the samples that count (the divisor of
// PyTorch's weighted mean for index targets).
struct LossSums {
  double loss = 0, weight = 0;
};

// Fused cross-entropy with class-index targets: one log-sum-exp per row and the loss
// (1 - eps) * nll + eps / C * smooth. `stats` (float64 [rows, 2]) receives each row's max and
// log(sum(exp(x - max))): the backward rebuilds softmax from them as exp((x - max) - logsum),
// which stays exact for large logits where x - lse in the logits' precision would not.
// Writes per-row losses to `rows_out` (logits' dtype, [rows]) when given. Targets must already
// be in range or ignore_index.
LossSums cross_entropy_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& spec, const Tensor& stats,
                               const Tensor* rows_out);
// gx = g_r * scale * [(1 - eps) w_y (softmax - onehot) + eps / C (softmax * sum(w) - w)], 0 on
// ignored rows. g has one value per row (g_stride 1) or a single value (g_stride 0).
void cross_entropy_backward(const Tensor& gx, const Tensor& x, const Tensor& target, const ClassLossSpec& spec,
                            const Tensor& stats, const Tensor& g, int64_t g_stride, double scale);

// Cross-entropy with class-probability targets t: loss_r = -sum_c w_c t'_c log_softmax(x)_c with
// t' = (1 - eps) t + eps / C.
LossSums cross_entropy_prob_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& spec,
                                    const Tensor& stats, const Tensor* rows_out);
// Gradients for the logits, the targets and the weight (each may be null when not needed).
void cross_entropy_prob_backward(const Tensor* gx, const Tensor* gt, const Tensor* gw, const Tensor& x,
                                 const Tensor& target, const ClassLossSpec& spec, const Tensor& stats, const Tensor& g,
                                 int64_t g_stride, double scale);

// nll_loss on log-probabilities: loss_r = -w_y logp[r, y] (0 where y == ignore_index).
LossSums nll_loss_forward(const Tensor& logp, const Tensor& target, const ClassLossSpec& spec, const Tensor* rows_out);
// gx = 0 except gx[r, y] = -g_r * scale * w_y.
void nll_loss_backward(const Tensor& gx, const Tensor& target, const ClassLossSpec& spec, const Tensor& g,
                       int64_t g_stride, double scale);

}  // namespace gc::cpu
