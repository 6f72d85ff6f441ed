// CUDA kernels of the class losses (class_loss.cu): the same entry points, arguments and contracts
// as csrc/cpu/class_loss.h, on tensors that live on the current CUDA device.
#pragma once
#include "core/tensor.h"
#include "kernels/class_loss.h"

namespace gc::cuda {

using kernels::ClassLossSpec;
using kernels::LossSums;
using kernels::RowLayout;

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
