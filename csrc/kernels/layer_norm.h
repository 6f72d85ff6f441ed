// The contract of the layer-norm and RMS-norm kernels shared by csrc/cpu/layer_norm.cpp and
// csrc/cuda/layer_norm.cu, and the formulas both backends run.
//
// The input is contiguous and seen as R rows of N elements (N = the product of the normalized
// dims). Per row, in the compute type T (float for float32 and the 16-bit floats, double for
// float64):
//   layer norm  mean = sum(x) / N,  rstd = 1 / sqrt(sum((x - mean)^2) / N + eps)
//   RMS norm    mean = 0,           rstd = 1 / sqrt(sum(x^2) / N + eps)
//   forward     xhat = (x - mean) * rstd,  y = xhat * w + b        (w = 1, b = 0 when absent)
//   backward    g = dy * w,  dx = rstd * (g - mean_g - xhat * mean(g * xhat))
//               with mean_g = sum(g) / N for layer norm and 0 for RMS norm (its mean is no
//               function of x);  dw = sum over rows of dy * xhat,  db = sum over rows of dy.
// The forward saves mean (layer norm only) and rstd per row, so the backward never recomputes
// the statistics.
#pragma once
#include <cstdint>
#include "core/host_device.h"
#include "kernels/math.h"

namespace gc::kernels {

enum class RowNorm : uint8_t { Layer, Rms };

template <typename T>
GC_HOST_DEVICE inline T norm_rstd(T mean_square, double eps) {
  return T(1) / math::sqrt(mean_square + static_cast<T>(eps));
}

// dx of one element from the row's two backward means (see above).
template <typename T>
GC_HOST_DEVICE inline T norm_dx(T g, T xhat, T rstd, T mean_g, T mean_gx) {
  return rstd * (g - mean_g - xhat * mean_gx);
}

}  // namespace gc::kernels
