// Autocast's casts: PyTorch 2.13's per-device op lists, for the ops gradcore has. An op on a
// "lower precision" list computes in autocast's dtype (its floating inputs are cast to it), one
// on an "fp32" list in float32; every other op runs in its inputs' dtypes. float64 inputs and
// non-floating ones are never cast. The casts are ordinary differentiable conversions, so the
// gradients of float32 parameters come back float32.
#include <cstring>
#include "core/autocast.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

bool listed(const char* op, const char* const* list) {
  for (; *list; ++list)
    if (std::strcmp(op, *list) == 0) return true;
  return false;
}

// PyTorch's lists (aten/src/ATen/autocast_mode.cpp), restricted to ops gradcore has.
const char* const kCpuLower[] = {"conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "bmm", "mm", "matmul",
                                 "linear", "addmm", "baddbmm", nullptr};
const char* const kCpuFp32[] = {"prod", "mse_loss", "nll_loss", "cross_entropy", "l1_loss", "smooth_l1_loss",
                                "huber_loss", "kl_div", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                                "reflection_pad1d", "reflection_pad2d", "replication_pad1d", "replication_pad2d",
                                "replication_pad3d", nullptr};
const char* const kCudaLower[] = {"conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "bmm", "mm", "matmul",
                                  "linear", "addmm", "baddbmm", "prelu", nullptr};
const char* const kCudaFp32[] = {"acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
                                 "reciprocal", "rsqrt", "sinh", "tan", "pow", "softplus", "layer_norm", "group_norm",
                                 "nll_loss", "cross_entropy", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss",
                                 "kl_div", "binary_cross_entropy_with_logits", "prod", "sum", "softmax", "log_softmax",
                                 "cumsum", "cumprod", nullptr};

}  // namespace

AutocastPolicy autocast_policy(const char* op, DeviceType device) {
  const bool cpu = device == DeviceType::CPU;
  if (listed(op, cpu ? kCpuLower : kCudaLower)) return AutocastPolicy::Lower;
  if (listed(op, cpu ? kCpuFp32 : kCudaFp32)) return AutocastPolicy::Fp32;
  return AutocastPolicy::None;
}

TensorPtr autocast(const char* op, const TensorPtr& t) {
  if (!t || !Autocast::any() || !Autocast::enabled(t->device.type)) return t;
  if (!is_floating(t->dtype) || t->dtype == DType::Float64) return t;
  const AutocastPolicy p = autocast_policy(op, t->device.type);
  if (p == AutocastPolicy::None) return t;
  const DType target = p == AutocastPolicy::Lower ? Autocast::dtype(t->device.type) : DType::Float32;
  return t->dtype == target ? t : to_dtype(t, target);
}

}  // namespace gc::ops
