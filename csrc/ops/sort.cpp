// Sorting along a dim: sort (values, indices), topk; argsort and msort are sort's outputs. The
// kernels see contiguous rows around the dim (ops/rows.h's layout); the backward of both scatters
// the gradient back to the positions the indices name.
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/rows.h"

namespace gc::ops {

namespace {

// gx = zeros(input shape).scatter_add(dim, indices, g): each output element's gradient goes back
// to the input element it came from.
struct SortBackward final : Node {
  SavedTensor indices;
  DimVector in_shape;
  DType dtype;
  int64_t dim = 0;
  bool is_topk = false;
  TensorList apply(TensorList&& g) override {
    auto gv = rows::cast_back(g[0], dtype);
    if (in_shape.empty()) return {gv};
    return {scatter_add(zeros(in_shape, dtype, gv->device), dim, indices.unpack(*this), gv)};
  }
  void visit_saved(const SavedVisitor& v) override { v("indices", indices); }
  std::string name() const override { return is_topk ? "TopkBackward0" : "SortBackward0"; }
};

// (values, indices) of the first k entries of each row in the order (descending or not): the
// full sort when k is the whole dim and `sorted`, otherwise topk's partial selection.
std::pair<TensorPtr, TensorPtr> sort_rows(const TensorPtr& x, int64_t d, int64_t k, bool descending, bool sorted,
                                          bool is_topk) {
  DimVector out_shape = x->shape;
  if (!out_shape.empty()) out_shape[d] = k;
  auto values = empty_tensor(out_shape, x->dtype, x->device);
  auto indices = empty_tensor(out_shape, DType::Int64, x->device);
  auto xc = rows::kernel_operand(x, x->dtype);
  auto L = rows::layout_around(x->shape, d);
  if (is_topk) GC_KERNEL(topk_kernel, *values, *indices, *xc, L, k, descending, sorted);
  else GC_KERNEL(sort_kernel, *values, *indices, *xc, L, descending);
  if (is_floating(x->dtype) && compute_requires_grad({&x})) {
    auto n = make_node<SortBackward>({x});
    n->indices = SavedTensor(indices, true);
    n->in_shape = x->shape;
    n->dtype = x->dtype;
    n->dim = d;
    n->is_topk = is_topk;
    set_history(values, n);
  }
  return {values, indices};
}

}  // namespace

std::pair<TensorPtr, TensorPtr> sort(const TensorPtr& x, int64_t dim, bool descending) {
  int64_t d = wrap_dim(dim, x->dim(), "sort");
  return sort_rows(x, d, x->dim() == 0 ? 1 : x->shape[d], descending, true, false);
}

std::pair<TensorPtr, TensorPtr> topk(const TensorPtr& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  int64_t d = wrap_dim(dim, x->dim(), "topk");
  int64_t size = x->dim() == 0 ? 1 : x->shape[d];
  if (k < 0 || k > size)
    fail(ErrorKind::Runtime, "topk", "selected index k out of range: k = ", k, " but dim ", d, " of the input (shape ",
         shape_str(x->shape), ") has ", size, " elements. Hint: pick k in [0, ", size, "]");
  // A 0-dim input gives itself for k = 0 too (PyTorch's result: the output has no dim to shrink).
  return sort_rows(x, d, x->dim() == 0 ? 1 : k, largest, sorted, true);
}

}  // namespace gc::ops
