// exp (and sigmoid and tanh built on it) on a SIMD vector of floats, written with GCC/Clang vector extensions so that it needs no
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

inline vfloat abs(vfloat x) { return x < 0.0f ? -x : x; }

// sigmoid(x) = 1 / (1 + e^-|x|) for x >= 0 and e^-|x| / (1 + e^-|x|) below: exp only ever sees
// arguments <= 0 (no overflow), and neither branch cancels. NaN stays NaN.
inline vfloat sigmoid(vfloat x) {
  const vfloat e = exp(-abs(x));
  const vfloat s = 1.0f / (1.0f + e);
  return x >= 0.0f ? s : e * s;
}

// tanh(x) = sign(x) (1 - e) / (1 + e) with e = e^-2|x| (exp sees arguments <= 0; tanh saturates
// to +-1 where e underflows). Below |x| = 1/4, where 1 - e would cancel, the odd Taylor series to
// x^9 (truncation error under 1e-8 relative there). Both are computed and one is selected per
// lane, so the loop has no branches. NaN stays NaN.
inline vfloat tanh(vfloat x) {
  const vfloat a = abs(x);
  const vfloat e = exp(-2.0f * a);
  const vfloat big = (1.0f - e) / (1.0f + e);
  const vfloat a2 = a * a;
  vfloat p = splat(62.0f / 2835.0f);
  p = p * a2 - 17.0f / 315.0f;
  p = p * a2 + 2.0f / 15.0f;
  p = p * a2 - 1.0f / 3.0f;
  const vfloat small = a + a * a2 * p;
  const vfloat t = a < 0.25f ? small : big;
  return x < 0.0f ? -t : t;
}

}  // namespace gc::cpu::vec
