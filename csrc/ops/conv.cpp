// The convolution family: conv2d (conv1d is conv2d over a height of 1, in Python). A convolution
// is im2col (kernels/conv.h: every output position's input patch as a column) followed, per group,
// by one batched GEMM on the existing kernels: out_g[n] = W_g @ cols_g[n]. Its backward recomputes
// the columns instead of keeping them (they are kh*kw times the input): dW_g = sum_n g_g[n] @
// cols_g[n]^T, d cols_g[n] = W_g^T @ g_g[n] then col2im, and db sums g over everything but O.
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

struct Conv2dBackward final : Node {
  SavedTensor x, w;  // contiguous input and weight
  Conv2dOptions opt;
  TensorList apply(TensorList&& grads) override {
    NoGradGuard no_grad;
    auto xv = x.unpack(*this), wv = w.unpack(*this);
    auto g = contiguous(grads[0]);
    const ConvGeom geo = geometry(xv, wv, opt);
    const int64_t groups = opt.groups, O = wv->shape[0];
    const GroupViews gv{O / groups, geo.rows() / groups, geo.cols()};
    TensorPtr gx, gw, gb;
    if (needs_input_grad(2)) gb = sum(g, {0, 2, 3}, false);
    if (needs_input_grad(1)) {
      auto cols = im2col_of(xv, geo);
      gw = empty_tensor(wv->shape, wv->dtype, wv->device);
      for (int64_t gi = 0; gi < groups; ++gi) {
        auto dwg = raw(gw, {gv.Og, gv.Rg}, {gv.Rg, 1}, gi * gv.Og * gv.Rg);
        if (geo.N == 0) fill_(dwg, Scalar::from_int(0));
        for (int64_t n = 0; n < geo.N; ++n) {
          // dW_g += g_g[n] [Og, L] @ cols_g[n]^T [L, Rg]
          auto gn = raw(g, {gv.Og, gv.L}, {gv.L, 1}, (n * O + gi * gv.Og) * gv.L);
          auto cn_t = raw(cols, {gv.L, gv.Rg}, {1, gv.L}, (n * geo.rows() + gi * gv.Rg) * gv.L);
          gemm_into(dwg, gn, cn_t, 1.0, n == 0 ? 0.0 : 1.0);
        }
      }
    }
    if (needs_input_grad(0)) {
      auto dcols = empty_tensor({geo.N, geo.rows(), geo.cols()}, g->dtype, g->device);
      if (dcols->numel() > 0)
        for (int64_t gi = 0; gi < groups; ++gi)
          gemm_into(gv.cols(dcols, gi, groups), gv.w_t(wv, gi), gv.out(g, gi, groups), 1.0, 0.0);
      gx = empty_tensor(xv->shape, xv->dtype, xv->device);
      if (gx->numel() > 0) GC_KERNEL(col2im, *dcols, geo, *gx);
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
    const int64_t O = w->shape[0], groups = o.groups;
    out = empty_tensor({geo.N, O, geo.oh, geo.ow}, x->dtype, x->device);
    if (out->numel() > 0) {
      if (geo.rows() == 0) {
        fill_(out, Scalar::from_int(0));
      } else {
        const GroupViews gv{O / groups, geo.rows() / groups, geo.cols()};
        auto cols = im2col_of(x, geo);
        for (int64_t gi = 0; gi < groups; ++gi)
          gemm_into(gv.out(out, gi, groups), gv.w(w, gi), gv.cols(cols, gi, groups), 1.0, 0.0);
      }
      if (bias) binary_(BinaryOp::Add, out, view(bias, {1, O, 1, 1}));
    }
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

}  // namespace gc::ops
