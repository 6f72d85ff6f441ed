// CUDA gate kernels of the recurrent layers (rnn.cu): the same entry points, arguments and
// contracts as csrc/cpu/rnn.h, on tensors on the current CUDA device. Launched on the default
// stream. Formulas in kernels/rnn.h.
#pragma once
#include "core/tensor.h"
#include "kernels/rnn.h"

namespace gc::cuda {
void rnn_step_forward(kernels::RnnMode mode, const Tensor& xw, const Tensor& hw, const Tensor& h_prev,
                      const Tensor* c_prev, const Tensor& h, const Tensor* c, const Tensor* gates);
void rnn_step_backward(kernels::RnnMode mode, const Tensor& dh_carry, const Tensor* dout, const Tensor& h,
                       const Tensor& h_prev, const Tensor* c_prev, const Tensor* c, const Tensor* gates,
                       const Tensor* dc, const Tensor& dxw, const Tensor* dhw, const Tensor* dh_direct);
}  // namespace gc::cuda
