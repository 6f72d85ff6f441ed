// Dim-wise reading ops: gather and index_select, with their autograd nodes, and the helpers the
// scatter family (ops/scatter.cpp) shares with them. Each is one strided gather or scatter over
// the index's shape (cpu/index.h), after PyTorch's checks; indices are validated before the
// kernel runs and are not wrapped (negative entries raise, as in PyTorch).
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/index.h"

namespace gc::ops {

using namespace detail;

namespace detail {

Geom geom0(const Tensor& t) { return t.dim() == 0 ? Geom{{1}, {1}} : Geom{t.shape, t.strides}; }

void check_int64_index(const Tensor& index, const char* op) {
  if (index.dtype != DType::Int64)
    fail(ErrorKind::Runtime, op, "expected an int64 (long) index tensor, got ", dtype_name(index.dtype),
         ". Hint: convert it with index.long().");
}

void scatter_raw(const Tensor& dst, int64_t d, const Tensor& index, const Tensor& src,
                 std::optional<kernels::ScatterReduce> reduce) {
  Geom ds = geom0(dst), is = geom0(index), ss = geom0(src);
  DimVector dst_strides = ds.strides;
  dst_strides[d] = 0;
  Tensor to, from, idx;
  restride(to, dst, is.shape, dst_strides);
  restride(from, src, is.shape, ss.strides);
  restride(idx, index, is.shape, is.strides);
  if (reduce) GC_KERNEL(scatter_reduce_kernel, to, from, idx, ds.shape[d], ds.strides[d], *reduce);
  else GC_KERNEL(scatter_kernel, to, from, idx, ds.shape[d], ds.strides[d], false);
}

int64_t check_scatter_args(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, const char* op) {
  check_int64_index(index, op);
  check_device(x, index, op, "index");
  check_device(x, src, op, "src");
  if (src.dtype != x.dtype)
    fail(ErrorKind::Runtime, op, "expected src to have the dtype of self, got ", dtype_name(src.dtype), " and ",
         dtype_name(x.dtype), ". Hint: pass src.to(self.dtype).");
  Geom xs = geom0(x), is = geom0(index), ss = geom0(src);
  int64_t d = wrap_dim(dim, static_cast<int64_t>(xs.shape.size()), op);
  if (is.shape.size() != xs.shape.size() || ss.shape.size() != xs.shape.size())
    fail(ErrorKind::Runtime, op, "index and src must have the same number of dimensions as self, got self ",
         shape_str(x.shape), ", index ", shape_str(index.shape), " and src ", shape_str(src.shape));
  for (size_t k = 0; k < xs.shape.size(); ++k)
    if ((static_cast<int64_t>(k) != d && is.shape[k] > xs.shape[k]) || is.shape[k] > ss.shape[k])
      fail(ErrorKind::Runtime, op, "expected index ", shape_str(index.shape), " to be no larger than self ",
           shape_str(x.shape), " apart from dimension ", d, " and no larger than src ", shape_str(src.shape));
  check_index_bounds(index, xs.shape[d], d, false, ErrorKind::Runtime, op);
  return d;
}

TensorPtr grad_for_src(const TensorPtr& g_at_index, const Tensor& index, const DimVector& src_shape) {
  if (g_at_index->shape == src_shape) return g_at_index;
  Geom ss{src_shape.empty() ? DimVector{1} : src_shape, {}}, is = geom0(index);
  auto padded = zeros(ss.shape, g_at_index->dtype, g_at_index->device);
  TensorPtr region = padded;
  for (size_t k = 0; k < is.shape.size(); ++k) region = slice(region, static_cast<int64_t>(k), 0, is.shape[k], 1);
  copy_into(region, reshape(g_at_index, is.shape));
  return reshape(padded, src_shape);
}

}  // namespace detail

namespace {

// ---- gather ----

// out[..., i, ...] = x[..., index[..., i, ...], ...] along d, over index's shape.
void gather_raw(const Tensor& out, const Tensor& x, int64_t d, const Tensor& index) {
  Geom xs = geom0(x), is = geom0(index);
  DimVector src_strides = xs.strides;
  src_strides[d] = 0;
  Tensor o, src, idx;
  restride(o, out, is.shape, contiguous_strides(is.shape));
  restride(src, x, is.shape, src_strides);
  restride(idx, index, is.shape, is.strides);
  GC_KERNEL(gather_kernel, o, src, idx, xs.shape[d], xs.strides[d]);
}

// gather's checks: int64 index of x's rank, no larger than x off `dim`, entries in [0, size).
int64_t check_gather_args(const Tensor& x, int64_t dim, const Tensor& index, const char* op) {
  check_int64_index(index, op);
  check_device(x, index, op, "index");
  Geom xs = geom0(x), is = geom0(index);
  int64_t d = wrap_dim(dim, static_cast<int64_t>(xs.shape.size()), op);
  if (is.shape.size() != xs.shape.size())
    fail(ErrorKind::Runtime, op, "index tensor must have the same number of dimensions as the input tensor, got "
         "index of shape ", shape_str(index.shape), " and input of shape ", shape_str(x.shape));
  for (size_t k = 0; k < xs.shape.size(); ++k)
    if (static_cast<int64_t>(k) != d && is.shape[k] > xs.shape[k])
      fail(ErrorKind::Runtime, op, "size does not match at dimension ", k, ": expected index of shape ",
           shape_str(index.shape), " to be no larger than input of shape ", shape_str(x.shape),
           " apart from dimension ", d);
  check_index_bounds(index, xs.shape[d], d, false, ErrorKind::Runtime, op);
  return d;
}

struct GatherBackward final : Node {
  DimVector x_shape;
  int64_t dim = 0;
  SavedTensor index;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr};
    auto gx = zeros(x_shape, g[0]->dtype, g[0]->device);
    scatter_raw(*gx, dim, *index.unpack(*this), *g[0], kernels::ScatterReduce::Sum);
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { v("index", index); }
  std::string name() const override { return "GatherBackward0"; }
};

}  // namespace

TensorPtr gather(const TensorPtr& x, int64_t dim, const TensorPtr& index) {
  int64_t d = check_gather_args(*x, dim, *index, "gather");
  auto out = empty_tensor(index->shape, x->dtype, x->device);
  gather_raw(*out, *x, d, *index);
  if (compute_requires_grad({&x})) {
    auto n = make_node<GatherBackward>({x});
    n->x_shape = x->shape;
    n->dim = d;
    n->index = SavedTensor(index, false);
    set_history(out, n);
  }
  return out;
}

// ---- index_select ----

namespace {
// d/dx index_select(x, d, index) = index_add of the gradient into zeros along d.
struct IndexSelectBackward final : Node {
  DimVector x_shape;
  int64_t dim = 0;
  SavedTensor index;
  TensorList apply(TensorList&& g) override {
    if (!g[0]) return {nullptr};
    if (x_shape.empty()) return {g[0]};
    auto gx = zeros(x_shape, g[0]->dtype, g[0]->device);
    auto idx = index.unpack(*this);
    TensorList idxs(x_shape.size());
    idxs[dim] = idx->dim() == 0 ? reshape(idx, {1}) : idx;
    index_put_raw(gx, idxs, g[0], true, "index_select backward");
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { v("index", index); }
  std::string name() const override { return "IndexSelectBackward0"; }
};
}  // namespace

TensorPtr index_select(const TensorPtr& x, int64_t dim, const TensorPtr& index) {
  const char* op = "index_select";
  check_int64_index(*index, op);
  check_device(*x, *index, op, "index");
  if (index->dim() > 1)
    fail(ErrorKind::Index, op, "index must be a vector (0-dim or 1-dim), got shape ", shape_str(index->shape),
         ". Hint: flatten it, or use x[index] for multi-dim indices.");
  TensorPtr out;
  int64_t d = 0;
  if (x->dim() == 0) {
    wrap_dim(dim, 1, op);
    if (index->numel() != 1)
      fail(ErrorKind::Runtime, op, "an index into a 0-dim tensor can have only 1 value, got ", index->numel());
    check_index_bounds(*index, 1, 0, false, ErrorKind::Index, op);
    NoGradGuard g;
    out = clone(x);
  } else {
    d = wrap_dim(dim, x->dim(), op);
    check_index_bounds(*index, x->shape[d], d, false, ErrorKind::Index, op);
    DimVector shape = x->shape, src_strides = x->strides, idx_strides(x->dim(), 0);
    shape[d] = index->numel();
    src_strides[d] = 0;
    idx_strides[d] = index->dim() == 1 ? index->strides[0] : 0;
    out = empty_tensor(shape, x->dtype, x->device);
    Tensor src, idx;
    restride(src, *x, shape, src_strides);
    restride(idx, *index, shape, idx_strides);
    GC_KERNEL(gather_kernel, *out, src, idx, x->shape[d], x->strides[d]);
  }
  if (compute_requires_grad({&x})) {
    auto n = make_node<IndexSelectBackward>({x});
    n->x_shape = x->shape;
    n->dim = d;
    n->index = SavedTensor(index, false);
    set_history(out, n);
  }
  return out;
}

}  // namespace gc::ops
