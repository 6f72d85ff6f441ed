#include "cpu/random.h"
#include <algorithm>
#include <numeric>
#include <vector>
#include "core/dtype.h"
#include "cpu/loops.h"
#include "kernels/random.h"

namespace gc::cpu {

void multinomial_with_replacement_kernel(const Tensor& out, const Tensor& probs, uint64_t seed, uint64_t base) {
  const int64_t rows = probs.shape[0], C = probs.shape[1], k = out.shape[1];
  const double* p = probs.data_as<double>();
  int64_t* o = out.data_as<int64_t>();
  std::vector<double> cdf(static_cast<size_t>(C));
  for (int64_t r = 0; r < rows; ++r) {
    const double* pr = p + r * C;
    std::partial_sum(pr, pr + C, cdf.begin());
    int64_t last_positive = C - 1;
    while (last_positive > 0 && pr[last_positive] == 0) --last_positive;
    for (int64_t s = 0; s < k; ++s) {
      double t = kernels::cdf_target(cdf[C - 1], seed, base + static_cast<uint64_t>(r * k + s));
      int64_t c = std::upper_bound(cdf.begin(), cdf.end(), t) - cdf.begin();
      o[r * k + s] = std::min(c, last_positive);
    }
  }
}

void multinomial_without_replacement_kernel(const Tensor& out, const Tensor& probs, uint64_t seed, uint64_t base) {
  const int64_t rows = probs.shape[0], C = probs.shape[1], k = out.shape[1];
  const double* p = probs.data_as<double>();
  int64_t* o = out.data_as<int64_t>();
  std::vector<double> key(static_cast<size_t>(C));
  std::vector<int64_t> idx(static_cast<size_t>(C));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < C; ++c) key[c] = kernels::race_key(p[r * C + c], seed, base + static_cast<uint64_t>(r * C + c));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int64_t a, int64_t b) { return kernels::race_before(key[a], a, key[b], b); });
    std::copy(idx.begin(), idx.begin() + k, o + r * k);
  }
}

void randperm_kernel(const Tensor& dst, uint64_t seed, uint64_t base) {
  kernels::fisher_yates(dst.data_as<int64_t>(), dst.numel(), seed, base);
}

// (The OpenMP pragma cannot sit inside the dispatch macro's argument, hence the typed helper.)
template <typename T>
static void bernoulli_tensor_typed(T* o, const double* p, int64_t n, uint64_t seed, uint64_t base) {
#ifdef GRADCORE_OPENMP
#pragma omp parallel for num_threads(get_num_threads()) if (n >= kParallelGrain)
#endif
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(kernels::bernoulli_draw(p[i], seed, base + static_cast<uint64_t>(i)));
}

void bernoulli_tensor_kernel(const Tensor& dst, const Tensor& p, uint64_t seed, uint64_t base) {
  GC_DISPATCH_STORAGE(dst.dtype, "bernoulli", [&] {
    bernoulli_tensor_typed(dst.data_as<scalar_t>(), p.data_as<double>(), dst.numel(), seed, base);
  });
}

}  // namespace gc::cpu
