// The elementwise unary ops, each declared once. A row of GC_UNARY_OPS names the op's functor,
// its Python name, how its result dtype follows the input's, what its backward reads, and where
// it shows in Python. The functor below the table holds the op's forward and derivative, written
// once with GC_HOST_DEVICE so that the CPU loops (cpu/unary.cpp) and the CUDA kernels
// (cuda/unary.cu) instantiate the same formula. Everything else is generated from the row: the
// UnaryFn variant the kernels visit, the autograd node (ops/unary.cpp), the bindings
// (bind/unary.cpp: gradcore.X, Tensor.X, Tensor.X_, or gradcore._C._nn.X for nn.functional).
//
// Adding an op: a row, its functor (operator() for the forward, grad(g, v) for g * f'(x), v being
// the input or the output as the row says), a line in tests/test_unary.py's table and, for an
// op of nn.functional, a line in python/gradcore/nn/functional.py.
#pragma once
#include <cstdint>
#include <optional>
#include <type_traits>
#include <variant>
#include "core/dtype.h"
#include "core/host_device.h"
#include "core/scalar.h"
#include "kernels/math.h"

namespace gc::kernels {

// How an op's result dtype follows its input's; the kernels are instantiated for the dtypes the
// rule admits.
enum class UnaryDtype : uint8_t {
  Any,         // every dtype, bool included, keeps its dtype (sign)
  Numeric,     // int64 and floats keep their dtype; bool: RuntimeError (neg, relu, hardtanh)
  NumericNI,   // int64 and floats keep their dtype; bool: NotImplementedError (abs, floor, ceil, round)
  BoolAsLong,  // int64 and floats keep their dtype; bool computes in int64 (square)
  Float,       // integers and bool promote to the default float dtype (exp, tanh, erf, ...)
  FloatNI,     // integers promote to the default float dtype; bool: NotImplementedError (softsign,
               // which PyTorch computes as x / (|x| + 1), and abs refuses bool)
  FloatOnly,   // floating only, others NotImplementedError (the nn activations: gelu, silu, ...)
  Logical,     // any dtype in, bool out, no gradient (logical_not)
};
// What the backward reads besides the incoming gradient g.
enum class UnarySaves : uint8_t { Input, Output, Nothing };
// Where the op shows in Python.
enum class UnaryApi : uint8_t {
  Tensor,  // gradcore.X(t), t.X(), t.X_(), gradcore.X_(t)
  NN,      // gradcore._C._nn.X(t) and X_(t), which nn.functional.X calls
  Manual,  // bound by hand in bind/unary.cpp (ops with parameters)
};

//   X(functor,   name,          dtype,      saves,   api)
#define GC_UNARY_OPS(X)                                            \
  X(Neg,        "neg",         Numeric,    Nothing, Tensor)        \
  X(Abs,        "abs",         NumericNI,  Input,   Tensor)        \
  X(Exp,        "exp",         Float,      Output,  Tensor)        \
  X(Log,        "log",         Float,      Input,   Tensor)        \
  X(Sqrt,       "sqrt",        Float,      Output,  Tensor)        \
  X(Rsqrt,      "rsqrt",       Float,      Output,  Tensor)        \
  X(Sin,        "sin",         Float,      Input,   Tensor)        \
  X(Cos,        "cos",         Float,      Input,   Tensor)        \
  X(Tanh,       "tanh",        Float,      Output,  Tensor)        \
  X(Sigmoid,    "sigmoid",     Float,      Output,  Tensor)        \
  X(Relu,       "relu",        Numeric,    Output,  Tensor)        \
  X(Sign,       "sign",        Any,        Nothing, Tensor)        \
  X(Floor,      "floor",       NumericNI,  Nothing, Tensor)        \
  X(Ceil,       "ceil",        NumericNI,  Nothing, Tensor)        \
  X(Round,      "round",       NumericNI,  Nothing, Tensor)        \
  X(Log1p,      "log1p",       Float,      Input,   Tensor)        \
  X(Expm1,      "expm1",       Float,      Output,  Tensor)        \
  X(LogicalNot, "logical_not", Logical,    Nothing, Tensor)        \
  X(Reciprocal, "reciprocal",  Float,      Output,  Tensor)        \
  X(Square,     "square",      BoolAsLong, Input,   Tensor)        \
  X(Erf,        "erf",         Float,      Input,   Tensor)        \
  X(Erfc,       "erfc",        Float,      Input,   Tensor)        \
  X(LeakyRelu,  "leaky_relu",  FloatOnly,  Input,   Manual)        \
  X(Gelu,       "gelu",        FloatOnly,  Input,   Manual)        \
  X(Softplus,   "softplus",    FloatOnly,  Input,   Manual)        \
  X(Silu,       "silu",        FloatOnly,  Input,   NN)            \
  X(Mish,       "mish",        FloatOnly,  Input,   NN)            \
  X(Hardtanh,   "hardtanh",    Numeric,    Input,   Manual)        \
  X(Softsign,   "softsign",    FloatNI,    Input,   NN)            \
  X(LogSigmoid, "log_sigmoid", FloatOnly,  Input,   NN)

// ---- the functors: forward operator()(v), derivative grad(g, v) = g * f'(x) ----
// grad's v is the input x or the output y, as the row's `saves` says (Nothing: g itself).

struct Neg {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::wrapping_neg(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T) const { return -g; }
};
struct Abs {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return math::fabs(x);  // abs(-0.0) is +0.0
    else return x < T(0) ? math::wrapping_neg(x) : x;
  }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return x > T(0) ? g : (x < T(0) ? -g : T(0)); }
};
struct Exp {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::exp(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T y) const { return g * y; }
};
struct Log {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::log(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return g / x; }
};
struct Sqrt {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::sqrt(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T y) const { return g / (T(2) * y); }
};
struct Rsqrt {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return T(1) / math::sqrt(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T y) const { return T(-0.5) * g * y * y * y; }
};
struct Sin {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::sin(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return g * math::cos(x); }
};
struct Cos {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::cos(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return -g * math::sin(x); }
};
struct Tanh {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::tanh(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T y) const { return g * (T(1) - y * y); }
};
struct Sigmoid {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::sigmoid(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T y) const { return g * y * (T(1) - y); }
};
struct Relu {
  // NaN propagates (NaN < 0 is false); the gradient passes wherever y <= 0 is false, NaN
  // included, as PyTorch's threshold_backward.
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return x < T(0) ? T(0) : x; }
  template <typename T> GC_HOST_DEVICE T grad(T g, T y) const { return y <= T(0) ? T(0) : g; }
};
struct Sign {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return static_cast<T>((T(0) < x) - (x < T(0))); }
  template <typename T> GC_HOST_DEVICE T grad(T, T) const { return T(0); }
};
// floor/ceil/round of an integer is the integer itself.
struct Floor {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return math::floor(x);
    else return x;
  }
  template <typename T> GC_HOST_DEVICE T grad(T, T) const { return T(0); }
};
struct Ceil {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return math::ceil(x);
    else return x;
  }
  template <typename T> GC_HOST_DEVICE T grad(T, T) const { return T(0); }
};
struct Round {  // half to even, as PyTorch
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return math::rint(x);
    else return x;
  }
  template <typename T> GC_HOST_DEVICE T grad(T, T) const { return T(0); }
};
struct Log1p {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::log1p(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return g / (T(1) + x); }
};
struct Expm1 {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::expm1(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T y) const { return g * (y + T(1)); }
};
struct LogicalNot {
  template <typename T> GC_HOST_DEVICE bool operator()(T x) const { return x == T(0); }
  template <typename T> GC_HOST_DEVICE T grad(T, T) const { return T(0); }  // never called: no gradient
};
struct Reciprocal {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return T(1) / x; }
  template <typename T> GC_HOST_DEVICE T grad(T g, T y) const { return -g * y * y; }
};
struct Square {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::wrapping_mul(x, x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return T(2) * g * x; }
};

struct Erf {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::erf(x); }
  // d/dx erf(x) = 2/sqrt(pi) e^(-x^2)
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return g * T(1.1283791670955126) * math::exp(-x * x); }
};

struct Erfc {
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return math::erfc(x); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return -g * T(1.1283791670955126) * math::exp(-x * x); }
};

struct Silu {  // x * sigmoid(x), PyTorch's formulas
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return x / (T(1) + math::exp(-x)); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const {
    const T s = T(1) / (T(1) + math::exp(-x));
    return g * s * (T(1) + x * (T(1) - s));
  }
};

struct Mish {  // x * tanh(softplus(x)), PyTorch's formulas
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return x * math::tanh(math::log1p(math::exp(x))); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const {
    const T s = T(1) / (T(1) + math::exp(-x)), t = math::tanh(math::log1p(math::exp(x)));
    return g * (t + x * s * (T(1) - t * t));
  }
};

struct Softsign {  // x / (1 + |x|)
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return x / (T(1) + math::fabs(x)); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const {
    const T d = T(1) + math::fabs(x);
    return g / (d * d);
  }
};

struct LogSigmoid {  // log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|), never overflowing
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    return (x < T(0) ? x : T(0)) - math::log1p(math::exp(-math::fabs(x)));
  }
  // d/dx = sigmoid(-x): with z = e^-|x|, 1/(1+z) for x < 0 and z/(1+z) otherwise.
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const {
    const T z = math::exp(-math::fabs(x));
    return x < T(0) ? g * (T(1) - z / (T(1) + z)) : g * (z / (T(1) + z));
  }
};

// ---- activations with parameters (defaults are PyTorch's) ----
struct LeakyRelu {
  double negative_slope = 0.01;
  template <typename T> GC_HOST_DEVICE T operator()(T x) const { return x > T(0) ? x : x * T(negative_slope); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const { return x > T(0) ? g : g * T(negative_slope); }
};
// GELU's two forms, each a branch-free formula, so the loop over either vectorises; Gelu picks
// one at run time, and the loops hoist that choice out of the element loop (with_static_form).
template <bool Tanh>
struct GeluForm {
  static constexpr double kSqrt2OverPi = 0.7978845608028654, kSqrtHalf = 0.7071067811865476;
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    if constexpr (Tanh) return T(0.5) * x * (T(1) + math::tanh(T(kSqrt2OverPi) * (x + T(0.044715) * x * x * x)));
    else return T(0.5) * x * (T(1) + math::erf(x * T(kSqrtHalf)));
  }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const {
    if constexpr (Tanh) {
      const T k = T(kSqrt2OverPi), c = T(0.044715);
      T t = math::tanh(k * (x + c * x * x * x));
      return g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * c * x * x));
    } else {
      T cdf = T(0.5) * (T(1) + math::erf(x * T(kSqrtHalf)));
      T pdf = math::exp(T(-0.5) * x * x) * T(0.3989422804014327);  // 1/sqrt(2 pi)
      return g * (cdf + x * pdf);
    }
  }
};
struct Gelu {
  bool tanh_approx = false;  // approximate='tanh'
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    return tanh_approx ? GeluForm<true>{}(x) : GeluForm<false>{}(x);
  }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const {
    return tanh_approx ? GeluForm<true>{}.grad(g, x) : GeluForm<false>{}.grad(g, x);
  }
};

// body(f), or body(an equivalent functor whose run-time choice of formula is a template
// argument) for the functors that have one: a loop over it then has no branch to vectorise
// around. GCC does not unswitch GELU's loop by itself (its body is too large), and the erf form
// ran scalar, 100 times slower than vectorised.
template <typename F, typename Body>
decltype(auto) with_static_form(const F& f, Body&& body) {
  if constexpr (std::is_same_v<F, Gelu>) {
    if (f.tanh_approx) return body(GeluForm<true>{});
    return body(GeluForm<false>{});
  } else {
    return body(f);
  }
}
struct Softplus {
  double beta = 1.0, threshold = 20.0;
  // Above the threshold softplus is linear; below, log1p(exp) is exact enough.
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    const T b = T(beta);
    return x * b > T(threshold) ? x : math::log1p(math::exp(x * b)) / b;
  }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const {
    const T b = T(beta);
    return x * b > T(threshold) ? g : g * math::sigmoid(x * b);
  }
};

struct Hardtanh {
  double min_val = -1.0, max_val = 1.0;
  // NaN propagates; the gradient is zero at and beyond the bounds (PyTorch's hardtanh_backward).
  template <typename T> GC_HOST_DEVICE T operator()(T x) const {
    const T lo = T(min_val), hi = T(max_val);
    return x < lo ? lo : (x > hi ? hi : x);
  }
  template <typename T> GC_HOST_DEVICE T grad(T g, T x) const {
    return x <= T(min_val) || x >= T(max_val) ? T(0) : g;
  }
};

// ---- generated from the table ----
template <typename Void, typename... Fs>
struct UnaryVariant {
  using type = std::variant<Fs...>;
  // Position of F among Fs (its row).
  template <typename F>
  static constexpr size_t index_of() {
    size_t i = 0;
    bool found = false;
    ((found = found || std::is_same_v<F, Fs>, i += found ? 0 : 1), ...);
    return i;
  }
};
#define GC_UNARY_TYPE(F, ...) , F
using UnaryVariantOfRows = UnaryVariant<void GC_UNARY_OPS(GC_UNARY_TYPE)>;
#undef GC_UNARY_TYPE
// The op as a value: which functor, with its parameters. Kernels visit it.
using UnaryFn = UnaryVariantOfRows::type;

struct UnaryInfo {
  const char* name;
  UnaryDtype dtype;
  UnarySaves saves;
  UnaryApi api;
};
// The rows, in the variant's order: kUnaryInfo[fn.index()] describes fn.
#define GC_UNARY_INFO(F, name, dtype, saves, api) UnaryInfo{name, UnaryDtype::dtype, UnarySaves::saves, UnaryApi::api},
inline constexpr UnaryInfo kUnaryInfo[] = {GC_UNARY_OPS(GC_UNARY_INFO)};
#undef GC_UNARY_INFO
static_assert(sizeof(kUnaryInfo) / sizeof(UnaryInfo) == std::variant_size_v<UnaryFn>);
inline const UnaryInfo& unary_info(const UnaryFn& f) { return kUnaryInfo[f.index()]; }
// The row of functor F, at compile time.
template <typename F>
inline constexpr UnaryInfo kUnaryInfoOf = kUnaryInfo[UnaryVariantOfRows::index_of<F>()];

// The input dtypes a rule's kernels are instantiated for.
constexpr DtypeSet dtype_set(UnaryDtype rule) {
  switch (rule) {
    case UnaryDtype::Float:
    case UnaryDtype::FloatNI:
    case UnaryDtype::FloatOnly: return DtypeSet::Float;
    case UnaryDtype::Any:
    case UnaryDtype::Logical: return DtypeSet::All;
    case UnaryDtype::Numeric:
    case UnaryDtype::NumericNI:
    case UnaryDtype::BoolAsLong: return DtypeSet::Numeric;
  }
  return DtypeSet::All;
}

// g * f'(x) as a two-operand functor (g, v) for the shared elementwise loops.
template <typename F>
struct UnaryGrad {
  F f;
  template <typename T> GC_HOST_DEVICE T operator()(T g, T v) const { return f.grad(g, v); }
};

// ---- clamp (bounds are Python numbers; integer bounds stay exact for int64) ----
// A bound in the tensor's type T (0 when absent).
template <typename T>
T clamp_bound(const std::optional<Scalar>& s) {
  if (!s) return T(0);
  if constexpr (std::is_floating_point_v<T>) return static_cast<T>(s->d);
  else return static_cast<T>(s->i);
}
template <typename T>
struct Clamp {
  bool has_lo, has_hi;
  T lo, hi;
  // PyTorch: min(max(x, lo), hi), NaN propagates.
  GC_HOST_DEVICE T operator()(T v) const {
    if (math::isnan(v)) return v;
    if (has_lo && v < lo) v = lo;
    if (has_hi && v > hi) v = hi;
    return v;
  }
};
template <typename T>
struct ClampGrad {
  bool has_lo, has_hi;
  T lo, hi;
  // g where lo <= x <= hi, else 0.
  GC_HOST_DEVICE T operator()(T g, T v) const { return (!has_lo || v >= lo) && (!has_hi || v <= hi) ? g : T(0); }
};

}  // namespace gc::kernels
