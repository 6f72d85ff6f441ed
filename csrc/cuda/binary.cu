// CUDA elementwise binary kernels: csrc/cpu/binary.cpp on the GPU. Arithmetic (add/sub with
// alpha, mul, div, pow, maximum/minimum, floor_divide, remainder) in the compute dtype,
// comparisons and logical ops writing bool, bool add/mul/max/min as or/and, and where.
//
// Each op is a functor with a __device__ operator() run by binary_loop/ternary_loop of loops.cuh
// (functors, not extended lambdas, so they are legal inside the dispatch macros' host lambdas).
// Semantics are the CPU's: integer floor_divide/remainder follow Python (floor, sign of the
// divisor), float remainder is fmod adjusted the same way; maximum/minimum return NaN when either
// side is NaN; integer pow uses square-and-multiply and gives 1/-1/0 for negative exponents;
// float pow special-cases exponents 2 and 0.5 like the CPU. int64 add/sub/mul/pow wrap around
// (computed in uint64, where overflow is defined). Integer division by zero is refused by the op
// layer (ops/binary.cpp) before a kernel runs. Errors are thrown on the host before any launch.
#include <cuda_runtime.h>
#include <cstdint>
#include <limits>
#include <type_traits>
#include "cuda/binary.h"
#include "cuda/loops.cuh"

namespace gc::cuda {

using ops::BinaryOp;

namespace {

template <typename T>
constexpr bool kInt = std::is_integral_v<T>;

__device__ __forceinline__ float dfloor(float v) { return ::floorf(v); }
__device__ __forceinline__ double dfloor(double v) { return ::floor(v); }
__device__ __forceinline__ float dfmod(float a, float b) { return ::fmodf(a, b); }
__device__ __forceinline__ double dfmod(double a, double b) { return ::fmod(a, b); }
__device__ __forceinline__ float dsqrt(float v) { return ::sqrtf(v); }
__device__ __forceinline__ double dsqrt(double v) { return ::sqrt(v); }
__device__ __forceinline__ float dpow(float a, float b) { return ::powf(a, b); }
__device__ __forceinline__ double dpow(double a, double b) { return ::pow(a, b); }

// Wrapping int64 arithmetic (plain arithmetic for floats).
template <typename T>
__device__ __forceinline__ T add_w(T a, T b) {
  if constexpr (kInt<T>) return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else return a + b;
}
template <typename T>
__device__ __forceinline__ T sub_w(T a, T b) {
  if constexpr (kInt<T>) return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  else return a - b;
}
template <typename T>
__device__ __forceinline__ T mul_w(T a, T b) {
  if constexpr (kInt<T>) return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else return a * b;
}

// ---- arithmetic functors ----
template <typename T>
struct AddF {
  __device__ __forceinline__ T operator()(T x, T y) const { return add_w(x, y); }
};
template <typename T>
struct AddAlphaF {
  T al;
  __device__ __forceinline__ T operator()(T x, T y) const { return add_w(x, mul_w(al, y)); }
};
template <typename T>
struct SubF {
  __device__ __forceinline__ T operator()(T x, T y) const { return sub_w(x, y); }
};
template <typename T>
struct SubAlphaF {
  T al;
  __device__ __forceinline__ T operator()(T x, T y) const { return sub_w(x, mul_w(al, y)); }
};
template <typename T>
struct MulF {
  __device__ __forceinline__ T operator()(T x, T y) const { return mul_w(x, y); }
};
template <typename T>
struct DivF {
  __device__ __forceinline__ T operator()(T x, T y) const { return x / y; }
};

template <typename T>
struct PowIntF {
  __device__ __forceinline__ T operator()(T x, T y) const {
    if (y < 0) {
      // Only 1 and -1 have integer negative powers; PyTorch rejects the rest up front.
      return x == 1 ? T(1) : (x == -1 ? ((y & 1) ? T(-1) : T(1)) : T(0));
    }
    uint64_t result = 1, base = static_cast<uint64_t>(x);
    for (T e = y; e; e >>= 1) {
      if (e & 1) result *= base;
      base *= base;
    }
    return static_cast<T>(result);
  }
};
template <typename T>
struct PowFloatF {
  __device__ __forceinline__ T operator()(T x, T y) const {
    if (y == T(2)) return x * x;
    if (y == T(0.5)) return dsqrt(x);
    return dpow(x, y);
  }
};

template <typename T>
struct MaximumF {
  __device__ __forceinline__ T operator()(T x, T y) const {
    if constexpr (!kInt<T>)
      if (x != x || y != y) return std::numeric_limits<T>::quiet_NaN();
    return x > y ? x : y;
  }
};
template <typename T>
struct MinimumF {
  __device__ __forceinline__ T operator()(T x, T y) const {
    if constexpr (!kInt<T>)
      if (x != x || y != y) return std::numeric_limits<T>::quiet_NaN();
    return x < y ? x : y;
  }
};

template <typename T>
struct FloorDivF {
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (kInt<T>) {
      T q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
      return q;
    } else {
      return dfloor(a / b);
    }
  }
};
template <typename T>
struct RemainderF {
  __device__ __forceinline__ T operator()(T a, T b) const {
    T r;
    if constexpr (kInt<T>) r = a % b;
    else r = dfmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  }
};

// ---- comparisons and logical ops (bool out) ----
#define GC_LOGICAL(Name, expr)                                               \
  template <typename T>                                                      \
  struct Name {                                                              \
    __device__ __forceinline__ bool operator()(T x, T y) const { return expr; } \
  };
GC_LOGICAL(EqF, x == y)
GC_LOGICAL(NeF, x != y)
GC_LOGICAL(LtF, x < y)
GC_LOGICAL(LeF, x <= y)
GC_LOGICAL(GtF, x > y)
GC_LOGICAL(GeF, x >= y)
GC_LOGICAL(AndF, x != T(0) && y != T(0))
GC_LOGICAL(OrF, x != T(0) || y != T(0))
GC_LOGICAL(XorF, (x != T(0)) != (y != T(0)))
#undef GC_LOGICAL

struct BoolOr {
  __device__ __forceinline__ bool operator()(bool x, bool y) const { return x || y; }
};
struct BoolAnd {
  __device__ __forceinline__ bool operator()(bool x, bool y) const { return x && y; }
};

template <typename T>
struct WhereF {
  __device__ __forceinline__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};

template <typename T>
void arith(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha) {
  constexpr bool is_int = kInt<T>;
  auto run = [&](const char* name, auto f) { binary_loop<T, T, T>(out, a, b, name, f); };
  switch (op) {
    case BinaryOp::Add: {
      T al = static_cast<T>(is_int ? static_cast<double>(alpha.i) : alpha.d);
      if (al == T(1)) run("add", AddF<T>{});
      else run("add", AddAlphaF<T>{al});
      return;
    }
    case BinaryOp::Sub: {
      T al = static_cast<T>(is_int ? static_cast<double>(alpha.i) : alpha.d);
      if (al == T(1)) run("sub", SubF<T>{});
      else run("sub", SubAlphaF<T>{al});
      return;
    }
    case BinaryOp::Mul: run("mul", MulF<T>{}); return;
    case BinaryOp::Div:
      if constexpr (is_int) fail(ErrorKind::Runtime, "div", "integer true division must be computed in floating point");
      else run("div", DivF<T>{});
      return;
    case BinaryOp::Pow:
      if constexpr (is_int) run("pow", PowIntF<T>{});
      else run("pow", PowFloatF<T>{});
      return;
    case BinaryOp::Maximum: run("maximum", MaximumF<T>{}); return;
    case BinaryOp::Minimum: run("minimum", MinimumF<T>{}); return;
    case BinaryOp::FloorDivide: run("floor_divide", FloorDivF<T>{}); return;
    case BinaryOp::Remainder: run("remainder", RemainderF<T>{}); return;
    default: break;
  }
  fail(ErrorKind::Runtime, "binary", "unexpected op");
}

template <typename T>
void logical(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  auto run = [&](auto f) { binary_loop<bool, T, T>(out, a, b, "compare", f); };
  switch (op) {
    case BinaryOp::Eq: return run(EqF<T>{});
    case BinaryOp::Ne: return run(NeF<T>{});
    case BinaryOp::Lt: return run(LtF<T>{});
    case BinaryOp::Le: return run(LeF<T>{});
    case BinaryOp::Gt: return run(GtF<T>{});
    case BinaryOp::Ge: return run(GeF<T>{});
    case BinaryOp::LogicalAnd: return run(AndF<T>{});
    case BinaryOp::LogicalOr: return run(OrF<T>{});
    case BinaryOp::LogicalXor: return run(XorF<T>{});
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
        binary_loop<bool, bool, bool>(out, a, b, "binary", BoolOr{}); return;
      case BinaryOp::Mul: case BinaryOp::Minimum:
        binary_loop<bool, bool, bool>(out, a, b, "binary", BoolAnd{}); return;
      default:
        fail(ErrorKind::Runtime, "binary", "this op is not supported for bool tensors. Hint: convert with .long() or .float()");
    }
  }
  GC_DISPATCH_NUMERIC(a.dtype, "binary", [&] { arith<scalar_t>(op, out, a, b, alpha); });
}

void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  GC_DISPATCH_ALL(out.dtype, "where", [&] {
    ternary_loop<scalar_t, bool, scalar_t, scalar_t>(out, cond, a, b, "where", WhereF<scalar_t>{});
  });
}

}  // namespace gc::cuda
