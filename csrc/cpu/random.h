// Sampling kernels (random.cpp; the CUDA twins: cuda/random.cu). Counters: a kernel that reads
// `base` uses the generator counters base, base + 1, ..., as documented per kernel, which the op
// (ops/random.cpp) reserved before the call.
#pragma once
#include <cstdint>
#include "core/tensor.h"

namespace gc::cpu {
// out [rows, k] int64 from probs [rows, C] (contiguous float64, validated): sample s of row r
// inverts the row's running sum at counter base + r * k + s.
void multinomial_with_replacement_kernel(const Tensor& out, const Tensor& probs, uint64_t seed, uint64_t base);
// out [rows, k] int64, k <= C: the k winners of the exponential race (kernels/random.h), category c
// of row r keyed by counter base + r * C + c.
void multinomial_without_replacement_kernel(const Tensor& out, const Tensor& probs, uint64_t seed, uint64_t base);
// dst [n] contiguous int64: a uniform permutation of 0..n-1 by Fisher-Yates, swap i drawing counter base + i.
void randperm_kernel(const Tensor& dst, uint64_t seed, uint64_t base);
// dst (contiguous, any dtype) gets 1 with probability p[i] (contiguous float64, dst's shape), counter base + i.
void bernoulli_tensor_kernel(const Tensor& dst, const Tensor& p, uint64_t seed, uint64_t base);
}  // namespace gc::cpu
