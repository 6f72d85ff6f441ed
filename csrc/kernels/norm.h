// The contract of the batch-norm kernels shared by csrc/cpu/norm.cpp and csrc/cuda/norm.cu: how a
// contiguous input [N, C, *] is read per channel, and the formulas both backends run.
//
// Channel c holds the M = N * S elements x[n, c, s] (S = the product of the dims after C, 1 for
// an [N, C] input), at n * C * S + c * S + s. With the channel's mean and (biased) variance var,
// invstd = 1 / sqrt(var + eps):
//   forward   y = (x - mean) * invstd * w + b          = x * scale + shift
//   backward  dw = sum(dy * (x - mean)) * invstd,  db = sum(dy),
//             dx = w * invstd * (dy - db / M - (x - mean) * invstd^2 * sum(dy * (x - mean)) / M)
//             when the statistics were the batch's (training), dx = w * invstd * dy when they were
//             constants (running statistics, eval).
// Sums are accumulated in double on both backends.
#pragma once
#include <cmath>
#include <cstdint>
#include "core/host_device.h"

namespace gc::kernels {

struct ChannelLayout {
  int64_t N, C, S;
  GC_HOST_DEVICE int64_t count() const { return N * S; }  // elements per channel
  // The k-th element of channel c (k in [0, N * S)).
  GC_HOST_DEVICE int64_t at(int64_t c, int64_t k) const { return (k / S) * C * S + c * S + k % S; }
};

GC_HOST_DEVICE inline double bn_invstd(double var, double eps) { return 1.0 / sqrt(var + eps); }

// y = x * scale + shift for channel c (w, b: 1 and 0 without affine).
GC_HOST_DEVICE inline void bn_scale_shift(double mean, double var, double w, double b, double eps, double& scale,
                                          double& shift) {
  scale = w * bn_invstd(var, eps);
  shift = b - mean * scale;
}

// dx = k_dy * dy + k_x * (x - mean) + k_0 for channel c, from its sums (see above).
GC_HOST_DEVICE inline void bn_grad_coeffs(double sum_dy, double sum_dy_xmu, double var, double w, double eps,
                                          int64_t M, bool batch_stats, double& k_dy, double& k_x, double& k_0) {
  const double invstd = bn_invstd(var, eps);
  k_dy = w * invstd;
  if (!batch_stats) {
    k_x = k_0 = 0.0;
    return;
  }
  k_x = -w * invstd * invstd * invstd * sum_dy_xmu / static_cast<double>(M);
  k_0 = -k_dy * sum_dy / static_cast<double>(M);
}

}  // namespace gc::kernels
