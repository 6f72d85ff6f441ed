// The contract of the softmax and class-loss kernels, shared by both backends: how ops/softmax.cpp
// lays a tensor out as rows along the class dim, and what a class loss (cross-entropy, NLL) passes
// its kernels and gets back.
#pragma once
#include <cstdint>
#include "core/tensor.h"

namespace gc::kernels {

// A contiguous tensor viewed as [outer, C, inner] around its class dim. Row r is the sample
// (r / inner, r % inner): its C entries start at (r / inner) * C * inner + r % inner and step by
// `inner`. inner == 1 (class dim last) is the unit-stride fast path.
struct RowLayout {
  int64_t outer = 1, C = 1, inner = 1;
  int64_t rows() const { return outer * inner; }
  int64_t base(int64_t r) const { return inner == 1 ? r * C : (r / inner) * C * inner + r % inner; }
};

// What a class loss needs besides its operands. Logits (or log-probabilities) are [N, C, S] as a
// RowLayout, one row per sample; targets are [N * S] class indices (int64) or [N, C, S]
// probabilities of the logits' dtype; weight is null or [C] of the logits' dtype.
struct ClassLossSpec {
  RowLayout L;
  const Tensor* weight = nullptr;
  int64_t ignore_index = -100;
  double smoothing = 0.0;
};

// Sum of the per-sample losses and of the weights of the samples that count (the divisor of
// PyTorch's weighted mean for index targets).
struct LossSums {
  double loss = 0, weight = 0;
};

}  // namespace gc::kernels
