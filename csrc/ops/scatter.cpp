// The scatter family: scatter(_) (with scatter_(reduce=)), scatter_add(_), scatter_reduce(_),
// index_add(_), index_copy(_), index_fill(_), masked_scatter(_) and take, with their autograd
// nodes. scatter* write src along a dim at index's positions (one strided scatter over the
// index's shape, cpu/index.h); index_* write whole slices (the same scatter over source's shape,
// the index broadcast along the other dims). Indices are validated before any write, so a bad
// one raises with x untouched. Each op computes into a clone of x, or into x for the in-place
// twin (which refuses views when it records history, as scatter_add_ always has).
#include <limits>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/index.h"

namespace gc::ops {

using namespace detail;
using kernels::ScatterReduce;

namespace {

// How scattered values meet x: Set is plain scatter; Mean is Sum divided by the count.
enum class Mode : uint8_t { Set, Sum, Prod, Mean, Amax, Amin };

Mode scatter_reduce_mode(const std::string& reduce) {
  if (reduce == "sum") return Mode::Sum;
  if (reduce == "prod") return Mode::Prod;
  if (reduce == "mean") return Mode::Mean;
  if (reduce == "amax") return Mode::Amax;
  if (reduce == "amin") return Mode::Amin;
  fail(ErrorKind::Runtime, "scatter_reduce", "reduce argument must be either sum, prod, mean, amax or amin, got ",
       reduce);
}

Mode scatter_mode(const std::string& reduce) {
  if (reduce.empty()) return Mode::Set;
  if (reduce == "add") return Mode::Sum;
  if (reduce == "multiply") return Mode::Prod;
  fail(ErrorKind::Runtime, "scatter", "reduce argument must be either add or multiply, got '", reduce,
       "'. Hint: scatter_reduce takes sum, prod, mean, amax and amin.");
}

ScatterReduce kernel_reduce(Mode m) {
  switch (m) {
    case Mode::Set:
    case Mode::Sum:
    case Mode::Mean: return ScatterReduce::Sum;
    case Mode::Prod: return ScatterReduce::Prod;
    case Mode::Amax: return ScatterReduce::Amax;
    case Mode::Amin: return ScatterReduce::Amin;
  }
  return ScatterReduce::Sum;
}

// The value a reduction starts from: what include_self=false puts at the scattered positions.
Scalar reduce_identity(Mode m, DType dtype) {
  const bool fp = is_floating(dtype), boolean = dtype == DType::Bool;
  const double inf = std::numeric_limits<double>::infinity();
  switch (m) {
    case Mode::Set:
    case Mode::Sum:
    case Mode::Mean: return Scalar::from_int(0);
    case Mode::Prod: return Scalar::from_int(1);
    case Mode::Amax:
      return fp ? Scalar::from_double(-inf) : boolean ? Scalar::from_bool(false)
                                                      : Scalar::from_int(std::numeric_limits<int64_t>::min());
    case Mode::Amin:
      return fp ? Scalar::from_double(inf) : boolean ? Scalar::from_bool(true)
                                                     : Scalar::from_int(std::numeric_limits<int64_t>::max());
  }
  return Scalar::from_int(0);
}

// A 0-dim value read as a tensor of `shape` (stride 0 everywhere), for the kernels.
TensorPtr broadcast_value(Scalar v, DType dtype, Device device, const DimVector& shape) {
  return expand(scalar_tensor(v, dtype, device), shape);
}

// Where each element of x's shape was counted by the scatter (plus 1 for x itself when
// include_self), at least 1: mean's divisor.
TensorPtr scatter_counts(const Tensor& x, int64_t d, const Tensor& index, bool include_self) {
  auto n = include_self ? ones(x.shape, x.dtype, x.device) : zeros(x.shape, x.dtype, x.device);
  scatter_raw(*n, d, index, *broadcast_value(Scalar::from_int(1), x.dtype, x.device, index.shape),
              ScatterReduce::Sum);
  return clamp(n, Scalar::from_int(1), std::nullopt);
}

// src narrowed to index's shape (the part a scatter reads).
TensorPtr src_at_index(const TensorPtr& src, const Tensor& index) {
  TensorPtr r = src->dim() == 0 ? reshape(src, {1}) : src;
  Geom is = geom0(index);
  for (size_t k = 0; k < is.shape.size(); ++k) r = slice(r, static_cast<int64_t>(k), 0, is.shape[k], 1);
  return r;
}

// The derivatives of PyTorch's scatter / scatter_reduce_backward (FunctionsManual.cpp):
//   set:       self: grad with the scattered positions zeroed;  src: grad gathered
//   sum:       self: grad;                                      src: grad gathered
//   mean:      self: grad / N;                                  src: (grad / N) gathered (N: counts)
//   amax/amin: the gradient split evenly among the elements (of self and src) equal to the result
// and with include_self=false, self's gradient is zero at the scattered positions.
struct ScatterBackward final : Node {
  Mode mode = Mode::Set;
  bool include_self = true;
  int64_t dim = 0;
  DimVector src_shape;
  SavedTensor index, self, src, result, counts;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr, nullptr};
    auto idx = index.unpack(*this);
    const TensorPtr& grad = g[0];
    TensorPtr gself, gsrc_at;  // gsrc_at: src's gradient at index's shape
    switch (mode) {
      case Mode::Set:
      case Mode::Sum:
        gself = grad;
        gsrc_at = gather(grad, dim, idx);
        break;
      case Mode::Mean:
        gself = div(grad, counts.unpack(*this));
        gsrc_at = gather(gself, dim, idx);
        break;
      case Mode::Amax:
      case Mode::Amin: {
        auto s = self.unpack(*this), r = result.unpack(*this), sv = src_at_index(src.unpack(*this), *idx);
        auto value = gather(r, dim, idx);
        auto self_is = compare(BinaryOp::Eq, s, r), src_is = compare(BinaryOp::Eq, sv, value);
        auto n = to_dtype(self_is, grad->dtype, true);
        scatter_raw(*n, dim, *idx, *to_dtype(src_is, grad->dtype), ScatterReduce::Sum);
        auto distributed = div(grad, n);
        gself = mul(to_dtype(self_is, grad->dtype), distributed);
        gsrc_at = mul(to_dtype(src_is, grad->dtype), gather(distributed, dim, idx));
        break;
      }
      case Mode::Prod:  // refused when the forward recorded the node
        fail(ErrorKind::NotImplemented, "scatter_reduce", "no derivative for reduce='prod'");
    }
    if (needs_input_grad(0) && (mode == Mode::Set || !include_self)) {
      gself = clone(gself);
      scatter_raw(*gself, dim, *idx, *broadcast_value(Scalar::from_int(0), gself->dtype, gself->device, idx->shape),
                  std::nullopt);
    }
    TensorPtr gsrc = needs_input_grad(1) ? grad_for_src(gsrc_at, *idx, src_shape) : nullptr;
    return {needs_input_grad(0) ? gself : nullptr, gsrc};
  }
  void visit_saved(const SavedVisitor& v) override {
    v("index", index); v("self", self); v("src", src); v("result", result); v("counts", counts);
  }
  std::string name() const override {
    switch (mode) {
      case Mode::Set: return "ScatterBackward0";
      case Mode::Sum: return include_self ? "ScatterAddBackward0" : "ScatterReduceBackward0";
      case Mode::Prod:
      case Mode::Mean:
      case Mode::Amax:
      case Mode::Amin: break;
    }
    return "ScatterReduceBackward0";
  }
};

// The one body of every scatter*: x (or a clone of it) with src scattered along dim by `mode`.
TensorPtr scatter_impl(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src, Mode mode,
                       bool include_self, bool inplace, const char* op) {
  int64_t d = check_scatter_args(*x, dim, *index, *src, op);
  const bool grad = compute_requires_grad({&x, &src}) && is_floating(x->dtype);
  if (grad && mode == Mode::Prod)
    fail(ErrorKind::NotImplemented, op, "the derivative of the product reduction is not implemented in gradcore. "
         "Hint: compute it with the inputs detached, or use reduce='sum' on logarithms.");
  if (inplace) {
    check_inplace(x, op);
    if (grad) check_not_view(*x, op);
  }
  const bool keep_self = grad && (mode == Mode::Amax || mode == Mode::Amin);
  TensorPtr out, self_before, s = src, counts;
  {
    NoGradGuard ng;
    if (keep_self) self_before = inplace ? clone(x) : x;
    out = inplace ? x : clone(x);
    if (s->storage == out->storage) s = clone(src);
    if (!include_self)
      scatter_raw(*out, d, *index, *broadcast_value(reduce_identity(mode, x->dtype), x->dtype, x->device, index->shape),
                  std::nullopt);
    if (mode == Mode::Set) scatter_raw(*out, d, *index, *s, std::nullopt);
    else scatter_raw(*out, d, *index, *s, kernel_reduce(mode));
    if (mode == Mode::Mean) {
      counts = scatter_counts(*x, d, *index, include_self);
      copy_into(out, is_floating(x->dtype) ? div(out, counts) : floor_divide(out, counts));
    }
  }
  if (inplace) x->bump_version();
  if (grad) {
    auto n = make_node<ScatterBackward>({x, src});
    n->mode = mode;
    n->include_self = include_self;
    n->dim = d;
    n->src_shape = src->shape;
    n->index = SavedTensor(index, false);
    if (mode == Mode::Mean) n->counts = SavedTensor(counts, false);
    if (keep_self) {
      n->self = SavedTensor(self_before, false);
      n->src = SavedTensor(src, false);
    }
    set_history(out, n);
    if (keep_self) n->result = SavedTensor(out, true);
  }
  return out;
}

}  // namespace

TensorPtr scatter(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                  const std::string& reduce) {
  return scatter_impl(x, dim, index, src, scatter_mode(reduce), true, false, "scatter");
}
TensorPtr scatter_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                   const std::string& reduce) {
  return scatter_impl(x, dim, index, src, scatter_mode(reduce), true, true, "scatter_");
}
TensorPtr scatter_add(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src) {
  return scatter_impl(x, dim, index, src, Mode::Sum, true, false, "scatter_add");
}
TensorPtr scatter_add_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src) {
  return scatter_impl(x, dim, index, src, Mode::Sum, true, true, "scatter_add_");
}
TensorPtr scatter_reduce(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                         const std::string& reduce, bool include_self) {
  return scatter_impl(x, dim, index, src, scatter_reduce_mode(reduce), include_self, false, "scatter_reduce");
}
TensorPtr scatter_reduce_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                          const std::string& reduce, bool include_self) {
  return scatter_impl(x, dim, index, src, scatter_reduce_mode(reduce), include_self, true, "scatter_reduce_");
}

// ---- index_add / index_copy / index_fill ----

namespace {

enum class SliceWrite : uint8_t { Add, Copy, Fill };

bool is_one(Scalar alpha) { return alpha.kind != Scalar::Float ? alpha.i == 1 : alpha.d == 1.0; }

const char* slice_write_name(SliceWrite w, bool inplace) {
  switch (w) {
    case SliceWrite::Add: return inplace ? "index_add_" : "index_add";
    case SliceWrite::Copy: return inplace ? "index_copy_" : "index_copy";
    case SliceWrite::Fill: return inplace ? "index_fill_" : "index_fill";
  }
  return "index_add";
}

// Slices index[i] of dst along d get slice i of values (values: dst's shape with index.numel()
// at d, or a 0-dim value), added or assigned.
void write_slices(const Tensor& dst, int64_t d, const Tensor& index, const Tensor& values, bool accumulate) {
  Geom ds = geom0(dst);
  DimVector shape = ds.shape, dst_strides = ds.strides, idx_strides(ds.shape.size(), 0);
  shape[d] = index.numel();
  dst_strides[d] = 0;
  idx_strides[d] = index.dim() == 1 ? index.strides[0] : 0;
  Tensor to, from, idx;
  restride(to, dst, shape, dst_strides);
  restride(from, values, shape, values.dim() == 0 ? DimVector(shape.size(), 0) : geom0(values).strides);
  restride(idx, index, shape, idx_strides);
  GC_KERNEL(scatter_kernel, to, from, idx, ds.shape[d], ds.strides[d], accumulate);
}

// PyTorch's checks of index_add / index_copy (source) and index_fill (a 0-dim value).
int64_t check_slice_args(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& values, SliceWrite w,
                         const char* op) {
  if (index.dtype != DType::Int64)
    fail(ErrorKind::Runtime, op, "expected an int64 (long) index tensor, got ", dtype_name(index.dtype),
         ". Hint: convert it with index.long().");
  check_device(x, index, op, "index");
  check_device(x, values, op, w == SliceWrite::Fill ? "value" : "source");
  if (index.dim() > 1)
    fail(ErrorKind::Index, op, "index must be a vector (0-dim or 1-dim), got shape ", shape_str(index.shape));
  Geom xs = geom0(x);
  const int64_t d = wrap_dim(dim, static_cast<int64_t>(xs.shape.size()), op);
  if (w == SliceWrite::Fill) {
    if (values.dim() != 0)
      fail(ErrorKind::Runtime, op, "only supports a 0-dimensional value tensor, but got tensor with ", values.dim(),
           " dimension(s)");
  } else {
    if (values.dtype != x.dtype)
      fail(ErrorKind::Runtime, op, "self (", dtype_name(x.dtype), ") and source (", dtype_name(values.dtype),
           ") must have the same scalar type. Hint: pass source.to(self.dtype).");
    Geom vs = geom0(values);
    bool ok = vs.shape.size() == xs.shape.size() && vs.shape[d] == index.numel();
    for (size_t k = 0; ok && k < xs.shape.size(); ++k) ok = static_cast<int64_t>(k) == d || vs.shape[k] == xs.shape[k];
    if (!ok)
      fail(ErrorKind::Runtime, op, "source of shape ", shape_str(values.shape), " must match self of shape ",
           shape_str(x.shape), " apart from dimension ", d, ", where it must be the number of indices (",
           index.numel(), ")");
  }
  // index_add raises RuntimeError and index_copy IndexError; only index_fill wraps negative entries.
  check_index_bounds(index, xs.shape[d], d, w == SliceWrite::Fill,
            w == SliceWrite::Add ? ErrorKind::Runtime : ErrorKind::Index, op);
  return d;
}

// index_add:  self: grad;                          source: grad.index_select(dim, index) * alpha
// index_copy: self: grad with the slices zeroed;   source: grad.index_select(dim, index)
// index_fill: self: grad with the slices zeroed;   value:  grad.index_select(dim, index).sum()
struct IndexWriteBackward final : Node {
  SliceWrite what = SliceWrite::Add;
  int64_t dim = 0;
  Scalar alpha = Scalar::from_int(1);
  DimVector values_shape;
  SavedTensor index;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr, nullptr};
    auto idx = index.unpack(*this);
    TensorPtr gself = g[0], gv;
    if (needs_input_grad(0) && what != SliceWrite::Add) {
      gself = clone(g[0]);
      write_slices(*gself, dim, *idx, *scalar_tensor(Scalar::from_int(0), gself->dtype, gself->device), false);
    }
    if (needs_input_grad(1)) {
      TensorPtr picked = g[0]->dim() == 0 ? g[0] : index_select(g[0], dim, idx);
      if (what == SliceWrite::Fill) gv = sum(picked, {}, false);
      else if (what == SliceWrite::Add && !is_one(alpha))
        gv = reshape(mul(picked, wrapped_scalar(alpha, picked->device)), values_shape);
      else gv = reshape(picked, values_shape);
    }
    return {needs_input_grad(0) ? gself : nullptr, gv};
  }
  void visit_saved(const SavedVisitor& v) override { v("index", index); }
  std::string name() const override {
    switch (what) {
      case SliceWrite::Add: return "IndexAddBackward0";
      case SliceWrite::Copy: return "IndexCopyBackward0";
      case SliceWrite::Fill: return "IndexFillBackward1";
    }
    return "IndexAddBackward0";
  }
};

TensorPtr index_write(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& values, SliceWrite w,
                      Scalar alpha, bool inplace) {
  const char* op = slice_write_name(w, inplace);
  const int64_t d = check_slice_args(*x, dim, *index, *values, w, op);
  const bool grad = compute_requires_grad({&x, &values}) && is_floating(x->dtype);
  if (inplace) {
    check_inplace(x, op);
    if (grad) check_not_view(*x, op);
  }
  TensorPtr out;
  {
    NoGradGuard ng;
    out = inplace ? x : clone(x);
    TensorPtr v = values;
    if (w == SliceWrite::Add && !is_one(alpha))
      v = mul(v, wrapped_scalar(alpha, v->device));
    else if (v->storage == out->storage) v = clone(v);
    if (v->dtype != x->dtype) v = to_dtype(v, x->dtype);  // index_fill's value
    write_slices(*out, d, *index, *v, w == SliceWrite::Add);
  }
  if (inplace) x->bump_version();
  if (grad) {
    auto n = make_node<IndexWriteBackward>({x, values});
    n->what = w;
    n->dim = d;
    n->alpha = alpha;
    n->values_shape = values->shape;
    n->index = SavedTensor(index, false);
    set_history(out, n);
  }
  return out;
}

}  // namespace

TensorPtr index_add(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source, Scalar alpha) {
  return index_write(x, dim, index, source, SliceWrite::Add, alpha, false);
}
TensorPtr index_add_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source, Scalar alpha) {
  return index_write(x, dim, index, source, SliceWrite::Add, alpha, true);
}
TensorPtr index_copy(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source) {
  return index_write(x, dim, index, source, SliceWrite::Copy, Scalar::from_int(1), false);
}
TensorPtr index_copy_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source) {
  return index_write(x, dim, index, source, SliceWrite::Copy, Scalar::from_int(1), true);
}
TensorPtr index_fill(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& value) {
  return index_write(x, dim, index, value, SliceWrite::Fill, Scalar::from_int(1), false);
}
TensorPtr index_fill_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& value) {
  return index_write(x, dim, index, value, SliceWrite::Fill, Scalar::from_int(1), true);
}

// ---- masked_scatter / take: compositions of differentiable ops ----

namespace {
// The masked positions in row-major order take source's first elements: index_put_ with the
// mask, of source's flattened prefix (its gradient flows back through the slice and reshape;
// the rest of source gets zero).
TensorPtr masked_scatter_impl(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source, bool inplace) {
  const char* op = inplace ? "masked_scatter_" : "masked_scatter";
  if (mask->dtype != DType::Bool)
    fail(ErrorKind::Runtime, op, "expected a bool mask, got ", dtype_name(mask->dtype), ". Hint: pass mask.bool().");
  if (source->dtype != x->dtype)
    fail(ErrorKind::Runtime, op, "expected self and source to have the same dtype, got ", dtype_name(x->dtype),
         " and ", dtype_name(source->dtype), ". Hint: pass source.to(self.dtype).");
  check_device(*x, *mask, op, "mask");
  check_device(*x, *source, op, "source");
  DimVector shape = x->shape;
  if (!inplace) shape = broadcast_shapes(x->shape, mask->shape, op);
  else if (broadcast_shapes(x->shape, mask->shape, op) != x->shape)
    fail(ErrorKind::Runtime, op, "mask of shape ", shape_str(mask->shape), " does not broadcast to self of shape ",
         shape_str(x->shape));
  auto m = expand(mask, shape);
  const int64_t count = GC_KERNEL(nonzero_count, *contiguous(m));
  if (count > source->numel())
    fail(ErrorKind::Runtime, op, "Number of elements of source < number of ones in mask (", source->numel(), " < ",
         count, ")");
  auto values = slice(reshape(source, {-1}), 0, 0, count, 1);
  TensorPtr target = x;
  if (!inplace) target = clone(shape == x->shape ? x : expand(x, shape));
  return index_put_(target, {m}, values, false);
}
}  // namespace

TensorPtr masked_scatter(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source) {
  return masked_scatter_impl(x, mask, source, false);
}
TensorPtr masked_scatter_(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source) {
  return masked_scatter_impl(x, mask, source, true);
}

TensorPtr take(const TensorPtr& x, const TensorPtr& index) {
  check_int64_index(*index, "take");
  check_device(*x, *index, "take", "index");
  return ops::index(reshape(x, {x->numel()}), {index});
}

}  // namespace gc::ops
