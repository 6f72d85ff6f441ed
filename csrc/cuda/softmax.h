// CUDA kernels of the softmax and class-loss family (softmax.cu): the same entry points, arguments and contracts as
// csrc/cpu/softmax.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"
#include "kernels/softmax.h"

namespace gc::cuda {
using kernels::ClassLossSpec;
using kernels::LossSums;
using kernels::RowLayout;
void softmax_kernel(const Tensor& out, const Tensor& x, const RowLayout& L, bool log);
void softmax_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& y, const RowLayout& L, bool log);
LossSums cross_entropy_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& spec, const Tensor& stats,
                               const Tensor* rows_out);
void cross_entropy_backward(const Tensor& gx, const Tensor& x, const Tensor& target, const ClassLossSpec& spec,
                            const Tensor& stats, const Tensor& g, int64_t g_stride, double scale);
LossSums cross_entropy_prob_forward(const Tensor& x, const Tensor& target, const ClassLossSpec& spec,
                                    const Tensor& stats, const Tensor* rows_out);
void cross_entropy_prob_backward(const Tensor* gx, const Tensor* gt, const Tensor* gw, const Tensor& x,
                                 const Tensor& target, const ClassLossSpec& spec, const Tensor& stats, const Tensor& g,
                                 int64_t g_stride, double scale);
LossSums nll_loss_forward(const Tensor& logp, const Tensor& target, const ClassLossSpec& spec, const Tensor* rows_out);
void nll_loss_backward(const Tensor& gx, const Tensor& target, const ClassLossSpec& spec, const Tensor& g,
                       int64_t g_stride, double scale);
}  // namespace gc::cuda
