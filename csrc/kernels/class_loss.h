// The contract of the class-loss kernels (cross-entropy, NLL), shared by both backends: what a
// loss passes its kernels besides its operands, and what it gets back.
#pragma once
#include <cstdint>
#include "core/tensor.h"
#include "kernels/softmax.h"

namespace gc::kernels {

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
