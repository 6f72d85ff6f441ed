// The per-element formulas of the sampling kernels, written once for both backends
// (cpu/random.cpp, cuda/random.cu). Each maps counter values of the generator (core/generator.h)
// to a sample, so the value of element i depends only on (seed, base + i), not on how the work is
// split over threads or blocks.
#pragma once
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include "core/generator.h"
#include "core/host_device.h"

namespace gc::kernels {

// Exponential(lambd) by inversion: -log(1 - u) / lambd, with 1 - u in (0, 1].
struct ExponentialDraw {
  double lambd;
  GC_HOST_DEVICE double operator()(uint64_t seed, uint64_t c) const { return -log1p(-Generator::uniform(seed, c)) / lambd; }
};

// Geometric(p) on {1, 2, ...} (trials up to the first success) by inversion: ceil(log(1 - u) / log(1 - p)).
struct GeometricDraw {
  double log1m_p;  // log(1 - p)
  GC_HOST_DEVICE double operator()(uint64_t seed, uint64_t c) const {
    double k = ceil(log1p(-Generator::uniform(seed, c)) / log1m_p);
    return k < 1.0 ? 1.0 : k;  // u = 0 gives 0 trials; the support starts at 1
  }
};

// Bernoulli(p): 1 when u < p (p = 0 never fires, p = 1 always does).
GC_HOST_DEVICE inline double bernoulli_draw(double p, uint64_t seed, uint64_t c) { return Generator::uniform(seed, c) < p ? 1.0 : 0.0; }

// Sampling without replacement as an exponential race: category c with weight w gets the key
// log(1 - u) / w = -E / w (E ~ Exp(1)), and the k largest keys are a weighted sample without
// replacement, in the order sequential draws would produce (Efraimidis-Spirakis). Weight 0 gets
// -inf: such categories come last, in index order, as they do in PyTorch when k exceeds the
// number of positive weights.
GC_HOST_DEVICE inline double race_key(double w, uint64_t seed, uint64_t c) {
  return w > 0 ? log1p(-Generator::uniform(seed, c)) / w : -HUGE_VAL;
}
// The order of the race: the larger key first, the lower index on ties.
GC_HOST_DEVICE inline bool race_before(double key_a, int64_t a, double key_b, int64_t b) {
  return key_a > key_b || (key_a == key_b && a < b);
}

// Sampling with replacement by inverting the row's running sum: the category drawn is the first
// whose cumulative weight exceeds this target (a target that rounds up to the total falls back to
// the last category of positive weight, so a zero-weight category is never drawn).
GC_HOST_DEVICE inline double cdf_target(double total, uint64_t seed, uint64_t c) { return Generator::uniform(seed, c) * total; }

// A uniform permutation of 0..n-1 into o by Fisher-Yates (host only: it is sequential): swap i
// draws counter base + i. The modulo's bias is below n / 2^64.
inline void fisher_yates(int64_t* o, int64_t n, uint64_t seed, uint64_t base) {
  std::iota(o, o + n, int64_t{0});
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(Generator::mix(seed, base + static_cast<uint64_t>(i)) % static_cast<uint64_t>(i + 1));
    std::swap(o[i], o[j]);
  }
}

}  // namespace gc::kernels
