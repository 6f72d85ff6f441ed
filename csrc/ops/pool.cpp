// The pooling family: max_pool2d and avg_pool2d over sliding windows, adaptive_max_pool2d and
// adaptive_avg_pool2d over adaptive ones (the 1-D forms are these over a height of 1, in Python).
// One geometry (kernels/pool.h) describes both kinds of window, so each pair shares its kernels.
// The max forward keeps the argmax of every window (PyTorch's indices); its backward sends each
// output's gradient to its argmax. The average backward spreads it over the window.
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/window.h"

namespace gc::ops {

namespace {

using kernels::PoolGeom;

// PyTorch's pooling output size: floor or ceil of the window count, and with ceil_mode the last
// window must start inside the input or its left padding.
int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  if (span < 0) return 0;  // the window is larger than the padded input
  int64_t out = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

void check_floating(const TensorPtr& input, const char* op) {
  if (!is_floating(input->dtype))
    fail(ErrorKind::NotImplemented, op, "not implemented for ", dtype_name(input->dtype),
         " tensors. Hint: call .float() first.");
}

// The geometry of sliding windows over input [N, C, H, W] or [C, H, W], with PyTorch's checks.
PoolGeom sliding_geom(const TensorPtr& input, const Pool2dOptions& o, const char* op) {
  if (input->dim() != 3 && input->dim() != 4)
    fail(ErrorKind::Runtime, op, "non-empty 3D or 4D (batch mode) tensor expected for input, but got size ",
         shape_str(input->shape), ". Hint: images are [N, C, H, W] (or [C, H, W] for one).");
  check_floating(input, op);
  check_window(op, o.kernel, o.stride, o.dilation);
  for (int d = 0; d < 2; ++d) {
    if (o.padding[d] < 0 || o.padding[d] > o.kernel[d] / 2)
      fail(ErrorKind::Runtime, op, "pad should be at most half of effective kernel size, but got pad=", pair_str(o.padding),
           ", kernel_size=", pair_str(o.kernel), " and dilation=", pair_str(o.dilation));
  }
  const int64_t nd = input->dim(), H = input->shape[nd - 2], W = input->shape[nd - 1];
  const int64_t planes = input->numel() / std::max<int64_t>(H * W, 1);
  PoolGeom g{planes, H, W, o.kernel[0], o.kernel[1], o.stride[0], o.stride[1], o.padding[0], o.padding[1],
             o.dilation[0], o.dilation[1], 0, 0};
  g.oh = pooled_size(H, g.kh, g.sh, g.ph, g.dh, o.ceil_mode);
  g.ow = pooled_size(W, g.kw, g.sw, g.pw, g.dw, o.ceil_mode);
  if (g.oh < 1 || g.ow < 1 || H == 0 || W == 0)
    fail(ErrorKind::Runtime, op, "Given input size: (", input->shape[nd - 3], "x", H, "x", W, "). Calculated output size: (",
         input->shape[nd - 3], "x", g.oh, "x", g.ow, "). Output size is too small. Hint: use a smaller kernel, padding, "
         "or a larger input.");
  return g;
}

// The geometry of adaptive windows: output [.., out_h, out_w] whatever the input's size.
PoolGeom adaptive_geom(const TensorPtr& input, int64_t out_h, int64_t out_w, const char* op) {
  if (input->dim() != 3 && input->dim() != 4)
    fail(ErrorKind::Runtime, op, "Expected 3D or 4D tensor, but got ", shape_str(input->shape),
         ". Hint: images are [N, C, H, W] (or [C, H, W] for one).");
  for (int64_t d = input->dim() - 3; d < input->dim(); ++d)
    if (input->shape[d] == 0)
      fail(ErrorKind::Runtime, op, "Expected input to have non-zero size for non-batch dimensions, but input has sizes ",
           shape_str(input->shape), " with dimension ", d, " being empty");
  if (out_h < 0 || out_w < 0)
    fail(ErrorKind::Runtime, op, "elements of output_size must be greater than or equal to 0 but received {", out_h,
         ", ", out_w, "}");
  check_floating(input, op);
  const int64_t nd = input->dim(), H = input->shape[nd - 2], W = input->shape[nd - 1];
  PoolGeom g{input->numel() / (H * W), H, W, 1, 1, 1, 1, 0, 0, 1, 1, out_h, out_w};
  g.adaptive = true;
  return g;
}

TensorPtr pooled_empty(const TensorPtr& input, const PoolGeom& g, DType dtype) {
  DimVector shape(input->shape.begin(), input->shape.end() - 2);
  shape.push_back(g.oh);
  shape.push_back(g.ow);
  return empty_tensor(shape, dtype, input->device);
}

TensorPtr contiguous_input(const TensorPtr& input) {
  NoGradGuard no_grad;
  return contiguous(input);
}

// The backward of every pool: max pools send each output's gradient to its argmax (indices),
// average pools spread it over the window.
struct Pool2dBackward final : Node {
  SavedTensor indices;  // max only
  bool max = false;
  PoolGeom geo;
  DimVector input_shape;
  DType dtype;
  TensorList apply(TensorList&& grads) override {
    NoGradGuard no_grad;
    auto g = contiguous(grads[0]);
    auto dx = empty_tensor(input_shape, dtype, g->device);
    if (dx->numel() == 0) return {dx};
    if (max) GC_KERNEL(max_pool2d_backward, *g, *indices.unpack(*this), geo, *dx);
    else GC_KERNEL(avg_pool2d_backward, *g, geo, *dx);
    return {dx};
  }
  void visit_saved(const SavedVisitor& v) override { v("indices", indices); }
  std::string name() const override {
    if (max) return geo.adaptive ? "AdaptiveMaxPool2DBackward0" : "MaxPool2DWithIndicesBackward0";
    return geo.adaptive ? "AdaptiveAvgPool2DBackward0" : "AvgPool2DBackward0";
  }
};

void record_pool(const TensorPtr& input, const TensorPtr& out, const PoolGeom& g, const TensorPtr& indices) {
  if (!compute_requires_grad({&input})) return;
  auto n = make_node<Pool2dBackward>({input});
  if (indices) n->indices = SavedTensor(indices, false);
  n->max = indices != nullptr;
  n->geo = g;
  n->input_shape = input->shape;
  n->dtype = input->dtype;
  set_history(out, n);
}

std::pair<TensorPtr, TensorPtr> run_max_pool(const TensorPtr& input, const PoolGeom& g) {
  auto x = contiguous_input(input);
  auto out = pooled_empty(input, g, input->dtype);
  auto indices = pooled_empty(input, g, DType::Int64);
  if (out->numel() > 0) GC_KERNEL(max_pool2d, *x, g, *out, *indices);
  record_pool(input, out, g, indices);
  return {out, indices};
}

TensorPtr run_avg_pool(const TensorPtr& input, const PoolGeom& g) {
  auto x = contiguous_input(input);
  auto out = pooled_empty(input, g, input->dtype);
  if (out->numel() > 0) GC_KERNEL(avg_pool2d, *x, g, *out);
  record_pool(input, out, g, nullptr);
  return out;
}

}  // namespace

std::pair<TensorPtr, TensorPtr> max_pool2d(const TensorPtr& input, const Pool2dOptions& o) {
  return run_max_pool(input, sliding_geom(input, o, "max_pool2d"));
}

TensorPtr avg_pool2d(const TensorPtr& input, const Pool2dOptions& o, bool count_include_pad, int64_t divisor_override) {
  const char* op = "avg_pool2d";
  PoolGeom g = sliding_geom(input, o, op);
  if (o.dilation[0] != 1 || o.dilation[1] != 1) fail(ErrorKind::Runtime, op, "has no dilation");
  if (divisor_override == 0) fail(ErrorKind::Runtime, op, "divisor must be not zero");
  g.count_include_pad = count_include_pad;
  g.divisor = divisor_override;  // < 0: none
  return run_avg_pool(input, g);
}

std::pair<TensorPtr, TensorPtr> adaptive_max_pool2d(const TensorPtr& input, int64_t out_h, int64_t out_w) {
  return run_max_pool(input, adaptive_geom(input, out_h, out_w, "adaptive_max_pool2d()"));
}

TensorPtr adaptive_avg_pool2d(const TensorPtr& input, int64_t out_h, int64_t out_w) {
  return run_avg_pool(input, adaptive_geom(input, out_h, out_w, "adaptive_avg_pool2d()"));
}

}  // namespace gc::ops
