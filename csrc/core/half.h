// The two 16-bit floating types, as storage: BFloat16 (1 sign, 8 exponent, 7 mantissa bits: the
// top half of a float32) and Half (IEEE 754 binary16: 1, 5, 10). Both convert to float exactly and
// from float by round-to-nearest-even, keeping NaN a NaN (quiet) and infinities infinite; values
// past Half's range become infinite, as in PyTorch. Arithmetic goes through float: kernels read a
// 16-bit value, compute in float32 and store the rounded result. Host and device code share these
// (plain bit manipulation, no intrinsics), so both backends round alike.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>
#include "core/host_device.h"

namespace gc {

GC_HOST_DEVICE inline uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

GC_HOST_DEVICE inline float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  GC_HOST_DEVICE BFloat16(float f) : bits(round(f)) {}  // NOLINT: implicit, as PyTorch's c10::BFloat16
  GC_HOST_DEVICE operator float() const { return bits_float(static_cast<uint32_t>(bits) << 16); }
  GC_HOST_DEVICE static BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
  // float -> bfloat16, round to nearest, ties to even; a NaN stays a (quiet) NaN.
  // (Branch-free, so that loops of conversions vectorise.)
  GC_HOST_DEVICE static uint16_t round(float f) {
    const uint32_t u = float_bits(f);
    const uint32_t lsb = (u >> 16) & 1u;
    const uint32_t nearest = (u + 0x7fffu + lsb) >> 16, quiet_nan = (u >> 16) | 0x0040u;
    return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : nearest);
  }
};

struct Half {
  uint16_t bits = 0;
  Half() = default;
  GC_HOST_DEVICE Half(float f) : bits(round(f)) {}  // NOLINT: implicit, as PyTorch's c10::Half
  GC_HOST_DEVICE operator float() const { return widen(bits); }
  GC_HOST_DEVICE static Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
  // (Both conversions are branch-free, each case computed and one selected, so that loops of them
  // vectorise.)
  GC_HOST_DEVICE static uint32_t pick(bool c, uint32_t yes, uint32_t no) {
    const uint32_t m = 0u - static_cast<uint32_t>(c);
    return (yes & m) | (no & ~m);
  }
  GC_HOST_DEVICE static float widen(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    const uint32_t special = sign | 0x7f800000u | (man << 13);          // inf / NaN
    const uint32_t normal = sign | ((exp + 112) << 23) | (man << 13);
    const uint32_t small = sign | float_bits(static_cast<float>(man) * 5.9604644775390625e-08f);  // man * 2^-24: +-0, subnormals
    return bits_float(pick(exp == 0x1fu, special, pick(exp != 0, normal, small)));
  }
  // float -> binary16, round to nearest, ties to even (also into and out of the subnormals).
  GC_HOST_DEVICE static uint16_t round(float f) {
    const uint32_t u = float_bits(f);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const uint32_t a = u & 0x7fffffffu;
    const uint32_t nan = sign | 0x7e00u | ((a >> 13) & 0x3ffu);  // quiet
    const uint32_t inf = sign | 0x7c00u;                           // rounds past 65504
    // a normal half: rebias the exponent (- 112), round the 13 dropped bits
    const uint32_t m = a - 0x38000000u;
    const uint32_t normal = sign | ((m + 0xfffu + ((m >> 13) & 1u)) >> 13);
    // a subnormal half: the value 1.m * 2^(e-127) in units of 2^-24, rounded to nearest even: the
    // 24-bit significand shifted right by 126 - e (14..24 in this range; clamped elsewhere, where
    // the result is not selected)
    const uint32_t e = a >> 23, sig = (a & 0x7fffffu) | 0x800000u;
    int32_t sh = 126 - static_cast<int32_t>(e);
    sh = sh < 1 ? 1 : sh;
    sh = sh > 31 ? 31 : sh;
    const uint32_t shift = static_cast<uint32_t>(sh);
    const uint32_t q = sig >> shift, rem = sig & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    const uint32_t sub = sign | (q + pick(rem > halfway, 1u, pick(rem == halfway, q & 1u, 0u)));
    // the case by the magnitude, each a mask (all ones or zero): below half the smallest
    // subnormal (2^-25) +-0, then subnormal, normal, infinite, NaN
    uint32_t r = sign;
    r = pick(a >= 0x33000000u, sub, r);
    r = pick(a >= 0x38800000u, normal, r);
    r = pick(a >= 0x477ff000u, inf, r);
    r = pick(a > 0x7f800000u, nan, r);
    return static_cast<uint16_t>(r);
  }
};

// T is one of the two 16-bit floating storage types (the compile-time twin of is_half(DType)).
template <typename T>
inline constexpr bool is_half_v = std::is_same_v<T, BFloat16> || std::is_same_v<T, Half>;

}  // namespace gc
