// Indexing ops: advanced indexing (index / index_put_), masked_fill and nonzero, each with its
// autograd node beside it, and the graph-aware half of Tensor.__getitem__/__setitem__
// (apply_basic_index, set_item). gather / scatter_add / index_select live in ops/gather.cpp.
// Index tensors are validated (detail::check_index_bounds) before any kernel reads or writes
// through them.
#include "ops/dispatch.h"
#include "ops/index.h"
#include <algorithm>
#include "autograd/node.h"

namespace gc::ops {

namespace detail {

void restride(Tensor& v, const Tensor& t, DimVector shape, DimVector strides) {
  v.shape = std::move(shape);
  v.strides = std::move(strides);
  v.offset = t.offset;
  v.dtype = t.dtype;
  v.device = t.device;
  v.storage = t.storage;
}

void check_device(const Tensor& x, const Tensor& other, const char* op, const char* what) {
  if (x.device != other.device)
    fail(ErrorKind::Runtime, op, "expected ", what, " on the same device as the indexed tensor, but found ",
         other.device.str(), " and ", x.device.str(), ". Hint: move it with .to(x.device).");
}

void check_not_view(const Tensor& x, const char* op) {
  if (x.base)
    fail(ErrorKind::Runtime, op, "in-place write of a value that requires grad into a view (shape ",
         shape_str(x.shape), ") is not supported by gradcore: the view's base would not see the gradient. "
         "Hint: index the base tensor directly, or build the result out of place (gradcore.where, gradcore.cat).");
}

void check_index_bounds(const Tensor& idx, int64_t size, int64_t dim, bool allow_negative, ErrorKind kind,
                        const char* op) {
  const std::optional<int64_t> bad = GC_KERNEL(first_index_out_of_range, idx, allow_negative ? -size : 0, size);
  if (!bad) return;
  const int64_t first = *bad;
  if (first < 0 && !allow_negative && first >= -size)
    fail(kind, op, "index ", first, " is out of bounds for dimension ", dim, " with size ", size,
         ". Hint: this op does not wrap negative indices; add the dim size to them first.");
  fail(kind, op, "index ", first, " is out of bounds for dimension ", dim, " with size ", size);
}

}  // namespace detail

using namespace detail;

namespace {

// Element strides of t read at the broadcast shape `shape` (trailing-aligned, 0 where broadcast).
DimVector broadcast_strides(const Tensor& t, const DimVector& shape) {
  DimVector st(shape.size(), 0);
  size_t off = shape.size() - t.shape.size();
  for (size_t d = 0; d < t.shape.size(); ++d) st[off + d] = t.shape[d] == shape[off + d] ? t.strides[d] : 0;
  return st;
}

bool broadcasts_to(const DimVector& from, const DimVector& to) {
  if (from.size() > to.size()) return false;
  size_t off = to.size() - from.size();
  for (size_t d = 0; d < from.size(); ++d)
    if (from[d] != 1 && from[d] != to[off + d]) return false;
  return true;
}

bool any_defined(const TensorList& ts) {
  return std::any_of(ts.begin(), ts.end(), [](const TensorPtr& t) { return static_cast<bool>(t); });
}

// An index list saved for backward: its tensors as SavedTensors (version-checked, freed after
// backward), its null entries by position.
class SavedIndices {
 public:
  SavedIndices() = default;
  explicit SavedIndices(const TensorList& ts) : size_(ts.size()) {
    for (size_t i = 0; i < ts.size(); ++i)
      if (ts[i]) {
        pos_.push_back(i);
        saved_.emplace_back(ts[i], false);
      }
  }
  TensorList unpack(const Node& owner) const {
    TensorList out(size_);
    for (size_t k = 0; k < pos_.size(); ++k) out[pos_[k]] = saved_[k].unpack(owner);
    return out;
  }
  void visit(const char* name, const SavedVisitor& v) {
    for (auto& s : saved_) v(name, s);
  }

 private:
  size_t size_ = 0;
  std::vector<size_t> pos_;
  std::vector<SavedTensor> saved_;
};

TensorPtr reduce_to(const TensorPtr& g, const DimVector& shape, DType dtype) {
  auto r = sum_to_shape(g, shape);
  return r->dtype == dtype ? r : to_dtype(r, dtype);
}

}  // namespace

Scalar scalar_of(const TensorPtr& value) {
  auto h = to_cpu(contiguous(value));
  const Tensor& t = *h;
  switch (t.dtype) {
    case DType::Bool: return Scalar::from_bool(*t.data_as<bool>());
    case DType::Int64: return Scalar::from_int(*t.data_as<int64_t>());
    case DType::Float32: return Scalar::from_double(*t.data_as<float>());
    case DType::Float64: return Scalar::from_double(*t.data_as<double>());
    case DType::BFloat16: return Scalar::from_double(static_cast<float>(*t.data_as<BFloat16>()));
    case DType::Float16: return Scalar::from_double(static_cast<float>(*t.data_as<Half>()));
    case DType::UInt8: return Scalar::from_int(*t.data_as<uint8_t>());
    case DType::Int8: return Scalar::from_int(*t.data_as<int8_t>());
    case DType::Int16: return Scalar::from_int(*t.data_as<int16_t>());
    case DType::Int32: return Scalar::from_int(*t.data_as<int32_t>());
  }
  return Scalar();
}

namespace {

// ---- advanced indexing ----

// Bool masks become their nonzero coordinates (a k-dim mask indexes k dims); the result has one
// entry per dim of x, null where the dim is taken whole.
TensorList expand_indices(const Tensor& x, const TensorList& in, const char* op) {
  TensorList out;
  for (const auto& given : in) {
    if (!given) {
      out.push_back(nullptr);
      continue;
    }
    // Indices on the CPU may index a tensor on any device (as in PyTorch): they are moved over.
    TensorPtr t = given->device.is_cpu() && !x.device.is_cpu() ? to_device(given, x.device) : given;
    check_device(x, *t, op, "indices");
    // PyTorch takes int32 indices as int64 ones and (deprecated) uint8 indices as bool masks
    if (t->dtype == DType::Int32 || t->dtype == DType::UInt8) {
      NoGradGuard g;
      t = to_dtype(t, t->dtype == DType::Int32 ? DType::Int64 : DType::Bool);
    }
    if (t->dtype == DType::Int64) {
      out.push_back(t);
      continue;
    }
    if (t->dtype != DType::Bool)
      fail(ErrorKind::Index, op, "tensors used as indices must be long, int, byte or bool tensors, got ",
           dtype_name(t->dtype), ". Hint: convert the index with .long().");
    if (t->dim() == 0)
      fail(ErrorKind::Index, op, "a 0-dim bool index adds a dim and cannot be one entry of an index list. "
           "Hint: index with it through x[mask] (Tensor.__getitem__).");
    int64_t d0 = static_cast<int64_t>(out.size());
    if (d0 + t->dim() > x.dim())
      fail(ErrorKind::Index, op, "too many indices for tensor of dimension ", x.dim(), ": a ", t->dim(),
           "-dim mask at dim ", d0, " of a tensor of shape ", shape_str(x.shape));
    for (int64_t j = 0; j < t->dim(); ++j)
      if (t->shape[j] != x.shape[d0 + j])
        fail(ErrorKind::Index, op, "the shape of the mask ", shape_str(t->shape), " at index ", j,
             " does not match the shape of the indexed tensor ", shape_str(x.shape), " at index ", d0 + j,
             ". Hint: a mask must have the shape of the dims it indexes.");
    auto nz = nonzero(t);
    for (int64_t j = 0; j < t->dim(); ++j) out.push_back(select(nz, 1, j));
  }
  if (static_cast<int64_t>(out.size()) > x.dim())
    fail(ErrorKind::Index, op, "too many indices for tensor of dimension ", x.dim(), " (got ", out.size(), ")");
  out.resize(x.dim());
  return out;
}

// Where x[indices] reads from, as one gather/scatter over the result's shape: the index tensors
// broadcast to B; B's dims replace the indexed dims in place when those are adjacent, and go
// first otherwise (NumPy's rule). Several index tensors fold into one tensor of element offsets.
struct IndexPlan {
  DimVector shape;        // the indexing result
  DimVector src_strides;  // x's strides in the result's space, 0 on B's dims
  Tensor idx;             // positions (or folded element offsets) in the result's space
  int64_t size = 0, stride = 1;
  TensorPtr offsets;      // owns the folded offsets
};

void make_plan(IndexPlan& p, const Tensor& x, const TensorList& idx, const char* op) {
  if (static_cast<int64_t>(idx.size()) != x.dim())  // callers pass expand_indices' padded list
    fail(ErrorKind::Runtime, op, "internal error: ", idx.size(), " index entries for a ", x.dim(), "-dim tensor");
  std::vector<int64_t> pos;
  DimVector b;
  bool ok = true;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!idx[d]) continue;
    const DimVector& s = idx[d]->shape;
    if (pos.empty()) {
      b = s;
    } else {
      DimVector nb(std::max(b.size(), s.size()));
      for (size_t i = 0; i < nb.size(); ++i) {
        int64_t u = i < nb.size() - b.size() ? 1 : b[i - (nb.size() - b.size())];
        int64_t v = i < nb.size() - s.size() ? 1 : s[i - (nb.size() - s.size())];
        ok &= u == v || u == 1 || v == 1;
        nb[i] = u == 1 ? v : u;
      }
      b = nb;
    }
    pos.push_back(d);
  }
  if (!ok) {
    std::string shapes;
    for (auto d : pos) shapes += (shapes.empty() ? "" : ", ") + shape_str(idx[d]->shape);
    fail(ErrorKind::Index, op, "shape mismatch: indexing tensors could not be broadcast together with shapes ", shapes);
  }
  for (auto d : pos) check_index_bounds(*idx[d], x.shape[d], d, true, ErrorKind::Index, op);

  bool adjacent = pos.back() - pos.front() + 1 == static_cast<int64_t>(pos.size());
  int64_t b0 = adjacent ? pos.front() : 0;
  auto keep = [&](int64_t d) { p.shape.push_back(x.shape[d]); p.src_strides.push_back(x.strides[d]); };
  auto put_b = [&] {
    p.shape.insert(p.shape.end(), b.begin(), b.end());
    p.src_strides.insert(p.src_strides.end(), b.size(), 0);
  };
  if (adjacent) {
    for (int64_t d = 0; d < pos.front(); ++d) keep(d);
    put_b();
    for (int64_t d = pos.back() + 1; d < x.dim(); ++d) keep(d);
  } else {
    put_b();
    for (int64_t d = 0; d < x.dim(); ++d)
      if (!idx[d]) keep(d);
  }
  auto to_result_space = [&](const DimVector& b_strides) {
    DimVector st(p.shape.size(), 0);
    std::copy(b_strides.begin(), b_strides.end(), st.begin() + b0);
    return st;
  };
  if (pos.size() == 1) {
    const Tensor& t = *idx[pos[0]];
    restride(p.idx, t, p.shape, to_result_space(broadcast_strides(t, b)));
    p.size = x.shape[pos[0]];
    p.stride = x.strides[pos[0]];
  } else {
    p.offsets = zeros(b, DType::Int64, x.device);
    for (auto d : pos) {
      Tensor v;
      restride(v, *idx[d], b, broadcast_strides(*idx[d], b));
      GC_KERNEL(add_index_offsets, *p.offsets, v, x.shape[d], x.strides[d]);
    }
    restride(p.idx, *p.offsets, p.shape, to_result_space(p.offsets->strides));
  }
}

// x[idx] without autograd; idx as expand_indices returns it.
TensorPtr index_raw(const TensorPtr& x, const TensorList& idx, const char* op) {
  if (!any_defined(idx)) {
    NoGradGuard g;
    return clone(x);
  }
  IndexPlan p;
  make_plan(p, *x, idx, op);
  auto out = empty_tensor(p.shape, x->dtype, x->device);
  Tensor src;
  restride(src, *x, p.shape, p.src_strides);
  GC_KERNEL(gather_kernel, *out, src, p.idx, p.size, p.stride);
  return out;
}

}  // namespace

void detail::index_put_raw(const TensorPtr& x, const TensorList& idx, TensorPtr values, bool accumulate,
                           const char* op) {
  NoGradGuard g;
  if (values->storage == x->storage) values = clone(values);  // never read what this write changes
  if (!any_defined(idx)) {
    if (!broadcasts_to(values->shape, x->shape))
      fail(ErrorKind::Runtime, op, "shape mismatch: value tensor of shape ", shape_str(values->shape),
           " cannot be broadcast to indexing result of shape ", shape_str(x->shape));
    if (accumulate) binary_(BinaryOp::Add, x, values);
    else copy_into(x, values);
    return;
  }
  IndexPlan p;
  make_plan(p, *x, idx, op);
  if (!broadcasts_to(values->shape, p.shape))
    fail(ErrorKind::Runtime, op, "shape mismatch: value tensor of shape ", shape_str(values->shape),
         " cannot be broadcast to indexing result of shape ", shape_str(p.shape),
         ". Hint: the value must broadcast to the shape that x[indices] has.");
  Tensor dst;
  restride(dst, *x, p.shape, p.src_strides);
  GC_KERNEL(scatter_kernel, dst, *values, p.idx, p.size, p.stride, accumulate);
}

namespace {

// d/dx x[idx] = scatter-add of the gradient into zeros (repeated indices accumulate).
struct IndexBackward final : Node {
  DimVector x_shape;
  SavedIndices indices;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr};
    auto gx = zeros(x_shape, g[0]->dtype, g[0]->device);
    index_put_raw(gx, indices.unpack(*this), g[0], true, "index backward");
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { indices.visit("indices", v); }
  std::string name() const override { return "IndexBackward0"; }
};

// index_put_: the old values at the written positions get no gradient (unless accumulating);
// the values get the gradient read back at those positions, summed over their broadcast.
struct IndexPutBackward final : Node {
  SavedIndices indices;
  bool accumulate = false;
  DimVector values_shape;
  DType values_dtype = DType::Float32;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr, nullptr};
    auto idx = indices.unpack(*this);
    TensorPtr gx, gv;
    if (needs_input_grad(0)) {
      gx = g[0];
      if (!accumulate) {
        gx = clone(g[0]);
        index_put_raw(gx, idx, zeros({}, gx->dtype, gx->device), false, "index_put_ backward");
      }
    }
    if (needs_input_grad(1)) gv = reduce_to(index_raw(g[0], idx, "index_put_ backward"), values_shape, values_dtype);
    return {gx, gv};
  }
  void visit_saved(const SavedVisitor& v) override { indices.visit("indices", v); }
  std::string name() const override { return "IndexPutBackward0"; }
};

}  // namespace

TensorPtr index(const TensorPtr& x, const TensorList& indices) {
  TensorList idx = expand_indices(*x, indices, "index");
  auto out = index_raw(x, idx, "index");
  if (compute_requires_grad({&x})) {
    auto n = make_node<IndexBackward>({x});
    n->x_shape = x->shape;
    n->indices = SavedIndices(idx);
    set_history(out, n);
  }
  return out;
}

TensorPtr index_put_(const TensorPtr& x, const TensorList& indices, const TensorPtr& values, bool accumulate) {
  const char* op = "index_put_";
  if (values->dtype != x->dtype)
    fail(ErrorKind::Runtime, op, "index_put_ requires the source and destination dtypes to match, got ",
         dtype_name(x->dtype), " for the destination and ", dtype_name(values->dtype),
         " for the source. Hint: pass values.to(x.dtype).");
  check_device(*x, *values, op, "values");
  bool grad = compute_requires_grad({&x, &values}) && is_floating(x->dtype);
  check_inplace(x, op);
  if (grad) check_not_view(*x, op);
  TensorList idx = expand_indices(*x, indices, op);
  index_put_raw(x, idx, values, accumulate, op);
  x->bump_version();
  if (grad) {
    auto n = make_node<IndexPutBackward>({x, values});
    n->indices = SavedIndices(idx);
    n->accumulate = accumulate;
    n->values_shape = values->shape;
    n->values_dtype = values->dtype;
    set_history(x, n);
  }
  return x;
}

// ---- masked_fill ----

namespace {
// The filled positions take no gradient from x; the value gets the sum of the gradient there.
struct MaskedFillBackward final : Node {
  SavedTensor mask;
  DimVector x_shape;
  DType x_dtype = DType::Float32, value_dtype = DType::Float32;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr, nullptr};
    auto m = mask.unpack(*this);
    auto zero = zeros({}, g[0]->dtype, g[0]->device);
    TensorPtr gx, gv;
    if (needs_input_grad(0)) gx = reduce_to(where(m, zero, g[0]), x_shape, x_dtype);
    if (needs_input_grad(1)) gv = reduce_to(sum(where(m, g[0], zero), {}, false), {}, value_dtype);
    return {gx, gv};
  }
  void visit_saved(const SavedVisitor& v) override { v("mask", mask); }
  std::string name() const override { return "MaskedFillBackward0"; }
};

void check_masked_fill_args(const Tensor& x, const Tensor& mask, const Tensor& value, const char* op) {
  check_device(x, mask, op, "mask");
  if (!(value.device.is_cpu() && value.dim() == 0)) check_device(x, value, op, "value");  // a CPU number is fine
  if (mask.dtype != DType::Bool)
    fail(ErrorKind::Runtime, op, "only bool masks are supported, but got a mask of dtype ", dtype_name(mask.dtype),
         ". Hint: build it with a comparison (x > 0) or convert with mask.bool().");
  if (value.dim() != 0)
    fail(ErrorKind::Runtime, op, "only a number or a 0-dim value tensor is supported, but got a value of shape ",
         shape_str(value.shape), ". Hint: use gradcore.where(mask, value, x) to fill from a tensor.");
}

void record_masked_fill(const TensorPtr& out, const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value) {
  auto n = make_node<MaskedFillBackward>({x, value});
  n->mask = SavedTensor(mask, false);
  n->x_shape = x->shape;
  n->x_dtype = x->dtype;
  n->value_dtype = value->dtype;
  set_history(out, n);
}
}  // namespace

TensorPtr masked_fill(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value) {
  check_masked_fill_args(*x, *mask, *value, "masked_fill");
  auto out = empty_tensor(broadcast_shapes(x->shape, mask->shape, "masked_fill"), x->dtype, x->device);
  copy_into(out, x);
  GC_KERNEL(masked_fill_kernel, *out, *mask, scalar_of(value));
  if (compute_requires_grad({&x, &value}) && is_floating(x->dtype)) record_masked_fill(out, x, mask, value);
  return out;
}

TensorPtr masked_fill_(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value) {
  const char* op = "masked_fill_";
  check_masked_fill_args(*x, *mask, *value, op);
  if (broadcast_shapes(x->shape, mask->shape, op) != x->shape)
    fail(ErrorKind::Runtime, op, "the mask of shape ", shape_str(mask->shape),
         " must broadcast to the shape of the tensor filled in place, ", shape_str(x->shape),
         ". Hint: use the out-of-place masked_fill to get the broadcast shape.");
  bool grad = compute_requires_grad({&x, &value}) && is_floating(x->dtype);
  check_inplace(x, op);
  if (grad) check_not_view(*x, op);
  GC_KERNEL(masked_fill_kernel, *x, *mask, scalar_of(value));
  x->bump_version();
  if (grad) record_masked_fill(x, x, mask, value);
  return x;
}

// ---- nonzero ----

TensorPtr nonzero(const TensorPtr& x) {
  TensorPtr c;
  {
    NoGradGuard g;
    c = contiguous(x);
  }
  auto out = empty_tensor({GC_KERNEL(nonzero_count, *c), x->dim()}, DType::Int64, x->device);
  GC_KERNEL(nonzero_kernel, *out, *c);
  return out;
}

// ---- Tensor.__getitem__ / __setitem__ support ----

TensorPtr apply_basic_index(const TensorPtr& x, const BasicIndexList& steps) {
  TensorPtr t = x;
  for (const auto& s : steps) {
    switch (s.kind) {
      case BasicIndex::Select: t = select(t, s.dim, s.start); break;
      case BasicIndex::Unsqueeze: t = unsqueeze(t, s.dim); break;
      case BasicIndex::Slice: {
        if (s.step == 1 && s.dim < t->dim()) {  // `:` over a whole dim is no step at all
          int64_t n = t->shape[s.dim];
          auto clampi = [n](int64_t v) { return std::min(std::max<int64_t>(v < 0 ? v + n : v, 0), n); };
          if (clampi(s.start) == 0 && clampi(s.stop) == n) break;
        }
        t = slice(t, s.dim, s.start, s.stop, s.step);
        break;
      }
    }
  }
  return t;
}

TensorPtr alias(const TensorPtr& x) { return view(x, x->shape); }

namespace {
DimVector without_leading_ones(const DimVector& s) {
  size_t k = 0;
  while (k < s.size() && s[k] == 1) ++k;
  return DimVector(s.begin() + k, s.end());
}

// Is the index list one bool mask over the leading dims of x (x[mask], x[mask, ...])?
bool leading_mask(const TensorList& adv, const Tensor& x) {
  if (adv.empty() || !adv[0] || adv[0]->dtype != DType::Bool || adv[0]->dim() == 0 || adv[0]->dim() > x.dim())
    return false;
  for (size_t i = 1; i < adv.size(); ++i)
    if (adv[i]) return false;
  return std::equal(adv[0]->shape.begin(), adv[0]->shape.end(), x.shape.begin()) && adv[0]->device == x.device;
}

// x[steps][advanced] = value: x's old values in the region get no gradient; the value gets the
// gradient of the region, summed over its broadcast. The steps replay on the gradient.
struct SetItemBackward final : Node {
  BasicIndexList steps;
  SavedIndices advanced;
  bool has_advanced = false;
  DimVector value_shape;
  DType value_dtype = DType::Float32;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr, nullptr};
    TensorList adv = advanced.unpack(*this);
    TensorPtr gx, gv;
    if (needs_input_grad(0)) {
      gx = clone(g[0]);
      auto region = apply_basic_index(gx, steps);
      if (has_advanced) index_put_raw(region, adv, zeros({}, gx->dtype, gx->device), false, "__setitem__ backward");
      else GC_KERNEL(fill_kernel, *region, Scalar::from_int(0));
    }
    if (needs_input_grad(1)) {
      auto r = apply_basic_index(g[0], steps);
      if (has_advanced) r = index_raw(r, adv, "__setitem__ backward");
      r = sum_to_shape(r, without_leading_ones(value_shape));
      gv = reduce_to(reshape(r, value_shape), value_shape, value_dtype);
    }
    return {gx, gv};
  }
  void visit_saved(const SavedVisitor& v) override { advanced.visit("indices", v); }
  std::string name() const override { return "CopySlices"; }
};
}  // namespace

void set_item(const TensorPtr& x, const BasicIndexList& steps, const TensorList& advanced, const TensorPtr& value) {
  const char* op = "__setitem__";
  check_device(*x, *value, op, "the value");
  bool grad = compute_requires_grad({&x, &value}) && is_floating(x->dtype);
  check_inplace(x, op);
  if (grad) check_not_view(*x, op);
  bool has_advanced = any_defined(advanced);
  TensorList adv;
  {
    NoGradGuard g;
    auto region = apply_basic_index(x, steps);
    auto v = value->dtype == x->dtype ? value : to_dtype(value, x->dtype);
    DimVector vshape = without_leading_ones(v->shape);
    if (vshape.size() != v->shape.size()) v = reshape(v, vshape);
    if (has_advanced && !grad && v->numel() == 1 && leading_mask(advanced, *region)) {
      // x[mask] = number: a masked fill in one pass, no coordinates (nonzero) needed
      const Tensor& mask = *advanced[0];
      DimVector st = mask.strides;
      st.resize(region->dim(), 0);
      Tensor m;
      restride(m, mask, region->shape, st);
      GC_KERNEL(masked_fill_kernel, *region, m, scalar_of(v));
    } else if (has_advanced) {
      adv = expand_indices(*region, advanced, op);
      index_put_raw(region, adv, v, false, op);
    } else {
      if (!broadcasts_to(v->shape, region->shape))
        fail(ErrorKind::Runtime, op, "a value of shape ", shape_str(value->shape),
             " cannot be broadcast to the indexed region of shape ", shape_str(region->shape),
             ". Hint: the value must broadcast to the shape that x[index] has.");
      copy_into(region, v);
    }
  }
  x->bump_version();
  if (grad) {
    auto n = make_node<SetItemBackward>({x, value});
    n->steps = steps;
    n->advanced = SavedIndices(adv);
    n->has_advanced = has_advanced;
    n->value_shape = value->shape;
    n->value_dtype = value->dtype;
    set_history(x, n);
  }
}

}  // namespace gc::ops
