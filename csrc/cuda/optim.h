// CUDA kernels of the fused optimizer update family (optim.cu): the same entry points, arguments and contracts as
// csrc/cpu/optim.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/tensor.h"
#include "kernels/optim.h"

namespace gc::cuda {
using kernels::AdagradOptions;
using kernels::AdamOptions;
using kernels::RmspropOptions;
using kernels::SgdOptions;
void sgd_update(const Tensor& param, const Tensor& grad, const Tensor* momentum_buffer, bool init_buffer,
                const SgdOptions& o);
void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor* max_exp_avg_sq, double step, const AdamOptions& o);
void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor* grad_avg,
                    const Tensor* momentum_buffer, const RmspropOptions& o);
void adagrad_update(const Tensor& param, const Tensor& grad, const Tensor& state_sum, double step,
                    const AdagradOptions& o);
void amp_unscale(const Tensor& grad, double inv_scale, const Tensor& found_inf);
}  // namespace gc::cuda
