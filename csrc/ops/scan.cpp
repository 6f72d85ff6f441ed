// Scans along a dim: cumsum and cumprod (integer and bool inputs give int64, as in PyTorch; a
// dtype= converts the input first). cumsum's backward is the reversed cumsum of the gradient
// (itself this differentiable op); cumprod's is one kernel pass per row (kernels/sort.h).
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/rows.h"

namespace gc::ops {

namespace {

TensorPtr cumsum_dir(const TensorPtr& x, int64_t d, bool reverse);

// d cumsum(x)_j / d x_i = [i <= j], so gx = the cumsum of g taken from the other end.
struct CumsumBackward final : Node {
  int64_t dim = 0;
  bool reverse = false;
  DType dtype;
  TensorList apply(TensorList&& g) override { return {rows::cast_back(cumsum_dir(g[0], dim, !reverse), dtype)}; }
  std::string name() const override { return "CumsumBackward0"; }
};

struct CumprodBackward final : Node {
  SavedTensor x, out;
  kernels::RowLayout L;
  TensorList apply(TensorList&& g) override {
    auto xv = x.unpack(*this);
    auto gc = rows::kernel_operand(g[0], xv->dtype);
    auto gx = empty_tensor(xv->shape, xv->dtype, xv->device);
    GC_KERNEL(cumprod_backward_kernel, *gx, *gc, *rows::kernel_operand(xv, xv->dtype), *out.unpack(*this), L);
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", x); v("result", out); }
  std::string name() const override { return "CumprodBackward0"; }
};

TensorPtr scan(const TensorPtr& x, int64_t d, kernels::ScanOp op, bool reverse) {
  auto xc = rows::kernel_operand(x, x->dtype);
  auto out = empty_tensor(x->shape, x->dtype, x->device);
  auto L = rows::layout_around(x->shape, d);
  GC_KERNEL(scan_kernel, *out, *xc, L, op, reverse);
  return out;
}

TensorPtr cumsum_dir(const TensorPtr& x, int64_t d, bool reverse) {
  auto out = scan(x, d, kernels::ScanOp::Sum, reverse);
  if (is_floating(x->dtype) && compute_requires_grad({&x})) {
    auto n = make_node<CumsumBackward>({x});
    n->dim = d;
    n->reverse = reverse;
    n->dtype = x->dtype;
    set_history(out, n);
  }
  return out;
}

// The input in the scan's dtype: dtype= when given, int64 for integers and bool, else its own.
TensorPtr scan_input(const TensorPtr& x, std::optional<DType> dtype) {
  DType dt = dtype ? *dtype : (is_floating(x->dtype) ? x->dtype : DType::Int64);
  return dt == x->dtype ? x : to_dtype(x, dt);
}

}  // namespace

TensorPtr cumsum(const TensorPtr& x, int64_t dim, std::optional<DType> dtype) {
  int64_t d = wrap_dim(dim, x->dim(), "cumsum");
  return cumsum_dir(scan_input(x, dtype), d, false);
}

TensorPtr cumprod(const TensorPtr& x, int64_t dim, std::optional<DType> dtype) {
  int64_t d = wrap_dim(dim, x->dim(), "cumprod");
  auto xs = scan_input(x, dtype);
  auto out = scan(xs, d, kernels::ScanOp::Prod, false);
  if (is_floating(xs->dtype) && compute_requires_grad({&xs})) {
    auto n = make_node<CumprodBackward>({xs});
    n->x = SavedTensor(xs, false);
    n->out = SavedTensor(out, true);
    n->L = rows::layout_around(xs->shape, d);
    set_history(out, n);
  }
  return out;
}

}  // namespace gc::ops
