// Reductions: sum, mean (and the rest of the family), over one dim, several dims or all, with
// keepdim. The backward of a reduction broadcasts the gradient back over the reduced dims.
#include <limits>
#include "autograd/node.h"
#include "cpu/reduce.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

// Normalised reduction: which dims, the output shape, and the shape with kept size-1 dims
// (the gradient's shape before it is expanded back).
struct ReduceDims {
  std::vector<bool> mask;
  DimVector out_shape, keep_shape;
  int64_t count = 1;  // elements folded into each output
};

ReduceDims reduce_dims(const TensorPtr& x, const DimVector& dims, bool keepdim, const char* op) {
  ReduceDims r;
  r.mask.assign(x->dim(), dims.empty());
  for (auto d : dims) {
    int64_t w = wrap_dim(d, x->dim(), op);
    if (x->dim() == 0) continue;
    if (r.mask[w] && !dims.empty() && dims.size() > 1) {
      size_t hits = 0;
      for (auto e : dims) hits += wrap_dim(e, x->dim(), op) == w;
      if (hits > 1) fail(ErrorKind::Runtime, op, "dim ", w, " appears multiple times in the list of dims");
    }
    r.mask[w] = true;
  }
  for (int64_t d = 0; d < x->dim(); ++d) {
    if (r.mask[d]) {
      r.count *= x->shape[d];
      r.keep_shape.push_back(1);
      if (keepdim) r.out_shape.push_back(1);
    } else {
      r.keep_shape.push_back(x->shape[d]);
      r.out_shape.push_back(x->shape[d]);
    }
  }
  return r;
}

struct SumBackward final : Node {
  DimVector in_shape, keep_shape;
  DType in_dtype;
  double scale = 1.0;  // 1/count for mean
  bool is_mean = false;
  TensorList apply(TensorList&& g) override {
    auto gr = reshape(g[0], keep_shape);
    if (scale != 1.0) gr = mul(gr, wrapped_scalar(Scalar::from_double(scale), gr->device));
    if (gr->dtype != in_dtype) gr = to_dtype(gr, in_dtype);
    return {expand(gr, in_shape)};
  }
  std::string name() const override { return is_mean ? "MeanBackward1" : "SumBackward1"; }
};

TensorPtr sum_impl(const TensorPtr& x, const DimVector& dims, bool keepdim, DType out_dt, bool mean, const char* op) {
  auto rd = reduce_dims(x, dims, keepdim, op);
  auto out = empty_tensor(rd.out_shape, out_dt, x->device);
  double scale = mean ? (rd.count ? 1.0 / static_cast<double>(rd.count) : std::numeric_limits<double>::quiet_NaN()) : 1.0;
  cpu::sum_kernel(*out, *x, cpu::make_reduce_plan(*x, rd.mask), scale);
  if (is_floating(out_dt) && compute_requires_grad({&x})) {
    auto n = make_node<SumBackward>({x});
    n->in_shape = x->shape;
    n->keep_shape = rd.keep_shape;
    n->in_dtype = x->dtype;
    n->scale = scale;
    n->is_mean = mean;
    set_history(out, n);
  }
  return out;
}

}  // namespace

TensorPtr sum(const TensorPtr& x, const DimVector& dims, bool keepdim, std::optional<DType> dtype) {
  // PyTorch: integer and bool sums are int64.
  DType dt = dtype ? *dtype : (is_floating(x->dtype) ? x->dtype : DType::Int64);
  return sum_impl(x, dims, keepdim, dt, false, "sum");
}

TensorPtr mean(const TensorPtr& x, const DimVector& dims, bool keepdim, std::optional<DType> dtype) {
  DType dt = dtype ? *dtype : x->dtype;
  if (!is_floating(dt))
    fail(ErrorKind::Runtime, "mean", "could not infer output dtype. Input dtype must be either a floating point or "
         "complex dtype. Got: ", dtype_name(x->dtype), ". Hint: call .float() first, e.g. (pred == y).float().mean()");
  return sum_impl(x, dims, keepdim, dt, true, "mean");
}

}  // namespace gc::ops
