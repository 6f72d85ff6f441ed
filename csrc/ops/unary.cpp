// Elementwise unary ops and activations: the result dtype by the op's row (kernels/unary.h),
// device dispatch, in-place rules, and one autograd node for them all whose backward runs the
// op's derivative as one fused kernel from the saved input or output. Clamp with its bounds.
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

using kernels::UnaryDtype;
using kernels::UnaryFn;
using kernels::UnarySaves;

namespace {

// gx = g * f'(x) from the saved input or output (or from g alone), one fused kernel.
struct UnaryBackward final : Node {
  UnaryFn f;
  SavedTensor saved;  // input or output, as f's row says; empty when it says Nothing
  TensorList apply(TensorList&& g) override {
    const bool reads = kernels::unary_info(f).saves != UnarySaves::Nothing;
    auto gg = g[0];
    auto v = reads ? saved.unpack(*this) : gg;
    if (gg->dtype != v->dtype) gg = to_dtype(gg, v->dtype);
    if (!reads) v = gg;
    auto gx = empty_tensor(v->shape, v->dtype, v->device);
    GC_KERNEL_16(true, false, unary_backward_kernel, f, *gx, *gg, *v);
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { v(kernels::unary_info(f).saves == UnarySaves::Output ? "result" : "self", saved); }
  std::string name() const override { return backward_name(kernels::unary_info(f).name); }
};

// The result dtype of f on x by its row's rule (PyTorch's, with PyTorch's exception types).
DType unary_out_dtype(const UnaryFn& f, const TensorPtr& x) {
  const auto& info = kernels::unary_info(f);
  const DType dt = x->dtype;
  switch (info.dtype) {
    case UnaryDtype::Any: return dt;
    case UnaryDtype::Logical: return DType::Bool;
    case UnaryDtype::Float: return is_floating(dt) ? dt : default_dtype();
    case UnaryDtype::FloatNI:
      if (dt == DType::Bool)
        fail(ErrorKind::NotImplemented, info.name, "not implemented for bool tensors. Hint: convert with .float() first");
      return is_floating(dt) ? dt : default_dtype();
    case UnaryDtype::FloatOnly:
      if (!is_floating(dt))
        fail(ErrorKind::NotImplemented, info.name, "not implemented for ", dtype_name(dt),
             " tensors: it takes a floating-point input. Hint: call .float() first");
      return dt;
    case UnaryDtype::BoolAsLong: return dt == DType::Bool ? DType::Int64 : dt;
    case UnaryDtype::NumericNI:
      if (dt == DType::Bool)
        fail(ErrorKind::NotImplemented, info.name, "not implemented for bool tensors. Hint: convert with .float() "
             "or .long() first");
      return dt;
    case UnaryDtype::Numeric:
      if (dt == DType::Bool)
        fail(ErrorKind::Runtime, info.name, "not supported for bool tensors. Hint: convert with .float() or .long() first"
             + std::string(std::holds_alternative<kernels::Neg>(f) ? " (for logical negation use ~x or logical_not)" : ""));
      return dt;
  }
  return dt;
}

}  // namespace

TensorPtr unary(const UnaryFn& f, const TensorPtr& x) {
  const auto& info = kernels::unary_info(f);
  const DType dt = unary_out_dtype(f, x);
  const bool logical = info.dtype == UnaryDtype::Logical;
  auto in = (dt != x->dtype && !logical) ? to_dtype(detach(x), dt) : x;
  auto out = empty_tensor(x->shape, dt, x->device);
  GC_KERNEL_16(true, false, unary_kernel, f, *out, *in);
  if (is_floating(dt) && !logical && compute_requires_grad({&x})) {
    if (std::holds_alternative<kernels::Relu>(f))
      if (auto fused = linear_relu_backward(x, out)) {
        set_history(out, fused);
        return out;
      }
    auto n = make_node<UnaryBackward>({x});
    n->f = f;
    if (info.saves == UnarySaves::Output) n->saved = SavedTensor(out, true);
    else if (info.saves == UnarySaves::Input) n->saved = SavedTensor(x, false);
    set_history(out, n);
  }
  return out;
}

TensorPtr unary_(const UnaryFn& f, const TensorPtr& x) {
  const auto& info = kernels::unary_info(f);
  const std::string name = std::string(info.name) + "_";
  check_no_internal_overlap(*x, name.c_str());
  const DType dt = unary_out_dtype(f, x);
  if (info.dtype == UnaryDtype::Logical && x->dtype != DType::Bool) {
    // PyTorch keeps self's dtype: x.logical_not_() writes 0/1 into a float or int64 tensor.
    if (compute_requires_grad({&x}))
      fail(ErrorKind::Runtime, name.c_str(), "is not differentiable and cannot write into a tensor that requires grad. "
           "Hint: use the out-of-place op, or do it under no_grad()");
    copy_into(x, unary(f, x));
    x->bump_version();
    return x;
  }
  if (dt != x->dtype)
    fail(ErrorKind::Runtime, name.c_str(), "result type ", dtype_name(dt), " can't be cast to the desired output type ",
         dtype_name(x->dtype), " of the in-place op");
  if (compute_requires_grad({&x})) {
    check_inplace(x, name.c_str(), /*view_ok=*/true);
    commit_inplace(x, unary(f, copy_with_history(x)), name.c_str());
    return x;
  }
  GC_KERNEL_16(true, false, unary_kernel, f, *x, *x);
  x->bump_version();
  return x;
}

namespace {
struct ClampBackward final : Node {
  SavedTensor x;
  bool has_lo, has_hi;
  double lo, hi;
  TensorList apply(TensorList&& g) override {
    auto xv = x.unpack(*this);
    auto gx = empty_tensor(xv->shape, xv->dtype, xv->device);
    GC_KERNEL(clamp_backward_kernel, *gx, *g[0], *xv, has_lo, lo, has_hi, hi);
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", x); }
  std::string name() const override { return "ClampBackward1"; }
};

TensorPtr clamp_impl(const TensorPtr& x, std::optional<Scalar> min, std::optional<Scalar> max, bool in_place) {
  if (!min && !max) fail(ErrorKind::Runtime, "clamp", "at least one of 'min' or 'max' must not be None");
  if (in_place) check_no_internal_overlap(*x, "clamp_");
  // PyTorch's promotion with the bounds as Python numbers: an integer (or bool) tensor clamped
  // by a float bound becomes the default float dtype; a bool tensor by int bounds becomes int64.
  DType dt = x->dtype;
  bool float_bound = (min && min->kind == Scalar::Float) || (max && max->kind == Scalar::Float);
  if (!is_floating(dt) && float_bound) dt = default_dtype();
  else if (dt == DType::Bool) dt = DType::Int64;
  if (in_place && dt != x->dtype)
    fail(ErrorKind::Runtime, "clamp_", "result type ", dtype_name(dt), " can't be cast to the desired output type ",
         dtype_name(x->dtype), " of the in-place op. Hint: convert the tensor first, e.g. x = x.float()");
  auto in = dt != x->dtype ? to_dtype(detach(x), dt) : x;
  bool grad = is_floating(dt) && compute_requires_grad({&x});
  if (in_place && grad) check_inplace(x, "clamp_");
  auto src = in_place && grad ? copy_with_history(x) : in;
  auto out = in_place && !grad ? x : empty_tensor(x->shape, dt, x->device);
  GC_KERNEL(clamp_kernel, *out, *src, min, max);
  if (grad) {
    auto n = make_node<ClampBackward>({in_place ? src : x});
    n->x = SavedTensor(in_place ? src : x, false);
    n->has_lo = min.has_value();
    n->has_hi = max.has_value();
    n->lo = min ? min->d : 0;
    n->hi = max ? max->d : 0;
    set_history(out, n);
  }
  if (in_place) {
    if (grad) commit_inplace(x, out, "clamp_");
    else x->bump_version();
    return x;
  }
  return out;
}

}  // namespace

namespace {
// clamp with tensor bounds: each input takes g where PyTorch's clamp_backward_min_max says it is
// the answer: x where min <= x <= max; min where x < min < max; max where x > max or max < min
// (with one bound, the comparison with it alone). A NaN anywhere gives no one a gradient there.
struct ClampTensorBackward final : Node {
  SavedTensor x, lo, hi;
  bool has_lo, has_hi;
  DimVector shapes[3];
  DType dtypes[3];
  TensorList apply(TensorList&& g) override {
    auto xv = x.unpack(*this);
    auto lov = has_lo ? lo.unpack(*this) : nullptr, hiv = has_hi ? hi.unpack(*this) : nullptr;
    auto zero = zeros({}, g[0]->dtype, g[0]->device);
    auto pick = [&](const TensorPtr& mask, int i) {
      auto r = sum_to_shape(where(mask, g[0], zero), shapes[i]);
      return r->dtype == dtypes[i] ? r : to_dtype(r, dtypes[i]);
    };
    auto both = [](const TensorPtr& a, const TensorPtr& b) { return a && b ? compare(BinaryOp::LogicalAnd, a, b) : (a ? a : b); };
    TensorList out(3);
    if (needs_input_grad(0))
      out[0] = pick(both(has_lo ? compare(BinaryOp::Ge, xv, lov) : nullptr, has_hi ? compare(BinaryOp::Le, xv, hiv) : nullptr), 0);
    if (has_lo && needs_input_grad(1)) {
      auto m = compare(BinaryOp::Lt, xv, lov);
      out[1] = pick(has_hi ? compare(BinaryOp::LogicalAnd, m, compare(BinaryOp::Lt, lov, hiv)) : m, 1);
    }
    if (has_hi && needs_input_grad(2)) {
      auto m = compare(BinaryOp::Gt, xv, hiv);
      out[2] = pick(has_lo ? compare(BinaryOp::LogicalOr, m, compare(BinaryOp::Lt, hiv, lov)) : m, 2);
    }
    return out;
  }
  void visit_saved(const SavedVisitor& v) override { v("self", x); v("min", lo); v("max", hi); }
  std::string name() const override { return "ClampBackward0"; }
};
}  // namespace

TensorPtr clamp_tensor(const TensorPtr& x, const TensorPtr& min, const TensorPtr& max) {
  if (!min && !max) fail(ErrorKind::Runtime, "clamp", "at least one of 'min' or 'max' must not be None");
  TensorPtr out;
  {
    NoGradGuard no_grad;  // min(max(x, min), max), NaN from any side propagating; the node is below
    out = min ? maximum(x, min) : clone(x);
    if (max) out = minimum(out, max);
  }
  if (is_floating(out->dtype) && compute_requires_grad({&x, &min, &max})) {
    auto n = make_node<ClampTensorBackward>({x, min, max});
    n->x = SavedTensor(x, false);
    n->has_lo = min != nullptr;
    n->has_hi = max != nullptr;
    if (min) n->lo = SavedTensor(min, false);
    if (max) n->hi = SavedTensor(max, false);
    const TensorPtr* ins[3] = {&x, &min, &max};
    for (int i = 0; i < 3; ++i)
      if (*ins[i]) {
        n->shapes[i] = (*ins[i])->shape;
        n->dtypes[i] = (*ins[i])->dtype;
      }
    set_history(out, n);
  }
  return out;
}

TensorPtr clamp(const TensorPtr& x, std::optional<Scalar> min, std::optional<Scalar> max) { return clamp_impl(x, min, max, false); }
TensorPtr clamp_(const TensorPtr& x, std::optional<Scalar> min, std::optional<Scalar> max) { return clamp_impl(x, min, max, true); }

}  // namespace gc::ops
