// Reductions: sum, mean, var, std, prod, amax/amin, max/min along a dim, argmax/argmin, norm,
// any, all; over one dim, several dims or all, with keepdim. The backward of a reduction
// restores the reduced dims as size 1 (keep_shape) and broadcasts the gradient back over them.
#include <cmath>
#include <limits>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

// Normalised reduction: which dims, the output shape, and the shape with kept size-1 dims
// (the gradient's shape before it is expanded back).
struct ReduceDims {
  std::vector<bool> mask;
  DimVector out_shape, keep_shape;
  int64_t count = 1;  // elements folded into each output
  DimVector list;     // the reduced dims, ascending (empty for a 0-dim input)
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
      r.list.push_back(d);
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
  bool all_dims = false;  // no dim given: PyTorch's overload 0
  TensorList apply(TensorList&& g) override {
    auto gr = reshape(g[0], keep_shape);
    if (scale != 1.0) gr = mul(gr, wrapped_scalar(Scalar::from_double(scale), gr->device));
    if (gr->dtype != in_dtype) gr = to_dtype(gr, in_dtype);
    return {expand(gr, in_shape)};
  }
  std::string name() const override {
    return std::string(is_mean ? "MeanBackward" : "SumBackward") + (all_dims ? "0" : "1");
  }
};

TensorPtr sum_impl(const TensorPtr& x, const DimVector& dims, bool keepdim, DType out_dt, bool mean, const char* op) {
  auto rd = reduce_dims(x, dims, keepdim, op);
  auto out = empty_tensor(rd.out_shape, out_dt, x->device);
  double scale = mean ? (rd.count ? 1.0 / static_cast<double>(rd.count) : std::numeric_limits<double>::quiet_NaN()) : 1.0;
  GC_KERNEL_16(true, false, sum_kernel, *out, *x, kernels::make_reduce_plan(*x, rd.mask), scale);
  if (is_floating(out_dt) && compute_requires_grad({&x})) {
    auto n = make_node<SumBackward>({x});
    n->in_shape = x->shape;
    n->keep_shape = rd.keep_shape;
    n->in_dtype = x->dtype;
    n->scale = scale;
    n->is_mean = mean;
    n->all_dims = dims.empty();
    set_history(out, n);
  }
  return out;
}

TensorPtr scalar_like(double v, const TensorPtr& t) { return wrapped_scalar(Scalar::from_double(v), t->device); }

// Max/min-like reductions have no identity: an empty reduction is an error (RuntimeError when
// no dim was given, IndexError naming the empty dim otherwise, as in PyTorch).
void check_nonempty(const TensorPtr& x, const ReduceDims& rd, bool dim_given, const char* op,
                    ErrorKind no_dim_kind = ErrorKind::Runtime) {
  if (x->numel() != 0) return;
  if (!dim_given)
    fail(no_dim_kind, op, "expected reduction dim to be specified for an empty input of shape ", shape_str(x->shape),
         ": the operation has no identity. Hint: pass dim= to reduce over a non-empty dim");
  for (auto d : rd.list)
    if (x->shape[d] == 0)
      fail(ErrorKind::Index, op, "expected reduction dim ", d, " to have non-zero size (input shape ",
           shape_str(x->shape), "): the operation has no identity");
}

DimVector optional_dim(std::optional<int64_t> dim) { return dim ? DimVector{*dim} : DimVector{}; }

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


// ---- var, std ----
namespace {
// d var / dx = 2 (x - mean) / (N - correction); d std = d var / (2 std), 0 where std == 0.
struct VarBackward final : Node {
  SavedTensor x, out;  // out: std only
  DimVector keep_shape, dims;
  double scale = 0;  // 2 / (N - correction)
  bool is_std = false;
  TensorList apply(TensorList&& g) override {
    auto xv = x.unpack(*this);
    auto gk = reshape(g[0], keep_shape);
    if (is_std) {
      auto sk = reshape(out.unpack(*this), keep_shape);
      gk = where(compare(BinaryOp::Eq, sk, scalar_like(0, sk)), zeros({}, gk->dtype, gk->device),
                 div(gk, mul(sk, scalar_like(2, sk))));
    }
    auto centered = sub(xv, mean(xv, dims, true));
    return {mul(centered, mul(gk, scalar_like(scale, gk)))};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", x); v("result", out); }
  std::string name() const override { return is_std ? "StdBackward0" : "VarBackward0"; }
};

TensorPtr var_std(const TensorPtr& x, const DimVector& dims, double correction, bool keepdim, bool is_std) {
  const char* op = is_std ? "std" : "var";
  if (!is_floating(x->dtype))
    fail(ErrorKind::Runtime, op, "std and var only support floating-point dtypes, got ", dtype_name(x->dtype),
         ". Hint: convert first, e.g. x.float().", op, "()");
  auto rd = reduce_dims(x, dims, keepdim, op);
  auto out = empty_tensor(rd.out_shape, x->dtype, x->device);
  GC_KERNEL_16(true, false, var_kernel, *out, *x, kernels::make_reduce_plan(*x, rd.mask), correction, is_std);
  if (compute_requires_grad({&x})) {
    auto n = make_node<VarBackward>({x});
    n->x = SavedTensor(x, false);
    if (is_std) n->out = SavedTensor(out, true);
    n->keep_shape = rd.keep_shape;
    n->dims = rd.list;
    n->scale = 2.0 / (static_cast<double>(rd.count) - correction);
    n->is_std = is_std;
    set_history(out, n);
  }
  return out;
}
}  // namespace

TensorPtr var(const TensorPtr& x, const DimVector& dims, double correction, bool keepdim) {
  return var_std(x, dims, correction, keepdim, false);
}
TensorPtr std(const TensorPtr& x, const DimVector& dims, double correction, bool keepdim) {
  return var_std(x, dims, correction, keepdim, true);
}

// ---- prod ----
namespace {
struct ProdBackward final : Node {
  SavedTensor x;
  DimVector keep_shape;
  std::vector<bool> mask;
  TensorList apply(TensorList&& g) override {
    // A contiguous copy of x and a gradient buffer of the same layout share one plan.
    auto xv = contiguous(x.unpack(*this));
    auto gk = reshape(g[0], keep_shape);
    gk = contiguous(gk->dtype == xv->dtype ? gk : to_dtype(gk, xv->dtype));
    auto gx = empty_tensor(xv->shape, xv->dtype, xv->device);
    GC_KERNEL_16(true, false, prod_backward_kernel, *gx, *gk, *xv, kernels::make_reduce_plan(*xv, mask));
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", x); }
  std::string name() const override { return "ProdBackward1"; }
};
}  // namespace

TensorPtr prod(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim) {
  auto rd = reduce_dims(x, optional_dim(dim), keepdim, "prod");
  // PyTorch: integer and bool products are int64.
  DType dt = is_floating(x->dtype) ? x->dtype : DType::Int64;
  auto out = empty_tensor(rd.out_shape, dt, x->device);
  GC_KERNEL_16(true, false, prod_kernel, *out, *x, kernels::make_reduce_plan(*x, rd.mask));
  if (is_floating(dt) && compute_requires_grad({&x})) {
    auto n = make_node<ProdBackward>({x});
    n->x = SavedTensor(x, false);
    n->keep_shape = rd.keep_shape;
    n->mask = rd.mask;
    set_history(out, n);
  }
  return out;
}

// ---- amax, amin ----
namespace {
// The gradient is split evenly among the elements equal to the result (PyTorch's rule):
// g * (x == out) / count(x == out).
struct AmaxBackward final : Node {
  SavedTensor x, out;
  DimVector keep_shape, dims;
  bool is_max = true;
  TensorList apply(TensorList&& g) override {
    auto xv = x.unpack(*this);
    auto gk = reshape(g[0], keep_shape);
    auto mask = to_dtype(compare(BinaryOp::Eq, xv, reshape(out.unpack(*this), keep_shape)), gk->dtype);
    auto count = sum(mask, dims, true);
    return {mul(div(gk, count), mask)};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", x); v("result", out); }
  std::string name() const override { return is_max ? "AmaxBackward0" : "AminBackward0"; }
};

TensorPtr amax_amin(const TensorPtr& x, const DimVector& dims, bool keepdim, bool is_max) {
  const char* op = is_max ? "amax" : "amin";
  auto rd = reduce_dims(x, dims, keepdim, op);
  check_nonempty(x, rd, !dims.empty(), op);
  auto out = empty_tensor(rd.out_shape, x->dtype, x->device);
  GC_KERNEL_16(true, false, minmax_kernel, *out, *x, kernels::make_reduce_plan(*x, rd.mask), is_max);
  if (is_floating(x->dtype) && compute_requires_grad({&x})) {
    auto n = make_node<AmaxBackward>({x});
    n->x = SavedTensor(x, false);
    n->out = SavedTensor(out, true);
    n->keep_shape = rd.keep_shape;
    n->dims = rd.list;
    n->is_max = is_max;
    set_history(out, n);
  }
  return out;
}
}  // namespace

TensorPtr amax(const TensorPtr& x, const DimVector& dims, bool keepdim) { return amax_amin(x, dims, keepdim, true); }
TensorPtr amin(const TensorPtr& x, const DimVector& dims, bool keepdim) { return amax_amin(x, dims, keepdim, false); }

// ---- max/min along a dim, argmax, argmin ----
namespace {
// The whole gradient goes to the selected element of each reduction (scattered into zeros).
struct MaxDimBackward final : Node {
  SavedTensor indices;
  DimVector in_shape, keep_shape;
  std::vector<bool> mask;
  DType dtype;
  bool is_max = true;
  TensorList apply(TensorList&& g) override {
    auto idx = contiguous(reshape(indices.unpack(*this), keep_shape));
    auto gk = reshape(g[0], keep_shape);
    gk = contiguous(gk->dtype == dtype ? gk : to_dtype(gk, dtype));
    auto gx = zeros(in_shape, dtype, gk->device);
    GC_KERNEL_16(true, false, index_backward_kernel, *gx, *gk, *idx, kernels::make_reduce_plan(*gx, mask));
    return {gx};
  }
  void visit_saved(const SavedVisitor& v) override { v("indices", indices); }
  std::string name() const override { return is_max ? "MaxBackward0" : "MinBackward0"; }
};

// (values or null, indices) of the max/min over `dim` (all dims, flattened, when absent).
std::pair<TensorPtr, TensorPtr> arg_reduce(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim, bool is_max,
                                           bool want_values, const char* op) {
  auto rd = reduce_dims(x, optional_dim(dim), keepdim, op);
  check_nonempty(x, rd, dim.has_value(), op, want_values ? ErrorKind::Runtime : ErrorKind::Index);
  TensorPtr values = want_values ? empty_tensor(rd.out_shape, x->dtype, x->device) : nullptr;
  auto indices = empty_tensor(rd.out_shape, DType::Int64, x->device);
  GC_KERNEL_16(true, false, arg_minmax_kernel, values.get(), *indices, *x, kernels::make_reduce_plan(*x, rd.mask), is_max);
  if (values && is_floating(x->dtype) && compute_requires_grad({&x})) {
    auto n = make_node<MaxDimBackward>({x});
    n->indices = SavedTensor(indices, true);
    n->in_shape = x->shape;
    n->keep_shape = rd.keep_shape;
    n->mask = rd.mask;
    n->dtype = x->dtype;
    n->is_max = is_max;
    set_history(values, n);
  }
  return {values, indices};
}

TensorPtr argmax_argmin(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  if (x->dtype == DType::Bool)
    fail(ErrorKind::Runtime, op, "does not support bool input. Hint: convert first, e.g. x.long().", op, "()");
  return arg_reduce(x, dim, keepdim, is_max, false, op).second;
}
}  // namespace

std::pair<TensorPtr, TensorPtr> max_dim(const TensorPtr& x, int64_t dim, bool keepdim) {
  return arg_reduce(x, dim, keepdim, true, true, "max");
}
std::pair<TensorPtr, TensorPtr> min_dim(const TensorPtr& x, int64_t dim, bool keepdim) {
  return arg_reduce(x, dim, keepdim, false, true, "min");
}
TensorPtr argmax(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim) { return argmax_argmin(x, dim, keepdim, true); }
TensorPtr argmin(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim) { return argmax_argmin(x, dim, keepdim, false); }

// ---- norm ----
namespace {
// PyTorch's vector-norm derivatives (linalg_vector_norm_backward), with N the norm:
//   p = 0: 0;  p = 1: g sign(x);  p = inf: g sign(x) [|x| == N] / count, NaNs included;
//   p >= 1: g sign(x) |x|^(p-1) / N^(p-1), 0 where N == 0 (p = 2: g x / N);
//   p < 1: g sign(x) |x|^(p-1) N^(1-p), 0 where x == 0.
struct NormBackward final : Node {
  SavedTensor x, out;
  DimVector keep_shape, dims;
  double p = 2;
  TensorList apply(TensorList&& g) override {
    auto xv = x.unpack(*this);
    auto gk = reshape(g[0], keep_shape);
    if (p == 0) return {zeros(xv->shape, xv->dtype, xv->device)};
    if (p == 1) return {mul(unary(kernels::Sign{}, xv), gk)};
    auto nk = reshape(out.unpack(*this), keep_shape);
    auto zero = zeros({}, xv->dtype, xv->device);
    if (std::isinf(p)) {
      auto a = unary(kernels::Abs{}, xv);
      auto mask = to_dtype(compare(BinaryOp::LogicalOr, compare(BinaryOp::Eq, a, nk), compare(BinaryOp::Ne, a, a)), gk->dtype);
      return {mul(unary(kernels::Sign{}, xv), mul(div(gk, sum(mask, dims, true)), mask))};
    }
    auto n_zero = compare(BinaryOp::Eq, nk, scalar_like(0, nk));
    if (p == 2) return {mul(xv, where(n_zero, zero, div(gk, nk)))};
    auto scaled = mul(unary(kernels::Sign{}, xv), pow(unary(kernels::Abs{}, xv), scalar_like(p - 1, xv)));
    if (p < 1) {
      scaled = where(compare(BinaryOp::Eq, xv, scalar_like(0, xv)), zero, scaled);
      return {mul(scaled, mul(gk, pow(nk, scalar_like(1 - p, nk))))};
    }
    return {mul(scaled, where(n_zero, zero, div(gk, pow(nk, scalar_like(p - 1, nk)))))};
  }
  void visit_saved(const SavedVisitor& v) override { v("self", x); v("result", out); }
  std::string name() const override { return "NormBackward1"; }
};
}  // namespace

TensorPtr norm(const TensorPtr& x, double p, const DimVector& dims, bool keepdim) {
  if (!is_floating(x->dtype))
    fail(ErrorKind::Runtime, "norm", "expected a floating-point input, got ", dtype_name(x->dtype),
         ". Hint: convert first, e.g. x.float().norm()");
  if (std::isnan(p)) fail(ErrorKind::Runtime, "norm", "the order p must not be NaN");
  auto rd = reduce_dims(x, dims, keepdim, "norm");
  if (std::isinf(p)) check_nonempty(x, rd, !dims.empty(), "norm");  // max/min of |x| has no identity
  auto out = empty_tensor(rd.out_shape, x->dtype, x->device);
  GC_KERNEL_16(true, false, norm_kernel, *out, *x, kernels::make_reduce_plan(*x, rd.mask), p);
  if (compute_requires_grad({&x})) {
    auto n = make_node<NormBackward>({x});
    n->x = SavedTensor(x, false);
    n->out = SavedTensor(out, true);
    n->keep_shape = rd.keep_shape;
    n->dims = rd.list;
    n->p = p;
    set_history(out, n);
  }
  return out;
}

// ---- any, all ----
namespace {
TensorPtr any_all(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim, bool is_all) {
  auto rd = reduce_dims(x, optional_dim(dim), keepdim, is_all ? "all" : "any");
  auto out = empty_tensor(rd.out_shape, DType::Bool, x->device);
  GC_KERNEL_16(true, false, any_all_kernel, *out, *x, kernels::make_reduce_plan(*x, rd.mask), is_all);
  // PyTorch keeps uint8 for uint8 input (0 or 1)
  return x->dtype == DType::UInt8 ? to_dtype(out, DType::UInt8) : out;
}
}  // namespace

TensorPtr any(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim) { return any_all(x, dim, keepdim, false); }
TensorPtr all(const TensorPtr& x, std::optional<int64_t> dim, bool keepdim) { return any_all(x, dim, keepdim, true); }
}  // namespace gc::ops
