// Copies and conversions: dtype casts, contiguous, clone, detach, copy_.
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

// dst = src across devices: the source is converted (dtype, broadcast, layout) on its own device
// into a dense block of dst's shape and dtype, the bytes cross once, and a strided dst is written
// from them on its device.
void copy_across_devices(const TensorPtr& dst, const TensorPtr& src) {
#ifdef GRADCORE_CUDA
  auto dense = src;
  if (!(src->shape == dst->shape && src->dtype == dst->dtype && src->is_contiguous())) {
    dense = empty_tensor(dst->shape, dst->dtype, src->device);
    GC_KERNEL_STORAGE(copy_kernel, *dense, *src);
  }
  const size_t nbytes = static_cast<size_t>(dst->numel()) * dst->itemsize();
  if (dst->is_contiguous()) {
    cuda::copy_bytes(dst->data(), dst->device, dense->data(), dense->device, nbytes);
    return;
  }
  auto staged = empty_tensor(dst->shape, dst->dtype, dst->device);
  cuda::copy_bytes(staged->data(), staged->device, dense->data(), dense->device, nbytes);
  GC_KERNEL_STORAGE(copy_kernel, *dst, *staged);
#else
  fail(ErrorKind::Runtime, "copy_", "cannot copy between ", src->device.str(), " and ", dst->device.str(),
       ": gradcore was built without CUDA support");
#endif
}

}  // namespace

void copy_into(const TensorPtr& dst, const TensorPtr& src) {
  if (broadcast_shapes(dst->shape, src->shape, "copy_") != dst->shape)
    fail(ErrorKind::Runtime, "copy_", "the source of shape ", shape_str(src->shape),
         " does not broadcast to the destination's shape ", shape_str(dst->shape),
         ". Hint: a source broadcasts when each of its dims is 1 or equals the destination's.");
  if (dst->device != src->device) {
    copy_across_devices(dst, src);
    return;
  }
  // Reading and writing overlapping memory (x.copy_(x.t())): go through a temporary.
  if (dst->storage == src->storage && !(dst->offset == src->offset && dst->strides == src->strides)) {
    auto tmp = empty_tensor(src->shape, src->dtype, src->device);
    GC_KERNEL_STORAGE(copy_kernel, *tmp, *src);
    GC_KERNEL_STORAGE(copy_kernel, *dst, *tmp);
    return;
  }
  GC_KERNEL_STORAGE(copy_kernel, *dst, *src);
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
  GC_KERNEL_STORAGE(copy_kernel, *out, *t);
  if (compute_requires_grad({&t})) {
    if (!is_floating(dtype))
      return out;  // integer results carry no gradient, as in PyTorch
    set_history(out, make_node<ToCopyBackward>({t}, t->dtype));
  }
  return out;
}

// Gradient of a move between devices: move it back.
struct ToDeviceBackward final : Node {
  Device src_device;
  explicit ToDeviceBackward(Device d) : src_device(d) {}
  TensorList apply(TensorList&& g) override { return {to_device(g[0], src_device)}; }
  std::string name() const override { return "ToCopyBackward0"; }
};

TensorPtr to_device(const TensorPtr& t, Device device, bool copy) {
  if (t->device == device) return copy ? clone(t) : t;
  check_device_available(device, "to");
  auto out = empty_tensor(t->shape, t->dtype, device);
  copy_into(out, t);
  if (compute_requires_grad({&t}) && is_floating(t->dtype)) set_history(out, make_node<ToDeviceBackward>({t}, t->device));
  return out;
}

TensorPtr to_cpu(const TensorPtr& t) {
  if (t->device.is_cpu()) return t;
  NoGradGuard no_grad;
  return to_device(t, Device{});
}

struct CloneBackward final : Node {
  TensorList apply(TensorList&& g) override { return {g[0]}; }
  std::string name() const override { return "CloneBackward0"; }
};

TensorPtr clone(const TensorPtr& t) {
  auto out = empty_tensor(t->shape, t->dtype, t->device);
  GC_KERNEL_STORAGE(copy_kernel, *out, *t);
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
  check_no_internal_overlap(*dst, "copy_");
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
