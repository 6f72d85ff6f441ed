// CUDA kernels of the copy, fill and random family (copy.cu): the same entry points, arguments and contracts as
// csrc/cpu/copy.h, on tensors that live on the current CUDA device. Launched on the default stream.
#pragma once
#include "core/generator.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace gc::cuda {
void copy_kernel(const Tensor& dst, const Tensor& src);  // both on the same device
void fill_kernel(const Tensor& dst, Scalar v);
void uniform_kernel(const Tensor& dst, double low, double high, uint64_t seed, uint64_t base);
void normal_kernel(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t base);
void randint_kernel(const Tensor& dst, int64_t low, int64_t high, uint64_t seed, uint64_t base);
void exponential_kernel(const Tensor& dst, double lambd, uint64_t seed, uint64_t base);
void geometric_kernel(const Tensor& dst, double p, uint64_t seed, uint64_t base);
void bernoulli_kernel(const Tensor& dst, double p, uint64_t seed, uint64_t base);
void arange_kernel(const Tensor& dst, double start, double step);
}  // namespace gc::cuda
