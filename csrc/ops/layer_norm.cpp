// layer_norm and rms_norm as one op each over the last dims of the input (normalized_shape): the
// row statistics, the normalisation with the affine transform, and one backward node computing
// the input, weight and bias gradients from the saved mean and rstd (kernels/layer_norm.h has the
// formulas). Argument checks in PyTorch's order, with its messages and exception types.
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/rows.h"

namespace gc::ops {

namespace {

using kernels::RowNorm;

const char* op_name(RowNorm kind) { return kind == RowNorm::Layer ? "layer_norm" : "rms_norm"; }

// The dtype the kernels compute and keep statistics in: float32 for the 16-bit floats.
DType compute_dtype(DType d) { return is_half(d) ? DType::Float32 : d; }

struct LayerNormBackward final : Node {
  SavedTensor x, weight, mean, rstd;  // contiguous input; weight in the compute dtype, may be absent
  RowNorm kind = RowNorm::Layer;
  int64_t N = 1;
  DimVector param_shape;
  DType weight_dtype = DType::Float32, bias_dtype = DType::Float32;
  bool has_weight = false, has_mean = false;
  TensorList apply(TensorList&& grads) override {
    NoGradGuard no_grad;
    auto xv = x.unpack(*this);
    auto wv = has_weight ? weight.unpack(*this) : nullptr;
    auto mv = has_mean ? mean.unpack(*this) : nullptr;
    auto rv = rstd.unpack(*this);
    auto g = rows::kernel_operand(grads[0], xv->dtype);
    const DType ct = compute_dtype(xv->dtype);
    TensorPtr dx, dw, db;
    if (needs_input_grad(0)) dx = empty_tensor(xv->shape, xv->dtype, xv->device);
    if (needs_input_grad(1)) dw = empty_tensor(param_shape, ct, xv->device);
    if (kind == RowNorm::Layer && needs_input_grad(2)) db = empty_tensor(param_shape, ct, xv->device);
    GC_KERNEL_16(true, false, layer_norm_backward, *g, *xv, N, kind, mv.get(), *rv, wv.get(), dx.get(), dw.get(),
                 db.get());
    if (dw) dw = rows::cast_back(dw, weight_dtype);
    if (kind == RowNorm::Rms) return {dx, dw};
    if (db) db = rows::cast_back(db, bias_dtype);
    return {dx, dw, db};
  }
  void visit_saved(const SavedVisitor& v) override { v("input", x); v("weight", weight); v("mean", mean); v("rstd", rstd); }
  std::string name() const override {
    return kind == RowNorm::Layer ? "NativeLayerNormBackward0" : "FusedRmsNormBackward0";
  }
};

std::string dims_str(const DimVector& shape, const char* sep) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? sep : "") + std::to_string(shape[i]);
  return s;
}

// The weight or bias as a kernel operand of dtype ct, after PyTorch's checks: layer norm takes
// parameters of the input's dtype, or float32 ones with a 16-bit input; RMS norm casts any.
TensorPtr param_operand(RowNorm kind, const TensorPtr& p, const char* what, const TensorPtr& x,
                        const DimVector& shape, DType ct) {
  if (!p) return nullptr;
  if (p->shape != shape)
    throw Error(ErrorKind::Runtime, std::string("Expected ") + what + " to be of same shape as normalized_shape, "
                "but got " + what + " of shape " + shape_str(p->shape) + " and normalized_shape = " +
                shape_str(shape));
  rows::check_device(x, p, op_name(kind), what);
  if (kind == RowNorm::Layer && p->dtype != x->dtype) {
    if (!is_half(x->dtype))
      throw Error(ErrorKind::Runtime, "mixed dtype (CPU): all inputs must share same datatype.");
    if (p->dtype != DType::Float32)
      throw Error(ErrorKind::Runtime, "mixed dtype (CPU): expect parameter to have scalar type of Float");
  }
  return rows::kernel_operand(p, ct);
}

TensorPtr norm_rows(RowNorm kind, const TensorPtr& input, const DimVector& shape, const TensorPtr& weight,
                    const TensorPtr& bias, double eps) {
  const char* op = op_name(kind);
  const int64_t k = static_cast<int64_t>(shape.size()), nd = input->dim();
  if (kind == RowNorm::Rms && nd < k)
    throw Error(ErrorKind::Value, "Input tensor must have at least " + std::to_string(k) + " dimensions, but got " +
                                      std::to_string(nd));
  if (k == 0)
    throw Error(ErrorKind::Runtime, "Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                                    "least one element, but got normalized_shape = []");
  if (nd < k || !std::equal(shape.begin(), shape.end(), input->shape.end() - k))
    throw Error(ErrorKind::Runtime, "Given normalized_shape=" + shape_str(shape) + ", expected input with shape [" +
                                        (kind == RowNorm::Layer ? "*, " : "*") + dims_str(shape, ", ") +
                                        "], but got input of size" + shape_str(input->shape));
  if (!is_floating(input->dtype))
    fail(ErrorKind::NotImplemented, op, "expected a floating-point input, got ", dtype_name(input->dtype),
         ". Hint: convert it first, e.g. x.float()");
  const DType ct = compute_dtype(input->dtype);
  auto w = param_operand(kind, weight, "weight", input, shape, ct);
  auto b = param_operand(kind, bias, "bias", input, shape, ct);
  int64_t N = 1;
  for (auto s : shape) N *= s;
  auto x = rows::kernel_operand(input, input->dtype);
  const int64_t R = N > 0 ? x->numel() / N : 0;
  auto mean = kind == RowNorm::Layer ? empty_tensor({R}, ct, x->device) : nullptr;
  auto rstd = empty_tensor({R}, ct, x->device);
  auto out = empty_tensor(x->shape, x->dtype, x->device);
  GC_KERNEL_16(true, false, layer_norm_forward, *x, N, kind, w.get(), b.get(), eps, mean.get(), *rstd, *out);
  if (compute_requires_grad({&input, &weight, &bias})) {
    auto n = kind == RowNorm::Layer ? make_node<LayerNormBackward>({input, weight, bias})
                                    : make_node<LayerNormBackward>({input, weight});
    n->x = SavedTensor(x, false);
    if (w) n->weight = SavedTensor(w, false);
    n->has_weight = w != nullptr;
    if (mean) n->mean = SavedTensor(mean, false);
    n->has_mean = mean != nullptr;
    n->rstd = SavedTensor(rstd, false);
    n->kind = kind;
    n->N = N;
    n->param_shape = shape;
    if (weight) n->weight_dtype = weight->dtype;
    if (bias) n->bias_dtype = bias->dtype;
    set_history(out, n);
  }
  return out;
}

}  // namespace

TensorPtr layer_norm(const TensorPtr& input, const DimVector& normalized_shape, const TensorPtr& weight,
                     const TensorPtr& bias, double eps) {
  return norm_rows(RowNorm::Layer, input, normalized_shape, weight, bias, eps);
}

TensorPtr rms_norm(const TensorPtr& input, const DimVector& normalized_shape, const TensorPtr& weight,
                   std::optional<double> eps) {
  const DType d = input->dtype;
  const double e = eps ? *eps
                   : d == DType::Float64 ? 2.220446049250313e-16
                   : d == DType::BFloat16 ? 0.0078125
                   : d == DType::Float16 ? 0.0009765625
                                         : 1.1920928955078125e-07;  // finfo(input.dtype).eps
  return norm_rows(RowNorm::Rms, input, normalized_shape, weight, nullptr, e);
}

}  // namespace gc::ops
