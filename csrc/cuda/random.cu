// CUDA sampling kernels: cpu/random.cpp on the GPU, drawing the same counters, so a seed gives the
// same samples on both devices (up to the device's log, which may differ from the host's by an ulp
// and, very rarely, reorder two nearly equal race keys).
//
// These favour simplicity over speed, which suits their use (sampling indices, not bulk math):
// with replacement, one thread per sample scans its row's running sum (O(C) per sample, the same
// additions in the same order as the CPU's prefix sum, so the same totals); without replacement,
// one thread per row picks the race winners one at a time, each pass the best key after the
// previous winner (O(k * C) per row, no scratch memory). randperm shuffles on the host and copies
// the permutation over: Fisher-Yates is sequential.
#include <cuda_runtime.h>
#include <cstdint>
#include <vector>
#include "core/dtype.h"
#include "cuda/loops.cuh"
#include "cuda/random.h"
#include "cuda/runtime.h"
#include "kernels/random.h"

namespace gc::cuda {

namespace {

__global__ void multinomial_with_replacement(int64_t* o, const double* p, int64_t rows, int64_t C, int64_t k,
                                             uint64_t seed, uint64_t base) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < rows * k;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / k;
    const double* pr = p + r * C;
    double total = 0;
    int64_t last_positive = 0;
    for (int64_t c = 0; c < C; ++c) {
      total = __dadd_rn(total, pr[c]);
      if (pr[c] > 0) last_positive = c;
    }
    const double t = kernels::cdf_target(total, seed, base + static_cast<uint64_t>(i));
    double run = 0;
    int64_t pick = last_positive;
    for (int64_t c = 0; c < C; ++c) {
      run = __dadd_rn(run, pr[c]);
      if (run > t) {
        pick = c < last_positive ? c : last_positive;
        break;
      }
    }
    o[i] = pick;
  }
}

__global__ void multinomial_without_replacement(int64_t* o, const double* p, int64_t rows, int64_t C, int64_t k,
                                                uint64_t seed, uint64_t base) {
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double prev_key = HUGE_VAL;
    int64_t prev = -1;
    for (int64_t s = 0; s < k; ++s) {
      double best_key = 0;
      int64_t best = -1;
      for (int64_t c = 0; c < C; ++c) {
        double key = kernels::race_key(p[r * C + c], seed, base + static_cast<uint64_t>(r * C + c));
        if (!kernels::race_before(prev_key, prev, key, c)) continue;  // already drawn
        if (best < 0 || kernels::race_before(key, c, best_key, best)) {
          best_key = key;
          best = c;
        }
      }
      o[r * k + s] = best;
      prev_key = best_key;
      prev = best;
    }
  }
}

template <typename T>
__global__ void bernoulli_tensor(T* o, const double* p, int64_t n, uint64_t seed, uint64_t base) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    o[i] = static_cast<T>(kernels::bernoulli_draw(p[i], seed, base + static_cast<uint64_t>(i)));
}

}  // namespace

void multinomial_with_replacement_kernel(const Tensor& out, const Tensor& probs, uint64_t seed, uint64_t base) {
  const int64_t rows = probs.shape[0], C = probs.shape[1], k = out.shape[1];
  if (rows * k == 0) return;
  multinomial_with_replacement<<<grid_for(rows * k), kBlock>>>(out.data_as<int64_t>(), probs.data_as<double>(), rows, C,
                                                               k, seed, base);
  check_launch("multinomial");
}

void multinomial_without_replacement_kernel(const Tensor& out, const Tensor& probs, uint64_t seed, uint64_t base) {
  const int64_t rows = probs.shape[0], C = probs.shape[1], k = out.shape[1];
  if (rows * k == 0) return;
  multinomial_without_replacement<<<grid_for(rows), kBlock>>>(out.data_as<int64_t>(), probs.data_as<double>(), rows, C,
                                                              k, seed, base);
  check_launch("multinomial");
}

void randperm_kernel(const Tensor& dst, uint64_t seed, uint64_t base) {
  const int64_t n = dst.numel();
  std::vector<int64_t> perm(static_cast<size_t>(n));
  kernels::fisher_yates(perm.data(), n, seed, base);
  copy_bytes(dst.data(), dst.device, perm.data(), Device{}, static_cast<size_t>(n) * sizeof(int64_t));
}

void bernoulli_tensor_kernel(const Tensor& dst, const Tensor& p, uint64_t seed, uint64_t base) {
  GC_DISPATCH_STORAGE(dst.dtype, "bernoulli", [&] {
    const int64_t n = dst.numel();
    if (n == 0) return;
    bernoulli_tensor<scalar_t><<<grid_for(n), kBlock>>>(dst.data_as<scalar_t>(), p.data_as<double>(), n, seed, base);
    check_launch("bernoulli");
  });
}

}  // namespace gc::cuda
