// The class losses on the CPU (cpu/class_loss.cpp). Every kernel works on contiguous tensors seen
// as rows along the class dim (see RowLayout); the ops layer (ops/class_loss.cpp) makes operands
// contiguous, casts them to one floating dtype and validates targets before calling in, so
// kernels never fail.
#pragma once
#include "core/tensor.h"
#include "kernels/class_loss.h"

namespace gc::cpu {

using kernels::ClassLossSpec;
using kernels::LossSums;
using kernels::RowLayout;

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
