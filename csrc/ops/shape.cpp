// Shape ops. View ops share storage with their input (writes show through, as in PyTorch) and
// their backward maps the gradient back to the input's geometry; cat/stack copy.
#include <algorithm>
#include <numeric>
#include "autograd/node.h"
#include "ops/ops.h"

namespace gc::ops {

DimVector broadcast_shapes(const DimVector& a, const DimVector& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  DimVector out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (x != y && x != 1 && y != 1)
      fail(ErrorKind::Runtime, op, "shapes ", shape_str(a), " and ", shape_str(b),
           " cannot be broadcast together: the size of a tensor a (", x, ") must match the size of tensor b (", y,
           ") at non-singleton dimension ", i, ". Hint: unsqueeze/reshape one operand so that trailing dims agree.");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

TensorPtr sum_to_shape(const TensorPtr& grad, const DimVector& shape) {
  if (grad->shape == shape) return grad;
  int64_t lead = grad->dim() - static_cast<int64_t>(shape.size());
  DimVector dims;
  for (int64_t d = 0; d < grad->dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && grad->shape[d] != 1)) dims.push_back(d);
  TensorPtr r = dims.empty() ? grad : sum(grad, dims, true);
  return lead > 0 || r->shape != shape ? reshape(r, shape) : r;
}

// ---- generic view backward: scatter the gradient into zeros of the input's geometry ----
namespace {
// Backward of a view given by (shape, strides, offset) relative to a contiguous input of
// `in_shape`: materialise zeros, view them the same way, copy the gradient in.
struct AsStridedBackward final : Node {
  DimVector in_shape, shape, strides;
  int64_t offset;
  DType dtype;
  TensorList apply(TensorList&& g) override {
    auto gx = zeros(in_shape, g[0]->dtype, g[0]->device);
    auto region = as_strided(gx, shape, strides, offset);
    // Overlapping views (expand-like strides) must add, not overwrite.
    bool overlap = false;
    for (size_t i = 0; i < strides.size(); ++i) overlap |= (strides[i] == 0 && shape[i] > 1);
    if (overlap) fail(ErrorKind::Runtime, "as_strided backward", "overlapping views are not differentiable");
    copy_into(region, g[0]);
    return {gx};
  }
  std::string name() const override { return "AsStridedBackward0"; }
};

// Geometry of `out` relative to `in` viewed as a contiguous tensor, for AsStridedBackward.
// Valid when `in` is contiguous; otherwise the view op uses its own structured backward.
TensorPtr record_strided_view(const TensorPtr& in, const TensorPtr& out) {
  if (compute_requires_grad({&in})) {
    auto n = make_node<AsStridedBackward>({in});
    n->in_shape = in->shape;
    n->shape = out->shape;
    n->dtype = in->dtype;
    // Strides/offset relative to a contiguous copy of `in`: translate through in's strides.
    // Only used for in contiguous (checked by callers).
    n->strides = out->strides;
    n->offset = out->offset - in->offset;
    set_history(out, n);
  }
  return out;
}

struct ReshapeBackward final : Node {
  DimVector in_shape;
  const char* nm;
  TensorList apply(TensorList&& g) override { return {reshape(g[0], in_shape)}; }
  std::string name() const override { return nm; }
};

TensorPtr record_reshape(const TensorPtr& in, const TensorPtr& out, const char* name) {
  if (compute_requires_grad({&in})) {
    auto n = make_node<ReshapeBackward>({in});
    n->in_shape = in->shape;
    n->nm = name;
    set_history(out, n);
  }
  return out;
}

struct PermuteBackward final : Node {
  DimVector inverse;
  const char* nm;  // PermuteBackward0, or TransposeBackward0 when transpose recorded it
  TensorList apply(TensorList&& g) override { return {permute(g[0], inverse)}; }
  std::string name() const override { return nm; }
};

struct ExpandBackward final : Node {
  DimVector in_shape;
  TensorList apply(TensorList&& g) override { return {sum_to_shape(g[0], in_shape)}; }
  std::string name() const override { return "ExpandBackward0"; }
};

struct SliceBackward final : Node {
  DimVector in_shape;
  int64_t dim, start, stop, step;
  bool is_select;
  TensorList apply(TensorList&& g) override {
    auto gx = zeros(in_shape, g[0]->dtype, g[0]->device);
    auto region = is_select ? select(gx, dim, start) : slice(gx, dim, start, stop, step);
    copy_into(region, g[0]);
    return {gx};
  }
  std::string name() const override { return is_select ? "SelectBackward0" : "SliceBackward0"; }
};

// Try to express `shape` as a view of t's strides (PyTorch's computeStride): returns false when
// the dims that must merge are not contiguous with each other.
bool view_strides(const Tensor& t, const DimVector& shape, DimVector& out) {
  out.assign(shape.size(), 0);
  if (t.numel() == 0 || t.dim() == 0) {
    out = contiguous_strides(shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = t.strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = t.dim() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= t.shape[tensor_d];
    if (tensor_d == 0 || (t.shape[tensor_d - 1] != 1 && t.strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = t.strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

DimVector infer_shape(const DimVector& shape, int64_t numel, const char* op, const DimVector& from) {
  DimVector out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) fail(ErrorKind::Runtime, op, "only one dimension can be inferred (-1), got shape ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else if (out[i] < 0) {
      fail(ErrorKind::Runtime, op, "invalid shape dimension ", out[i], " in ", shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      fail(ErrorKind::Runtime, op, "shape ", shape_str(shape), " is invalid for input of size ", numel,
           " (input shape ", shape_str(from), ")");
    out[infer] = numel / known;
  } else if (known != numel) {
    fail(ErrorKind::Runtime, op, "shape ", shape_str(shape), " is invalid for input of size ", numel, " (input shape ",
         shape_str(from), "). Hint: the new shape must have the same number of elements; use -1 for one inferred dim.");
  }
  return out;
}
}  // namespace

TensorPtr as_strided(const TensorPtr& t, const DimVector& shape, const DimVector& strides, int64_t offset) {
  if (shape.size() != strides.size())
    fail(ErrorKind::Runtime, "as_strided", "shape ", shape_str(shape), " and strides ", shape_str(strides), " differ in length");
  int64_t max_off = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0 || strides[i] < 0) fail(ErrorKind::Runtime, "as_strided", "negative size or stride");
    if (shape[i] == 0) { max_off = -1; break; }
    max_off += (shape[i] - 1) * strides[i];
  }
  if (offset < 0 || (max_off >= 0 && static_cast<size_t>(max_off + 1) * t->itemsize() > t->storage->nbytes))
    fail(ErrorKind::Runtime, "as_strided", "view of size ", shape_str(shape), " with strides ", shape_str(strides),
         " and offset ", offset, " is out of bounds for storage of ", t->storage->nbytes / t->itemsize(), " elements");
  auto out = make_view(t, shape, strides, offset);
  if (compute_requires_grad({&t})) {
    if (!t->is_contiguous())
      fail(ErrorKind::Runtime, "as_strided", "differentiable as_strided needs a contiguous input. Hint: call .contiguous() first.");
    record_strided_view(t, out);
  }
  return out;
}

TensorPtr view(const TensorPtr& t, const DimVector& shape_in) {
  DimVector shape = infer_shape(shape_in, t->numel(), "view", t->shape);
  DimVector st;
  if (!view_strides(*t, shape, st))
    fail(ErrorKind::Runtime, "view", "view size ", shape_str(shape), " is not compatible with input tensor's size ",
         shape_str(t->shape), " and stride ", shape_str(t->strides),
         " (at least one dimension spans across two contiguous subspaces). Hint: use .reshape(...) instead.");
  return record_reshape(t, make_view(t, shape, st, t->offset), "ViewBackward0");
}

TensorPtr reshape(const TensorPtr& t, const DimVector& shape_in) {
  DimVector shape = infer_shape(shape_in, t->numel(), "reshape", t->shape);
  DimVector st;
  if (view_strides(*t, shape, st)) return record_reshape(t, make_view(t, shape, st, t->offset), "ViewBackward0");
  auto c = clone(t);
  c->strides = contiguous_strides(shape);
  c->shape = shape;
  if (c->grad_fn) {  // the clone's node maps to t's shape; add the reshape on top
    auto n = make_node<ReshapeBackward>({t});
    n->in_shape = t->shape;
    n->nm = "UnsafeViewBackward0";
    set_history(c, n);
  }
  return c;
}

TensorPtr flatten(const TensorPtr& t, int64_t start_dim, int64_t end_dim) {
  if (t->dim() == 0) return reshape(t, {1});
  int64_t s = wrap_dim(start_dim, t->dim(), "flatten"), e = wrap_dim(end_dim, t->dim(), "flatten");
  if (s > e) fail(ErrorKind::Runtime, "flatten", "start_dim (", start_dim, ") cannot come after end_dim (", end_dim, ")");
  if (s == e) return t;
  DimVector shape(t->shape.begin(), t->shape.begin() + s);
  int64_t m = 1;
  for (int64_t d = s; d <= e; ++d) m *= t->shape[d];
  shape.push_back(m);
  shape.insert(shape.end(), t->shape.begin() + e + 1, t->shape.end());
  return reshape(t, shape);
}

TensorPtr unsqueeze(const TensorPtr& t, int64_t dim) {
  int64_t d = wrap_dim(dim, t->dim() + 1, "unsqueeze");
  DimVector shape = t->shape, st = t->strides;
  int64_t s = d < t->dim() ? t->shape[d] * t->strides[d] : 1;
  shape.insert(shape.begin() + d, 1);
  st.insert(st.begin() + d, s);
  return record_reshape(t, make_view(t, shape, st, t->offset), "UnsqueezeBackward0");
}

TensorPtr squeeze(const TensorPtr& t, std::optional<DimVector> dims) {
  std::vector<bool> drop(t->dim(), false);
  if (!dims || dims->empty()) {
    for (int64_t d = 0; d < t->dim(); ++d) drop[d] = t->shape[d] == 1;
  } else {
    for (auto d : *dims) {
      int64_t w = wrap_dim(d, t->dim(), "squeeze");
      if (t->dim() > 0 && t->shape[w] == 1) drop[w] = true;
    }
  }
  DimVector shape, st;
  for (int64_t d = 0; d < t->dim(); ++d)
    if (!drop[d]) {
      shape.push_back(t->shape[d]);
      st.push_back(t->strides[d]);
    }
  // PyTorch's overloads: squeeze(), squeeze(dim), squeeze(dims).
  const char* node = !dims || dims->empty() ? "SqueezeBackward0" : dims->size() == 1 ? "SqueezeBackward1" : "SqueezeBackward2";
  return record_reshape(t, make_view(t, shape, st, t->offset), node);
}

// permute, recording its node under `node` (PyTorch names transpose's TransposeBackward0).
static TensorPtr permute_as(const TensorPtr& t, const DimVector& dims, const char* node) {
  if (static_cast<int64_t>(dims.size()) != t->dim())
    fail(ErrorKind::Runtime, "permute", "number of dims don't match: the tensor has ", t->dim(), " dims (shape ",
         shape_str(t->shape), ") but ", dims.size(), " were given");
  DimVector shape(dims.size()), st(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], t->dim(), "permute");
    if (seen[d]) fail(ErrorKind::Runtime, "permute", "repeated dim ", dims[i], " in ", shape_str(dims));
    seen[d] = true;
    shape[i] = t->shape[d];
    st[i] = t->strides[d];
    inverse[d] = static_cast<int64_t>(i);
  }
  auto out = make_view(t, shape, st, t->offset);
  if (compute_requires_grad({&t})) {
    auto n = make_node<PermuteBackward>({t});
    n->inverse = inverse;
    n->nm = node;
    set_history(out, n);
  }
  return out;
}

TensorPtr permute(const TensorPtr& t, const DimVector& dims) { return permute_as(t, dims, "PermuteBackward0"); }

TensorPtr matrix_t(const TensorPtr& t) {
  if (t->dim() > 2)
    fail(ErrorKind::Runtime, "t", "t() expects a tensor with <= 2 dimensions, but self is ", t->dim(),
         "D. Hint: use .transpose(dim0, dim1) or .mT");
  // a 0-D or 1-D tensor comes back as a view of itself (PyTorch's TBackward0 either way)
  return permute_as(t, t->dim() < 2 ? (t->dim() == 0 ? DimVector{} : DimVector{0}) : DimVector{1, 0}, "TBackward0");
}

TensorPtr transpose(const TensorPtr& t, int64_t d0, int64_t d1) {
  int64_t a = wrap_dim(d0, t->dim(), "transpose"), b = wrap_dim(d1, t->dim(), "transpose");
  if (t->dim() == 0) return permute(t, {});  // a view of the scalar
  DimVector perm(t->dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[a], perm[b]);
  return permute_as(t, perm, "TransposeBackward0");
}

TensorPtr expand(const TensorPtr& t, const DimVector& shape_in) {
  int64_t n = static_cast<int64_t>(shape_in.size());
  if (n < t->dim())
    fail(ErrorKind::Runtime, "expand", "the number of sizes provided (", n, ") must be greater or equal to the number "
         "of dimensions in the tensor (", t->dim(), ")");
  DimVector shape(n), st(n);
  int64_t lead = n - t->dim();
  for (int64_t i = 0; i < n; ++i) {
    if (i < lead) {
      if (shape_in[i] < 0) fail(ErrorKind::Runtime, "expand", "-1 is not allowed in a leading, non-existing dimension");
      shape[i] = shape_in[i];
      st[i] = 0;
      continue;
    }
    int64_t s = t->shape[i - lead], want = shape_in[i] == -1 ? s : shape_in[i];
    if (s != want && s != 1)
      fail(ErrorKind::Runtime, "expand", "the expanded size of the tensor (", want, ") must match the existing size (", s,
           ") at non-singleton dimension ", i, ". Target sizes: ", shape_str(shape_in), ". Tensor sizes: ", shape_str(t->shape));
    shape[i] = want;
    st[i] = s == want ? t->strides[i - lead] : 0;
  }
  auto out = make_view(t, shape, st, t->offset);
  if (compute_requires_grad({&t})) {
    auto node = make_node<ExpandBackward>({t});
    node->in_shape = t->shape;
    set_history(out, node);
  }
  return out;
}

TensorPtr slice(const TensorPtr& t, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  int64_t d = wrap_dim(dim, t->dim(), "slice");
  if (t->dim() == 0) fail(ErrorKind::Index, "slice", "cannot slice a 0-dim tensor");
  if (step <= 0) fail(ErrorKind::Value, "slice", "step must be greater than zero, got ", step);
  int64_t n = t->shape[d];
  auto clampi = [n](int64_t v) { if (v < 0) v += n; return std::min(std::max<int64_t>(v, 0), n); };
  int64_t s = clampi(start), e = clampi(stop);
  int64_t len = e > s ? (e - s + step - 1) / step : 0;
  DimVector shape = t->shape, st = t->strides;
  shape[d] = len;
  st[d] = t->strides[d] * step;
  auto out = make_view(t, shape, st, t->offset + s * t->strides[d]);
  if (compute_requires_grad({&t})) {
    auto node = make_node<SliceBackward>({t});
    node->in_shape = t->shape;
    node->dim = d;
    node->start = s;
    node->stop = e;
    node->step = step;
    node->is_select = false;
    set_history(out, node);
  }
  return out;
}

TensorPtr select(const TensorPtr& t, int64_t dim, int64_t index) {
  if (t->dim() == 0) fail(ErrorKind::Index, "select", "invalid index of a 0-dim tensor. Hint: use tensor.item() to get the number");
  int64_t d = wrap_dim(dim, t->dim(), "select");
  int64_t n = t->shape[d];
  if (index < -n || index >= n)
    fail(ErrorKind::Index, "select", "index ", index, " is out of bounds for dimension ", d, " with size ", n);
  int64_t i = index < 0 ? index + n : index;
  DimVector shape = t->shape, st = t->strides;
  shape.erase(shape.begin() + d);
  st.erase(st.begin() + d);
  auto out = make_view(t, shape, st, t->offset + i * t->strides[d]);
  if (compute_requires_grad({&t})) {
    auto node = make_node<SliceBackward>({t});
    node->in_shape = t->shape;
    node->dim = d;
    node->start = i;
    node->stop = i + 1;
    node->step = 1;
    node->is_select = true;
    set_history(out, node);
  }
  return out;
}

namespace {
// One node for all the pieces, as PyTorch's: the input's gradient is built once, each piece's
// gradient copied into its slice (zeros only where a piece got none), instead of one zero-filled
// input-sized gradient per piece summed by the engine (q, k, v = qkv.split(...) tripled the work).
struct SplitBackward final : Node {
  DimVector in_shape, sizes;
  int64_t dim = 0;
  bool by_sizes = false;
  TensorList apply(TensorList&& g) override {
    const TensorPtr* any = nullptr;
    bool all = true;
    for (auto& gi : g) {
      if (gi && !any) any = &gi;
      all = all && gi;
    }
    if (!any) return {nullptr};
    auto gx = all ? empty_tensor(in_shape, (*any)->dtype, (*any)->device) : zeros(in_shape, (*any)->dtype, (*any)->device);
    int64_t off = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (i < g.size() && g[i] && sizes[i] > 0) copy_into(slice(gx, dim, off, off + sizes[i], 1), g[i]);
      off += sizes[i];
    }
    return {gx};
  }
  std::string name() const override { return by_sizes ? "SplitWithSizesBackward0" : "SplitBackward0"; }
};
}  // namespace

TensorList split_with_sizes(const TensorPtr& t, const DimVector& sizes, int64_t dim, bool by_sizes) {
  const int64_t d = wrap_dim(dim, t->dim(), "split");
  TensorList out;
  out.reserve(sizes.size());
  int64_t off = 0;
  for (int64_t s : sizes) {
    DimVector shape = t->shape;
    shape[d] = s;
    out.push_back(make_view(t, shape, t->strides, t->offset + off * t->strides[d]));
    off += s;
  }
  if (compute_requires_grad({&t})) {
    auto node = make_node<SplitBackward>({t});
    node->in_shape = t->shape;
    node->sizes = sizes;
    node->dim = d;
    node->by_sizes = by_sizes;
    node->num_outputs = static_cast<uint32_t>(sizes.size());
    for (size_t i = 0; i < out.size(); ++i) set_history(out[i], node, static_cast<uint32_t>(i));
  }
  return out;
}

namespace {
// Also stack's (StackBackward0): each input is then one index along dim, its gradient that slice
// without the dim.
struct CatBackward final : Node {
  int64_t dim;
  DimVector sizes;             // along dim; -1 for a skipped legacy empty 1-D input
  std::vector<DType> dtypes;   // each input's: a gradient has its input's dtype
  bool stacked = false;
  TensorList apply(TensorList&& g) override {
    TensorList out(sizes.size());
    int64_t off = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (sizes[i] < 0) {
        if (needs_input_grad(i)) out[i] = zeros({0}, dtypes[i], g[0]->device);
        continue;
      }
      if (needs_input_grad(i)) {
        auto gi = slice(g[0], dim, off, off + sizes[i], 1);
        if (stacked) gi = squeeze(gi, DimVector{dim});
        out[i] = gi->dtype == dtypes[i] ? gi : to_dtype(gi, dtypes[i]);
      }
      off += sizes[i];
    }
    return out;
  }
  std::string name() const override { return stacked ? "StackBackward0" : "CatBackward0"; }
};
}  // namespace

TensorPtr cat(const TensorList& ts, int64_t dim) {
  if (ts.empty()) fail(ErrorKind::Runtime, "cat", "expected a non-empty list of tensors");
  // Legacy rule kept by PyTorch: 1-D empty tensors are skipped.
  // They still take part in type promotion, as in PyTorch.
  TensorList parts;
  DType all_dt = ts[0]->dtype;
  for (auto& t : ts) {
    all_dt = promote(all_dt, t->dtype);
    if (!(t->dim() == 1 && t->numel() == 0)) parts.push_back(t);
  }
  if (parts.empty()) return to_dtype(clone(ts[0]), all_dt);
  const auto& ref = parts[0];
  if (ref->dim() == 0) fail(ErrorKind::Runtime, "cat", "zero-dimensional tensor (at position 0) cannot be concatenated. Hint: use gradcore.stack");
  int64_t d = wrap_dim(dim, ref->dim(), "cat");
  DType dt = all_dt;
  DimVector shape = ref->shape;
  shape[d] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& t = parts[i];
    if (t->dim() != ref->dim())
      fail(ErrorKind::Runtime, "cat", "tensors must have same number of dimensions: got ", ref->dim(), " and ", t->dim(),
           " (shapes ", shape_str(ref->shape), " and ", shape_str(t->shape), ")");
    if (t->device != ref->device)
      fail(ErrorKind::Runtime, "cat", "expected all tensors to be on the same device, but found ", ref->device.str(),
           " and ", t->device.str());
    for (int64_t k = 0; k < t->dim(); ++k)
      if (k != d && t->shape[k] != ref->shape[k])
        fail(ErrorKind::Runtime, "cat", "sizes of tensors must match except in dimension ", d, ": expected size ",
             ref->shape[k], " but got size ", t->shape[k], " for tensor number ", i, " in the list (shapes ",
             shape_str(ref->shape), " and ", shape_str(t->shape), ")");
    shape[d] += t->shape[d];
    dt = promote(dt, t->dtype);
  }
  auto out = empty(shape, dt, ref->device);
  int64_t off = 0;
  for (auto& t : parts) {
    copy_into(slice(detach(out), d, off, off + t->shape[d], 1), t);
    off += t->shape[d];
  }
  if (compute_requires_grad(ts)) {
    auto n = make_node<CatBackward>(ts);
    n->dim = d;
    for (auto& t : ts) {
      n->sizes.push_back(t->dim() == 1 && t->numel() == 0 ? -1 : t->shape[d]);
      n->dtypes.push_back(t->dtype);
    }
    set_history(out, n);
  }
  return out;
}

TensorPtr stack(const TensorList& ts, int64_t dim) {
  if (ts.empty()) fail(ErrorKind::Runtime, "stack", "expected a non-empty list of tensors");
  int64_t d = wrap_dim(dim, ts[0]->dim() + 1, "stack");
  TensorList us;
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i]->shape != ts[0]->shape)
      fail(ErrorKind::Runtime, "stack", "stack expects each tensor to be equal size, but got ", shape_str(ts[0]->shape),
           " at entry 0 and ", shape_str(ts[i]->shape), " at entry ", i);
  TensorPtr out;
  {
    NoGradGuard no_grad;  // one StackBackward0 node below, as PyTorch's, not cat of unsqueezes
    for (auto& t : ts) us.push_back(unsqueeze(t, d));
    out = cat(us, d);
  }
  if (compute_requires_grad(ts)) {
    auto n = make_node<CatBackward>(ts);
    n->dim = d;
    n->stacked = true;
    for (auto& t : ts) {
      n->sizes.push_back(1);
      n->dtypes.push_back(t->dtype);
    }
    set_history(out, n);
  }
  return out;
}

}  // namespace gc::ops
