// Scalar math that both backends share: float and double overloads of the C math library that
// compile for the host (glibc) and, under nvcc, for the GPU (CUDA's device math library), so a
// formula written once with gc::math:: runs unchanged in the CPU loops and the CUDA kernels.
// float stays in float (expf, tanhf, ...), as PyTorch's kernels do. On the host, float exp, log,
// tanh and erf are kernels/fast_math.h's call-free versions (within 1.3 ulp, erf 2.6), so the
// CPU loops over them vectorise: libm's cannot be without -ffast-math, and GELU, tanh and the
// sigmoid gates spent most of their time in scalar calls.
#pragma once
#include <math.h>
#include <cstdint>
#include <type_traits>
#include "core/host_device.h"
#include "kernels/fast_math.h"

namespace gc::math {

#define GC_MATH_FN(name)                                                       \
  GC_HOST_DEVICE inline float name(float v) { return ::name##f(v); }           \
  GC_HOST_DEVICE inline double name(double v) { return ::name(v); }
#if defined(__CUDA_ARCH__)
#define GC_MATH_FN_FAST(name) GC_MATH_FN(name)
#else
#define GC_MATH_FN_FAST(name)                                                  \
  GC_FAST_MATH_INLINE float name(float v) { return fast::name(v); }       \
  GC_HOST_DEVICE inline double name(double v) { return ::name(v); }
#endif
GC_MATH_FN_FAST(exp)
GC_MATH_FN_FAST(log)
GC_MATH_FN(sqrt)
GC_MATH_FN(sin)
GC_MATH_FN(cos)
GC_MATH_FN_FAST(tanh)
GC_MATH_FN(log1p)
GC_MATH_FN(expm1)
GC_MATH_FN(floor)
GC_MATH_FN(ceil)
GC_MATH_FN(rint)  // half to even in the default rounding mode, as PyTorch's round
GC_MATH_FN(fabs)
GC_MATH_FN_FAST(erf)
GC_MATH_FN(erfc)
#undef GC_MATH_FN_FAST
#undef GC_MATH_FN
#define GC_MATH_FN2(name)                                                              \
  GC_HOST_DEVICE inline float name(float a, float b) { return ::name##f(a, b); }        \
  GC_HOST_DEVICE inline double name(double a, double b) { return ::name(a, b); }
GC_MATH_FN2(pow)
GC_MATH_FN2(fmod)
#undef GC_MATH_FN2

template <typename T>
GC_HOST_DEVICE inline bool isnan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: exp never overflows. One exp of -|x| and a
// select, no branch, so loops over it vectorise.
template <typename T>
GC_HOST_DEVICE inline T sigmoid(T x) {
  const T e = exp(x < T(0) ? x : -x);
  return (x < T(0) ? e : T(1)) / (T(1) + e);
}

// Integer negation and product wrap around (done in uint64, where overflow is defined), as
// PyTorch's do; floats are plain.
template <typename T>
GC_HOST_DEVICE inline T wrapping_neg(T v) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(uint64_t(0) - static_cast<uint64_t>(v));
  else return static_cast<T>(-v);
}
template <typename T>
GC_HOST_DEVICE inline T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else return static_cast<T>(a * b);
}

}  // namespace gc::math
