// Elementwise binary ops: PyTorch's type promotion, broadcasting, device checks, and each op's
// backward beside it. Gradients are summed over broadcast dims and cast back to each input's dtype.
#include <cmath>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

const char* op_name(BinaryOp op) { return kernels::binary_info(op).name; }
bool is_compare(BinaryOp op) { return kernels::binary_info(op).dtype == kernels::BinaryDtype::Compare; }

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

// The backward of every binary op: reduces each partial derivative to its input's shape and dtype.
// Add and sub pass g through (scaled by alpha for b); the others run their row's grad_a / grad_b
// as one fused kernel over g and the saved values the row says they read.
struct BinaryBackward final : Node {
  // Which operands have an edge. A Python scalar operand has none where PyTorch's overload takes
  // a Scalar: pow(Tensor, Scalar) (only a), pow(Scalar, Tensor) and `scalar - tensor` (only b).
  enum class Edges : uint8_t { Both, OnlyA, OnlyB };
  BinaryOp op;
  Scalar alpha;
  DType dt;  // the compute dtype (the output's)
  Edges edges = Edges::Both;
  SavedTensor a, b, out;
  DimVector a_shape, b_shape;
  DType a_dtype, b_dtype;

  bool wants(bool for_b) const {
    switch (edges) {
      case Edges::Both: return needs_input_grad(for_b ? 1 : 0);
      case Edges::OnlyA: return !for_b && needs_input_grad(0);
      case Edges::OnlyB: return for_b && needs_input_grad(0);
    }
    return false;
  }

  TensorPtr partial(bool for_b, const TensorPtr& g) {
    const auto& info = kernels::binary_info(op);
    const auto r = for_b ? info.grad_b : info.grad_a;
    auto in = [&](SavedTensor& s, kernels::BinaryReads what) { return kernels::reads(r, what) ? cast_to(s.unpack(*this), dt) : g; };
    auto av = in(a, kernels::BinaryReads::A), bv = in(b, kernels::BinaryReads::B);
    auto yv = kernels::reads(r, kernels::BinaryReads::Y) ? out.unpack(*this) : g;
    auto gx = empty_tensor(g->shape, dt, g->device);
    GC_KERNEL_16(true, false, binary_backward_kernel, op, for_b, *gx, *g, *av, *bv, *yv);
    return gx;
  }

  TensorList apply(TensorList&& grads) override {
    const auto& info = kernels::binary_info(op);
    auto g = cast_to(grads[0], dt);
    TensorPtr ga, gb;
    if (info.grad_a == kernels::BinaryReads::Passes) {
      ga = wants(false) ? g : nullptr;
      if (wants(true)) {
        double s = (op == BinaryOp::Sub ? -1.0 : 1.0) * alpha.d;
        gb = s == 1.0 ? g : mul(g, wrapped_scalar(Scalar::from_double(s), g->device));
      }
    } else {
      if (wants(false)) ga = partial(false, g);
      if (wants(true)) gb = partial(true, g);
    }
    if (ga) ga = grad_for(ga, a_shape, a_dtype);
    if (gb) gb = grad_for(gb, b_shape, b_dtype);
    switch (edges) {
      case Edges::Both: return {ga, gb};
      case Edges::OnlyA: return {ga};
      case Edges::OnlyB: return {gb};
    }
    return {};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", a); v("other", b); v("result", out); }
  // PyTorch's node names: pow(Tensor, Scalar) is PowBackward0, of two tensors 1, pow(Scalar,
  // Tensor) 2; `scalar - tensor` is RsubBackward1.
  std::string name() const override {
    if (op == BinaryOp::Sub && edges == Edges::OnlyB) return "RsubBackward1";
    int overload = op != BinaryOp::Pow ? 0 : edges == Edges::OnlyA ? 0 : edges == Edges::Both ? 1 : 2;
    return backward_name(op_name(op), overload);
  }
};

// Computes a op b into a new tensor (no autograd).
TensorPtr compute(BinaryOp op, const TensorPtr& a, const TensorPtr& b, Scalar alpha, DType compute_dt) {
  const char* name = op_name(op);
  check_same_device(a, b, name);
  DimVector shape = broadcast_shapes(a->shape, b->shape, name);
  bool logical = is_compare(op);
  auto out = empty_tensor(shape, logical ? DType::Bool : compute_dt, a->device);
  auto ac = cast_to(a, compute_dt), bc = cast_to(b, compute_dt);
  GC_KERNEL_16(true, false, binary_kernel, op, *out, *ac, *bc, alpha);
  return out;
}

DType compute_dtype(BinaryOp op, const TensorPtr& a, const TensorPtr& b) {
  DType dt = result_type(a, b);
  switch (kernels::binary_info(op).dtype) {
    case kernels::BinaryDtype::Any:
    case kernels::BinaryDtype::Compare: break;
    case kernels::BinaryDtype::Float:
      if (!is_floating(dt)) dt = default_dtype();
      break;
    case kernels::BinaryDtype::Numeric:
      if (dt == DType::Bool) dt = DType::Int64;
      break;
    case kernels::BinaryDtype::NoBool:
      if (a->dtype == DType::Bool || b->dtype == DType::Bool)
        fail(ErrorKind::Runtime, op_name(op), "subtraction, the `-` operator, with a bool tensor is not supported. "
             "Hint: to invert a mask use the `~` or logical_not() operator, for exclusive-or the `^` or "
             "logical_xor() operator.");
      break;
  }
  if (op == BinaryOp::Pow && is_integral(dt) && is_integral(b->dtype)) {
    // PyTorch: "Integers to negative integer powers are not allowed."
    if (b->numel() > 0 && b->dim() == 0 && *to_cpu(cast_to(b, DType::Int64))->data_as<int64_t>() < 0)
      fail(ErrorKind::Runtime, "pow", "integers to negative integer powers are not allowed. Hint: use a float base, e.g. x.float() ** -1");
  }
  if ((op == BinaryOp::FloorDivide || op == BinaryOp::Remainder) && is_integral(dt)) {
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
  TensorPtr a = to_device_of(a_in, b_in), b = to_device_of(b_in, a_in);
  DType dt = compute_dtype(op, a, b);
  auto out = compute(op, a, b, alpha, dt);
  const auto& info = kernels::binary_info(op);
  if (info.grad_a == kernels::BinaryReads::NoGrad || !is_floating(dt) || !compute_requires_grad({&a, &b})) return out;
  // PyTorch's reflected `2 * t` and `2 + t` are t.mul(2) and t.add(2): the node sees the tensor
  // first, as there (both ops are symmetric in their operands at alpha 1).
  if (a->is_wrapped_number && !b->is_wrapped_number &&
      (op == BinaryOp::Mul || (op == BinaryOp::Add && alpha.d == 1.0)))
    std::swap(a, b);
  using Edges = BinaryBackward::Edges;
  Edges edges = Edges::Both;
  if (op == BinaryOp::Pow && b->is_wrapped_number) edges = Edges::OnlyA;
  if ((op == BinaryOp::Pow || op == BinaryOp::Sub) && a->is_wrapped_number && !b->is_wrapped_number) edges = Edges::OnlyB;
  auto n = edges == Edges::Both ? make_node<BinaryBackward>({a, b}) : make_node<BinaryBackward>({edges == Edges::OnlyA ? a : b});
  n->edges = edges;
  n->op = op;
  n->alpha = alpha;
  n->dt = dt;
  // Save what the partials that will run read.
  auto used = [&](kernels::BinaryReads what) {
    return (n->wants(false) && kernels::reads(info.grad_a, what)) || (n->wants(true) && kernels::reads(info.grad_b, what));
  };
  if (used(kernels::BinaryReads::A)) n->a = SavedTensor(a, false);
  if (used(kernels::BinaryReads::B)) n->b = SavedTensor(b, false);
  if (used(kernels::BinaryReads::Y)) n->out = SavedTensor(out, true);
  n->a_shape = a->shape;
  n->b_shape = b->shape;
  n->a_dtype = a->dtype;
  n->b_dtype = b->dtype;
  set_history(out, n);
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

TensorPtr binary(BinaryOp op, const TensorPtr& a, const TensorPtr& b, Scalar alpha) { return binary_op(op, a, b, alpha); }
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
    if (needs_input_grad(0)) ga = grad_for(where(c, g[0], zero), a_shape, a_dtype);
    if (needs_input_grad(1)) gb = grad_for(where(c, zero, g[0]), b_shape, b_dtype);
    return {ga, gb};
  }
  void visit_saved(const SavedVisitor& v) override { v("condition", cond); }
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
    auto n = make_node<WhereBackward>({a, b});  // the condition has no gradient: no edge, as in PyTorch
    n->cond = SavedTensor(cond, false);
    n->a_shape = a->shape; n->b_shape = b->shape; n->a_dtype = a->dtype; n->b_dtype = b->dtype;
    set_history(out, n);
  }
  return out;
}

TensorPtr binary_(BinaryOp op, const TensorPtr& self, const TensorPtr& other, Scalar alpha) {
  const char* name = op_name(op);
  check_no_internal_overlap(*self, name);
  DType dt = compute_dtype(op, self, other);
  if (is_compare(op)) dt = DType::Bool;
  if (!can_cast(dt, self->dtype))
    fail(ErrorKind::Runtime, name, "result type ", dtype_name(dt), " can't be cast to the desired output type ",
         dtype_name(self->dtype), " of the in-place op. Hint: convert the tensor first (x = x.float()) or use the "
         "out-of-place op.");
  DimVector shape = broadcast_shapes(self->shape, other->shape, name);
  if (shape != self->shape)
    fail(ErrorKind::Runtime, name, "output with shape ", shape_str(self->shape), " doesn't match the broadcast shape ",
         shape_str(shape), " of the in-place op");
  bool grad = compute_requires_grad({&self, &other}) && is_floating(self->dtype);
  if (grad) check_inplace(self, name, /*view_ok=*/true);
  if (grad) {
    // Out of place from a copy of self, then the result's data and history into self.
    auto r = binary_op(op, copy_with_history(self), other, alpha);
    commit_inplace(self, r->dtype != self->dtype ? to_dtype(r, self->dtype) : r, name);
    return self;
  }
  if (GradMode::is_enabled() && self->requires_grad && self->is_leaf())
    check_inplace(self, name);
  auto oc = to_device_of(other, self);
  if (other->storage == self->storage && !(other->offset == self->offset && other->strides == self->strides))
    oc = clone(other);  // partial overlap: read from a snapshot
  if (dt == self->dtype && !is_compare(op)) {
    check_same_device(self, oc, name);
    GC_KERNEL_16(true, false, binary_kernel, op, *self, *self, *cast_to(oc, dt), alpha);
  } else {
    auto r = compute(op, self, oc, alpha, is_compare(op) ? result_type(self, oc) : dt);
    copy_into(self, r);
  }
  self->bump_version();
  return self;
}

}  // namespace gc::ops
