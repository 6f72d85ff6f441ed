// The pooling family: max_pool2d (max_pool1d is max_pool2d over a height of 1, in Python). The
// forward keeps the argmax of every window (PyTorch's indices); the backward sends each output's
// gradient to its argmax.
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

using kernels::PoolGeom;

// PyTorch's pooling output size: floor or ceil of the window count, and with ceil_mode the last
// window must start inside the input or its left padding.
int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t out = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

struct MaxPool2dBackward final : Node {
  SavedTensor indices;
  PoolGeom geo;
  DimVector input_shape;
  DType dtype;
  TensorList apply(TensorList&& grads) override {
    NoGradGuard no_grad;
    auto g = contiguous(grads[0]);
    auto dx = empty_tensor(input_shape, dtype, g->device);
    if (dx->numel() > 0) GC_KERNEL(max_pool2d_backward, *g, *indices.unpack(*this), geo, *dx);
    return {dx};
  }
  void release_saved() override { indices.reset(); }
  std::string name() const override { return "MaxPool2DWithIndicesBackward0"; }
};

}  // namespace

std::pair<TensorPtr, TensorPtr> max_pool2d(const TensorPtr& input, const Pool2dOptions& o) {
  const char* op = "max_pool2d";
  if (input->dim() != 3 && input->dim() != 4)
    fail(ErrorKind::Runtime, op, "non-empty 3D or 4D (batch mode) tensor expected for input, but got size ",
         shape_str(input->shape), ". Hint: images are [N, C, H, W] (or [C, H, W] for one).");
  if (!is_floating(input->dtype))
    fail(ErrorKind::NotImplemented, op, "not implemented for ", dtype_name(input->dtype),
         " tensors. Hint: call .float() first.");
  for (int d = 0; d < 2; ++d) {
    if (o.kernel[d] <= 0)
      fail(ErrorKind::Runtime, op, "kernel size should be greater than zero, but got kernel_size=", pair_str(o.kernel));
    if (o.stride[d] <= 0) fail(ErrorKind::Runtime, op, "stride should be greater than zero, but got stride=", pair_str(o.stride));
    if (o.dilation[d] <= 0)
      fail(ErrorKind::Runtime, op, "dilation should be greater than zero, but got dilation=", pair_str(o.dilation));
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
  DimVector out_shape(input->shape.begin(), input->shape.end() - 2);
  out_shape.push_back(g.oh);
  out_shape.push_back(g.ow);
  auto x = [&] {
    NoGradGuard no_grad;
    return contiguous(input);
  }();
  auto out = empty_tensor(out_shape, input->dtype, input->device);
  auto indices = empty_tensor(out_shape, DType::Int64, input->device);
  if (out->numel() > 0) GC_KERNEL(max_pool2d, *x, g, *out, *indices);
  if (compute_requires_grad({&input})) {
    auto n = make_node<MaxPool2dBackward>({input});
    n->indices = SavedTensor(indices, false);
    n->geo = g;
    n->input_shape = input->shape;
    n->dtype = input->dtype;
    set_history(out, n);
  }
  return {out, indices};
}

}  // namespace gc::ops
