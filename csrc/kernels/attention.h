// The shared contract of the fused attention kernels (cpu/attention.cpp, cuda/attention.cu):
// their geometry and options, and the formulas both backends evaluate per score, written once.
//
//   s_ij = scale * <q_i, k_j> + mask_ij      (mask_ij = -inf where causal hides j > i)
//   P_ij = exp(s_ij - lse_i),  lse_i = log sum_j exp(s_ij)
//   out_i = sum_j Z_ij P_ij v_j,  Z_ij = keep_ij / (1 - p)   (dropout; Z = 1 when p = 0)
//
// A row whose every score is -inf gives out_i = 0 (PyTorch's CPU result) and stores lse_i = +inf,
// so the backward's exp(s_ij - lse_i) is 0 there and its gradients are 0 without a special case.
#pragma once
#include <cstdint>
#include "core/generator.h"
#include "core/host_device.h"

namespace gc::kernels {

struct AttentionParams {
  int64_t B = 1, L = 0, S = 0, E = 0, Ev = 0;  // batch (all leading dims), query/key lengths, dims
  double scale = 1.0;
  bool causal = false;                          // hides j > i (top-left aligned)
  // Additive mask of the compute dtype, read at mask[b * mask_sb + i * mask_sl + j * mask_ss]
  // (strides 0 on broadcast dims); unused when the kernel gets no mask tensor.
  int64_t mask_sb = 0, mask_sl = 0, mask_ss = 0;
  double dropout_p = 0.0;
  uint64_t seed = 0, offset = 0;  // dropout draws: element (b, i, j) uses counter offset + (b*L + i)*S + j

  GC_HOST_DEVICE bool hidden(int64_t i, int64_t j) const { return causal && j > i; }
  // Z_ij: 0 for a dropped weight, 1 / (1 - p) for a kept one (1 without dropout). The draw depends
  // only on (seed, offset, b, i, j), so the backward regenerates the forward's mask.
  GC_HOST_DEVICE double dropout_scale(int64_t b, int64_t i, int64_t j) const {
    if (dropout_p <= 0.0) return 1.0;
    const uint64_t counter = offset + static_cast<uint64_t>((b * L + i) * S + j);
    return Generator::uniform(seed, counter) < 1.0 - dropout_p ? 1.0 / (1.0 - dropout_p) : 0.0;
  }
};

}  // namespace gc::kernels
