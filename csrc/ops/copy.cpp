// Copies and conversions: dtype casts, contiguous, clone, detach, copy_.
#include "autograd/node.h"
#include "cpu/copy.h"
#include "ops/ops.h"

namespace gc::ops {

void copy_into(const TensorPtr& dst, const TensorPtr& src) {
  if (dst->device != src->device)
    fail(ErrorKind::Runtime, "copy_", "cannot copy between ", src->device.str(), " and ", dst->device.str(),
         " in this build");
  broadcast_shapes(dst->shape, src->shape, "copy_");
  // Reading and writing overlapping memory (x.copy_(x.t())): go through a temporary.
  if (dst->storage == src->storage && !(dst->offset == src->offset && dst->strides == src->strides)) {
    auto tmp = empty_tensor(src->shape, src->dtype, src->device);
    cpu::copy_kernel(*tmp, *src);
    cpu::copy_kernel(*dst, *tmp);
    return;
  }
  cpu::copy_kernel(*dst, *src);
}

// Gradient of a dtype cast: cast back.
struct ToCopyBackward final : Node {
  DType src_dtype;
  explicit ToCopyBackward(DType d) : src_dtype(d) {}
  TensorList apply(TensorList&& g) override { return {to_dtype(g[0], src_dtype)}; }
  std::string name() const override { return "ToCopyBackward0"; }
};

TensorPtr to_dtype(const TensorPtr& t, DType dtype, bool copy) {
  if (t->dtype == dtype && !copy) return t;
  auto out = empty_tensor(t->shape, dtype, t->device);
  cpu::copy_kernel(*out, *t);
  if (compute_requires_grad({&t})) {
    if (!is_floating(dtype))
      return out;  // integer results carry no gradient, as in PyTorch
    set_history(out, make_node<ToCopyBackward>({t}, t->dtype));
  }
  return out;
}

TensorPtr to_device(const TensorPtr& t, Device device, bool copy) {
  if (t->device == device) return copy ? clone(t) : t;
  fail(ErrorKind::Runtime, "to", "cannot move a tensor from ", t->device.str(), " to ", device.str(),
       ": gradcore was built without CUDA support. Hint: keep device='cpu', or check gradcore.cuda.is_available().");
}

struct CloneBackward final : Node {
  TensorList apply(TensorList&& g) override { return {g[0]}; }
  std::string name() const override { return "CloneBackward0"; }
};

TensorPtr clone(const TensorPtr& t) {
  auto out = empty_tensor(t->shape, t->dtype, t->device);
  cpu::copy_kernel(*out, *t);
  if (compute_requires_grad({&t})) set_history(out, make_node<CloneBackward>({t}));
  return out;
}

TensorPtr contiguous(const TensorPtr& t) { return t->is_contiguous() ? t : clone(t); }

TensorPtr detach(const TensorPtr& t) { return detached_alias(t); }

// copy_(dst, src): dst's old values get no gradient; src receives the gradient (summed over
// broadcast dims and cast back to its dtype).
struct CopyBackward final : Node {
  DimVector src_shape;
  DType src_dtype;
  TensorList apply(TensorList&& g) override {
    TensorPtr gs;
    if (needs_input_grad(1) && g[0]) gs = to_dtype(sum_to_shape(g[0], src_shape), src_dtype);
    return {nullptr, gs};
  }
  std::string name() const override { return "CopyBackwards"; }
};

TensorPtr copy_(const TensorPtr& dst, const TensorPtr& src) {
  check_inplace(dst, "copy_");
  copy_into(dst, src);
  dst->bump_version();
  if (compute_requires_grad({&dst, &src}) && is_floating(dst->dtype)) {
    auto n = make_node<CopyBackward>({dst, src});
    n->src_shape = src->shape;
    n->src_dtype = src->dtype;
    set_history(dst, n);
  }
  return dst;
}

}  // namespace gc::ops
