// The recurrent gate kernels on CUDA, twins of csrc/cpu/rnn.cpp (kernels/rnn.h): one thread per
// (batch row, unit), each reading its unit's G gate values and writing the new state and the
// saved gates, so a step is one launch after its GEMM.
#include "cuda/loops.cuh"
#include "cuda/rnn.h"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

using kernels::RnnMode;
using M = kernels::ScalarMath;

template <typename T>
struct ForwardArgs {
  const T *xw, *hw, *h_prev, *c_prev;
  T *h, *c, *gates;
  int64_t B, H;
};
template <typename T>
struct BackwardArgs {
  const T *dh_carry, *dout, *h, *h_prev, *c_prev, *c, *gates;
  T *dc, *dxw, *dhw, *dh_direct;
  int64_t B, H;
};

template <typename T>
__global__ void forward_kernel(RnnMode mode, ForwardArgs<T> p) {
  const int64_t H = p.H;
  GC_GRID_LOOP(e, p.B * H) {
    const int64_t b = e / H, j = e % H;
    const int64_t G = kernels::rnn_gates(mode);
    const T* xw = p.xw + b * G * H + j;
    const T* hw = p.hw + b * G * H + j;
    T* gates = p.gates ? p.gates + b * kernels::rnn_saved_per_unit(mode) * H + j : nullptr;
    switch (mode) {
      case RnnMode::RnnTanh:
      case RnnMode::RnnRelu:
        p.h[e] = kernels::rnn_forward<M>(mode == RnnMode::RnnRelu, xw[0], hw[0]);
        break;
      case RnnMode::Lstm: {
        T x[4], w[4], gate[4], c, h;
        for (int k = 0; k < 4; ++k) x[k] = xw[k * H], w[k] = hw[k * H];
        kernels::lstm_forward<M>(x, w, p.c_prev[e], gate, c, h);
        p.c[e] = c;
        p.h[e] = h;
        if (gates)
          for (int k = 0; k < 4; ++k) gates[k * H] = gate[k];
        break;
      }
      case RnnMode::Gru: {
        T x[3], w[3], saved[4], h;
        for (int k = 0; k < 3; ++k) x[k] = xw[k * H], w[k] = hw[k * H];
        kernels::gru_forward<M>(x, w, p.h_prev[e], saved, h);
        p.h[e] = h;
        if (gates)
          for (int k = 0; k < 4; ++k) gates[k * H] = saved[k];
        break;
      }
    }
  }
}

template <typename T>
__global__ void backward_kernel(RnnMode mode, BackwardArgs<T> p) {
  const int64_t H = p.H;
  GC_GRID_LOOP(e, p.B * H) {
    const int64_t b = e / H, j = e % H;
    const int64_t G = kernels::rnn_gates(mode);
    T* dxw = p.dxw + b * G * H + j;
    T dh = p.dh_carry[e];
    if (p.dout) dh = dh + p.dout[e];
    switch (mode) {
      case RnnMode::RnnTanh:
      case RnnMode::RnnRelu:
        dxw[0] = kernels::rnn_backward<M>(mode == RnnMode::RnnRelu, dh, p.h[e]);
        break;
      case RnnMode::Lstm: {
        const T* gates = p.gates + b * 4 * H + j;
        T gate[4], dpre[4];
        for (int k = 0; k < 4; ++k) gate[k] = gates[k * H];
        T dc = p.dc[e];
        kernels::lstm_backward<M>(gate, p.c_prev[e], p.c[e], dh, dc, dpre);
        for (int k = 0; k < 4; ++k) dxw[k * H] = dpre[k];
        p.dc[e] = dc;
        break;
      }
      case RnnMode::Gru: {
        const T* gates = p.gates + b * 4 * H + j;
        T* dhw = p.dhw + b * G * H + j;
        T saved[4], dx[3], dw[3], dh_direct;
        for (int k = 0; k < 4; ++k) saved[k] = gates[k * H];
        kernels::gru_backward<M>(saved, p.h_prev[e], dh, dx, dw, dh_direct);
        for (int k = 0; k < 3; ++k) dxw[k * H] = dx[k], dhw[k * H] = dw[k];
        p.dh_direct[e] = dh_direct;
        break;
      }
    }
  }
}

}  // namespace

void rnn_step_forward(RnnMode mode, const Tensor& xw, const Tensor& hw, const Tensor& h_prev, const Tensor* c_prev,
                      const Tensor& h, const Tensor* c, const Tensor* gates) {
  GC_DISPATCH_FLOAT(h.dtype, "rnn", [&] {
    const auto d = [](const Tensor* t) { return data_or_null<scalar_t>(t); };
    const ForwardArgs<scalar_t> p{d(&xw), d(&hw), d(&h_prev), d(c_prev), d(&h), d(c), d(gates), h.shape[0], h.shape[1]};
    const int64_t total = p.B * p.H;
    if (total == 0) return;
    forward_kernel<scalar_t><<<grid_for(total), kBlock>>>(mode, p);
    check_launch("rnn");
  });
}

void rnn_step_backward(RnnMode mode, const Tensor& dh_carry, const Tensor* dout, const Tensor& h,
                       const Tensor& h_prev, const Tensor* c_prev, const Tensor* c, const Tensor* gates,
                       const Tensor* dc, const Tensor& dxw, const Tensor* dhw, const Tensor* dh_direct) {
  GC_DISPATCH_FLOAT(h.dtype, "rnn_backward", [&] {
    const auto d = [](const Tensor* t) { return data_or_null<scalar_t>(t); };
    const BackwardArgs<scalar_t> p{d(&dh_carry), d(dout), d(&h), d(&h_prev), d(c_prev), d(c), d(gates), d(dc),
                                   d(&dxw), d(dhw), d(dh_direct), h.shape[0], h.shape[1]};
    const int64_t total = p.B * p.H;
    if (total == 0) return;
    backward_kernel<scalar_t><<<grid_for(total), kBlock>>>(mode, p);
    check_launch("rnn_backward");
  });
}

}  // namespace gc::cuda
