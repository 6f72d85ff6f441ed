// The gate kernels of the recurrent layers (formulas in kernels/rnn.h): one time step of a layer
// over B batch rows of H units, after the step's GEMMs. Every tensor is contiguous and of one
// floating dtype (float32 or float64); null pointers mark operands a mode does not use.
#pragma once
#include "core/tensor.h"
#include "kernels/rnn.h"

namespace gc::cpu {

// xw, hw [B, G*H] (G = rnn_gates(mode)); h_prev, h [B, H]; LSTM: c_prev, c [B, H]; gates
// [B, S*H] (S = rnn_saved_per_unit(mode)) receives what backward needs, or is null when no
// backward will run.
void rnn_step_forward(kernels::RnnMode mode, const Tensor& xw, const Tensor& hw, const Tensor& h_prev,
                      const Tensor* c_prev, const Tensor& h, const Tensor* c, const Tensor* gates);

// The gradients of one step. The gradient reaching h is dh_carry + dout (dout may be null);
// h is the step's output (used by RNN), h_prev by GRU, c_prev and c by LSTM, gates as forward
// saved them. Writes dxw [B, G*H]; GRU also dhw [B, G*H] (for RNN and LSTM it equals dxw) and
// dh_direct = dh z [B, H]; LSTM reads dc (the gradient reaching c) and overwrites it with the
// one reaching c_prev.
void rnn_step_backward(kernels::RnnMode mode, const Tensor& dh_carry, const Tensor* dout, const Tensor& h,
                       const Tensor& h_prev, const Tensor* c_prev, const Tensor* c, const Tensor* gates,
                       const Tensor* dc, const Tensor& dxw, const Tensor* dhw, const Tensor* dh_direct);

}  // namespace gc::cpu
