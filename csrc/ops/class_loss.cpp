// The class losses (cross_entropy, nll_loss): argument checks in PyTorch's order and with its
// exception types, dtype handling, and the autograd node of each beside its forward. The losses
// are fused: one forward kernel that computes each row's log-sum-exp once, and one backward node
// (CrossEntropyBackward0 / NllLossBackward0) that writes the gradient in one pass, with no graph
// of small ops in between.
#include <cmath>
#include <limits>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/rows.h"

namespace gc::ops {

namespace {

using namespace rows;  // ops/rows.h

// Where the samples and classes of a loss input are: rows of the kernel layout, and the shape
// of the per-sample loss (reduction='none').
struct LossGeometry {
  kernels::RowLayout L;
  DimVector out_shape;
};

// [C] -> one sample, loss shape []; [N, C, d1, ...] -> N * d1 * ... samples of shape [N, d1, ...].
LossGeometry class_dim_geometry(const TensorPtr& x) {
  LossGeometry g;
  if (x->dim() == 1) {
    g.L.C = x->shape[0];
    return g;
  }
  g.L = layout_around(x->shape, 1);
  g.out_shape = x->shape;
  g.out_shape.erase(g.out_shape.begin() + 1);
  return g;
}

void check_input_rank(const TensorPtr& x, const char* op) {
  if (x->dim() < 1)
    fail(ErrorKind::Value, op, "Expected 1 or more dimensions (got 0): the input must be [C] (one sample), [N, C] or "
         "[N, C, d1, ...] with classes along dim 1. Hint: a single score is not a distribution over classes.");
}

// Class-index targets, checked as PyTorch's nll_loss_nd does and in its order.
LossGeometry index_target_geometry(const TensorPtr& x, const TensorPtr& t, const char* op) {
  check_input_rank(x, op);
  if (x->dim() != 1 && t->dim() >= 1 && x->shape[0] != t->shape[0])
    fail(ErrorKind::Value, op, "Expected input batch_size (", x->shape[0], ") to match target batch_size (",
         t->shape[0], "): input shape ", shape_str(x->shape), ", target shape ", shape_str(t->shape),
         ". Hint: the target holds one class index per sample.");
  if (t->dtype != DType::Int64)
    fail(ErrorKind::Runtime, op, "expected target dtype to be int64 (class indices), but got ", dtype_name(t->dtype),
         " with shape ", shape_str(t->shape), " for an input of shape ", shape_str(x->shape),
         ". Hint: ", std::string(op) == "cross_entropy"
                         ? "class indices need .long(); class probabilities need a floating target of the input's shape"
                         : "nll_loss takes class indices: convert them with .long()");
  auto g = class_dim_geometry(x);
  if (x->dim() == 1) {
    if (t->dim() > 1 || (t->dim() == 1 && t->shape[0] != 1))
      fail(ErrorKind::Value, op, "For 1D input, 1D target must have size 1, but got target size: ", shape_str(t->shape),
           ". Hint: an input of shape ", shape_str(x->shape), " is one sample; its target is one class index.");
  } else if (x->dim() == 2 && t->dim() > 1) {
    fail(ErrorKind::Runtime, op, "0D or 1D target tensor expected, multi-target not supported: input shape ",
         shape_str(x->shape), ", target shape ", shape_str(t->shape),
         ". Hint: pass one class index per sample (shape [N]), or class probabilities of the input's shape.");
  } else if (x->dim() >= 2 && t->shape != g.out_shape) {
    fail(ErrorKind::Runtime, op, "Expected target size ", shape_str(g.out_shape), ", got ", shape_str(t->shape),
         " for an input of shape ", shape_str(x->shape), ". Hint: the target is the input's shape without the class dim 1.");
  }
  return g;
}

// Every target is a class in [0, C) or ignore_index: checked before any kernel reads with it.
void check_target_range(const TensorPtr& target, int64_t C, int64_t ignore_index, const char* op) {
  auto h = to_cpu(target);  // a GPU target is read on the host: a clear error beats a device-side assert
  const int64_t* p = h->data_as<int64_t>();
  for (int64_t i = 0, n = h->numel(); i < n; ++i) {
    int64_t v = p[i];
    if (v != ignore_index && (v < 0 || v >= C))
      fail(ErrorKind::Index, op, "Target ", v, " is out of bounds: expected class indices in [0, ", C, ") for an input with ",
           C, " classes (or ignore_index=", ignore_index, "). Hint: labels must be 0-based and the model must output "
           "one score per class.");
  }
}

TensorPtr weight_operand(const TensorPtr& w, int64_t C, DType dt, const char* op) {
  if (!w) return nullptr;
  if (w->dim() != 1 || w->shape[0] != C)
    fail(ErrorKind::Runtime, op, "weight tensor should be defined either for all ", C,
         " classes or no classes but got weight tensor of shape: ", shape_str(w->shape),
         ". Hint: pass one weight per class, shape [", C, "].");
  if (!is_floating(w->dtype))
    fail(ErrorKind::Runtime, op, "expected a floating-point weight but got ", dtype_name(w->dtype),
         ". Hint: build it with dtype=gradcore.float32.");
  return kernel_operand(w, dt);
}

// PyTorch refuses a weight that requires grad for class-index targets (nll_loss has no
// derivative for it), at the forward.
void check_weight_not_differentiable(const TensorPtr& w, const char* op) {
  if (w && w->requires_grad && GradMode::is_enabled())
    fail(ErrorKind::Runtime, op, "the function is not differentiable with respect to argument 'weight' for class-index "
         "targets; this input cannot have requires_grad=True. Hint: pass weight.detach().");
}

// The reduced loss and the factor the backward applies to the incoming gradient.
struct Reduced {
  TensorPtr out;
  double scale = 1.0;
};

Reduced reduce_loss(kernels::LossSums sums, Reduction reduction, double mean_divisor, TensorPtr rows, DType dt,
                    Device dev) {
  Reduced r;
  if (reduction == Reduction::None) {
    r.out = std::move(rows);
    return r;
  }
  double v = sums.loss;
  if (reduction == Reduction::Mean) {
    // A zero divisor (every target ignored or of zero weight, or no samples) gives NaN, as in
    // PyTorch, whose nll term is then 0 / 0 even where the smoothing term alone would be inf.
    r.scale = 1.0 / mean_divisor;
    v = mean_divisor == 0 ? std::numeric_limits<double>::quiet_NaN() : v / mean_divisor;
  }
  r.out = scalar_tensor(Scalar::from_double(v), dt, dev);
  return r;
}

// Backward of cross_entropy: one pass per row from the saved logits and row statistics.
struct CrossEntropyBackward final : Node {
  SavedTensor logits, target, weight;  // kernel operands (contiguous, compute dtype)
  SavedTensor stats;                   // float64 [rows, 2]: row max and log-sum-exp offset
  kernels::ClassLossSpec spec;
  Reduction reduction = Reduction::Mean;
  double scale = 1.0;
  bool prob = false;
  DType x_dtype = DType::Float32, t_dtype = DType::Float32, w_dtype = DType::Float32;

  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr, nullptr, nullptr};
    auto x = logits.unpack(*this), t = target.unpack(*this), st = stats.unpack(*this);
    auto w = weight.defined() ? weight.unpack(*this) : nullptr;
    auto gy = kernel_operand(g[0], x->dtype);
    int64_t g_stride = reduction == Reduction::None ? 1 : 0;
    auto sp = spec;
    sp.weight = w.get();
    TensorPtr gx, gt, gw;
    if (needs_input_grad(0)) gx = empty_tensor(x->shape, x->dtype, x->device);
    if (!prob) {
      if (gx) GC_KERNEL_16(true, false, cross_entropy_backward, *gx, *x, *t, sp, *st, *gy, g_stride, scale);
    } else {
      if (needs_input_grad(1)) gt = empty_tensor(t->shape, x->dtype, x->device);
      if (needs_input_grad(2)) gw = empty_tensor(w->shape, x->dtype, x->device);
      GC_KERNEL_16(true, false, cross_entropy_prob_backward, gx.get(), gt.get(), gw.get(), *x, *t, sp, *st, *gy, g_stride, scale);
    }
    return {gx ? cast_back(gx, x_dtype) : nullptr, gt ? cast_back(gt, t_dtype) : nullptr,
            gw ? cast_back(gw, w_dtype) : nullptr};
  }
  void visit_saved(const SavedVisitor& v) override {
    v("self", logits); v("target", target); v("weight", weight); v("stats", stats);
  }
  std::string name() const override { return "CrossEntropyBackward0"; }
};

struct NllLossBackward final : Node {
  SavedTensor target, weight;
  kernels::ClassLossSpec spec;
  DimVector x_shape;
  DType x_dtype = DType::Float32, dtype = DType::Float32;
  Reduction reduction = Reduction::Mean;
  double scale = 1.0;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr};
    auto t = target.unpack(*this);
    auto w = weight.defined() ? weight.unpack(*this) : nullptr;
    auto gy = kernel_operand(g[0], dtype);
    auto sp = spec;
    sp.weight = w.get();
    auto gx = empty_tensor(x_shape, dtype, gy->device);
    GC_KERNEL_16(true, false, nll_loss_backward, *gx, *t, sp, *gy, reduction == Reduction::None ? 1 : 0, scale);
    return {cast_back(gx, x_dtype)};
  }
  void visit_saved(const SavedVisitor& v) override { v("target", target); v("weight", weight); }
  std::string name() const override { return "NllLossBackward0"; }
};

}  // namespace

TensorPtr cross_entropy(const TensorPtr& logits, const TensorPtr& target, const TensorPtr& weight,
                        Reduction reduction, int64_t ignore_index, double label_smoothing) {
  const char* op = "cross_entropy";
  check_device(logits, target, op, "target");
  check_device(logits, weight, op, "weight");
  check_input_rank(logits, op);
  // PyTorch tells the two target kinds apart by shape: the input's shape means probabilities.
  const bool prob = logits->shape == target->shape;
  if (label_smoothing > 1.0)
    fail(ErrorKind::Runtime, op, "label_smoothing must be between 0.0 and 1.0. Got: ", label_smoothing);
  const double eps = label_smoothing > 0.0 ? label_smoothing : 0.0;
  if (prob) {
    if (!is_floating(target->dtype))
      fail(ErrorKind::Runtime, op, "Expected floating point type for target with class probabilities, got ",
           dtype_name(target->dtype), " (target and input both have shape ", shape_str(target->shape),
           "). Hint: class indices have one entry per sample, shape ", shape_str(class_dim_geometry(logits).out_shape),
           "; probabilities need .float().");
    if (ignore_index >= 0)
      fail(ErrorKind::Runtime, op, "ignore_index is not supported for floating point target (class probabilities), got "
           "ignore_index=", ignore_index, ". Hint: give ignored samples a zero probability row instead.");
  }
  check_floating(logits, op, "input (logits)", "convert it with .float()");
  LossGeometry geo = prob ? class_dim_geometry(logits) : index_target_geometry(logits, target, op);
  const int64_t C = geo.L.C;
  const DType dt = prob ? promote(logits->dtype, target->dtype) : logits->dtype;
  auto x = kernel_operand(logits, dt);
  auto t = kernel_operand(target, prob ? dt : DType::Int64);
  auto w = weight_operand(weight, C, dt, op);
  if (!prob) {
    check_weight_not_differentiable(weight, op);
    check_target_range(t, C, ignore_index, op);
  }

  kernels::ClassLossSpec spec;
  spec.L = geo.L;
  spec.weight = w.get();
  spec.ignore_index = ignore_index;
  spec.smoothing = eps;
  const int64_t R = geo.L.rows();
  auto stats = empty_tensor({R, 2}, DType::Float64, logits->device);
  TensorPtr rows = reduction == Reduction::None ? empty_tensor(geo.out_shape, dt, logits->device) : nullptr;
  kernels::LossSums sums = prob ? GC_KERNEL_16(true, false, cross_entropy_prob_forward, *x, *t, spec, *stats, rows.get())
                            : GC_KERNEL_16(true, false, cross_entropy_forward, *x, *t, spec, *stats, rows.get());
  // Mean: index targets divide by the summed weight of the counted samples, probabilities by the
  // number of samples (NaN for an empty input).
  double divisor = prob ? (x->numel() == 0 ? 0.0 : static_cast<double>(R)) : sums.weight;
  Reduced red = reduce_loss(sums, reduction, divisor, rows, dt, logits->device);

  if (compute_requires_grad({&logits, &target, &weight})) {
    auto n = prob ? make_node<CrossEntropyBackward>({logits, target, weight}) : make_node<CrossEntropyBackward>({logits});
    n->logits = SavedTensor(x, false);
    n->target = SavedTensor(t, false);
    if (w) n->weight = SavedTensor(w, false);
    n->stats = SavedTensor(stats, false);
    n->spec = spec;
    n->spec.weight = nullptr;  // re-pointed at the unpacked weight in apply
    n->reduction = reduction;
    n->scale = red.scale;
    n->prob = prob;
    n->x_dtype = logits->dtype;
    n->t_dtype = target->dtype;
    n->w_dtype = weight ? weight->dtype : dt;
    set_history(red.out, n);
  }
  return red.out;
}

TensorPtr nll_loss(const TensorPtr& logp, const TensorPtr& target, const TensorPtr& weight, Reduction reduction,
                   int64_t ignore_index) {
  const char* op = "nll_loss";
  check_device(logp, target, op, "target");
  check_device(logp, weight, op, "weight");
  check_floating(logp, op, "input (log-probabilities)", "convert it with .float()");
  LossGeometry geo = index_target_geometry(logp, target, op);
  const int64_t C = geo.L.C;
  const DType dt = logp->dtype;
  auto x = kernel_operand(logp, dt);
  auto t = kernel_operand(target, DType::Int64);
  auto w = weight_operand(weight, C, dt, op);
  check_weight_not_differentiable(weight, op);
  check_target_range(t, C, ignore_index, op);

  kernels::ClassLossSpec spec;
  spec.L = geo.L;
  spec.weight = w.get();
  spec.ignore_index = ignore_index;
  TensorPtr rows = reduction == Reduction::None ? empty_tensor(geo.out_shape, dt, logp->device) : nullptr;
  kernels::LossSums sums = GC_KERNEL_16(true, false, nll_loss_forward, *x, *t, spec, rows.get());
  Reduced red = reduce_loss(sums, reduction, sums.weight, rows, dt, logp->device);

  if (compute_requires_grad({&logp})) {
    auto n = make_node<NllLossBackward>({logp});
    n->target = SavedTensor(t, false);
    if (w) n->weight = SavedTensor(w, false);
    n->spec = spec;
    n->spec.weight = nullptr;
    n->x_shape = logp->shape;
    n->x_dtype = logp->dtype;
    n->dtype = dt;
    n->reduction = reduction;
    n->scale = red.scale;
    set_history(red.out, n);
  }
  return red.out;
}

}  // namespace gc::ops
