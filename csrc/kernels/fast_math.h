// Float exp, log, tanh and erf for the CPU loops (kernels/math.h routes gc::math:: to them on the
// host), written as straight-line arithmetic with selects (no calls, no branches, no tables), so a
// loop over them vectorises at the loop's width. Checked against double-precision libm over every
// 7th float of their ranges: exp 1.22 ulp, log 1.25, tanh 1.31, erf 2.61 at most.
#pragma once
#include <cstdint>
#include <cstring>

// Forced inline: a loop calling one of them vectorises only if the body is inlined into it, and
// inside larger functors (GELU's forward and backward call two of them) GCC's heuristics would
// otherwise outline them into scalar calls.
#if defined(__GNUC__)
#define GC_FAST_MATH_INLINE inline __attribute__((always_inline))
#else
#define GC_FAST_MATH_INLINE inline
#endif

namespace gc::math::fast {

GC_FAST_MATH_INLINE float bits_to_float(int32_t i) { float f; std::memcpy(&f, &i, 4); return f; }
GC_FAST_MATH_INLINE int32_t float_to_bits(float f) { int32_t i; std::memcpy(&i, &f, 4); return i; }

// e^x: x = n ln2 + r, |r| <= ln2/2; e^r by its degree-7 Taylor polynomial (truncation 5e-9
// relative); 2^n applied as two exponent-field scalings so n from -252 to 254 (denormal results
// and up to FLT_MAX) needs no special case. Overflow gives inf, underflow 0, NaN stays NaN.
GC_FAST_MATH_INLINE float exp(float x) {
  const float xc = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  const float t = xc * 1.44269504088896341f + magic;
  const float n = t - magic;
  const int32_t ni = float_to_bits(t) - 0x4B400000;
  float r = xc - n * 0.693359375f;      // ln2 split: the first product is exact
  r = r - n * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  float y = p * bits_to_float((n1 + 127) << 23) * bits_to_float((n2 + 127) << 23);
  y = x > 88.72283935546875f ? __builtin_huge_valf() : y;
  y = x < -103.972084045410f ? 0.0f : y;
  return x != x ? x : y;
}

// log x: x = m 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s) with s = (m-1)/(m+1),
// |s| <= 0.1716, summed to s^9/9 (truncation 4e-10); e ln2 added in two parts. Denormals are
// scaled by 2^23 first; log 0 = -inf, log of a negative number NaN, log inf = inf.
GC_FAST_MATH_INLINE float log(float x) {
  const bool tiny = x < 1.17549435e-38f;
  const float xs = tiny ? x * 8388608.0f : x;
  const int32_t bits = float_to_bits(xs);
  int32_t e = ((bits >> 23) & 0xff) - 127;
  float m = bits_to_float((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  const bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1 : e;
  const float fe = static_cast<float>(e) - (tiny ? 23.0f : 0.0f);
  const float f = m - 1.0f;
  const float s = f / (m + 1.0f);
  const float z = s * s;
  float p = 1.0f / 9.0f;
  p = p * z + 1.0f / 7.0f;
  p = p * z + 1.0f / 5.0f;
  p = p * z + 1.0f / 3.0f;
  // log m = f - s f + 2 s z p (= 2s + 2s z p, with 2s = f - s f exact enough and better rounded)
  const float lm = f - s * f + 2.0f * s * z * p;
  float y = fe * 0.693359375f + (lm + fe * -2.12194440e-4f);
  y = x == __builtin_huge_valf() ? x : y;
  y = x == 0.0f ? -__builtin_huge_valf() : y;
  y = x < 0.0f ? __builtin_nanf("") : y;
  return x != x ? x : y;
}

// tanh x: for |x| < 0.625 x P(x^2) (a degree-5 least-squares fit, 4e-9 relative); above it
// 1 - 2 / (e^{2|x|} + 1) with x's sign (e^{2|x|} = inf gives exactly 1).
GC_FAST_MATH_INLINE float tanh(float x) {
  const float a = x < 0.0f ? -x : x;
  const float z = x * x;
  float p = -0.005697522223368519f;
  p = p * z + 0.02063030686321008f;
  p = p * z + -0.053735865079822406f;
  p = p * z + 0.13331365587964733f;
  p = p * z + -0.33333275348461816f;
  p = p * z + 0.9999999982361957f;
  const float small = x * p;
  const float large = 1.0f - 2.0f / (exp(2.0f * a) + 1.0f);
  const float y = a < 0.625f ? small : (x < 0.0f ? -large : large);
  return x != x ? x : y;
}

// erf x: for |x| < 1 x P(x^2) (degree-6 fit, 1.4e-9 relative); for 1 <= |x| < 4 1 - Q(t), Q a
// degree-12 polynomial in t = (|x| - 2.5) / 1.5 fitted to erfc with 4.4e-8 absolute error
// (minimax by Lawson's reweighting). erf is within 0.16 of 1 there, so erfc needs only absolute
// accuracy: no exp of -x^2 and no division, two short polynomials and selects.
GC_FAST_MATH_INLINE float erf(float x) {
  const float a = x < 0.0f ? -x : x;
  const float z = x * x;
  float p = 7.898210124450425e-05f;
  p = p * z + -0.0008024354100591615f;
  p = p * z + 0.005190053574124828f;
  p = p * z + -0.02685480853483263f;
  p = p * z + 0.11283612428168294f;
  p = p * z + -0.37612628843314194f;
  p = p * z + 1.1283791665100467f;
  const float small = x * p;
  const float t = ((a > 4.0f ? 4.0f : a) - 2.5f) * (1.0f / 1.5f);
  float q = 0.0011152546314927357f;
  q = q * t + -0.0018423332106615015f;
  q = q * t + -0.003385685780620519f;
  q = q * t + 0.010773910268154495f;
  q = q * t + -0.007524467154816246f;
  q = q * t + -0.009788792499758985f;
  q = q * t + 0.03218296063980245f;
  q = q * t + -0.04633087683167687f;
  q = q * t + 0.0435984600746547f;
  q = q * t + -0.02819442761760209f;
  q = q * t + 0.012256170955236588f;
  q = q * t + -0.0032670316104237347f;
  q = q * t + 0.00040691784086102184f;
  // From 3.919206 (the first float whose erf rounds to 1) the result is exactly 1, whatever Q's
  // error: GELU's x (1 + erf(x / sqrt 2)) / 2 must be exactly -0 for large negative x.
  const float large = a >= 3.919206f ? 1.0f : 1.0f - q;
  const float y = a < 1.0f ? small : (x < 0.0f ? -large : large);
  return x != x ? x : y;
}

}  // namespace gc::math::fast
