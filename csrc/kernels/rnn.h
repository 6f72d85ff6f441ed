// The recurrent cells' formulas, shared by csrc/cpu/rnn.cpp and csrc/cuda/rnn.cu. Per time step
// the layer op (ops/rnn.cpp) computes xw = x_t W_ih^T + b_ih and hw = h_prev W_hh^T + b_hh with
// GEMMs ([B, G * H]: G gates of H units each, in PyTorch's order); what is left of the step is
// elementwise per unit, and one gate kernel does it in one pass: it reads xw, hw and the previous
// state once and writes the new state and what backward needs.
//
//   RNN   h = act(xw + hw)                                     act = tanh or relu
//   LSTM  i, f, g, o = sig(xw_i + hw_i), sig(.._f), tanh(.._g), sig(.._o)
//         c = f c_prev + i g,   h = o tanh(c)                  saved: i, f, g, o
//   GRU   r = sig(xw_r + hw_r), z = sig(xw_z + hw_z), n = tanh(xw_n + r hw_n)
//         h = (1 - z) n + z h_prev                             saved: r, z, n, hw_n
//
// Backward, with dh (dc) the whole gradient reaching h (c) of this step:
//   RNN   dxw = dhw = act'(h) dh
//   LSTM  tc = tanh(c), dct = dc + dh o (1 - tc^2),  dc_prev = dct f,
//         dxw = dhw = (dct g i (1 - i), dct c_prev f (1 - f), dct i (1 - g^2), dh tc o (1 - o))
//   GRU   dn = dh (1 - z)(1 - n^2), dz = dh (h_prev - n) z (1 - z), dr = dn hw_n r (1 - r),
//         dxw = (dr, dz, dn),  dhw = (dr, dz, dn r),  dh_prev = dh z + dhw W_hh
//
// The formulas are templates over the value type V and a math policy M (sigmoid, tanh, relu,
// relu_grad): scalars with ScalarMath here and on CUDA, SIMD vectors of floats on the CPU.
#pragma once
#include <cstdint>
#include "core/host_device.h"
#include "kernels/math.h"

namespace gc::kernels {

enum class RnnMode : uint8_t { RnnTanh, RnnRelu, Lstm, Gru };

// Gates per unit in the weights (G) and values per unit saved for backward by the gate kernel.
GC_HOST_DEVICE inline int64_t rnn_gates(RnnMode m) {
  switch (m) {
    case RnnMode::RnnTanh:
    case RnnMode::RnnRelu: return 1;
    case RnnMode::Lstm: return 4;
    case RnnMode::Gru: return 3;
  }
  return 1;
}
GC_HOST_DEVICE inline int64_t rnn_saved_per_unit(RnnMode m) {
  switch (m) {
    case RnnMode::RnnTanh:
    case RnnMode::RnnRelu: return 0;  // the output h is all backward needs
    case RnnMode::Lstm: return 4;
    case RnnMode::Gru: return 4;
  }
  return 0;
}

struct ScalarMath {
  template <typename T> GC_HOST_DEVICE static T sigmoid(T x) { return math::sigmoid(x); }
  template <typename T> GC_HOST_DEVICE static T tanh(T x) { return math::tanh(x); }
  // As kernels::Relu: NaN propagates, the gradient passes wherever y <= 0 is false.
  template <typename T> GC_HOST_DEVICE static T relu(T x) { return x < T(0) ? T(0) : x; }
  template <typename T> GC_HOST_DEVICE static T relu_grad(T g, T y) { return y <= T(0) ? T(0) : g; }
};

template <typename M, typename V>
GC_HOST_DEVICE inline V rnn_forward(bool relu, V xw, V hw) {
  return relu ? M::relu(xw + hw) : M::tanh(xw + hw);
}
template <typename M, typename V>
GC_HOST_DEVICE inline V rnn_backward(bool relu, V dh, V h) {
  return relu ? M::relu_grad(dh, h) : dh * (1 - h * h);
}

// xw, hw: the unit's four pre-activation halves (i, f, g, o); returns c and h, and the gates.
template <typename M, typename V>
GC_HOST_DEVICE inline void lstm_forward(const V (&xw)[4], const V (&hw)[4], V c_prev, V (&gate)[4], V& c, V& h) {
  gate[0] = M::sigmoid(xw[0] + hw[0]);
  gate[1] = M::sigmoid(xw[1] + hw[1]);
  gate[2] = M::tanh(xw[2] + hw[2]);
  gate[3] = M::sigmoid(xw[3] + hw[3]);
  c = gate[1] * c_prev + gate[0] * gate[2];
  h = gate[3] * M::tanh(c);
}
// gate: the saved i, f, g, o; dc: in, the gradient reaching c; out, the one reaching c_prev.
template <typename M, typename V>
GC_HOST_DEVICE inline void lstm_backward(const V (&gate)[4], V c_prev, V c, V dh, V& dc, V (&dpre)[4]) {
  const V i = gate[0], f = gate[1], g = gate[2], o = gate[3];
  const V tc = M::tanh(c);
  const V dct = dc + dh * o * (1 - tc * tc);
  dpre[0] = dct * g * i * (1 - i);
  dpre[1] = dct * c_prev * f * (1 - f);
  dpre[2] = dct * i * (1 - g * g);
  dpre[3] = dh * tc * o * (1 - o);
  dc = dct * f;
}

// xw, hw: the unit's three pre-activation parts (r, z, n); saved: r, z, n, hw_n.
template <typename M, typename V>
GC_HOST_DEVICE inline void gru_forward(const V (&xw)[3], const V (&hw)[3], V h_prev, V (&saved)[4], V& h) {
  const V r = M::sigmoid(xw[0] + hw[0]);
  const V z = M::sigmoid(xw[1] + hw[1]);
  const V n = M::tanh(xw[2] + r * hw[2]);
  h = (1 - z) * n + z * h_prev;
  saved[0] = r;
  saved[1] = z;
  saved[2] = n;
  saved[3] = hw[2];
}
// dxw, dhw: the gradients of the pre-activation parts; dh_direct = dh z (the path around W_hh).
template <typename M, typename V>
GC_HOST_DEVICE inline void gru_backward(const V (&saved)[4], V h_prev, V dh, V (&dxw)[3], V (&dhw)[3], V& dh_direct) {
  const V r = saved[0], z = saved[1], n = saved[2], hwn = saved[3];
  const V dn = dh * (1 - z) * (1 - n * n);
  const V dz = dh * (h_prev - n) * z * (1 - z);
  const V dr = dn * hwn * r * (1 - r);
  dxw[0] = dhw[0] = dr;
  dxw[1] = dhw[1] = dz;
  dxw[2] = dn;
  dhw[2] = dn * r;
  dh_direct = dh * z;
}

}  // namespace gc::kernels
