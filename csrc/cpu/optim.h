// Fused optimizer updates of the CPU backend: one pass over a parameter's elements reads the
// parameter, its gradient and its state and writes the parameter and the state.
// Every tensor given here is contiguous, of the parameter's dtype (float32, float64, or bfloat16 /
// float16, updated in float32) and numel; ops/optim.cpp has checked that. Optional state is passed as a null pointer when unused.
#pragma once
#include "core/tensor.h"
#include "kernels/optim.h"

namespace gc::cpu {

using kernels::AdagradOptions;
using kernels::AdamOptions;
using kernels::RmspropOptions;
using kernels::SgdOptions;

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor* momentum_buffer, bool init_buffer,
                const SgdOptions& o);
// step: the parameter's step count after this step's increment (PyTorch's float `step`).
void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor* max_exp_avg_sq, double step, const AdamOptions& o);
void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor* grad_avg,
                    const Tensor* momentum_buffer, const RmspropOptions& o);
void adagrad_update(const Tensor& param, const Tensor& grad, const Tensor& state_sum, double step,
                    const AdagradOptions& o);

// GradScaler's unscale: g *= inv_scale in place, and found_inf (a float32 one-element tensor) set
// to 1 when an element of g is not finite; never reset here. One pass over g (contiguous).
void amp_unscale(const Tensor& grad, double inv_scale, const Tensor& found_inf);

}  // namespace gc::cpu
