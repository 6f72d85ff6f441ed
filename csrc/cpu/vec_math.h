// exp on a SIMD vector of floats, written with GCC/Clang vector extensions so that it needs no
// intrinsics and no -ffast-math: every line is one SSE2 op on the baseline x86-64 target (NEON on
// ARM), or one AVX2 op when the build enables AVX2 (-march=native). libm's scalar expf cannot be
// vectorised without -ffast-math, and it dominates softmax and the class losses otherwise; this
// one costs about a third of it per element. (The width follows the target on purpose: vectors
// wider than the target's registers are split into scalar code for comparisons.)
//
// Math (Cephes expf): x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2; e^r is a degree-5
// polynomial (under 1 ulp from the correctly rounded result); 2^n goes straight into the exponent
// bits. Domain x <= 88 (softmax and the losses only pass x <= 0): exp(-inf) = 0, NaN stays NaN,
// and results below 2^-125 (x < -86.5) are flushed to 0, a difference under 3e-38.
#pragma once
#include <cstdint>
#include <cstring>

namespace gc::cpu::vec {

#if defined(__AVX2__)
constexpr int64_t kLanes = 8;
#else
constexpr int64_t kLanes = 4;
#endif
typedef float vfloat __attribute__((vector_size(4 * kLanes)));
typedef int32_t vint __attribute__((vector_size(4 * kLanes)));

inline vfloat load(const float* p) {
  vfloat v;
  std::memcpy(&v, p, sizeof v);  // unaligned load
  return v;
}
inline void store(float* p, vfloat v) { std::memcpy(p, &v, sizeof v); }
inline vfloat splat(float s) { return vfloat{} + s; }
inline vfloat max(vfloat a, vfloat b) { return a > b ? a : b; }
inline float hmax(vfloat v) {
  float m = v[0];
  for (int i = 1; i < kLanes; ++i) m = v[i] > m ? v[i] : m;
  return m;
}
inline double hsum(vfloat v) {
  double s = 0;
  for (int i = 0; i < kLanes; ++i) s += v[i];
  return s;
}

inline vfloat exp(vfloat x) {
  const vfloat lo = splat(-86.5f);
  const vfloat xc = x < lo ? lo : x;  // a NaN lane stays NaN and poisons every step below
  // Adding 1.5 * 2^23 rounds to the nearest integer, which lands in the low mantissa bits.
  const float magic = 12582912.0f;
  const vfloat t = xc * 1.44269504088896341f + magic;
  const vfloat n = t - magic;
  const vint ni = reinterpret_cast<vint>(t) - 0x4B400000;
  // r = x - n ln2, with ln2 split in two so that the first product is exact.
  vfloat r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vfloat p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vfloat y = p * reinterpret_cast<vfloat>((ni + 127) << 23);
  return x < lo ? splat(0.0f) : y;
}

}  // namespace gc::cpu::vec
