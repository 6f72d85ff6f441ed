// The recurrent gate kernels on the CPU (kernels/rnn.h has the formulas). A step touches only
// B * G * H elements (32 x 1024 in a typical LSTM), so threads split batch rows only when a step
// is large; the speed comes from the inner loop instead: a batch row's H units run through
// index_loop_widest (cpu/loops.h), compiled for AVX-512, AVX2 and the baseline and picked by
// cpu_isa(), the kernels/rnn.h formulas instantiated on scalars. Their float sigmoid and tanh are
// kernels/fast_math.h's call-free ones (libm's scalar calls cannot be vectorised and would cost
// more than the step's GEMM), so the compiler vectorises the whole unit 16 lanes wide; no copy
// enables FMA, so every ISA level rounds alike. The mode and the optional operands are template
// parameters, so each loop body is straight-line code. float64 runs the same body in a plain loop.
#include "cpu/rnn.h"
#include <type_traits>
#include "cpu/loops.h"

namespace gc::cpu {

namespace {

using kernels::RnnMode;
using M = kernels::ScalarMath;

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

// Unit j of a row. kSave: write what backward needs into p.gates.
template <RnnMode kMode, bool kSave, typename T>
GC_ALWAYS_INLINE_LOOP void forward_unit(const ForwardRow<T>& p, int64_t H, int64_t j) {
  if constexpr (kMode == RnnMode::RnnTanh || kMode == RnnMode::RnnRelu) {
    p.h[j] = kernels::rnn_forward<M>(kMode == RnnMode::RnnRelu, p.xw[j], p.hw[j]);
  } else if constexpr (kMode == RnnMode::Lstm) {
    T xw[4], hw[4], gate[4], c, h;
    for (int k = 0; k < 4; ++k) xw[k] = p.xw[k * H + j], hw[k] = p.hw[k * H + j];
    kernels::lstm_forward<M>(xw, hw, p.c_prev[j], gate, c, h);
    p.c[j] = c;
    p.h[j] = h;
    if constexpr (kSave)
      for (int k = 0; k < 4; ++k) p.gates[k * H + j] = gate[k];
  } else {
    T xw[3], hw[3], saved[4], h;
    for (int k = 0; k < 3; ++k) xw[k] = p.xw[k * H + j], hw[k] = p.hw[k * H + j];
    kernels::gru_forward<M>(xw, hw, p.h_prev[j], saved, h);
    p.h[j] = h;
    if constexpr (kSave)
      for (int k = 0; k < 4; ++k) p.gates[k * H + j] = saved[k];
  }
}

// Unit j of a row. kDout: the step's output has a gradient of its own (p.dout).
template <RnnMode kMode, bool kDout, typename T>
GC_ALWAYS_INLINE_LOOP void backward_unit(const BackwardRow<T>& p, int64_t H, int64_t j) {
  T dh = p.dh_carry[j];
  if constexpr (kDout) dh = dh + p.dout[j];
  if constexpr (kMode == RnnMode::RnnTanh || kMode == RnnMode::RnnRelu) {
    p.dxw[j] = kernels::rnn_backward<M>(kMode == RnnMode::RnnRelu, dh, p.h[j]);
  } else if constexpr (kMode == RnnMode::Lstm) {
    T gate[4], dpre[4];
    for (int k = 0; k < 4; ++k) gate[k] = p.gates[k * H + j];
    T dc = p.dc[j];
    kernels::lstm_backward<M>(gate, p.c_prev[j], p.c[j], dh, dc, dpre);
    for (int k = 0; k < 4; ++k) p.dxw[k * H + j] = dpre[k];
    p.dc[j] = dc;
  } else {
    T saved[4], dxw[3], dhw[3], dh_direct;
    for (int k = 0; k < 4; ++k) saved[k] = p.gates[k * H + j];
    kernels::gru_backward<M>(saved, p.h_prev[j], dh, dxw, dhw, dh_direct);
    for (int k = 0; k < 3; ++k) p.dxw[k * H + j] = dxw[k], p.dhw[k * H + j] = dhw[k];
    p.dh_direct[j] = dh_direct;
  }
}

// The loop bodies below hold a whole unit's math: too big for GCC to inline into
// index_loop_widest's copies by its own measure, and a call per unit cannot be vectorised.
#define GC_UNIT_INLINE __attribute__((always_inline))

// body(j) for the H units of a row: float32 at the widest vector width the CPU has. Unit j reads
// and writes only column j of each row (kDisjoint), which the compiler cannot check for the ~15
// pointer pairs of a unit.
template <typename T, typename F>
void over_units(int64_t H, const F& body) {
  if constexpr (widest_loop_v<T>) index_loop_widest<true>(body, H);
  else index_loop<true>(body, H);
}

template <RnnMode kMode, typename T>
void forward_row(const ForwardRow<T>& p, int64_t H) {
  if (p.gates) over_units<T>(H, [p, H](int64_t j) GC_UNIT_INLINE { forward_unit<kMode, true>(p, H, j); });
  else over_units<T>(H, [p, H](int64_t j) GC_UNIT_INLINE { forward_unit<kMode, false>(p, H, j); });
}

template <RnnMode kMode, typename T>
void backward_row(const BackwardRow<T>& p, int64_t H) {
  if (p.dout) over_units<T>(H, [p, H](int64_t j) GC_UNIT_INLINE { backward_unit<kMode, true>(p, H, j); });
  else over_units<T>(H, [p, H](int64_t j) GC_UNIT_INLINE { backward_unit<kMode, false>(p, H, j); });
}

// f(std::integral_constant<RnnMode, mode>{}): the mode as a compile-time constant.
template <typename F>
void with_mode(RnnMode mode, const F& f) {
  switch (mode) {
    case RnnMode::RnnTanh: return f(std::integral_constant<RnnMode, RnnMode::RnnTanh>{});
    case RnnMode::RnnRelu: return f(std::integral_constant<RnnMode, RnnMode::RnnRelu>{});
    case RnnMode::Lstm: return f(std::integral_constant<RnnMode, RnnMode::Lstm>{});
    case RnnMode::Gru: return f(std::integral_constant<RnnMode, RnnMode::Gru>{});
  }
}

// f(row b) for the B rows of a step, over threads when the step is large enough to pay for them.
template <typename F>
void over_rows(int64_t B, int64_t H, RnnMode mode, const F& f) {
  for_planes(B, B * H * (kernels::rnn_gates(mode) + 3) * 8, f);
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
    with_mode(mode, [&](auto kmode) {
      over_rows(B, H, mode, [&](int64_t b) {
        const ForwardRow<T> p{row_of<T>(&xw, b, GH),  row_of<T>(&hw, b, GH),    row_of<T>(&h_prev, b, H),
                              row_of<T>(c_prev, b, H), mut_row_of<T>(&h, b, H), mut_row_of<T>(c, b, H),
                              mut_row_of<T>(gates, b, SH)};
        forward_row<decltype(kmode)::value>(p, H);
      });
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
    with_mode(mode, [&](auto kmode) {
      over_rows(B, H, mode, [&](int64_t b) {
        const BackwardRow<T> p{row_of<T>(&dh_carry, b, H), row_of<T>(dout, b, H),      row_of<T>(&h, b, H),
                               row_of<T>(&h_prev, b, H),   row_of<T>(c_prev, b, H),    row_of<T>(c, b, H),
                               row_of<T>(gates, b, SH),    mut_row_of<T>(dc, b, H),    mut_row_of<T>(&dxw, b, GH),
                               mut_row_of<T>(dhw, b, GH),  mut_row_of<T>(dh_direct, b, H)};
        backward_row<decltype(kmode)::value>(p, H);
      });
    });
  });
}

}  // namespace gc::cpu
