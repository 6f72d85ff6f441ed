// CUDA sampling kernels (random.cu): the same entry points, arguments, contracts and counter use as
// csrc/cpu/random.h, on tensors that live on the current CUDA device.
#pragma once
#include <cstdint>
#include "core/tensor.h"

namespace gc::cuda {
void multinomial_with_replacement_kernel(const Tensor& out, const Tensor& probs, uint64_t seed, uint64_t base);
void multinomial_without_replacement_kernel(const Tensor& out, const Tensor& probs, uint64_t seed, uint64_t base);
void randperm_kernel(const Tensor& dst, uint64_t seed, uint64_t base);
void bernoulli_tensor_kernel(const Tensor& dst, const Tensor& p, uint64_t seed, uint64_t base);
}  // namespace gc::cuda
