// The convolution family: conv2d, conv_transpose2d, im2col and col2im (F.unfold / F.fold); the 1-D
// forms are these over a height of 1, in Python. A convolution is im2col (kernels/conv.h: every
// output position's input patch as a column) followed, per group, by one batched GEMM on the
// existing kernels: out_g[n] = W_g @ cols_g[n]. Its backward recomputes the columns instead of
// keeping them (they are kh*kw times the input): dW_g = sum_n g_g[n] @ cols_g[n]^T, d cols_g[n] =
// W_g^T @ g_g[n] then col2im, and db sums g over everything but O.
//
// The three pieces (conv_forward, conv_input_grad, conv_weight_grad) serve both directions: a
// transposed convolution is the input gradient of the convolution whose geometry maps its output
// back to its input, so its forward is conv_input_grad, its input gradient conv_forward and its
// weight gradient conv_weight_grad with the roles of input and output exchanged.
#include <sstream>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

using kernels::ConvGeom;

// A view with new geometry at an element offset from t's, recording no autograd node.
TensorPtr raw(const TensorPtr& t, DimVector shape, DimVector strides, int64_t offset = 0) {
  return make_view(t, std::move(shape), std::move(strides), t->offset + offset);
}

ConvGeom geometry(const TensorPtr& x, const TensorPtr& w, const Conv2dOptions& o) {
  ConvGeom g{};
  g.N = x->shape[0], g.C = x->shape[1], g.H = x->shape[2], g.W = x->shape[3];
  g.kh = w->shape[2], g.kw = w->shape[3];
  g.sh = o.stride[0], g.sw = o.stride[1], g.ph = o.pad_before[0], g.pw = o.pad_before[1];
  g.dh = o.dilation[0], g.dw = o.dilation[1];
  g.oh = (g.H + o.pad_before[0] + o.pad_after[0] - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.ow = (g.W + o.pad_before[1] + o.pad_after[1] - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  return g;
}

// cols [N, C*kh*kw, oh*ow] of a contiguous x.
TensorPtr im2col_of(const TensorPtr& x, const ConvGeom& g) {
  auto cols = empty_tensor({g.N, g.rows(), g.cols()}, x->dtype, x->device);
  if (cols->numel() > 0) GC_KERNEL(im2col, *x, g, *cols);
  return cols;
}

// Group gi's blocks: W_g [Og, Rg] (a batch of one, broadcast over images), cols_g [N, Rg, L],
// and a [N, Og, L] slice of an output-shaped tensor.
struct GroupViews {
  int64_t Og, Rg, L;
  TensorPtr w(const TensorPtr& wc, int64_t gi) const { return raw(wc, {1, Og, Rg}, {0, Rg, 1}, gi * Og * Rg); }
  TensorPtr w_t(const TensorPtr& wc, int64_t gi) const { return raw(wc, {1, Rg, Og}, {0, 1, Rg}, gi * Og * Rg); }
  TensorPtr cols(const TensorPtr& c, int64_t gi, int64_t groups) const {
    return raw(c, {c->shape[0], Rg, L}, {groups * Rg * L, L, 1}, gi * Rg * L);
  }
  TensorPtr out(const TensorPtr& o, int64_t gi, int64_t groups) const {
    return raw(o, {o->shape[0], Og, L}, {groups * Og * L, L, 1}, gi * Og * L);
  }
};

// out [N, O, oh, ow] = conv(x, w) of contiguous x [N, C, H, W] and w [O, C/groups, kh, kw].
void conv_forward(const TensorPtr& x, const TensorPtr& w, const ConvGeom& geo, int64_t groups, const TensorPtr& out) {
  if (out->numel() == 0) return;
  if (geo.rows() == 0) {
    fill_(out, Scalar::from_int(0));
    return;
  }
  const int64_t O = w->shape[0];
  const GroupViews gv{O / groups, geo.rows() / groups, geo.cols()};
  auto cols = im2col_of(x, geo);
  for (int64_t gi = 0; gi < groups; ++gi)
    gemm_into(gv.out(out, gi, groups), gv.w(w, gi), gv.cols(cols, gi, groups), 1.0, 0.0);
}

// dx [N, C, H, W] of the convolution above from g [N, O, oh, ow] (contiguous): col2im(W^T @ g).
TensorPtr conv_input_grad(const TensorPtr& g, const TensorPtr& w, const ConvGeom& geo, int64_t groups, DType dtype) {
  const int64_t O = w->shape[0];
  const GroupViews gv{O / groups, geo.rows() / groups, geo.cols()};
  auto dcols = empty_tensor({geo.N, geo.rows(), geo.cols()}, dtype, g->device);
  if (dcols->numel() > 0) {
    if (O == 0) fill_(dcols, Scalar::from_int(0));
    for (int64_t gi = 0; gi < groups && O > 0; ++gi)
      gemm_into(gv.cols(dcols, gi, groups), gv.w_t(w, gi), gv.out(g, gi, groups), 1.0, 0.0);
  }
  auto dx = empty_tensor({geo.N, geo.C, geo.H, geo.W}, dtype, g->device);
  if (dx->numel() > 0) GC_KERNEL(col2im, *dcols, geo, *dx);
  return dx;
}

// dW [O, C/groups, kh, kw] of the convolution above: sum over images of g_g[n] @ cols_g[n]^T.
TensorPtr conv_weight_grad(const TensorPtr& x, const TensorPtr& g, const ConvGeom& geo, int64_t groups,
                           const DimVector& w_shape) {
  const int64_t O = w_shape[0];
  const GroupViews gv{O / groups, geo.rows() / groups, geo.cols()};
  auto cols = im2col_of(x, geo);
  auto gw = empty_tensor(w_shape, x->dtype, x->device);
  for (int64_t gi = 0; gi < groups; ++gi) {
    auto dwg = raw(gw, {gv.Og, gv.Rg}, {gv.Rg, 1}, gi * gv.Og * gv.Rg);
    if (geo.N == 0 || geo.cols() == 0) fill_(dwg, Scalar::from_int(0));
    for (int64_t n = 0; n < geo.N && geo.cols() > 0; ++n) {
      // dW_g += g_g[n] [Og, L] @ cols_g[n]^T [L, Rg]
      auto gn = raw(g, {gv.Og, gv.L}, {gv.L, 1}, (n * O + gi * gv.Og) * gv.L);
      auto cn_t = raw(cols, {gv.L, gv.Rg}, {1, gv.L}, (n * geo.rows() + gi * gv.Rg) * gv.L);
      gemm_into(dwg, gn, cn_t, 1.0, n == 0 ? 0.0 : 1.0);
    }
  }
  return gw;
}

struct Conv2dBackward final : Node {
  SavedTensor x, w;  // contiguous input and weight
  Conv2dOptions opt;
  TensorList apply(TensorList&& grads) override {
    NoGradGuard no_grad;
    auto xv = x.unpack(*this), wv = w.unpack(*this);
    auto g = contiguous(grads[0]);
    const ConvGeom geo = geometry(xv, wv, opt);
    TensorPtr gx, gw, gb;
    if (needs_input_grad(2)) gb = sum(g, {0, 2, 3}, false);
    if (needs_input_grad(1)) gw = conv_weight_grad(xv, g, geo, opt.groups, wv->shape);
    if (needs_input_grad(0)) gx = conv_input_grad(g, wv, geo, opt.groups, xv->dtype);
    return {gx, gw, gb};
  }
  void release_saved() override { x.reset(); w.reset(); }
  std::string name() const override { return "ConvolutionBackward0"; }
};

// y = conv_transpose2d(x, w): x [N, Cin, h, w] plays the convolution's output, y [N, Cout, H, W]
// its input, with w [Cin, Cout/groups, kh, kw] the convolution's weight as it is.
struct ConvTranspose2dBackward final : Node {
  SavedTensor x, w;  // contiguous input and weight
  ConvGeom geo;      // of the convolution y -> x
  int64_t groups;
  TensorList apply(TensorList&& grads) override {
    NoGradGuard no_grad;
    auto xv = x.unpack(*this), wv = w.unpack(*this);
    auto g = contiguous(grads[0]);
    TensorPtr gx, gw, gb;
    if (needs_input_grad(2)) gb = sum(g, {0, 2, 3}, false);
    if (needs_input_grad(1)) gw = conv_weight_grad(g, xv, geo, groups, wv->shape);
    if (needs_input_grad(0)) {
      gx = empty_tensor(xv->shape, xv->dtype, xv->device);
      conv_forward(g, wv, geo, groups, gx);
    }
    return {gx, gw, gb};
  }
  void release_saved() override { x.reset(); w.reset(); }
  std::string name() const override { return "ConvolutionBackward0"; }
};

void check_conv2d(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const Conv2dOptions& o) {
  const char* op = "conv2d";
  if (x->dim() != 4)
    fail(ErrorKind::Runtime, op, "expected 3D (unbatched) or 4D (batched) input, but got input of size: ",
         shape_str(x->shape), ". Hint: images are [N, C, H, W] (or [C, H, W] for one).");
  if (w->dim() != 4)
    fail(ErrorKind::Runtime, op, "weight must be 4-D [out_channels, in_channels / groups, kH, kW], but got size ",
         shape_str(w->shape));
  if (x->device != w->device || (b && b->device != x->device))
    fail(ErrorKind::Runtime, op, "expected input, weight and bias on the same device, but got input on ", x->device.str(),
         ", weight on ", w->device.str(), b ? ", bias on " + b->device.str() : std::string(),
         ". Hint: move the module with .to(device).");
  if (x->dtype != w->dtype || (b && b->dtype != x->dtype))
    fail(ErrorKind::Runtime, op, "Input type (", dtype_name(x->dtype), ") and weight type (", dtype_name(w->dtype),
         ") should be the same", b && b->dtype != x->dtype ? std::string(", and so should bias type (") + dtype_name(b->dtype) + ")" : "",
         ". Hint: convert the input, e.g. x.to(conv.weight.dtype).");
  if (!is_floating(x->dtype))
    fail(ErrorKind::NotImplemented, op, "not implemented for ", dtype_name(x->dtype),
         " tensors: convolution takes floating-point input. Hint: call .float() first.");
  if (o.groups <= 0) fail(ErrorKind::Runtime, op, "non-positive groups is not supported (got groups=", o.groups, ")");
  for (int d = 0; d < 2; ++d) {
    if (o.stride[d] <= 0) fail(ErrorKind::Runtime, op, "non-positive stride is not supported (got stride=", pair_str(o.stride), ")");
    if (o.dilation[d] <= 0)
      fail(ErrorKind::Runtime, op, "dilation should be greater than zero (got dilation=", pair_str(o.dilation), ")");
    if (o.pad_before[d] < 0 || o.pad_after[d] < 0)
      fail(ErrorKind::Runtime, op, "negative padding is not supported (got padding=", pair_str(o.pad_before), ")");
  }
  const int64_t O = w->shape[0], C = x->shape[1];
  if (O % o.groups != 0)
    fail(ErrorKind::Runtime, op, "Given groups=", o.groups, ", expected weight to be divisible by ", o.groups,
         " at dimension 0, but got weight of size ", shape_str(w->shape),
         " instead. Hint: out_channels must be a multiple of groups.");
  if (w->shape[1] * o.groups != C)
    fail(ErrorKind::Runtime, op, "Given groups=", o.groups, ", weight of size ", shape_str(w->shape), ", expected input",
         shape_str(x->shape), " to have ", w->shape[1] * o.groups, " channels, but got ", C,
         " channels instead. Hint: the layer's in_channels must match the input's dim 1.");
  if (b && (b->dim() != 1 || b->shape[0] != O))
    fail(ErrorKind::Runtime, op, "Given weight of size ", shape_str(w->shape), ", expected bias to be 1-dimensional with ",
         O, " elements, but got bias of size ", shape_str(b->shape), " instead");
  for (int d = 0; d < 2; ++d) {
    const int64_t padded = x->shape[2 + d] + o.pad_before[d] + o.pad_after[d];
    const int64_t extent = o.dilation[d] * (w->shape[2 + d] - 1) + 1;
    if (padded < extent)
      fail(ErrorKind::Runtime, op, "Calculated padded input size per channel: (", x->shape[2] + o.pad_before[0] + o.pad_after[0],
           " x ", x->shape[3] + o.pad_before[1] + o.pad_after[1], "). Kernel size: (", o.dilation[0] * (w->shape[2] - 1) + 1,
           " x ", o.dilation[1] * (w->shape[3] - 1) + 1,
           "). Kernel size can't be greater than actual input size. Hint: pad the input or use a smaller kernel.");
  }
}

}  // namespace

TensorPtr conv2d(const TensorPtr& input, const TensorPtr& weight, const TensorPtr& bias, const Conv2dOptions& o) {
  const bool unbatched = input->dim() == 3;
  const TensorPtr x4 = unbatched ? unsqueeze(input, 0) : input;  // its history leads to input's
  check_conv2d(x4, weight, bias, o);
  TensorPtr x, w, out;
  {
    NoGradGuard no_grad;  // the node below is the op's whole history
    x = contiguous(x4);
    w = contiguous(weight);
    const ConvGeom geo = geometry(x, w, o);
    const int64_t O = w->shape[0];
    out = empty_tensor({geo.N, O, geo.oh, geo.ow}, x->dtype, x->device);
    conv_forward(x, w, geo, o.groups, out);
    if (bias && out->numel() > 0) binary_(BinaryOp::Add, out, view(bias, {1, O, 1, 1}));
  }
  if (compute_requires_grad({&input, &weight, &bias})) {
    auto n = make_node<Conv2dBackward>({x4, weight, bias});
    n->x = SavedTensor(x, false);
    n->w = SavedTensor(w, false);
    n->opt = o;
    set_history(out, n);  // the batched output; an unbatched call's input reaches the node through x4
  }
  return unbatched ? squeeze(out, DimVector{0}) : out;
}

namespace {

void check_transposed(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const ConvTranspose2dOptions& o) {
  const char* op = "conv_transpose2d";
  if (x->dim() != 4)
    fail(ErrorKind::Runtime, op, "expected 3D (unbatched) or 4D (batched) input, but got input of size: ",
         shape_str(x->shape), ". Hint: images are [N, C, H, W] (or [C, H, W] for one).");
  if (w->dim() != 4)
    fail(ErrorKind::Runtime, op, "weight must be 4-D [in_channels, out_channels / groups, kH, kW], but got size ",
         shape_str(w->shape));
  if (x->device != w->device || (b && b->device != x->device))
    fail(ErrorKind::Runtime, op, "expected input, weight and bias on the same device, but got input on ", x->device.str(),
         ", weight on ", w->device.str(), b ? ", bias on " + b->device.str() : std::string(),
         ". Hint: move the module with .to(device).");
  if (x->dtype != w->dtype || (b && b->dtype != x->dtype))
    fail(ErrorKind::Runtime, op, "Input type (", dtype_name(x->dtype), ") and weight type (", dtype_name(w->dtype),
         ") should be the same. Hint: convert the input, e.g. x.to(conv.weight.dtype).");
  if (!is_floating(x->dtype))
    fail(ErrorKind::NotImplemented, op, "not implemented for ", dtype_name(x->dtype),
         " tensors: convolution takes floating-point input. Hint: call .float() first.");
  if (o.groups <= 0) fail(ErrorKind::Runtime, op, "non-positive groups is not supported (got groups=", o.groups, ")");
  for (int d = 0; d < 2; ++d) {
    if (o.stride[d] <= 0) fail(ErrorKind::Runtime, op, "non-positive stride is not supported (got stride=", pair_str(o.stride), ")");
    if (o.dilation[d] <= 0)
      fail(ErrorKind::Runtime, op, "dilation should be greater than zero (got dilation=", pair_str(o.dilation), ")");
    if (o.padding[d] < 0) fail(ErrorKind::Runtime, op, "negative padding is not supported (got padding=", pair_str(o.padding), ")");
    if (o.output_padding[d] < 0 || (o.output_padding[d] >= o.stride[d] && o.output_padding[d] >= o.dilation[d]))
      fail(ErrorKind::Runtime, op, "output padding must be smaller than either stride or dilation, but got output_padding=",
           pair_str(o.output_padding), ", stride=", pair_str(o.stride), " and dilation=", pair_str(o.dilation));
  }
  const int64_t Cin = w->shape[0];
  if (Cin % o.groups != 0)
    fail(ErrorKind::Runtime, op, "Given groups=", o.groups, ", expected weight to be divisible by ", o.groups,
         " at dimension 0, but got weight of size ", shape_str(w->shape), " instead. Hint: in_channels must be a "
         "multiple of groups.");
  if (x->shape[1] != Cin)
    fail(ErrorKind::Runtime, op, "Given transposed=1, weight of size ", shape_str(w->shape), ", expected input",
         shape_str(x->shape), " to have ", Cin, " channels, but got ", x->shape[1],
         " channels instead. Hint: the layer's in_channels must match the input's dim 1.");
  const int64_t Cout = w->shape[1] * o.groups;
  if (b && (b->dim() != 1 || b->shape[0] != Cout))
    fail(ErrorKind::Runtime, op, "Given transposed=1, weight of size ", shape_str(w->shape),
         ", expected bias to be 1-dimensional with ", Cout, " elements, but got bias of size ", shape_str(b->shape),
         " instead");
}

}  // namespace

TensorPtr conv_transpose2d(const TensorPtr& input, const TensorPtr& weight, const TensorPtr& bias,
                           const ConvTranspose2dOptions& o) {
  const bool unbatched = input->dim() == 3;
  const TensorPtr x4 = unbatched ? unsqueeze(input, 0) : input;
  check_transposed(x4, weight, bias, o);
  ConvGeom geo{};  // of the convolution y -> x
  geo.N = x4->shape[0], geo.C = weight->shape[1] * o.groups;
  geo.kh = weight->shape[2], geo.kw = weight->shape[3];
  geo.sh = o.stride[0], geo.sw = o.stride[1], geo.ph = o.padding[0], geo.pw = o.padding[1];
  geo.dh = o.dilation[0], geo.dw = o.dilation[1];
  geo.oh = x4->shape[2], geo.ow = x4->shape[3];
  geo.H = (geo.oh - 1) * geo.sh - 2 * geo.ph + geo.dh * (geo.kh - 1) + o.output_padding[0] + 1;
  geo.W = (geo.ow - 1) * geo.sw - 2 * geo.pw + geo.dw * (geo.kw - 1) + o.output_padding[1] + 1;
  if (geo.H <= 0 || geo.W <= 0)
    fail(ErrorKind::Runtime, "conv_transpose2d", "Given input size per channel: (", geo.oh, " x ", geo.ow,
         "). Calculated output size per channel: (", geo.H, " x ", geo.W, "). Output size is too small. Hint: use "
         "less padding or a larger input.");
  TensorPtr x, w, out;
  {
    NoGradGuard no_grad;
    x = contiguous(x4);
    w = contiguous(weight);
    out = conv_input_grad(x, w, geo, o.groups, x->dtype);
    if (bias && out->numel() > 0) binary_(BinaryOp::Add, out, view(bias, {1, geo.C, 1, 1}));
  }
  if (compute_requires_grad({&input, &weight, &bias})) {
    auto n = make_node<ConvTranspose2dBackward>({x4, weight, bias});
    n->x = SavedTensor(x, false);
    n->w = SavedTensor(w, false);
    n->geo = geo;
    n->groups = o.groups;
    set_history(out, n);
  }
  return unbatched ? squeeze(out, DimVector{0}) : out;
}

// ---- im2col / col2im as ops (F.unfold / F.fold) ----

namespace {

std::string blocks_str(const char* what, const int64_t size[2], const UnfoldOptions& o) {
  std::ostringstream s;
  s << what << "=" << pair_str(size) << ", kernel_size=" << pair_str(o.kernel) << ", dilation=" << pair_str(o.dilation)
    << ", padding=" << pair_str(o.padding) << ", stride=" << pair_str(o.stride);
  return s.str();
}

// The convolution geometry of sliding blocks over [N, C, H, W], with PyTorch's checks.
ConvGeom block_geometry(int64_t N, int64_t C, int64_t H, int64_t W, const UnfoldOptions& o, const char* op,
                        const char* size_name) {
  for (int d = 0; d < 2; ++d) {
    if (o.kernel[d] <= 0)
      fail(ErrorKind::Runtime, op, "kernel size should be greater than zero, but got kernel_size=", pair_str(o.kernel));
    if (o.stride[d] <= 0) fail(ErrorKind::Runtime, op, "stride should be greater than zero, but got stride=", pair_str(o.stride));
    if (o.dilation[d] <= 0)
      fail(ErrorKind::Runtime, op, "dilation should be greater than zero, but got dilation=", pair_str(o.dilation));
    if (o.padding[d] < 0) fail(ErrorKind::Runtime, op, "padding should be non-negative, but got padding=", pair_str(o.padding));
  }
  ConvGeom g{N, C, H, W, o.kernel[0], o.kernel[1], o.stride[0], o.stride[1], o.padding[0], o.padding[1],
             o.dilation[0], o.dilation[1], 0, 0};
  const int64_t hspan = H + 2 * g.ph - g.dh * (g.kh - 1) - 1, wspan = W + 2 * g.pw - g.dw * (g.kw - 1) - 1;
  g.oh = hspan < 0 ? 0 : hspan / g.sh + 1;
  g.ow = wspan < 0 ? 0 : wspan / g.sw + 1;
  if (g.oh < 1 || g.ow < 1) {
    const int64_t size[2] = {H, W}, blocks[2] = {g.oh, g.ow};
    fail(ErrorKind::Runtime, op, "Given ", blocks_str(size_name, size, o), ", calculated shape of the array of sliding "
         "blocks as ", pair_str(blocks), ", but its components must be at least one. Hint: use a smaller kernel or "
         "more padding.");
  }
  return g;
}

struct Im2ColBackward final : Node {  // unfold's backward is fold, and fold's unfold
  ConvGeom geo;
  DimVector input_shape;
  DType dtype;
  bool to_image;  // true: the gradient of unfold (col2im), false: of fold (im2col)
  TensorList apply(TensorList&& grads) override {
    NoGradGuard no_grad;
    auto g = contiguous(grads[0]);
    auto dx = empty_tensor(input_shape, dtype, g->device);
    if (dx->numel() > 0) {
      if (to_image) GC_KERNEL(col2im, *g, geo, *dx);
      else GC_KERNEL(im2col, *g, geo, *dx);
    }
    return {dx};
  }
  std::string name() const override { return to_image ? "Im2ColBackward0" : "Col2ImBackward0"; }
};

TensorPtr sliding_blocks(const TensorPtr& input, const ConvGeom& geo, bool to_image, DimVector out_shape) {
  auto x = [&] {
    NoGradGuard no_grad;
    return contiguous(input);
  }();
  auto out = empty_tensor(out_shape, input->dtype, input->device);
  if (out->numel() > 0) {
    if (to_image) GC_KERNEL(col2im, *x, geo, *out);
    else GC_KERNEL(im2col, *x, geo, *out);
  }
  if (compute_requires_grad({&input})) {
    auto n = make_node<Im2ColBackward>({input});
    n->geo = geo;
    n->input_shape = input->shape;
    n->dtype = input->dtype;
    n->to_image = !to_image;
    set_history(out, n);
  }
  return out;
}

}  // namespace

TensorPtr im2col(const TensorPtr& input, const UnfoldOptions& o) {
  const char* op = "unfold";
  const bool batched = input->dim() == 4;
  if ((input->dim() != 3 && input->dim() != 4) || input->numel() / std::max<int64_t>(batched ? input->shape[0] : 1, 1) == 0)
    fail(ErrorKind::Runtime, op, "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
         "got: ", shape_str(input->shape), ". Hint: images are [N, C, H, W] (or [C, H, W] for one).");
  if (!is_floating(input->dtype))
    fail(ErrorKind::NotImplemented, op, "not implemented for ", dtype_name(input->dtype), " tensors. Hint: call .float() first.");
  const int64_t nd = input->dim(), N = batched ? input->shape[0] : 1;
  const ConvGeom g = block_geometry(N, input->shape[nd - 3], input->shape[nd - 2], input->shape[nd - 1], o, op, "input size");
  DimVector shape{g.rows(), g.cols()};
  if (batched) shape.insert(shape.begin(), N);
  return sliding_blocks(input, g, false, shape);
}

TensorPtr col2im(const TensorPtr& input, const int64_t output_size[2], const UnfoldOptions& o) {
  const char* op = "fold";
  const bool batched = input->dim() == 3;
  if ((input->dim() != 2 && input->dim() != 3) || input->shape[input->dim() - 1] == 0 || input->shape[input->dim() - 2] == 0)
    fail(ErrorKind::Runtime, op, "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
         "non-zero dimensions for input, but got: ", shape_str(input->shape), ". Hint: blocks are [N, C * kH * kW, L] "
         "(or [C * kH * kW, L] for one).");
  if (!is_floating(input->dtype))
    fail(ErrorKind::NotImplemented, op, "not implemented for ", dtype_name(input->dtype), " tensors. Hint: call .float() first.");
  const int64_t nd = input->dim(), rows = input->shape[nd - 2], L = input->shape[nd - 1];
  const int64_t kk = o.kernel[0] * o.kernel[1];
  if (kk > 0 && rows % kk != 0)
    fail(ErrorKind::Runtime, op, "Expected size of input's dimension ", nd - 2, " to be divisible by the product of "
         "kernel_size, but got input.size(", nd - 2, ")=", rows, " and kernel_size=", pair_str(o.kernel));
  const int64_t N = batched ? input->shape[0] : 1;
  const ConvGeom g = block_geometry(N, kk > 0 ? rows / kk : 0, output_size[0], output_size[1], o, op, "output_size");
  if (g.cols() != L)
    fail(ErrorKind::Runtime, op, "Given ", blocks_str("output_size", output_size, o), ", expected size of input's "
         "dimension ", nd - 1, " to match the calculated number of sliding blocks ", g.oh, " * ", g.ow, " = ", g.cols(),
         ", but got input.size(", nd - 1, ")=", L, ".");
  DimVector shape{g.C, g.H, g.W};
  if (batched) shape.insert(shape.begin(), N);
  return sliding_blocks(input, g, true, shape);
}

}  // namespace gc::ops
