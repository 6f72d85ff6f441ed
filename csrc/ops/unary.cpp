// Elementwise unary ops and activations. Float-only functions promote integer inputs to the
// default float dtype, as PyTorch does; the backward of each runs as one fused kernel
// (cpu/unary.cpp) from the saved input or output.
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Rsqrt: return "rsqrt";
    case UnaryOp::Sin: return "sin";
    case UnaryOp::Cos: return "cos";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Sign: return "sign";
    case UnaryOp::Floor: return "floor";
    case UnaryOp::Ceil: return "ceil";
    case UnaryOp::Round: return "round";
    case UnaryOp::Log1p: return "log1p";
    case UnaryOp::Expm1: return "expm1";
    case UnaryOp::LogicalNot: return "logical_not";
    case UnaryOp::Reciprocal: return "reciprocal";
    case UnaryOp::Square: return "square";
  }
  return "unary";
}

// Ops whose result is floating even for integer input.
bool float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: case UnaryOp::Log: case UnaryOp::Sqrt: case UnaryOp::Rsqrt: case UnaryOp::Sin:
    case UnaryOp::Cos: case UnaryOp::Tanh: case UnaryOp::Sigmoid: case UnaryOp::Log1p: case UnaryOp::Expm1:
    case UnaryOp::Reciprocal:
      return true;
    default: return false;
  }
}

// Which saved value the derivative is computed from.
bool backward_uses_output(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: case UnaryOp::Sqrt: case UnaryOp::Rsqrt: case UnaryOp::Tanh: case UnaryOp::Sigmoid:
    case UnaryOp::Relu: case UnaryOp::Expm1: case UnaryOp::Reciprocal:
      return true;
    default: return false;
  }
}

std::string capitalised(const char* s) {
  std::string r;
  bool up = true;
  for (const char* p = s; *p; ++p) {
    if (*p == '_') { up = true; continue; }
    r += up ? static_cast<char>(std::toupper(*p)) : *p;
    up = false;
  }
  return r;
}

struct UnaryBackward final : Node {
  UnaryOp op;
  SavedTensor saved;  // input or output, by backward_uses_output(op)
  TensorList apply(TensorList&& g) override {
    auto s = saved.unpack(*this);
    auto gx = empty_tensor(s->shape, s->dtype, s->device);
    auto gg = g[0]->dtype == s->dtype ? g[0] : to_dtype(g[0], s->dtype);
    GC_KERNEL(unary_backward_kernel, op, *gx, *gg, *s, *s);
    return {gx};
  }
  void release_saved() override { saved.reset(); }
  std::string name() const override { return capitalised(unary_name(op)) + "Backward0"; }
};

// PyTorch's result dtypes: float-only ops promote integers and bools to the default float;
// on bool, sign is the identity and square is int64, the rest refuse (with PyTorch's types:
// NotImplementedError for abs/floor/ceil/round, RuntimeError for neg/relu).
DType unary_out_dtype(UnaryOp op, const TensorPtr& x) {
  if (op == UnaryOp::LogicalNot) return DType::Bool;
  if (float_only(op) && !is_floating(x->dtype)) return default_dtype();
  if (x->dtype != DType::Bool) return x->dtype;
  switch (op) {
    case UnaryOp::Sign: return DType::Bool;
    case UnaryOp::Square: return DType::Int64;
    case UnaryOp::Abs: case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round:
      fail(ErrorKind::NotImplemented, unary_name(op), "not implemented for bool tensors. Hint: convert with .float() "
           "or .long() first");
    default:
      fail(ErrorKind::Runtime, unary_name(op), "not supported for bool tensors. Hint: convert with .float() or .long() first"
           + std::string(op == UnaryOp::Neg ? " (for logical negation use ~x or logical_not)" : ""));
  }
}

}  // namespace

TensorPtr unary(UnaryOp op, const TensorPtr& x) {
  DType dt = unary_out_dtype(op, x);
  auto in = (dt != x->dtype && op != UnaryOp::LogicalNot) ? to_dtype(detach(x), dt) : x;
  auto out = empty_tensor(x->shape, dt, x->device);
  if (x->dtype == DType::Bool && op == UnaryOp::Sign) copy_into(out, x);
  else GC_KERNEL(unary_kernel, op, *out, *in);
  if (is_floating(dt) && op != UnaryOp::LogicalNot && compute_requires_grad({&x})) {
    auto n = make_node<UnaryBackward>({x});
    n->op = op;
    n->saved = backward_uses_output(op) ? SavedTensor(out, true) : SavedTensor(x, false);
    set_history(out, n);
  }
  return out;
}

TensorPtr unary_(UnaryOp op, const TensorPtr& x) {
  DType dt = unary_out_dtype(op, x);
  if (op == UnaryOp::LogicalNot && x->dtype != DType::Bool) {
    // PyTorch keeps self's dtype: x.logical_not_() writes 0/1 into a float or int64 tensor.
    if (compute_requires_grad({&x}))
      fail(ErrorKind::Runtime, "logical_not_", "is not differentiable and cannot write into a tensor that requires grad. "
           "Hint: use the out-of-place x.logical_not(), or do it under no_grad()");
    copy_into(x, unary(op, x));
    x->bump_version();
    return x;
  }
  if (dt != x->dtype)
    fail(ErrorKind::Runtime, unary_name(op), "result type ", dtype_name(dt), " can't be cast to the desired output type ",
         dtype_name(x->dtype), " of the in-place op");
  if (compute_requires_grad({&x})) {
    check_inplace(x, unary_name(op));
    auto r = unary(op, clone(x));
    {
      NoGradGuard g;
      copy_into(x, r);
    }
    x->bump_version();
    set_history(x, r->grad_fn, r->output_nr);
    return x;
  }
  if (x->dtype != DType::Bool || op != UnaryOp::Sign) GC_KERNEL(unary_kernel, op, *x, *x);  // sign of bool: identity
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
  void release_saved() override { x.reset(); }
  std::string name() const override { return "ClampBackward1"; }
};

TensorPtr clamp_impl(const TensorPtr& x, std::optional<Scalar> min, std::optional<Scalar> max, bool in_place) {
  if (!min && !max) fail(ErrorKind::Runtime, "clamp", "at least one of 'min' or 'max' must not be None");
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
  auto src = in_place && grad ? clone(x) : in;
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
    if (grad) {
      {
        NoGradGuard g;
        copy_into(x, out);
      }
      set_history(x, out->grad_fn, 0);
    }
    x->bump_version();
    return x;
  }
  return out;
}

struct ActivationBackward final : Node {
  int kind;
  double p0, p1;
  SavedTensor x;
  TensorList apply(TensorList&& g) override {
    auto xv = x.unpack(*this);
    auto gx = empty_tensor(xv->shape, xv->dtype, xv->device);
    GC_KERNEL(activation_backward_kernel, kind, *gx, *g[0], *xv, p0, p1);
    return {gx};
  }
  void release_saved() override { x.reset(); }
  std::string name() const override {
    return kind == 0 ? "LeakyReluBackward0" : (kind == 1 ? "GeluBackward0" : "SoftplusBackward0");
  }
};

TensorPtr activation(int kind, const char* name, const TensorPtr& x, double p0, double p1) {
  if (!is_floating(x->dtype))
    fail(ErrorKind::Runtime, name, "expected a floating-point tensor, got ", dtype_name(x->dtype), ". Hint: call .float() first");
  auto out = empty_tensor(x->shape, x->dtype, x->device);
  GC_KERNEL(activation_kernel, kind, *out, *x, p0, p1);
  if (compute_requires_grad({&x})) {
    auto n = make_node<ActivationBackward>({x});
    n->kind = kind;
    n->p0 = p0;
    n->p1 = p1;
    n->x = SavedTensor(x, false);
    set_history(out, n);
  }
  return out;
}
}  // namespace

TensorPtr clamp(const TensorPtr& x, std::optional<Scalar> min, std::optional<Scalar> max) { return clamp_impl(x, min, max, false); }
TensorPtr clamp_(const TensorPtr& x, std::optional<Scalar> min, std::optional<Scalar> max) { return clamp_impl(x, min, max, true); }
TensorPtr leaky_relu(const TensorPtr& x, double slope) { return activation(0, "leaky_relu", x, slope, 0); }
TensorPtr gelu(const TensorPtr& x, bool tanh_approx) { return activation(1, "gelu", x, tanh_approx ? 1 : 0, 0); }
TensorPtr softplus(const TensorPtr& x, double beta, double threshold) { return activation(2, "softplus", x, beta, threshold); }

}  // namespace gc::ops
