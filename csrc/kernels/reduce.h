// The contract of the reductions, shared by both backends: the plan ops/reduce.cpp makes for a
// reduction over a set of dims (M independent outputs, the kept dims, each folding K inputs, the
// reduced dims merged where contiguous) and Welford's accumulator for var/std.
#pragma once
#include <vector>
#include "core/host_device.h"
#include "core/tensor.h"

namespace gc::kernels {

struct ReducePlan {
  DimVector kept_shape, kept_strides;  // element strides of x
  DimVector red_shape, red_strides;    // merged reduced dims, innermost last
  int64_t M = 1, K = 1;
};

// Welford's running mean and sum of squared deviations; partials merge with Chan et al.'s
// formula, so splitting K across threads gives the same numbers as one pass (up to rounding).
// Used by var/std on both backends; no member initializers, so the GPU can keep it in shared
// memory (WelfordAcc{} is all zeros).
struct WelfordAcc {
  int64_t n;
  double mean, m2;
  template <typename V>
  GC_HOST_DEVICE void add(V v, int64_t) {
    double x = static_cast<double>(v), d = x - mean;
    ++n;
    mean += d / static_cast<double>(n);
    m2 += d * (x - mean);
  }
  GC_HOST_DEVICE void merge(const WelfordAcc& o) {
    if (o.n == 0) return;
    if (n == 0) {
      *this = o;
      return;
    }
    double na = static_cast<double>(n), nb = static_cast<double>(o.n), N = na + nb, d = o.mean - mean;
    mean += d * nb / N;
    m2 += o.m2 + d * d * na * nb / N;
    n += o.n;
  }
};

// `reduce_mask[d]` says whether dim d of x is reduced.
inline ReducePlan make_reduce_plan(const Tensor& x, const std::vector<bool>& reduce_mask) {
  ReducePlan p;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.shape[d] == 1) continue;  // size-1 dims contribute nothing either way
    if (reduce_mask[d]) {
      // Merge with the previous reduced dim when contiguous with it.
      if (!p.red_shape.empty() && p.red_strides.back() == x.strides[d] * x.shape[d]) {
        p.red_shape.back() *= x.shape[d];
        p.red_strides.back() = x.strides[d];
      } else {
        p.red_shape.push_back(x.shape[d]);
        p.red_strides.push_back(x.strides[d]);
      }
      p.K *= x.shape[d];
    } else {
      p.kept_shape.push_back(x.shape[d]);
      p.kept_strides.push_back(x.strides[d]);
      p.M *= x.shape[d];
    }
  }
  if (x.numel() == 0) {
    // Empty input: M outputs of an empty fold (or no outputs at all).
    p.M = 1;
    p.K = 1;
    for (int64_t d = 0; d < x.dim(); ++d) (reduce_mask[d] ? p.K : p.M) *= x.shape[d];
    p.red_shape.assign(1, 0);
    p.red_strides.assign(1, 0);
    p.kept_shape.assign(1, p.M);
    p.kept_strides.assign(1, 0);
  }
  return p;
}

// Offset in x of output m's first reduced element.
inline int64_t kept_offset(const ReducePlan& p, int64_t m) {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(p.kept_shape.size()) - 1; d >= 0; --d) {
    off += (m % p.kept_shape[d]) * p.kept_strides[d];
    m /= p.kept_shape[d];
  }
  return off;
}

}  // namespace gc::kernels
