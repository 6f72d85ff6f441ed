// The elementwise binary ops, each declared once. A row of GC_BINARY_OPS names the op's functor,
// its Python name, how the dtype it computes in follows the promoted dtype of its inputs, and what
// each partial derivative reads. The functor below the table holds the forward, operator()(a, b), and the
// two partial derivatives grad_a / grad_b(g, a, b, y) = g * d(a op b)/da (db), written once with
// GC_HOST_DEVICE for the CPU loops (cpu/binary.cpp) and the CUDA kernels (cuda/binary.cu).
// From the row come the BinaryOp enum, the op's autograd node (ops/binary.cpp) and, by its api
// column, its gradcore.X / Tensor.X / Tensor.X_ bindings (bind/binary.cpp, where operators such as
// + and their reflected forms are a table of their own).
//
// Semantics are PyTorch's: integer floor_divide/remainder follow Python (floor, sign of the
// divisor); maximum/minimum return NaN when either side is NaN; integer pow uses
// square-and-multiply and gives 1/-1/0 for negative exponents; int64 add/sub/mul/pow wrap around.
// Integer division by zero is refused by ops/binary.cpp before a kernel runs.
#pragma once
#include <cstdint>
#include <limits>
#include <type_traits>
#include "core/dtype.h"
#include "core/host_device.h"
#include "kernels/math.h"

namespace gc::kernels {

// The dtype an op computes in, from the inputs' promoted dtype (PyTorch's rules).
enum class BinaryDtype : uint8_t {
  Any,      // every dtype; bool stays bool (add and maximum are or, mul and minimum are and)
  Numeric,  // bool computes in int64 (pow, floor_divide, remainder)
  NoBool,   // two bools are refused (sub: PyTorch points to logical_xor)
  Float,    // integers and bool compute in the default float dtype (div)
  Compare,  // every dtype, bool result, no gradient
};
// What each partial derivative reads besides the incoming gradient g (a bit set).
enum class BinaryReads : uint8_t {
  G = 0,        // g alone
  A = 1,        // a
  B = 2,        // b
  AB = 3,       // a and b
  Y = 4,        // the output y (a flag: rows use ABY)
  ABY = 7,      // a, b and the output y
  Passes = 8,   // g itself, scaled by alpha for b (add, sub): no kernel, nothing saved
  NoGrad = 16,  // no gradient (comparisons)
};
constexpr bool reads(BinaryReads r, BinaryReads what) {
  return static_cast<uint8_t>(r) < 8 && (static_cast<uint8_t>(r) & static_cast<uint8_t>(what));
}

//   X(functor,     name,           dtype,   grad_a reads, grad_b reads, api)
#define GC_BINARY_OPS(X)                                                     \
  X(Add,         "add",          Any,     Passes, Passes, Manual)            \
  X(Sub,         "sub",          NoBool,  Passes, Passes, Manual)            \
  X(Mul,         "mul",          Any,     B,      A,      Method)            \
  X(Div,         "div",          Float,   B,      AB,     Manual)            \
  X(Pow,         "pow",          Numeric, AB,     ABY,    Method)            \
  X(Maximum,     "maximum",      Any,     AB,     AB,     NoInplace)         \
  X(Minimum,     "minimum",      Any,     AB,     AB,     NoInplace)         \
  X(FloorDivide, "floor_divide", Numeric, G,      G,      Method)            \
  X(Remainder,   "remainder",    Numeric, G,      AB,     Method)            \
  X(Eq,          "eq",           Compare, NoGrad, NoGrad, Method)            \
  X(Ne,          "ne",           Compare, NoGrad, NoGrad, Method)            \
  X(Lt,          "lt",           Compare, NoGrad, NoGrad, Method)            \
  X(Le,          "le",           Compare, NoGrad, NoGrad, Method)            \
  X(Gt,          "gt",           Compare, NoGrad, NoGrad, Method)            \
  X(Ge,          "ge",           Compare, NoGrad, NoGrad, Method)            \
  X(LogicalAnd,  "logical_and",  Compare, NoGrad, NoGrad, Method)            \
  X(LogicalOr,   "logical_or",   Compare, NoGrad, NoGrad, Method)            \
  X(LogicalXor,  "logical_xor",  Compare, NoGrad, NoGrad, Method)

#define GC_BINARY_ENUM(F, ...) F,
enum class BinaryOp : uint8_t { GC_BINARY_OPS(GC_BINARY_ENUM) };
#undef GC_BINARY_ENUM

// Where the op shows in Python.
enum class BinaryApi : uint8_t {
  Method,     // gradcore.X(a, b), a.X(b), a.X_(b)
  NoInplace,  // gradcore.X(a, b), a.X(b)
  Manual,     // bound by hand in bind/binary.cpp (add/sub take alpha, div rounding_mode)
};

struct BinaryInfo {
  const char* name;
  BinaryDtype dtype;
  BinaryReads grad_a, grad_b;
  BinaryApi api;
};
#define GC_BINARY_INFO(F, name, dtype, ga, gb, api) \
  BinaryInfo{name, BinaryDtype::dtype, BinaryReads::ga, BinaryReads::gb, BinaryApi::api},
inline constexpr BinaryInfo kBinaryInfo[] = {GC_BINARY_OPS(GC_BINARY_INFO)};
#undef GC_BINARY_INFO
inline constexpr const BinaryInfo& binary_info(BinaryOp op) { return kBinaryInfo[static_cast<int>(op)]; }

// ---- the functors ----
// Wrapping int64 arithmetic (computed in uint64, where overflow is defined); plain for floats
// and bool.
template <typename T>
GC_HOST_DEVICE inline T wrapping_add(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else return static_cast<T>(a + b);
}
template <typename T>
GC_HOST_DEVICE inline T wrapping_sub(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  else return static_cast<T>(a - b);
}

struct Add {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const { return wrapping_add(a, b); }
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T, T, T) const { return g; }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T, T, T) const { return g; }
};
struct Sub {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const { return wrapping_sub(a, b); }
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T, T, T) const { return g; }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T, T, T) const { return -g; }
};
struct Mul {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const { return math::wrapping_mul(a, b); }
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T, T b, T) const { return g * b; }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T a, T, T) const { return g * a; }
};
struct Div {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const { return a / b; }
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T, T b, T) const { return g / b; }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T a, T b, T) const { return -((g * a) / (b * b)); }
};
struct Pow {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b < 0) {
        // Only 1 and -1 have integer negative powers; PyTorch rejects the rest up front.
        return a == 1 ? T(1) : (a == -1 ? ((b & 1) ? T(-1) : T(1)) : T(0));
      }
      uint64_t result = 1, base = static_cast<uint64_t>(a);
      for (T e = b; e; e >>= 1) {
        if (e & 1) result *= base;
        base *= base;
      }
      return static_cast<T>(result);
    } else {
      // PyTorch's exact special cases of a scalar exponent (its pow kernel's), here for every b.
      if (b == T(2)) return a * a;
      if (b == T(3)) return a * a * a;
      if (b == T(1)) return a;
      if (b == T(0.5)) return math::sqrt(a);
      if (b == T(-0.5)) return T(1) / math::sqrt(a);
      if (b == T(-1)) return T(1) / a;
      if (b == T(-2)) return T(1) / (a * a);
      return math::pow(a, b);
    }
  }
  // d/da a^b = b a^(b-1), defined as 0 where b == 0; d/db a^b = a^b log(a), 0 where a == 0 and
  // b >= 0 (PyTorch's conventions).
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T a, T b, T) const {
    return b == T(0) ? T(0) : g * (b * (*this)(a, b - T(1)));
  }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T a, T b, T y) const {
    return a == T(0) && b >= T(0) ? T(0) : g * (y * math::log(a));
  }
};
// The larger (smaller) input takes the gradient, ties split it evenly, and where the comparison
// fails (NaN) both take it, as PyTorch's where(a == b, g / 2, g).masked_fill(a < b, 0).
struct Maximum {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const {
    if (math::isnan(a) || math::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    return a > b ? a : b;
  }
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T a, T b, T) const { return a == b ? g / T(2) : (a < b ? T(0) : g); }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T a, T b, T) const { return a == b ? g / T(2) : (b < a ? T(0) : g); }
};
struct Minimum {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const {
    if (math::isnan(a) || math::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    return a < b ? a : b;
  }
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T a, T b, T) const { return a == b ? g / T(2) : (a > b ? T(0) : g); }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T a, T b, T) const { return a == b ? g / T(2) : (b > a ? T(0) : g); }
};
struct FloorDivide {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      T q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
      return q;
    } else {
      return math::floor(a / b);
    }
  }
  // Piecewise constant: a zero gradient (times g, so inf and NaN in g propagate as in PyTorch).
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T, T, T) const { return g * T(0); }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T, T, T) const { return g * T(0); }
};
struct Remainder {  // a - floor(a / b) * b, with the sign of b
  template <typename T> GC_HOST_DEVICE T operator()(T a, T b) const {
    T r;
    if constexpr (std::is_integral_v<T>) r = a % b;
    else r = math::fmod(a, b);
    if (r != T(0) && ((r < T(0)) != (b < T(0)))) r += b;
    return r;
  }
  template <typename T> GC_HOST_DEVICE T grad_a(T g, T, T, T) const { return g; }
  template <typename T> GC_HOST_DEVICE T grad_b(T g, T a, T b, T) const { return -g * FloorDivide{}(a, b); }
};

// Comparisons and logical ops: a bool result, no gradient.
#define GC_COMPARE_FUNCTOR(F, expr)                                                        \
  struct F {                                                                               \
    template <typename T> GC_HOST_DEVICE bool operator()(T a, T b) const { return expr; } \
    template <typename T> GC_HOST_DEVICE T grad_a(T, T, T, T) const { return T(0); }       \
    template <typename T> GC_HOST_DEVICE T grad_b(T, T, T, T) const { return T(0); }       \
  };
GC_COMPARE_FUNCTOR(Eq, a == b)
GC_COMPARE_FUNCTOR(Ne, a != b)
GC_COMPARE_FUNCTOR(Lt, a < b)
GC_COMPARE_FUNCTOR(Le, a <= b)
GC_COMPARE_FUNCTOR(Gt, a > b)
GC_COMPARE_FUNCTOR(Ge, a >= b)
GC_COMPARE_FUNCTOR(LogicalAnd, a != T(0) && b != T(0))
GC_COMPARE_FUNCTOR(LogicalOr, a != T(0) || b != T(0))
GC_COMPARE_FUNCTOR(LogicalXor, (a != T(0)) != (b != T(0)))
#undef GC_COMPARE_FUNCTOR

// where(cond, a, b): the ternary that the binary family's backward and masking use.
struct Where {
  template <typename T> GC_HOST_DEVICE T operator()(bool c, T a, T b) const { return c ? a : b; }
};

// ---- generated from the table ----
// fn(F{}) for the functor of op's row: each backend's kernel entry visits its op with this.
template <typename Fn>
decltype(auto) visit_binary(BinaryOp op, Fn&& fn) {
  switch (op) {
#define GC_BINARY_CASE(F, ...) \
  case BinaryOp::F: return fn(F{});
    GC_BINARY_OPS(GC_BINARY_CASE)
#undef GC_BINARY_CASE
  }
  return fn(Add{});  // unreachable: the switch covers every row (-Wswitch)
}

template <typename F>
struct BinaryRow;
#define GC_BINARY_ROW(F, ...) \
  template <>                 \
  struct BinaryRow<F> {       \
    static constexpr BinaryOp op = BinaryOp::F; \
  };
GC_BINARY_OPS(GC_BINARY_ROW)
#undef GC_BINARY_ROW
// The row of functor F, at compile time.
template <typename F>
inline constexpr BinaryInfo kBinaryInfoOf = kBinaryInfo[static_cast<int>(BinaryRow<F>::op)];

// The compute dtypes a rule's kernels are instantiated for.
constexpr DtypeSet dtype_set(BinaryDtype rule) {
  switch (rule) {
    case BinaryDtype::Float: return DtypeSet::Float;
    case BinaryDtype::Any:
    case BinaryDtype::Compare: return DtypeSet::All;
    case BinaryDtype::Numeric:
    case BinaryDtype::NoBool: return DtypeSet::Numeric;
  }
  return DtypeSet::All;
}

// a op (alpha * b), for add and sub with alpha != 1.
template <typename F, typename T>
struct WithAlpha {
  F f;
  T alpha;
  GC_HOST_DEVICE T operator()(T a, T b) const { return f(a, math::wrapping_mul(alpha, b)); }
};
// The two derivatives as four-operand functors (g, a, b, y) for the shared loops.
template <typename F>
struct BinaryGradA {
  F f;
  template <typename T> GC_HOST_DEVICE T operator()(T g, T a, T b, T y) const { return f.grad_a(g, a, b, y); }
};
template <typename F>
struct BinaryGradB {
  F f;
  template <typename T> GC_HOST_DEVICE T operator()(T g, T a, T b, T y) const { return f.grad_b(g, a, b, y); }
};

}  // namespace gc::kernels
