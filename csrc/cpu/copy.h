#pragma once
#include "core/generator.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace gc::cpu {
// dst = src (src broadcast to dst's shape), converting the scalar type on the way.
void copy_kernel(const Tensor& dst, const Tensor& src);
void fill_kernel(const Tensor& dst, Scalar v);
// Random fills walk dst's elements in row-major order, element i using counter base + i.
void uniform_kernel(const Tensor& dst, double low, double high, uint64_t seed, uint64_t base);
void normal_kernel(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t base);
void randint_kernel(const Tensor& dst, int64_t low, int64_t high, uint64_t seed, uint64_t base);
void exponential_kernel(const Tensor& dst, double lambd, uint64_t seed, uint64_t base);
void geometric_kernel(const Tensor& dst, double p, uint64_t seed, uint64_t base);
void bernoulli_kernel(const Tensor& dst, double p, uint64_t seed, uint64_t base);
void arange_kernel(const Tensor& dst, double start, double step);
}  // namespace gc::cpu
