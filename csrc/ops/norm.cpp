// batch_norm as one op: the per-channel statistics, the normalisation with the affine transform,
// the running-statistics update and one backward node (NativeBatchNormBackward0) computing the
// input, weight and bias gradients in one pass per channel (kernels/norm.h has the formulas).
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

using kernels::ChannelLayout;

ChannelLayout layout_of(const TensorPtr& x) {
  const int64_t N = x->shape[0], C = x->shape[1];
  return {N, C, N * C > 0 ? x->numel() / (N * C) : 1};
}

struct BatchNormBackward final : Node {
  SavedTensor x, weight, mean, var;  // contiguous input; weight may be absent; the statistics used
  bool has_weight = false, batch_stats = true;
  double eps = 1e-5;
  TensorList apply(TensorList&& grads) override {
    NoGradGuard no_grad;
    auto xv = x.unpack(*this);
    auto wv = has_weight ? weight.unpack(*this) : nullptr;
    auto mv = mean.unpack(*this), vv = var.unpack(*this);
    auto g = contiguous(to_dtype(grads[0], xv->dtype));
    TensorPtr dx, dw, db;
    const int64_t C = xv->shape[1];
    if (needs_input_grad(0)) dx = empty_tensor(xv->shape, xv->dtype, xv->device);
    if (needs_input_grad(1)) dw = empty_tensor({C}, xv->dtype, xv->device);
    if (needs_input_grad(2)) db = empty_tensor({C}, xv->dtype, xv->device);
    GC_KERNEL(batch_norm_backward, *g, *xv, layout_of(xv), *mv, *vv, wv.get(), eps, batch_stats, dx.get(), dw.get(),
              db.get());
    return {dx, dw, db};
  }
  void visit_saved(const SavedVisitor& v) override { v("input", x); v("weight", weight); v("save_mean", mean); v("save_var", var); }
  std::string name() const override { return "NativeBatchNormBackward0"; }
};

void check_param(const TensorPtr& t, const TensorPtr& x, const char* what) {
  if (!t) return;
  if (t->device != x->device)
    fail(ErrorKind::Runtime, "batch_norm", "expected ", what, " on ", x->device.str(), " like the input, but it is on ",
         t->device.str(), ". Hint: move the module with .to(device).");
  if (t->dtype != x->dtype)
    fail(ErrorKind::Runtime, "batch_norm", "expected ", what, " of dtype ", dtype_name(x->dtype), " like the input, got ",
         dtype_name(t->dtype), ". Hint: convert the module with .to(input.dtype) or the input to the module's dtype.");
}

}  // namespace

TensorPtr batch_norm(const TensorPtr& input, const TensorPtr& weight, const TensorPtr& bias,
                     const TensorPtr& running_mean, const TensorPtr& running_var, bool training, double momentum,
                     double eps) {
  const char* op = "batch_norm";
  if (input->dim() < 2)
    fail(ErrorKind::Value, op, "expected an input with at least 2 dims (N, C, ...), got shape ", shape_str(input->shape));
  if (!is_floating(input->dtype))
    fail(ErrorKind::NotImplemented, op, "not implemented for ", dtype_name(input->dtype), " tensors. Hint: call .float() first.");
  check_param(weight, input, "weight");
  check_param(bias, input, "bias");
  check_param(running_mean, input, "running_mean");
  check_param(running_var, input, "running_var");
  const bool batch_stats = training || !running_mean || !running_var;
  TensorPtr x, mean, var, out;
  ChannelLayout L;
  {
    NoGradGuard no_grad;
    x = contiguous(input);
    L = layout_of(x);
    if (batch_stats) {
      mean = empty_tensor({L.C}, x->dtype, x->device);
      var = empty_tensor({L.C}, x->dtype, x->device);
      if (L.count() > 0) GC_KERNEL(batch_norm_stats, *x, L, *mean, *var);
      if (training && L.count() > 1) {  // running = (1 - momentum) * running + momentum * batch (unbiased var)
        const double M = static_cast<double>(L.count());
        if (running_mean) {
          binary_(BinaryOp::Mul, running_mean, wrapped_scalar(Scalar::from_double(1.0 - momentum), x->device));
          binary_(BinaryOp::Add, running_mean, mean, Scalar::from_double(momentum));
        }
        if (running_var) {
          binary_(BinaryOp::Mul, running_var, wrapped_scalar(Scalar::from_double(1.0 - momentum), x->device));
          binary_(BinaryOp::Add, running_var, var, Scalar::from_double(momentum * M / (M - 1)));
        }
      }
    } else {  // a snapshot of the running statistics, which later steps may change
      mean = clone(running_mean);
      var = clone(running_var);
    }
    out = empty_tensor(x->shape, x->dtype, x->device);
    auto w = weight ? contiguous(weight) : nullptr, b = bias ? contiguous(bias) : nullptr;
    if (out->numel() > 0) GC_KERNEL(batch_norm_apply, *x, L, *mean, *var, w.get(), b.get(), eps, *out);
  }
  if (compute_requires_grad({&input, &weight, &bias})) {
    auto n = make_node<BatchNormBackward>({input, weight, bias});
    n->x = SavedTensor(x, false);
    if (weight) n->weight = SavedTensor(contiguous(weight), false);
    n->has_weight = weight != nullptr;
    n->mean = SavedTensor(mean, false);
    n->var = SavedTensor(var, false);
    n->batch_stats = batch_stats;
    n->eps = eps;
    set_history(out, n);
  }
  return out;
}

}  // namespace gc::ops
