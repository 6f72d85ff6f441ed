// Elementwise unary kernels and their derivatives, side by side: each forward functor is paired
// with a backward functor that computes g * f'(x) in the same pass (no temporaries).
#include "cpu/unary.h"
#include <cmath>
#include "cpu/loops.h"

namespace gc::cpu {

using ops::UnaryOp;

namespace {

template <typename T>
T sigmoid(T x) {
  // Split by sign so exp never overflows.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
void float_forward(UnaryOp op, const Tensor& out, const Tensor& x) {
  auto run = [&](auto f) { unary_loop<T, T>(out, x, f); };
  switch (op) {
    case UnaryOp::Exp: return run([](T v) { return std::exp(v); });
    case UnaryOp::Log: return run([](T v) { return std::log(v); });
    case UnaryOp::Sqrt: return run([](T v) { return std::sqrt(v); });
    case UnaryOp::Rsqrt: return run([](T v) { return T(1) / std::sqrt(v); });
    case UnaryOp::Sin: return run([](T v) { return std::sin(v); });
    case UnaryOp::Cos: return run([](T v) { return std::cos(v); });
    case UnaryOp::Tanh: return run([](T v) { return std::tanh(v); });
    case UnaryOp::Sigmoid: return run([](T v) { return sigmoid(v); });
    case UnaryOp::Log1p: return run([](T v) { return std::log1p(v); });
    case UnaryOp::Expm1: return run([](T v) { return std::expm1(v); });
    case UnaryOp::Reciprocal: return run([](T v) { return T(1) / v; });
    case UnaryOp::Floor: return run([](T v) { return std::floor(v); });
    case UnaryOp::Ceil: return run([](T v) { return std::ceil(v); });
    case UnaryOp::Round: return run([](T v) { return std::nearbyint(v); });  // half to even, as PyTorch
    default: break;
  }
  fail(ErrorKind::Runtime, "unary", "unexpected op");
}

template <typename T>
void any_forward(UnaryOp op, const Tensor& out, const Tensor& x) {
  auto run = [&](auto f) { unary_loop<T, T>(out, x, f); };
  switch (op) {
    case UnaryOp::Neg: return run([](T v) { return static_cast<T>(-v); });
    case UnaryOp::Abs:
      // std::abs for floats so that abs(-0.0) is +0.0.
      return run([](T v) {
        if constexpr (std::is_floating_point_v<T>) return std::abs(v);
        else return v < T(0) ? static_cast<T>(-v) : v;
      });
    case UnaryOp::Relu:
      // NaN propagates (v > 0 is false for NaN, so test the other way round).
      return run([](T v) { return v < T(0) ? T(0) : v; });
    case UnaryOp::Sign: return run([](T v) { return static_cast<T>((T(0) < v) - (v < T(0))); });
    case UnaryOp::Square: return run([](T v) { return static_cast<T>(v * v); });
    case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round:
      if constexpr (std::is_integral_v<T>) return run([](T v) { return v; });  // integers are already whole
      break;
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) float_forward<T>(op, out, x);
  else fail(ErrorKind::Runtime, "unary", "op needs a floating-point input");
}

}  // namespace

void unary_kernel(UnaryOp op, const Tensor& out, const Tensor& x) {
  if (op == UnaryOp::LogicalNot) {
    GC_DISPATCH_ALL(x.dtype, "logical_not", [&] { unary_loop<bool, scalar_t>(out, x, [](scalar_t v) { return v == scalar_t(0); }); });
    return;
  }
  GC_DISPATCH_NUMERIC(x.dtype, "unary", [&] { any_forward<scalar_t>(op, out, x); });
}

void unary_backward_kernel(UnaryOp op, const Tensor& gx, const Tensor& g, const Tensor& x, const Tensor& y) {
  GC_DISPATCH_FLOAT(gx.dtype, "unary backward", [&] {
    using T = scalar_t;
    auto run = [&](auto f) { ternary_loop<T, T, T, T>(gx, g, x, y, f); };
    switch (op) {
      case UnaryOp::Neg: return run([](T g, T, T) { return -g; });
      case UnaryOp::Abs: return run([](T g, T x, T) { return x > T(0) ? g : (x < T(0) ? -g : T(0)); });
      case UnaryOp::Exp: return run([](T g, T, T y) { return g * y; });
      case UnaryOp::Log: return run([](T g, T x, T) { return g / x; });
      case UnaryOp::Sqrt: return run([](T g, T, T y) { return g / (T(2) * y); });
      case UnaryOp::Rsqrt: return run([](T g, T, T y) { return T(-0.5) * g * y * y * y; });
      case UnaryOp::Sin: return run([](T g, T x, T) { return g * std::cos(x); });
      case UnaryOp::Cos: return run([](T g, T x, T) { return -g * std::sin(x); });
      case UnaryOp::Tanh: return run([](T g, T, T y) { return g * (T(1) - y * y); });
      case UnaryOp::Sigmoid: return run([](T g, T, T y) { return g * y * (T(1) - y); });
      case UnaryOp::Relu: return run([](T g, T, T y) { return y > T(0) ? g : T(0); });
      case UnaryOp::Log1p: return run([](T g, T x, T) { return g / (T(1) + x); });
      case UnaryOp::Expm1: return run([](T g, T, T y) { return g * (y + T(1)); });
      case UnaryOp::Reciprocal: return run([](T g, T, T y) { return -g * y * y; });
      case UnaryOp::Square: return run([](T g, T x, T) { return T(2) * g * x; });
      case UnaryOp::Sign: case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round:
        return run([](T, T, T) { return T(0); });
      default: break;
    }
    fail(ErrorKind::Runtime, "unary backward", "op has no derivative");
  });
}

void clamp_kernel(const Tensor& out, const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  GC_DISPATCH_NUMERIC(x.dtype, "clamp", [&] {
    using T = scalar_t;
    const bool has_lo = lo.has_value(), has_hi = hi.has_value();
    const T l = clamp_bound<T>(lo), h = clamp_bound<T>(hi);
    // PyTorch: min(max(x, lo), hi), NaN propagates.
    unary_loop<T, T>(out, x, [=](T v) {
      if constexpr (std::is_floating_point_v<T>) if (std::isnan(v)) return v;
      if (has_lo && v < l) v = l;
      if (has_hi && v > h) v = h;
      return v;
    });
  });
}

void clamp_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, bool has_lo, double lo, bool has_hi, double hi) {
  GC_DISPATCH_FLOAT(gx.dtype, "clamp backward", [&] {
    using T = scalar_t;
    T l = static_cast<T>(lo), h = static_cast<T>(hi);
    binary_loop<T, T, T>(gx, g, x, [=](T gv, T v) {
      bool in = (!has_lo || v >= l) && (!has_hi || v <= h);
      return in ? gv : T(0);
    });
  });
}

void activation_kernel(int kind, const Tensor& out, const Tensor& x, double p0, double p1) {
  GC_DISPATCH_FLOAT(x.dtype, "activation", [&] {
    using T = scalar_t;
    if (kind == 0) {
      T s = static_cast<T>(p0);
      unary_loop<T, T>(out, x, [s](T v) { return v > T(0) ? v : v * s; });
    } else if (kind == 1) {
      if (p0 != 0)  // tanh approximation
        unary_loop<T, T>(out, x, [](T v) {
          const T k = T(0.7978845608028654);  // sqrt(2/pi)
          return T(0.5) * v * (T(1) + std::tanh(k * (v + T(0.044715) * v * v * v)));
        });
      else
        unary_loop<T, T>(out, x, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(0.7071067811865476))); });
    } else {
      T beta = static_cast<T>(p0), thr = static_cast<T>(p1);
      // Above the threshold softplus is linear; below, log1p(exp) is exact enough.
      unary_loop<T, T>(out, x, [=](T v) { return v * beta > thr ? v : std::log1p(std::exp(v * beta)) / beta; });
    }
  });
}

void activation_backward_kernel(int kind, const Tensor& gx, const Tensor& g, const Tensor& x, double p0, double p1) {
  GC_DISPATCH_FLOAT(gx.dtype, "activation backward", [&] {
    using T = scalar_t;
    if (kind == 0) {
      T s = static_cast<T>(p0);
      binary_loop<T, T, T>(gx, g, x, [s](T gv, T v) { return v > T(0) ? gv : gv * s; });
    } else if (kind == 1) {
      if (p0 != 0)
        binary_loop<T, T, T>(gx, g, x, [](T gv, T v) {
          const T k = T(0.7978845608028654), c = T(0.044715);
          T inner = k * (v + c * v * v * v), t = std::tanh(inner);
          T d = T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * k * (T(1) + T(3) * c * v * v);
          return gv * d;
        });
      else
        binary_loop<T, T, T>(gx, g, x, [](T gv, T v) {
          T cdf = T(0.5) * (T(1) + std::erf(v * T(0.7071067811865476)));
          T pdf = std::exp(T(-0.5) * v * v) * T(0.3989422804014327);
          return gv * (cdf + v * pdf);
        });
    } else {
      T beta = static_cast<T>(p0), thr = static_cast<T>(p1);
      binary_loop<T, T, T>(gx, g, x, [=](T gv, T v) { return v * beta > thr ? gv : gv * sigmoid(v * beta); });
    }
  });
}

}  // namespace gc::cpu
