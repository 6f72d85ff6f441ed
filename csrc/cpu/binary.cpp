// Elementwise binary kernels: one functor per op over the shared strided loop (cpu/loops.h).
// Integer division and modulo follow Python's floor semantics, as PyTorch's do.
#include "cpu/binary.h"
#include <cmath>
#include "cpu/loops.h"

namespace gc::cpu {

using ops::BinaryOp;

namespace {

template <typename T>
T floor_div(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    T q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  } else {
    return std::floor(a / b);
  }
}

template <typename T>
T py_mod(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    T r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    T r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  }
}

template <typename T>
T int_pow(T base, T exp) {
  T result = 1;
  while (exp) {
    if (exp & 1) result *= base;
    exp >>= 1;
    base *= base;
  }
  return result;
}

template <typename T>
void arith(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha) {
  const bool is_int = std::is_integral_v<T>;
  switch (op) {
    case BinaryOp::Add: {
      T al = static_cast<T>(is_int ? static_cast<double>(alpha.i) : alpha.d);
      if (al == T(1)) binary_loop<T, T, T>(out, a, b, [](T x, T y) { return static_cast<T>(x + y); });
      else binary_loop<T, T, T>(out, a, b, [al](T x, T y) { return static_cast<T>(x + al * y); });
      return;
    }
    case BinaryOp::Sub: {
      T al = static_cast<T>(is_int ? static_cast<double>(alpha.i) : alpha.d);
      if (al == T(1)) binary_loop<T, T, T>(out, a, b, [](T x, T y) { return static_cast<T>(x - y); });
      else binary_loop<T, T, T>(out, a, b, [al](T x, T y) { return static_cast<T>(x - al * y); });
      return;
    }
    case BinaryOp::Mul: binary_loop<T, T, T>(out, a, b, [](T x, T y) { return static_cast<T>(x * y); }); return;
    case BinaryOp::Div:
      if constexpr (is_int) fail(ErrorKind::Runtime, "div", "integer true division must be computed in floating point");
      else binary_loop<T, T, T>(out, a, b, [](T x, T y) { return x / y; });
      return;
    case BinaryOp::Pow:
      if constexpr (is_int) {
        binary_loop<T, T, T>(out, a, b, [](T x, T y) {
          if (y < 0) {
            // Only 1 and -1 have integer negative powers; PyTorch rejects the rest up front.
            return x == 1 ? T(1) : (x == -1 ? ((y & 1) ? T(-1) : T(1)) : T(0));
          }
          return int_pow(x, y);
        });
      } else {
        binary_loop<T, T, T>(out, a, b, [](T x, T y) {
          if (y == T(2)) return x * x;
          if (y == T(0.5)) return std::sqrt(x);
          return static_cast<T>(std::pow(x, y));
        });
      }
      return;
    case BinaryOp::Maximum:
      binary_loop<T, T, T>(out, a, b, [](T x, T y) {
        if constexpr (!is_int) if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN();
        return x > y ? x : y;
      });
      return;
    case BinaryOp::Minimum:
      binary_loop<T, T, T>(out, a, b, [](T x, T y) {
        if constexpr (!is_int) if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN();
        return x < y ? x : y;
      });
      return;
    case BinaryOp::FloorDivide: binary_loop<T, T, T>(out, a, b, [](T x, T y) { return floor_div(x, y); }); return;
    case BinaryOp::Remainder: binary_loop<T, T, T>(out, a, b, [](T x, T y) { return py_mod(x, y); }); return;
    default: break;
  }
  fail(ErrorKind::Runtime, "binary", "unexpected op");
}

template <typename T>
void logical(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  switch (op) {
    case BinaryOp::Eq: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x == y; }); return;
    case BinaryOp::Ne: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x != y; }); return;
    case BinaryOp::Lt: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x < y; }); return;
    case BinaryOp::Le: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x <= y; }); return;
    case BinaryOp::Gt: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x > y; }); return;
    case BinaryOp::Ge: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x >= y; }); return;
    case BinaryOp::LogicalAnd: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x != T(0) && y != T(0); }); return;
    case BinaryOp::LogicalOr: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x != T(0) || y != T(0); }); return;
    case BinaryOp::LogicalXor: binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return (x != T(0)) != (y != T(0)); }); return;
    default: break;
  }
  fail(ErrorKind::Runtime, "binary", "unexpected op");
}

}  // namespace

void binary_kernel(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha) {
  if (op >= BinaryOp::Eq) {
    GC_DISPATCH_ALL(a.dtype, "compare", [&] { logical<scalar_t>(op, out, a, b); });
    return;
  }
  if (a.dtype == DType::Bool) {
    // bool arithmetic: add/mul/max/min behave as or/and (PyTorch keeps bool for these)
    switch (op) {
      case BinaryOp::Add: case BinaryOp::Maximum:
        binary_loop<bool, bool, bool>(out, a, b, [](bool x, bool y) { return x || y; }); return;
      case BinaryOp::Mul: case BinaryOp::Minimum:
        binary_loop<bool, bool, bool>(out, a, b, [](bool x, bool y) { return x && y; }); return;
      default:
        fail(ErrorKind::Runtime, "binary", "this op is not supported for bool tensors. Hint: convert with .long() or .float()");
    }
  }
  GC_DISPATCH_NUMERIC(a.dtype, "binary", [&] { arith<scalar_t>(op, out, a, b, alpha); });
}

void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  GC_DISPATCH_ALL(out.dtype, "where", [&] {
    ternary_loop<scalar_t, bool, scalar_t, scalar_t>(out, cond, a, b,
                                                     [](bool c, scalar_t x, scalar_t y) { return c ? x : y; });
  });
}

}  // namespace gc::cpu
