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
#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <tuple>
#include "autograd/node.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "ops/window.h"

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

// The batch is walked in chunks of images, each chunk's columns built, used by its GEMMs and
// dropped while they are still in cache (a whole batch's columns are kh*kw times the input: tens
// of MB for a small CNN, which the GEMMs would then stream from memory). On the CPU a chunk's
// columns stay under about 1 MB; on CUDA the whole batch is one chunk.
struct Chunks {
  ConvGeom geo;  // of the whole batch
  int64_t size;  // images per chunk
  Chunks(const ConvGeom& g, const TensorPtr& t) : geo(g) {
    const int64_t n = std::max<int64_t>(g.N, 1);
    if (!t->device.is_cpu()) {
      size = n;
      return;
    }
    const int64_t bytes = std::max<int64_t>(g.rows() * g.cols() * static_cast<int64_t>(t->itemsize()), 1);
    size = std::clamp<int64_t>((int64_t(1) << 20) / bytes, 1, n);
  }
  // A columns buffer for one chunk, and its first cnt images.
  TensorPtr buffer(const TensorPtr& like) const { return empty_tensor({size, geo.rows(), geo.cols()}, like->dtype, like->device); }
  ConvGeom of(int64_t cnt) const {
    ConvGeom g = geo;
    g.N = cnt;
    return g;
  }
  // f(first image, image count) over the batch.
  template <typename F>
  void each(const F& f) const {
    for (int64_t n0 = 0; n0 < geo.N; n0 += size) f(n0, std::min(size, geo.N - n0));
  }
};

// Images [n0, n0 + cnt) of a contiguous batch t, as a view.
TensorPtr images(const TensorPtr& t, int64_t n0, int64_t cnt) {
  DimVector shape = t->shape;
  shape[0] = cnt;
  const int64_t per_image = t->shape[0] > 0 ? t->numel() / t->shape[0] : 0;
  return raw(t, shape, contiguous_strides(shape), n0 * per_image);
}

// The CPU runs each of the three routines below as one image-parallel kernel (cpu/conv.cpp: the
// same columns and GEMMs, scheduled image by image with per-thread buffers); the chunked sequence
// of ops here is what CUDA runs, and the CPU's slow twin in tests (GRADCORE_CONV_GENERIC=1).
bool cpu_kernel_for(const TensorPtr& t) {
  if (!t->device.is_cpu()) return false;
  const char* env = std::getenv("GRADCORE_CONV_GENERIC");
  return !(env && env[0] == '1');
}

// out [N, O, oh, ow] = conv(x, w) + bias of contiguous x [N, C, H, W], w [O, C/groups, kh, kw] and
// bias [O] (or null).
void conv_forward(const TensorPtr& x, const TensorPtr& w, const TensorPtr& bias, const ConvGeom& geo, int64_t groups,
                  const TensorPtr& out) {
  if (out->numel() == 0) return;
  const int64_t O = w->shape[0];
  if (geo.rows() == 0) {
    fill_(out, Scalar::from_int(0));
    if (bias) binary_(BinaryOp::Add, out, view(bias, {1, O, 1, 1}));
    return;
  }
  if (cpu_kernel_for(x)) {
    auto b = bias ? contiguous(bias) : nullptr;
    call_widening(Widen::All, [](auto&&... a) { cpu::conv2d_forward(a...); }, *x, *w, b.get(), geo, groups, *out);
    return;
  }
  const GroupViews gv{O / groups, geo.rows() / groups, geo.cols()};
  const Chunks chunks(geo, x);
  auto buf = chunks.buffer(x);
  chunks.each([&](int64_t n0, int64_t cnt) {
    auto cols = images(buf, 0, cnt);
    GC_KERNEL(im2col, *images(x, n0, cnt), chunks.of(cnt), *cols);
    auto out_c = images(out, n0, cnt);
    for (int64_t gi = 0; gi < groups; ++gi) gemm_into(gv.out(out_c, gi, groups), gv.w(w, gi), gv.cols(cols, gi, groups), 1.0, 0.0);
  });
  if (bias) binary_(BinaryOp::Add, out, view(bias, {1, O, 1, 1}));
}

// dx [N, C, H, W] of the convolution above from g [N, O, oh, ow] (contiguous): col2im(W^T @ g).
TensorPtr conv_input_grad(const TensorPtr& g, const TensorPtr& w, const ConvGeom& geo, int64_t groups, DType dtype) {
  const int64_t O = w->shape[0];
  const GroupViews gv{O / groups, geo.rows() / groups, geo.cols()};
  auto dx = empty_tensor({geo.N, geo.C, geo.H, geo.W}, dtype, g->device);
  if (dx->numel() == 0) return dx;
  if (O == 0 || geo.cols() == 0) {
    fill_(dx, Scalar::from_int(0));
    return dx;
  }
  if (cpu_kernel_for(g)) {
    call_widening(Widen::All, [](auto&&... a) { cpu::conv2d_input_grad(a...); }, *g, *w, geo, groups, *dx);
    return dx;
  }
  const Chunks chunks(geo, g);
  auto buf = chunks.buffer(dx);
  chunks.each([&](int64_t n0, int64_t cnt) {
    auto dcols = images(buf, 0, cnt);
    auto g_c = images(g, n0, cnt);
    for (int64_t gi = 0; gi < groups; ++gi)
      gemm_into(gv.cols(dcols, gi, groups), gv.w_t(w, gi), gv.out(g_c, gi, groups), 1.0, 0.0);
    GC_KERNEL(col2im, *dcols, chunks.of(cnt), *images(dx, n0, cnt));
  });
  return dx;
}

// dW [O, C/groups, kh, kw] of the convolution above, sum over images of g_g[n] @ cols_g[n]^T, and
// db [O], g summed over all but O; each only when asked for (null otherwise).
std::pair<TensorPtr, TensorPtr> conv_weight_grad(const TensorPtr& x, const TensorPtr& g, const ConvGeom& geo,
                                                 int64_t groups, const DimVector& w_shape, bool want_w, bool want_b) {
  const int64_t O = w_shape[0];
  const GroupViews gv{O / groups, geo.rows() / groups, geo.cols()};
  TensorPtr gw = want_w ? empty_tensor(w_shape, x->dtype, x->device) : nullptr;
  TensorPtr gb = want_b ? empty_tensor({O}, x->dtype, x->device) : nullptr;
  const bool any_w = gw && gw->numel() > 0;
  if (geo.N == 0 || geo.cols() == 0 || O == 0) {
    if (gw) fill_(gw, Scalar::from_int(0));
    if (gb) fill_(gb, Scalar::from_int(0));
    return {gw, gb};
  }
  if (cpu_kernel_for(x)) {
    call_widening(Widen::All, [](auto&&... a) { cpu::conv2d_weight_grad(a...); }, *x, *g, geo, groups,
                  static_cast<const Tensor*>(any_w ? gw.get() : nullptr), static_cast<const Tensor*>(gb.get()));
    return {gw, gb};
  }
  if (gb) gb = sum(g, {0, 2, 3}, false);
  if (!any_w) return {gw, gb};
  const Chunks chunks(geo, x);
  auto buf = chunks.buffer(x);
  chunks.each([&](int64_t n0, int64_t cnt) {
    GC_KERNEL(im2col, *images(x, n0, cnt), chunks.of(cnt), *images(buf, 0, cnt));
    for (int64_t gi = 0; gi < groups; ++gi) {
      auto dwg = raw(gw, {gv.Og, gv.Rg}, {gv.Rg, 1}, gi * gv.Og * gv.Rg);
      for (int64_t k = 0; k < cnt; ++k) {
        const int64_t n = n0 + k;  // dW_g += g_g[n] [Og, L] @ cols_g[n]^T [L, Rg]
        auto gn = raw(g, {gv.Og, gv.L}, {gv.L, 1}, (n * O + gi * gv.Og) * gv.L);
        auto cn_t = raw(buf, {gv.L, gv.Rg}, {1, gv.L}, (k * geo.rows() + gi * gv.Rg) * gv.L);
        gemm_into(dwg, gn, cn_t, 1.0, n == 0 ? 0.0 : 1.0);
      }
    }
  });
  return {gw, gb};
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
    if (needs_input_grad(1) || needs_input_grad(2))
      std::tie(gw, gb) = conv_weight_grad(xv, g, geo, opt.groups, wv->shape, needs_input_grad(1), needs_input_grad(2));
    if (needs_input_grad(0)) gx = conv_input_grad(g, wv, geo, opt.groups, xv->dtype);
    return {gx, gw, gb};
  }
  void visit_saved(const SavedVisitor& v) override { v("input", x); v("weight", w); }
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
    if (needs_input_grad(1)) gw = conv_weight_grad(g, xv, geo, groups, wv->shape, true, false).first;
    if (needs_input_grad(0)) {
      gx = empty_tensor(xv->shape, xv->dtype, xv->device);
      conv_forward(g, wv, nullptr, geo, groups, gx);
    }
    return {gx, gw, gb};
  }
  void visit_saved(const SavedVisitor& v) override { v("input", x); v("weight", w); }
  std::string name() const override { return "ConvolutionBackward0"; }
};

// Rank, device, dtype and groups checks of a 2-D (transposed) convolution's operands, with
// PyTorch's messages; weight_layout names the weight's dims.
void check_conv_operands(const char* op, const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, int64_t groups,
                         const int64_t stride[2], const int64_t dilation[2], const char* weight_layout) {
  if (x->dim() != 4)
    fail(ErrorKind::Runtime, op, "expected 3D (unbatched) or 4D (batched) input, but got input of size: ",
         shape_str(x->shape), ". Hint: images are [N, C, H, W] (or [C, H, W] for one).");
  if (w->dim() != 4)
    fail(ErrorKind::Runtime, op, "weight must be 4-D ", weight_layout, ", but got size ", shape_str(w->shape));
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
  if (groups <= 0) fail(ErrorKind::Runtime, op, "non-positive groups is not supported (got groups=", groups, ")");
  for (int d = 0; d < 2; ++d) {
    if (stride[d] <= 0) fail(ErrorKind::Runtime, op, "non-positive stride is not supported (got stride=", pair_str(stride), ")");
    if (dilation[d] <= 0)
      fail(ErrorKind::Runtime, op, "dilation should be greater than zero (got dilation=", pair_str(dilation), ")");
  }
}

void check_conv2d(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const Conv2dOptions& o) {
  const char* op = "conv2d";
  check_conv_operands(op, x, w, b, o.groups, o.stride, o.dilation, "[out_channels, in_channels / groups, kH, kW]");
  for (int d = 0; d < 2; ++d) {
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
    conv_forward(x, w, bias, geo, o.groups, out);
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
  check_conv_operands(op, x, w, b, o.groups, o.stride, o.dilation, "[in_channels, out_channels / groups, kH, kW]");
  for (int d = 0; d < 2; ++d) {
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
  check_window(op, o.kernel, o.stride, o.dilation);
  for (int d = 0; d < 2; ++d)
    if (o.padding[d] < 0) fail(ErrorKind::Runtime, op, "padding should be non-negative, but got padding=", pair_str(o.padding));
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
