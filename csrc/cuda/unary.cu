// CUDA elementwise unary kernels: csrc/cpu/unary.cpp on the GPU. Forward ops, their fused
// derivatives gx = g * f'(x) (from x or from the saved output y, as the CPU does), clamp and its
// backward, and the parametrised activations (leaky_relu, gelu exact/tanh, softplus).
//
// Every op is a small functor with a __device__ operator(), run by the shared loops of
// loops.cuh (functors rather than extended lambdas: they are always legal inside the host
// lambdas of the dtype-dispatch macros). The formulas are the CPU's line for line; float32 stays
// in float (expf, tanhf, ...), so results agree with the CPU to a few ulp. Round is rint (half
// to even, like the CPU's nearbyint); Relu and clamp let NaN through, Sign(NaN) is 0, as on the
// CPU. int64 negation and squaring wrap around (done in uint64, where overflow is defined).
// Unsupported dtype/op combinations throw on the host, before any launch, with the CPU's messages.
#include <cuda_runtime.h>
#include <cstdint>
#include <type_traits>
#include "cuda/loops.cuh"
#include "cuda/unary.h"

namespace gc::cuda {

using ops::UnaryOp;

namespace {

// ---- float / double overloads of the device math library ----
#define GC_DMATH(name, f32, f64)                                         \
  __device__ __forceinline__ float name(float v) { return ::f32(v); }   \
  __device__ __forceinline__ double name(double v) { return ::f64(v); }
GC_DMATH(dexp, expf, exp)
GC_DMATH(dlog, logf, log)
GC_DMATH(dsqrt, sqrtf, sqrt)
GC_DMATH(dsin, sinf, sin)
GC_DMATH(dcos, cosf, cos)
GC_DMATH(dtanh, tanhf, tanh)
GC_DMATH(dlog1p, log1pf, log1p)
GC_DMATH(dexpm1, expm1f, expm1)
GC_DMATH(dfloor, floorf, floor)
GC_DMATH(dceil, ceilf, ceil)
GC_DMATH(drint, rintf, rint)
GC_DMATH(dfabs, fabsf, fabs)
GC_DMATH(derf, erff, erf)
#undef GC_DMATH

template <typename T>
constexpr bool kInt = std::is_integral_v<T>;

template <typename T>
__device__ __forceinline__ T sigmoid(T x) {
  // Split by sign so exp never overflows.
  if (x >= T(0)) return T(1) / (T(1) + dexp(-x));
  T e = dexp(x);
  return e / (T(1) + e);
}

// ---- forward ----
// A functor `Name<T>` computing `expr` from `v`.
#define GC_UNARY(Name, expr)                                  \
  template <typename T>                                       \
  struct Name {                                               \
    __device__ __forceinline__ T operator()(T v) const { return expr; } \
  };
GC_UNARY(ExpF, dexp(v))
GC_UNARY(LogF, dlog(v))
GC_UNARY(SqrtF, dsqrt(v))
GC_UNARY(RsqrtF, T(1) / dsqrt(v))
GC_UNARY(SinF, dsin(v))
GC_UNARY(CosF, dcos(v))
GC_UNARY(TanhF, dtanh(v))
GC_UNARY(SigmoidF, sigmoid(v))
GC_UNARY(Log1pF, dlog1p(v))
GC_UNARY(Expm1F, dexpm1(v))
GC_UNARY(ReciprocalF, T(1) / v)
GC_UNARY(FloorF, dfloor(v))
GC_UNARY(CeilF, dceil(v))
GC_UNARY(RoundF, drint(v))  // half to even, as PyTorch
GC_UNARY(Identity, v)       // floor/ceil/round of integers
GC_UNARY(ReluF, v < T(0) ? T(0) : v)  // NaN propagates (NaN < 0 is false)
GC_UNARY(SignF, static_cast<T>((T(0) < v) - (v < T(0))))
#undef GC_UNARY

template <typename T>
struct NegF {
  __device__ __forceinline__ T operator()(T v) const {
    if constexpr (kInt<T>) return static_cast<T>(uint64_t(0) - static_cast<uint64_t>(v));
    else return -v;
  }
};
template <typename T>
struct AbsF {
  __device__ __forceinline__ T operator()(T v) const {
    if constexpr (kInt<T>) return v < T(0) ? NegF<T>{}(v) : v;
    else return dfabs(v);  // abs(-0.0) is +0.0
  }
};
template <typename T>
struct SquareF {
  __device__ __forceinline__ T operator()(T v) const {
    if constexpr (kInt<T>) return static_cast<T>(static_cast<uint64_t>(v) * static_cast<uint64_t>(v));
    else return v * v;
  }
};
template <typename T>
struct IsZero {
  __device__ __forceinline__ bool operator()(T v) const { return v == T(0); }
};

template <typename T, typename F>
void run1(const Tensor& out, const Tensor& x, F f) {
  unary_loop<T, T>(out, x, "unary", f);
}

template <typename T>
void float_forward(UnaryOp op, const Tensor& out, const Tensor& x) {
  switch (op) {
    case UnaryOp::Exp: return run1<T>(out, x, ExpF<T>{});
    case UnaryOp::Log: return run1<T>(out, x, LogF<T>{});
    case UnaryOp::Sqrt: return run1<T>(out, x, SqrtF<T>{});
    case UnaryOp::Rsqrt: return run1<T>(out, x, RsqrtF<T>{});
    case UnaryOp::Sin: return run1<T>(out, x, SinF<T>{});
    case UnaryOp::Cos: return run1<T>(out, x, CosF<T>{});
    case UnaryOp::Tanh: return run1<T>(out, x, TanhF<T>{});
    case UnaryOp::Sigmoid: return run1<T>(out, x, SigmoidF<T>{});
    case UnaryOp::Log1p: return run1<T>(out, x, Log1pF<T>{});
    case UnaryOp::Expm1: return run1<T>(out, x, Expm1F<T>{});
    case UnaryOp::Reciprocal: return run1<T>(out, x, ReciprocalF<T>{});
    case UnaryOp::Floor: return run1<T>(out, x, FloorF<T>{});
    case UnaryOp::Ceil: return run1<T>(out, x, CeilF<T>{});
    case UnaryOp::Round: return run1<T>(out, x, RoundF<T>{});
    default: break;
  }
  fail(ErrorKind::Runtime, "unary", "unexpected op");
}

template <typename T>
void any_forward(UnaryOp op, const Tensor& out, const Tensor& x) {
  switch (op) {
    case UnaryOp::Neg: return run1<T>(out, x, NegF<T>{});
    case UnaryOp::Abs: return run1<T>(out, x, AbsF<T>{});
    case UnaryOp::Relu: return run1<T>(out, x, ReluF<T>{});
    case UnaryOp::Sign: return run1<T>(out, x, SignF<T>{});
    case UnaryOp::Square: return run1<T>(out, x, SquareF<T>{});
    case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round:
      if constexpr (kInt<T>) return run1<T>(out, x, Identity<T>{});  // integers are already whole
      break;
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) float_forward<T>(op, out, x);
  else fail(ErrorKind::Runtime, "unary", "op needs a floating-point input");
}

// ---- backward: gx = f(g, x, y) ----
#define GC_UNARY_BW(Name, expr)                                                \
  template <typename T>                                                        \
  struct Name {                                                                \
    __device__ __forceinline__ T operator()(T g, T x, T y) const {             \
      (void)x;                                                                 \
      (void)y;                                                                 \
      return expr;                                                             \
    }                                                                          \
  };
GC_UNARY_BW(NegB, -g)
GC_UNARY_BW(AbsB, x > T(0) ? g : (x < T(0) ? -g : T(0)))
GC_UNARY_BW(ExpB, g * y)
GC_UNARY_BW(LogB, g / x)
GC_UNARY_BW(SqrtB, g / (T(2) * y))
GC_UNARY_BW(RsqrtB, T(-0.5) * g * y * y * y)
GC_UNARY_BW(SinB, g * dcos(x))
GC_UNARY_BW(CosB, -g * dsin(x))
GC_UNARY_BW(TanhB, g * (T(1) - y * y))
GC_UNARY_BW(SigmoidB, g * y * (T(1) - y))
GC_UNARY_BW(ReluB, y > T(0) ? g : T(0))
GC_UNARY_BW(Log1pB, g / (T(1) + x))
GC_UNARY_BW(Expm1B, g * (y + T(1)))
GC_UNARY_BW(ReciprocalB, -g * y * y)
GC_UNARY_BW(SquareB, T(2) * g * x)
GC_UNARY_BW(ZeroB, T(0))
#undef GC_UNARY_BW

template <typename T>
void backward(UnaryOp op, const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& y) {
  auto run = [&](auto f) { ternary_loop<T, T, T, T>(gx, g, x, y, "unary backward", f); };
  switch (op) {
    case UnaryOp::Neg: return run(NegB<T>{});
    case UnaryOp::Abs: return run(AbsB<T>{});
    case UnaryOp::Exp: return run(ExpB<T>{});
    case UnaryOp::Log: return run(LogB<T>{});
    case UnaryOp::Sqrt: return run(SqrtB<T>{});
    case UnaryOp::Rsqrt: return run(RsqrtB<T>{});
    case UnaryOp::Sin: return run(SinB<T>{});
    case UnaryOp::Cos: return run(CosB<T>{});
    case UnaryOp::Tanh: return run(TanhB<T>{});
    case UnaryOp::Sigmoid: return run(SigmoidB<T>{});
    case UnaryOp::Relu: return run(ReluB<T>{});
    case UnaryOp::Log1p: return run(Log1pB<T>{});
    case UnaryOp::Expm1: return run(Expm1B<T>{});
    case UnaryOp::Reciprocal: return run(ReciprocalB<T>{});
    case UnaryOp::Square: return run(SquareB<T>{});
    case UnaryOp::Sign: case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round: return run(ZeroB<T>{});
    default: break;
  }
  fail(ErrorKind::Runtime, "unary backward", "op has no derivative");
}

// ---- clamp ----
template <typename T>
struct ClampF {
  bool has_lo, has_hi;
  T l, h;
  __device__ __forceinline__ T operator()(T v) const {
    // PyTorch: min(max(x, lo), hi), NaN propagates.
    if constexpr (std::is_floating_point_v<T>)
      if (v != v) return v;
    if (has_lo && v < l) v = l;
    if (has_hi && v > h) v = h;
    return v;
  }
};

template <typename T>
struct ClampB {
  bool has_lo, has_hi;
  T l, h;
  __device__ __forceinline__ T operator()(T gv, T v) const {
    bool in = (!has_lo || v >= l) && (!has_hi || v <= h);
    return in ? gv : T(0);
  }
};

// ---- activations ----
template <typename T>
struct LeakyReluF {
  T s;
  __device__ __forceinline__ T operator()(T v) const { return v > T(0) ? v : v * s; }
};
template <typename T>
struct LeakyReluB {
  T s;
  __device__ __forceinline__ T operator()(T gv, T v) const { return v > T(0) ? gv : gv * s; }
};

template <typename T>
struct GeluTanhF {
  __device__ __forceinline__ T operator()(T v) const {
    const T k = T(0.7978845608028654);  // sqrt(2/pi)
    return T(0.5) * v * (T(1) + dtanh(k * (v + T(0.044715) * v * v * v)));
  }
};
template <typename T>
struct GeluTanhB {
  __device__ __forceinline__ T operator()(T gv, T v) const {
    const T k = T(0.7978845608028654), c = T(0.044715);
    T inner = k * (v + c * v * v * v), t = dtanh(inner);
    T d = T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * k * (T(1) + T(3) * c * v * v);
    return gv * d;
  }
};
template <typename T>
struct GeluErfF {
  __device__ __forceinline__ T operator()(T v) const { return T(0.5) * v * (T(1) + derf(v * T(0.7071067811865476))); }
};
template <typename T>
struct GeluErfB {
  __device__ __forceinline__ T operator()(T gv, T v) const {
    T cdf = T(0.5) * (T(1) + derf(v * T(0.7071067811865476)));
    T pdf = dexp(T(-0.5) * v * v) * T(0.3989422804014327);
    return gv * (cdf + v * pdf);
  }
};

template <typename T>
struct SoftplusF {
  T beta, thr;
  // Above the threshold softplus is linear; below, log1p(exp) is exact enough.
  __device__ __forceinline__ T operator()(T v) const { return v * beta > thr ? v : dlog1p(dexp(v * beta)) / beta; }
};
template <typename T>
struct SoftplusB {
  T beta, thr;
  __device__ __forceinline__ T operator()(T gv, T v) const { return v * beta > thr ? gv : gv * sigmoid(v * beta); }
};

template <typename T>
void activation_fwd(int kind, const Tensor& out, const Tensor& x, double p0, double p1) {
  if (kind == 0) {
    unary_loop<T, T>(out, x, "leaky_relu", LeakyReluF<T>{static_cast<T>(p0)});
  } else if (kind == 1) {
    if (p0 != 0) unary_loop<T, T>(out, x, "gelu", GeluTanhF<T>{});  // tanh approximation
    else unary_loop<T, T>(out, x, "gelu", GeluErfF<T>{});
  } else {
    unary_loop<T, T>(out, x, "softplus", SoftplusF<T>{static_cast<T>(p0), static_cast<T>(p1)});
  }
}

template <typename T>
void activation_bwd(int kind, const Tensor& gx, const Tensor& g, const Tensor& x, double p0, double p1) {
  if (kind == 0) {
    binary_loop<T, T, T>(gx, g, x, "leaky_relu backward", LeakyReluB<T>{static_cast<T>(p0)});
  } else if (kind == 1) {
    if (p0 != 0) binary_loop<T, T, T>(gx, g, x, "gelu backward", GeluTanhB<T>{});
    else binary_loop<T, T, T>(gx, g, x, "gelu backward", GeluErfB<T>{});
  } else {
    binary_loop<T, T, T>(gx, g, x, "softplus backward", SoftplusB<T>{static_cast<T>(p0), static_cast<T>(p1)});
  }
}

}  // namespace

void unary_kernel(UnaryOp op, const Tensor& out, const Tensor& x) {
  if (op == UnaryOp::LogicalNot) {
    GC_DISPATCH_ALL(x.dtype, "logical_not", [&] { unary_loop<bool, scalar_t>(out, x, "logical_not", IsZero<scalar_t>{}); });
    return;
  }
  GC_DISPATCH_NUMERIC(x.dtype, "unary", [&] { any_forward<scalar_t>(op, out, x); });
}

void unary_backward_kernel(UnaryOp op, const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& y) {
  GC_DISPATCH_FLOAT(gx.dtype, "unary backward", [&] { backward<scalar_t>(op, gx, g, x, y); });
}

void clamp_kernel(const Tensor& out, const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  GC_DISPATCH_NUMERIC(x.dtype, "clamp", [&] {
    using T = scalar_t;
    unary_loop<T, T>(out, x, "clamp", ClampF<T>{lo.has_value(), hi.has_value(), cpu::clamp_bound<T>(lo), cpu::clamp_bound<T>(hi)});
  });
}

void clamp_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, bool has_lo, double lo, bool has_hi, double hi) {
  GC_DISPATCH_FLOAT(gx.dtype, "clamp backward", [&] {
    using T = scalar_t;
    binary_loop<T, T, T>(gx, g, x, "clamp backward", ClampB<T>{has_lo, has_hi, static_cast<T>(lo), static_cast<T>(hi)});
  });
}

void activation_kernel(int kind, const Tensor& out, const Tensor& x, double p0, double p1) {
  GC_DISPATCH_FLOAT(x.dtype, "activation", [&] { activation_fwd<scalar_t>(kind, out, x, p0, p1); });
}

void activation_backward_kernel(int kind, const Tensor& gx, const Tensor& g, const Tensor& x, double p0, double p1) {
  GC_DISPATCH_FLOAT(gx.dtype, "activation backward", [&] { activation_bwd<scalar_t>(kind, gx, g, x, p0, p1); });
}

}  // namespace gc::cuda
