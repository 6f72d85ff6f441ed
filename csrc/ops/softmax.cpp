// Softmax and log_softmax along a dim: argument checks in PyTorch's order and with its exception
// types, dtype handling, and the autograd node beside the forward.
#include <cmath>
#include <limits>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/rows.h"

namespace gc::ops {

namespace {

using namespace rows;  // ops/rows.h

struct SoftmaxBackward final : Node {
  SavedTensor out;
  kernels::RowLayout L;
  bool log = false;
  TensorList apply(TensorList&& g) override {
    auto y = out.unpack(*this);
    auto gy = kernel_operand(g[0], y->dtype);
    auto gx = empty_tensor(y->shape, y->dtype, y->device);
    GC_KERNEL_16(true, false, softmax_backward_kernel, *gx, *gy, *y, L, log);
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { v("result", out); }
  std::string name() const override { return log ? "LogSoftmaxBackward0" : "SoftmaxBackward0"; }
};

TensorPtr softmax_impl(const TensorPtr& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  int64_t d = wrap_dim(dim, x->dim(), op);
  check_floating(x, op, "input", "convert it with .float(), or pass dtype=gradcore.float32");
  auto xc = kernel_operand(x, x->dtype);
  auto out = empty_tensor(x->shape, x->dtype, x->device);
  auto L = layout_around(x->shape, d);
  GC_KERNEL_16(true, false, softmax_kernel, *out, *xc, L, log);
  if (compute_requires_grad({&x})) {
    auto n = make_node<SoftmaxBackward>({x});
    n->out = SavedTensor(out, true);
    n->L = L;
    n->log = log;
    set_history(out, n);
  }
  return out;
}

}  // namespace

TensorPtr softmax(const TensorPtr& x, int64_t dim) { return softmax_impl(x, dim, false); }
TensorPtr log_softmax(const TensorPtr& x, int64_t dim) { return softmax_impl(x, dim, true); }

}  // namespace gc::ops
