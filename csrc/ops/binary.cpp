// Elementwise binary ops: PyTorch's type promotion, broadcasting, device checks, and each op's
// backward beside it. Gradients are summed over broadcast dims and cast back to each input's dtype.
#include <cmath>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
    case BinaryOp::FloorDivide: return "floor_divide";
    case BinaryOp::Remainder: return "remainder";
    case BinaryOp::Eq: return "eq";
    case BinaryOp::Ne: return "ne";
    case BinaryOp::Lt: return "lt";
    case BinaryOp::Le: return "le";
    case BinaryOp::Gt: return "gt";
    case BinaryOp::Ge: return "ge";
    case BinaryOp::LogicalAnd: return "logical_and";
    case BinaryOp::LogicalOr: return "logical_or";
    case BinaryOp::LogicalXor: return "logical_xor";
  }
  return "binary";
}

// PyTorch's combine_categories: a higher-priority class wins unless a lower one is of a higher
// category (bool < integer < floating).
std::optional<DType> combine(std::optional<DType> higher, std::optional<DType> lower) {
  if (!higher) return lower;
  if (!lower) return higher;
  if (is_floating(*higher)) return higher;
  if (*higher == DType::Bool || is_floating(*lower)) return promote(*higher, *lower);
  return higher;
}

void check_same_device(const TensorPtr& a, const TensorPtr& b, const char* op) {
  if (a->device != b->device)
    fail(ErrorKind::Runtime, op, "expected all tensors to be on the same device, but found at least two devices, ",
         a->device.str(), " and ", b->device.str(), ". Hint: move both with .to(device) first.");
}

TensorPtr cast_to(const TensorPtr& t, DType dt) {
  if (t->dtype == dt) return t;
  NoGradGuard g;
  return to_dtype(t, dt);
}

// Reduce a gradient to an input's shape and dtype.
TensorPtr grad_for(const TensorPtr& g, const DimVector& shape, DType dtype) {
  auto r = sum_to_shape(g, shape);
  return r->dtype == dtype ? r : to_dtype(r, dtype);
}

struct BinaryBackwardBase : Node {
  DimVector a_shape, b_shape;
  DType a_dtype, b_dtype;
  void set_inputs(const TensorPtr& a, const TensorPtr& b) {
    a_shape = a->shape; b_shape = b->shape; a_dtype = a->dtype; b_dtype = b->dtype;
  }
  TensorList finish(const TensorPtr& ga, const TensorPtr& gb) {
    return {ga ? grad_for(ga, a_shape, a_dtype) : nullptr, gb ? grad_for(gb, b_shape, b_dtype) : nullptr};
  }
};

struct AddBackward final : BinaryBackwardBase {
  Scalar alpha;
  bool sub;
  TensorList apply(TensorList&& g) override {
    TensorPtr gb;
    if (needs_input_grad(1)) {
      double s = (sub ? -1.0 : 1.0) * alpha.d;
      gb = s == 1.0 ? g[0] : mul(g[0], wrapped_scalar(Scalar::from_double(s), g[0]->device));
    }
    return finish(needs_input_grad(0) ? g[0] : nullptr, gb);
  }
  std::string name() const override { return sub ? "SubBackward0" : "AddBackward0"; }
};

struct MulBackward final : BinaryBackwardBase {
  SavedTensor a, b;
  TensorList apply(TensorList&& g) override {
    return finish(needs_input_grad(0) ? mul(g[0], b.unpack(*this)) : nullptr,
                  needs_input_grad(1) ? mul(g[0], a.unpack(*this)) : nullptr);
  }
  void release_saved() override { a.reset(); b.reset(); }
  std::string name() const override { return "MulBackward0"; }
};

struct DivBackward final : BinaryBackwardBase {
  SavedTensor a, b;
  TensorList apply(TensorList&& g) override {
    auto bv = b.unpack(*this);
    TensorPtr ga, gb;
    if (needs_input_grad(0)) ga = div(g[0], bv);
    if (needs_input_grad(1)) gb = unary(kernels::Neg{}, div(mul(g[0], a.unpack(*this)), mul(bv, bv)));
    return finish(ga, gb);
  }
  void release_saved() override { a.reset(); b.reset(); }
  std::string name() const override { return "DivBackward0"; }
};

struct PowBackward final : BinaryBackwardBase {
  SavedTensor a, b, out;
  TensorList apply(TensorList&& g) override {
    auto av = a.unpack(*this), bv = b.unpack(*this);
    TensorPtr ga, gb;
    if (needs_input_grad(0)) {
      // d/da a^b = b * a^(b-1); PyTorch defines it as 0 where b == 0.
      auto bm1 = sub(bv, wrapped_scalar(Scalar::from_int(1), bv->device));
      auto d = mul(bv, pow(av, bm1));
      d = where(compare(BinaryOp::Eq, bv, wrapped_scalar(Scalar::from_int(0), bv->device)),
                zeros({}, d->dtype, d->device), d);
      ga = mul(g[0], d);
    }
    if (needs_input_grad(1)) {
      // d/db a^b = a^b * log(a); 0 where a == 0 and b >= 0 (PyTorch's convention).
      auto d = mul(out.unpack(*this), unary(kernels::Log{}, av));
      auto mask = compare(BinaryOp::LogicalAnd, compare(BinaryOp::Eq, av, wrapped_scalar(Scalar::from_int(0), av->device)),
                          compare(BinaryOp::Ge, bv, wrapped_scalar(Scalar::from_int(0), bv->device)));
      d = where(mask, zeros({}, d->dtype, d->device), d);
      gb = mul(g[0], d);
    }
    return finish(ga, gb);
  }
  void release_saved() override { a.reset(); b.reset(); out.reset(); }
  std::string name() const override { return "PowBackward1"; }
};

struct MaxMinBackward final : BinaryBackwardBase {
  SavedTensor a, b;
  bool is_max;
  TensorList apply(TensorList&& g) override {
    auto av = a.unpack(*this), bv = b.unpack(*this);
    // The larger (smaller) input takes the gradient; ties split it evenly, as PyTorch does.
    auto half = mul(g[0], wrapped_scalar(Scalar::from_double(0.5), g[0]->device));
    auto zero = zeros({}, g[0]->dtype, g[0]->device);
    auto eq = compare(BinaryOp::Eq, av, bv);
    auto a_wins = compare(is_max ? BinaryOp::Gt : BinaryOp::Lt, av, bv);
    TensorPtr ga, gb;
    if (needs_input_grad(0)) ga = where(eq, half, where(a_wins, g[0], zero));
    if (needs_input_grad(1)) gb = where(eq, half, where(a_wins, zero, g[0]));
    return finish(ga, gb);
  }
  void release_saved() override { a.reset(); b.reset(); }
  std::string name() const override { return is_max ? "MaximumBackward0" : "MinimumBackward0"; }
};

// Gradient-free ops on floats (floor_divide, remainder's second input) still need a node so
// the graph stays connected: PyTorch gives remainder d/da = 1 and d/db = -floor_divide(a, b).
struct RemainderBackward final : BinaryBackwardBase {
  SavedTensor a, b;
  TensorList apply(TensorList&& g) override {
    TensorPtr gb;
    if (needs_input_grad(1)) gb = mul(unary(kernels::Neg{}, g[0]), floor_divide(a.unpack(*this), b.unpack(*this)));
    return finish(needs_input_grad(0) ? g[0] : nullptr, gb);
  }
  void release_saved() override { a.reset(); b.reset(); }
  std::string name() const override { return "RemainderBackward0"; }
};

struct ZeroGradBackward final : BinaryBackwardBase {
  const char* nm;
  TensorList apply(TensorList&& g) override {
    auto z = zeros({}, g[0]->dtype, g[0]->device);
    return finish(needs_input_grad(0) ? mul(g[0], z) : nullptr, needs_input_grad(1) ? mul(g[0], z) : nullptr);
  }
  std::string name() const override { return nm; }
};

// Computes a op b into a new tensor (no autograd).
TensorPtr compute(BinaryOp op, const TensorPtr& a, const TensorPtr& b, Scalar alpha, DType compute_dt) {
  const char* name = op_name(op);
  check_same_device(a, b, name);
  DimVector shape = broadcast_shapes(a->shape, b->shape, name);
  bool logical = op >= BinaryOp::Eq;
  auto out = empty_tensor(shape, logical ? DType::Bool : compute_dt, a->device);
  auto ac = cast_to(a, compute_dt), bc = cast_to(b, compute_dt);
  GC_KERNEL(binary_kernel, op, *out, *ac, *bc, alpha);
  return out;
}

DType compute_dtype(BinaryOp op, const TensorPtr& a, const TensorPtr& b) {
  DType dt = result_type(a, b);
  if (op == BinaryOp::Div && !is_floating(dt)) dt = default_dtype();
  if (dt == DType::Bool && (op == BinaryOp::Sub || op == BinaryOp::Div || op == BinaryOp::Pow ||
                            op == BinaryOp::FloorDivide || op == BinaryOp::Remainder)) {
    if (op == BinaryOp::Sub)
      fail(ErrorKind::Runtime, "sub", "subtraction, the `-` operator, with two bool tensors is not supported. "
           "Hint: use the `^` or logical_xor() operator instead.");
    dt = DType::Int64;
  }
  if (op == BinaryOp::Pow && dt == DType::Int64 && b->dtype == DType::Int64) {
    // PyTorch: "Integers to negative integer powers are not allowed."
    if (b->numel() > 0 && b->dim() == 0 && *to_cpu(b)->data_as<int64_t>() < 0)
      fail(ErrorKind::Runtime, "pow", "integers to negative integer powers are not allowed. Hint: use a float base, e.g. x.float() ** -1");
  }
  if ((op == BinaryOp::FloorDivide || op == BinaryOp::Remainder) && dt == DType::Int64) {
    // integer division by zero is undefined behaviour in C++: refuse it like PyTorch does
    auto bc = cast_to(b, DType::Int64);
    auto zero = compute(BinaryOp::Eq, bc, wrapped_scalar(Scalar::from_int(0), b->device), Scalar::from_int(1), DType::Int64);
    bool any = false;
    zero = to_cpu(zero);
    auto* z = zero->data_as<bool>();
    for (int64_t i = 0; i < zero->numel() && !any; ++i) any = z[i];
    if (any) fail(ErrorKind::Runtime, op_name(op), "ZeroDivisionError: integer division by zero");
  }
  return dt;
}

// PyTorch lets a 0-dim CPU tensor (a number held in a tensor) meet a tensor of any device: it is
// moved over (differentiably) so the op runs on the other operand's device.
TensorPtr to_device_of(const TensorPtr& t, const TensorPtr& other) {
  if (t->device == other->device || !t->device.is_cpu() || t->dim() != 0) return t;
  return to_device(t, other->device);
}

TensorPtr binary_op(BinaryOp op, const TensorPtr& a_in, const TensorPtr& b_in, Scalar alpha = Scalar::from_int(1)) {
  const TensorPtr a = to_device_of(a_in, b_in), b = to_device_of(b_in, a_in);
  DType dt = compute_dtype(op, a, b);
  auto out = compute(op, a, b, alpha, dt);
  if (op >= BinaryOp::Eq || !is_floating(dt) || !compute_requires_grad({&a, &b})) return out;
  std::shared_ptr<BinaryBackwardBase> node;
  switch (op) {
    case BinaryOp::Add:
    case BinaryOp::Sub: {
      auto n = make_node<AddBackward>({a, b});
      n->alpha = alpha;
      n->sub = op == BinaryOp::Sub;
      node = n;
      break;
    }
    case BinaryOp::Mul: {
      auto n = make_node<MulBackward>({a, b});
      if (n->needs_input_grad(1)) n->a = SavedTensor(a, false);
      if (n->needs_input_grad(0)) n->b = SavedTensor(b, false);
      node = n;
      break;
    }
    case BinaryOp::Div: {
      auto n = make_node<DivBackward>({a, b});
      if (n->needs_input_grad(1)) n->a = SavedTensor(a, false);
      n->b = SavedTensor(b, false);
      node = n;
      break;
    }
    case BinaryOp::Pow: {
      auto n = make_node<PowBackward>({a, b});
      n->a = SavedTensor(a, false);
      n->b = SavedTensor(b, false);
      n->out = SavedTensor(out, true);
      node = n;
      break;
    }
    case BinaryOp::Maximum:
    case BinaryOp::Minimum: {
      auto n = make_node<MaxMinBackward>({a, b});
      n->a = SavedTensor(a, false);
      n->b = SavedTensor(b, false);
      n->is_max = op == BinaryOp::Maximum;
      node = n;
      break;
    }
    case BinaryOp::Remainder: {
      auto n = make_node<RemainderBackward>({a, b});
      n->a = SavedTensor(a, false);
      n->b = SavedTensor(b, false);
      node = n;
      break;
    }
    default: {
      auto n = make_node<ZeroGradBackward>({a, b});
      n->nm = "FloorDivideBackward0";
      node = n;
      break;
    }
  }
  node->set_inputs(a, b);
  set_history(out, node);
  return out;
}

bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != DType::Bool && to == DType::Bool) return false;
  return true;
}

}  // namespace

DType result_type(const TensorPtr& a, const TensorPtr& b) {
  std::optional<DType> dim_r, zero_r, wrapped_r;
  for (const TensorPtr* t : {&a, &b}) {
    const Tensor& x = **t;
    if (x.is_wrapped_number) {
      DType d = is_floating(x.dtype) ? default_dtype() : x.dtype;
      wrapped_r = wrapped_r ? promote(*wrapped_r, d) : d;
    } else if (x.dim() == 0) {
      zero_r = zero_r ? promote(*zero_r, x.dtype) : x.dtype;
    } else {
      dim_r = dim_r ? promote(*dim_r, x.dtype) : x.dtype;
    }
  }
  return *combine(dim_r, combine(zero_r, wrapped_r));
}

TensorPtr add(const TensorPtr& a, const TensorPtr& b, Scalar alpha) { return binary_op(BinaryOp::Add, a, b, alpha); }
TensorPtr sub(const TensorPtr& a, const TensorPtr& b, Scalar alpha) { return binary_op(BinaryOp::Sub, a, b, alpha); }
TensorPtr mul(const TensorPtr& a, const TensorPtr& b) { return binary_op(BinaryOp::Mul, a, b); }
TensorPtr div(const TensorPtr& a, const TensorPtr& b) { return binary_op(BinaryOp::Div, a, b); }
TensorPtr pow(const TensorPtr& a, const TensorPtr& b) { return binary_op(BinaryOp::Pow, a, b); }
TensorPtr maximum(const TensorPtr& a, const TensorPtr& b) { return binary_op(BinaryOp::Maximum, a, b); }
TensorPtr minimum(const TensorPtr& a, const TensorPtr& b) { return binary_op(BinaryOp::Minimum, a, b); }
TensorPtr floor_divide(const TensorPtr& a, const TensorPtr& b) { return binary_op(BinaryOp::FloorDivide, a, b); }
TensorPtr remainder(const TensorPtr& a, const TensorPtr& b) { return binary_op(BinaryOp::Remainder, a, b); }
TensorPtr compare(BinaryOp op, const TensorPtr& a, const TensorPtr& b) { return binary_op(op, a, b); }

namespace {
struct WhereBackward final : Node {
  SavedTensor cond;
  DimVector a_shape, b_shape;
  DType a_dtype, b_dtype;
  TensorList apply(TensorList&& g) override {
    auto c = cond.unpack(*this);
    auto zero = zeros({}, g[0]->dtype, g[0]->device);
    TensorPtr ga, gb;
    if (needs_input_grad(1)) ga = grad_for(where(c, g[0], zero), a_shape, a_dtype);
    if (needs_input_grad(2)) gb = grad_for(where(c, zero, g[0]), b_shape, b_dtype);
    return {nullptr, ga, gb};
  }
  void release_saved() override { cond.reset(); }
  std::string name() const override { return "WhereBackward0"; }
};
}  // namespace

TensorPtr where(const TensorPtr& cond, const TensorPtr& a_in, const TensorPtr& b_in) {
  const TensorPtr a = to_device_of(a_in, cond), b = to_device_of(b_in, cond);
  check_same_device(cond, a, "where");
  check_same_device(a, b, "where");
  if (cond->dtype != DType::Bool)
    fail(ErrorKind::Runtime, "where", "expected condition to be a bool tensor, but got ", dtype_name(cond->dtype),
         ". Hint: compare first, e.g. gradcore.where(x > 0, ...), or use cond.bool()");
  DType dt = result_type(a, b);
  DimVector shape = broadcast_shapes(broadcast_shapes(cond->shape, a->shape, "where"), b->shape, "where");
  auto out = empty_tensor(shape, dt, a->device);
  auto ac = cast_to(a, dt), bc = cast_to(b, dt);
  GC_KERNEL(where_kernel, *out, *cond, *ac, *bc);
  if (is_floating(dt) && compute_requires_grad({&a, &b})) {
    auto n = make_node<WhereBackward>({cond, a, b});
    n->cond = SavedTensor(cond, false);
    n->a_shape = a->shape; n->b_shape = b->shape; n->a_dtype = a->dtype; n->b_dtype = b->dtype;
    set_history(out, n);
  }
  return out;
}

TensorPtr binary_(BinaryOp op, const TensorPtr& self, const TensorPtr& other, Scalar alpha) {
  const char* name = op_name(op);
  DType dt = compute_dtype(op, self, other);
  if (op >= BinaryOp::Eq) dt = DType::Bool;
  if (!can_cast(dt, self->dtype))
    fail(ErrorKind::Runtime, name, "result type ", dtype_name(dt), " can't be cast to the desired output type ",
         dtype_name(self->dtype), " of the in-place op. Hint: convert the tensor first (x = x.float()) or use the "
         "out-of-place op.");
  DimVector shape = broadcast_shapes(self->shape, other->shape, name);
  if (shape != self->shape)
    fail(ErrorKind::Runtime, name, "output with shape ", shape_str(self->shape), " doesn't match the broadcast shape ",
         shape_str(shape), " of the in-place op");
  bool grad = compute_requires_grad({&self, &other}) && is_floating(self->dtype);
  if (grad) check_inplace(self, name);
  if (grad && self->base)
    fail(ErrorKind::Runtime, name, "in-place modification of a view (shape ", shape_str(self->shape),
         ") with a value that requires grad is not supported by gradcore. Hint: build the result out of place.");
  if (grad) {
    // Compute out of place from a copy of self (so the node's saved inputs stay intact), then
    // move the result's data and history into self.
    auto r = binary_op(op, clone(self), other, alpha);
    if (r->dtype != self->dtype) r = to_dtype(r, self->dtype);
    {
      NoGradGuard g;
      copy_into(self, r);
    }
    self->bump_version();
    set_history(self, r->grad_fn, r->output_nr);
    return self;
  }
  if (GradMode::is_enabled() && self->requires_grad && self->is_leaf())
    check_inplace(self, name);
  auto oc = to_device_of(other, self);
  if (other->storage == self->storage && !(other->offset == self->offset && other->strides == self->strides))
    oc = clone(other);  // partial overlap: read from a snapshot
  if (dt == self->dtype && op < BinaryOp::Eq) {
    check_same_device(self, oc, name);
    GC_KERNEL(binary_kernel, op, *self, *self, *cast_to(oc, dt), alpha);
  } else {
    auto r = compute(op, self, oc, alpha, op >= BinaryOp::Eq ? result_type(self, oc) : dt);
    copy_into(self, r);
  }
  self->bump_version();
  return self;
}

}  // namespace gc::ops
