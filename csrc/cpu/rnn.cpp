// The recurrent gate kernels on the CPU (kernels/rnn.h has the formulas). A step touches only
// B * G * H elements (32 x 1024 in a typical LSTM), so threads split batch rows only when a step
// is large; the speed comes from the inner loop instead: float32 runs vec::kLanes units at a
// time through the SIMD sigmoid / tanh of vec_math.h (libm's scalar tanhf and expf cannot be
// vectorised and would cost more than the step's GEMM), the same template formulas instantiated
// with SIMD vectors; the units left over, and float64, run them on scalars.
#include "cpu/rnn.h"
#include <type_traits>
#include "cpu/loops.h"
#include "cpu/vec_math.h"

namespace gc::cpu {

namespace {

using kernels::RnnMode;

template <typename T>
struct ScalarLanes {
  using V = T;
  using Math = kernels::ScalarMath;
  static constexpr int64_t kWidth = 1;
  static V load(const T* p) { return *p; }
  static void store(T* p, V v) { *p = v; }
};

struct FloatLanes {
  using V = vec::vfloat;
  struct Math {
    static V sigmoid(V x) { return vec::sigmoid(x); }
    static V tanh(V x) { return vec::tanh(x); }
    static V relu(V x) { return x < 0.0f ? vec::splat(0.0f) : x; }
    static V relu_grad(V g, V y) { return y <= 0.0f ? vec::splat(0.0f) : g; }
  };
  static constexpr int64_t kWidth = vec::kLanes;
  static V load(const float* p) { return vec::load(p); }
  static void store(float* p, V v) { vec::store(p, v); }
};

// One batch row of a step's operands (null where the mode has none).
template <typename T>
struct ForwardRow {
  const T *xw, *hw, *h_prev, *c_prev;
  T *h, *c, *gates;
};
template <typename T>
struct BackwardRow {
  const T *dh_carry, *dout, *h, *h_prev, *c_prev, *c, *gates;
  T *dc, *dxw, *dhw, *dh_direct;
};

template <typename L, typename T>
inline void forward_units(RnnMode mode, const ForwardRow<T>& p, int64_t H, int64_t j) {
  using V = typename L::V;
  using M = typename L::Math;
  switch (mode) {
    case RnnMode::RnnTanh:
    case RnnMode::RnnRelu:
      L::store(p.h + j, kernels::rnn_forward<M>(mode == RnnMode::RnnRelu, L::load(p.xw + j), L::load(p.hw + j)));
      return;
    case RnnMode::Lstm: {
      V xw[4], hw[4], gate[4], c, h;
      for (int k = 0; k < 4; ++k) xw[k] = L::load(p.xw + k * H + j), hw[k] = L::load(p.hw + k * H + j);
      kernels::lstm_forward<M>(xw, hw, L::load(p.c_prev + j), gate, c, h);
      L::store(p.c + j, c);
      L::store(p.h + j, h);
      if (p.gates)
        for (int k = 0; k < 4; ++k) L::store(p.gates + k * H + j, gate[k]);
      return;
    }
    case RnnMode::Gru: {
      V xw[3], hw[3], saved[4], h;
      for (int k = 0; k < 3; ++k) xw[k] = L::load(p.xw + k * H + j), hw[k] = L::load(p.hw + k * H + j);
      kernels::gru_forward<M>(xw, hw, L::load(p.h_prev + j), saved, h);
      L::store(p.h + j, h);
      if (p.gates)
        for (int k = 0; k < 4; ++k) L::store(p.gates + k * H + j, saved[k]);
      return;
    }
  }
}

template <typename L, typename T>
inline void backward_units(RnnMode mode, const BackwardRow<T>& p, int64_t H, int64_t j) {
  using V = typename L::V;
  using M = typename L::Math;
  V dh = L::load(p.dh_carry + j);
  if (p.dout) dh = dh + L::load(p.dout + j);
  switch (mode) {
    case RnnMode::RnnTanh:
    case RnnMode::RnnRelu:
      L::store(p.dxw + j, kernels::rnn_backward<M>(mode == RnnMode::RnnRelu, dh, L::load(p.h + j)));
      return;
    case RnnMode::Lstm: {
      V gate[4], dpre[4];
      for (int k = 0; k < 4; ++k) gate[k] = L::load(p.gates + k * H + j);
      V dc = L::load(p.dc + j);
      kernels::lstm_backward<M>(gate, L::load(p.c_prev + j), L::load(p.c + j), dh, dc, dpre);
      for (int k = 0; k < 4; ++k) L::store(p.dxw + k * H + j, dpre[k]);
      L::store(p.dc + j, dc);
      return;
    }
    case RnnMode::Gru: {
      V saved[4], dxw[3], dhw[3], dh_direct;
      for (int k = 0; k < 4; ++k) saved[k] = L::load(p.gates + k * H + j);
      kernels::gru_backward<M>(saved, L::load(p.h_prev + j), dh, dxw, dhw, dh_direct);
      for (int k = 0; k < 3; ++k) L::store(p.dxw + k * H + j, dxw[k]), L::store(p.dhw + k * H + j, dhw[k]);
      L::store(p.dh_direct + j, dh_direct);
      return;
    }
  }
}

// f(row b) for the B rows of a step, over threads when the step is large enough to pay for them.
template <typename F>
void over_rows(int64_t B, int64_t H, RnnMode mode, const F& f) {
  for_planes(B, B * H * (kernels::rnn_gates(mode) + 3) * 8, f);
}

// units(lanes, j) over j in [0, H): SIMD chunks for float32, then the remaining units one by one.
template <typename T, typename Units>
inline void over_units(int64_t H, const Units& units) {
  int64_t j = 0;
  if constexpr (std::is_same_v<T, float>)
    for (; j + FloatLanes::kWidth <= H; j += FloatLanes::kWidth) units(FloatLanes{}, j);
  for (; j < H; ++j) units(ScalarLanes<T>{}, j);
}

template <typename T>
const T* row_of(const Tensor* t, int64_t b, int64_t width) {
  return t ? t->data_as<T>() + b * width : nullptr;
}
template <typename T>
T* mut_row_of(const Tensor* t, int64_t b, int64_t width) {
  return t ? t->data_as<T>() + b * width : nullptr;
}

}  // namespace

void rnn_step_forward(RnnMode mode, const Tensor& xw, const Tensor& hw, const Tensor& h_prev, const Tensor* c_prev,
                      const Tensor& h, const Tensor* c, const Tensor* gates) {
  const int64_t B = h.shape[0], H = h.shape[1];
  const int64_t GH = kernels::rnn_gates(mode) * H, SH = kernels::rnn_saved_per_unit(mode) * H;
  GC_DISPATCH_FLOAT(h.dtype, "rnn", [&] {
    using T = scalar_t;
    over_rows(B, H, mode, [&](int64_t b) {
      const ForwardRow<T> p{row_of<T>(&xw, b, GH),  row_of<T>(&hw, b, GH),    row_of<T>(&h_prev, b, H),
                            row_of<T>(c_prev, b, H), mut_row_of<T>(&h, b, H), mut_row_of<T>(c, b, H),
                            mut_row_of<T>(gates, b, SH)};
      over_units<T>(H, [&](auto lanes, int64_t j) { forward_units<decltype(lanes)>(mode, p, H, j); });
    });
  });
}

void rnn_step_backward(RnnMode mode, const Tensor& dh_carry, const Tensor* dout, const Tensor& h,
                       const Tensor& h_prev, const Tensor* c_prev, const Tensor* c, const Tensor* gates,
                       const Tensor* dc, const Tensor& dxw, const Tensor* dhw, const Tensor* dh_direct) {
  const int64_t B = h.shape[0], H = h.shape[1];
  const int64_t GH = kernels::rnn_gates(mode) * H, SH = kernels::rnn_saved_per_unit(mode) * H;
  GC_DISPATCH_FLOAT(h.dtype, "rnn_backward", [&] {
    using T = scalar_t;
    over_rows(B, H, mode, [&](int64_t b) {
      const BackwardRow<T> p{row_of<T>(&dh_carry, b, H), row_of<T>(dout, b, H),      row_of<T>(&h, b, H),
                             row_of<T>(&h_prev, b, H),   row_of<T>(c_prev, b, H),    row_of<T>(c, b, H),
                             row_of<T>(gates, b, SH),    mut_row_of<T>(dc, b, H),    mut_row_of<T>(&dxw, b, GH),
                             mut_row_of<T>(dhw, b, GH),  mut_row_of<T>(dh_direct, b, H)};
      over_units<T>(H, [&](auto lanes, int64_t j) { backward_units<decltype(lanes)>(mode, p, H, j); });
    });
  });
}

}  // namespace gc::cpu
