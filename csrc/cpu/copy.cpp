#include "cpu/copy.h"
#include <cmath>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include "cpu/loops.h"
#include "kernels/convert.h"
#include "kernels/random.h"

namespace gc::cpu {

namespace {
using kernels::convert;

// o[i] = a[i] converted, for i < n: dtype casts of whole contiguous tensors (the 16-bit casts of
// autocast), one vectorised pass, threads when large.
#if defined(__x86_64__) && defined(__GNUC__)
// float -> float16 by F16C's vcvtps2ph, 8 at a time: round to nearest even, NaNs quieted keeping
// their top payload bits; checked equal to Half::round over all 2^32 floats. The tail (< 8) is
// left to the caller.
__attribute__((target("avx2,f16c"))) int64_t round_half_f16c(Half* o, const float* a, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(a + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return i;
}

bool has_f16c() {
  static const bool yes = cpu_isa() >= Isa::avx2 && __builtin_cpu_supports("f16c");
  return yes;
}
#endif

template <typename To, typename From>
void convert_flat(To* o, const From* a, int64_t n) {
  constexpr int64_t kChunk = 8 * kParallelGrain;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  auto chunk = [&](int64_t c) {
    To* oc = o + c * kChunk;
    const From* ac = a + c * kChunk;
    int64_t len = std::min(kChunk, n - c * kChunk);
#if defined(__x86_64__) && defined(__GNUC__)
    if constexpr (std::is_same_v<To, Half> && std::is_same_v<From, float>) {
      if (has_f16c()) {
        const int64_t done = round_half_f16c(oc, ac, len);
        oc += done, ac += done, len -= done;
      }
    }
#endif
    index_loop_widest([oc, ac](int64_t i) { oc[i] = convert<To>(ac[i]); }, len);
  };
#ifdef GRADCORE_OPENMP
#pragma omp parallel for num_threads(get_num_threads()) if (chunks > 1)
#endif
  for (int64_t c = 0; c < chunks; ++c) chunk(c);
}
}  // namespace

void copy_kernel(const Tensor& dst, const Tensor& src) {
  GC_DISPATCH_STORAGE(dst.dtype, "copy", [&] {
    using out_t = scalar_t;
    GC_DISPATCH_STORAGE(src.dtype, "copy", [&] {
      using in_t = scalar_t;
      if (dst.numel() == 0) return;
      if (dst.numel() == 1) {  // one element (a wrapped number cast to the compute dtype): no loop set-up
        *reinterpret_cast<out_t*>(dst.data()) = convert<out_t>(*reinterpret_cast<const in_t*>(src.data()));
        return;
      }
      if (dst.is_contiguous() && src.is_contiguous() && dst.shape == src.shape) {
        if constexpr (std::is_same_v<out_t, in_t>) {
          std::memcpy(dst.data(), src.data(), static_cast<size_t>(dst.numel()) * sizeof(out_t));
          return;
        } else if (dst.storage != src.storage) {
          return convert_flat(dst.data_as<out_t>(), src.data_as<in_t>(), dst.numel());
        }
      }
      unary_loop<out_t, in_t>(dst, src, [](in_t v) { return convert<out_t>(v); });
    });
  });
}

void fill_kernel(const Tensor& dst, Scalar v) {
  GC_DISPATCH_STORAGE(dst.dtype, "fill_", [&] {
    scalar_t x = v.kind == Scalar::Float ? convert<scalar_t>(v.d) : convert<scalar_t>(v.i);
    for_each<1>(dst.shape, {&dst}, [x](char* const* p, const int64_t* s, int64_t n) {
      if (s[0] == sizeof(scalar_t)) {
        auto* o = reinterpret_cast<scalar_t*>(p[0]);
        for (int64_t i = 0; i < n; ++i) o[i] = x;
      } else {
        for (int64_t i = 0; i < n; ++i) *reinterpret_cast<scalar_t*>(p[0] + i * s[0]) = x;
      }
    });
  });
}

// Element-indexed fills: `f(i)` gives the value of the i-th element in row-major order.
// (The OpenMP pragma cannot sit inside the dispatch macro's argument, hence the two steps.)
template <typename T, typename F>
static void fill_indexed_typed(T* o, int64_t n, F& f) {
#ifdef GRADCORE_OPENMP
#pragma omp parallel for num_threads(get_num_threads()) if (n >= kParallelGrain)
#endif
  for (int64_t i = 0; i < n; ++i) o[i] = convert<T>(f(i));
}

template <typename F>
static void fill_indexed(const Tensor& dst, F f) {
  // callers pass contiguous tensors
  GC_DISPATCH_STORAGE(dst.dtype, "random fill", [&] { fill_indexed_typed(dst.data_as<scalar_t>(), dst.numel(), f); });
}

void uniform_kernel(const Tensor& dst, double low, double high, uint64_t seed, uint64_t base) {
  double w = high - low;
  if (dst.dtype == DType::Float32) {
    // Draw in float precision so values never round up to `high`.
    fill_indexed(dst, [&](int64_t i) {
      float u = static_cast<float>(Generator::mix(seed, base + i) >> 40) * 0x1.0p-24f;
      float v = static_cast<float>(low) + static_cast<float>(w) * u;
      return v < static_cast<float>(high) || w == 0 ? v : static_cast<float>(low);
    });
  } else {
    fill_indexed(dst, [&](int64_t i) { return low + w * Generator::uniform(seed, base + i); });
  }
}

void normal_kernel(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t base) {
  // Box-Muller on two independent counters per element.
  fill_indexed(dst, [&](int64_t i) {
    uint64_t c = base + 2 * static_cast<uint64_t>(i);
    double u1 = 1.0 - Generator::uniform(seed, c);  // (0, 1]
    double u2 = Generator::uniform(seed, c + 1);
    return mean + std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  });
}

void randint_kernel(const Tensor& dst, int64_t low, int64_t high, uint64_t seed, uint64_t base) {
  uint64_t range = static_cast<uint64_t>(high - low);
  fill_indexed(dst, [&](int64_t i) { return static_cast<int64_t>(low + static_cast<int64_t>(Generator::mix(seed, base + i) % range)); });
}

// The formulas live in kernels/random.h, shared with the CUDA twins.
void exponential_kernel(const Tensor& dst, double lambd, uint64_t seed, uint64_t base) {
  kernels::ExponentialDraw draw{lambd};
  fill_indexed(dst, [&](int64_t i) { return draw(seed, base + i); });
}

void geometric_kernel(const Tensor& dst, double p, uint64_t seed, uint64_t base) {
  kernels::GeometricDraw draw{std::log1p(-p)};
  fill_indexed(dst, [&](int64_t i) { return draw(seed, base + i); });
}

void bernoulli_kernel(const Tensor& dst, double p, uint64_t seed, uint64_t base) {
  fill_indexed(dst, [&](int64_t i) { return kernels::bernoulli_draw(p, seed, base + i); });
}

void arange_kernel(const Tensor& dst, double start, double step) {
  fill_indexed(dst, [&](int64_t i) { return start + step * static_cast<double>(i); });
}

}  // namespace gc::cpu
