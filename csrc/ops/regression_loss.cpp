// Regression losses: mse_loss as one fused op (PyTorch's MseLossBackward0), for an input and a
// target of the same shape and dtype; nn.functional composes it from elementwise ops when they
// must broadcast. Classification losses (cross_entropy, nll_loss) live beside softmax.
#include <limits>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

// The value of a one-element floating tensor (a reduced loss's incoming gradient).
double value_of(const TensorPtr& g) { return scalar_of(g).d; }

struct MseLossBackward final : Node {
  SavedTensor x, t;  // contiguous
  Reduction reduction;
  TensorList apply(TensorList&& g) override {
    auto xv = x.unpack(*this), tv = t.unpack(*this);
    TensorPtr gx = needs_input_grad(0) ? empty_tensor(xv->shape, xv->dtype, xv->device) : nullptr;
    TensorPtr gt = needs_input_grad(1) ? empty_tensor(xv->shape, xv->dtype, xv->device) : nullptr;
    const int64_t n = xv->numel();
    if (n > 0 && (gx || gt)) {
      if (reduction == Reduction::None) {
        auto gc = contiguous(g[0]);
        GC_KERNEL(squared_error_backward, *xv, *tv, gc.get(), 0.0, 2.0, gx.get(), gt.get());
      } else {
        const double scale = reduction == Reduction::Mean ? 2.0 / static_cast<double>(n) : 2.0;
        GC_KERNEL(squared_error_backward, *xv, *tv, nullptr, value_of(g[0]), scale, gx.get(), gt.get());
      }
    }
    return {gx, gt};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", x); v("target", t); }
  std::string name() const override { return "MseLossBackward0"; }
};

}  // namespace

static bool mse_loss_fusable(const TensorPtr& input, const TensorPtr& target) {
  return input->shape == target->shape && input->dtype == target->dtype && is_floating(input->dtype);
}

TensorPtr mse_loss(const TensorPtr& input, const TensorPtr& target, Reduction reduction) {
  const char* op = "mse_loss";
  if (input->device != target->device)
    fail(ErrorKind::Runtime, op, "expected input and target on the same device, but got ", input->device.str(), " and ",
         target->device.str(), ". Hint: move the target with .to(input.device).");
  if (!mse_loss_fusable(input, target)) {
    // Operands that must broadcast or promote: the composite (x - t)^2, reduced, as PyTorch.
    auto d = sub(input, target);
    auto sq = mul(d, d);
    if (reduction == Reduction::None) return sq;
    return reduction == Reduction::Mean ? ops::mean(sq, {}, false) : ops::sum(sq, {}, false);
  }
  auto x = contiguous(input), t = contiguous(target);
  TensorPtr out;
  if (reduction == Reduction::None) {
    out = empty_tensor(x->shape, x->dtype, x->device);
    if (out->numel() > 0) GC_KERNEL(squared_error, *x, *t, *out);
  } else {
    const int64_t n = x->numel();
    double s = n > 0 ? GC_KERNEL(squared_error_sum, *x, *t) : 0.0;
    if (reduction == Reduction::Mean) s = n > 0 ? s / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
    out = scalar_tensor(Scalar::from_double(s), x->dtype, x->device);
  }
  if (compute_requires_grad({&input, &target})) {
    auto node = make_node<MseLossBackward>({input, target});
    node->x = SavedTensor(x, false);
    node->t = SavedTensor(t, false);
    node->reduction = reduction;
    set_history(out, node);
  }
  return out;
}

}  // namespace gc::ops
