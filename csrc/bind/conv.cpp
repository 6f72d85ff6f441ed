// Bindings of the convolution family: gradcore._C._nn.conv2d (nn.functional.conv2d, nn.Conv2d and,
// over a height of 1, conv1d), conv_transpose2d, unfold and fold, with PyTorch's argument forms: an
// int or a pair for stride, dilation and padding, and conv2d's padding='valid' / 'same'.
#include "bind/common.h"

namespace gc::bind {

namespace {

// An int or a pair, with PyTorch's convolution error for another length.
void conv_pair(py::handle h, const char* arg, int64_t out[2], const char* op = "conv2d") {
  int_pair(h, op, arg, out, [&](const DimVector& v) {
    fail(ErrorKind::Runtime, op, "expected ", arg, " to be a single integer value or a list of 2 values to "
         "match the convolution dimensions, but got ", arg, "=", shape_str(v));
  });
}

// kernel_size, dilation, padding and stride of F.unfold / F.fold.
ops::UnfoldOptions unfold_options(const char* op, py::handle kernel_size, py::handle dilation, py::handle padding,
                                  py::handle stride) {
  ops::UnfoldOptions o;
  conv_pair(kernel_size, "kernel_size", o.kernel, op);
  conv_pair(dilation, "dilation", o.dilation, op);
  conv_pair(padding, "padding", o.padding, op);
  conv_pair(stride, "stride", o.stride, op);
  return o;
}

ops::Conv2dOptions conv_options(const TensorPtr& weight, py::handle stride, py::handle padding, py::handle dilation,
                                int64_t groups) {
  ops::Conv2dOptions o;
  conv_pair(stride, "stride", o.stride);
  conv_pair(dilation, "dilation", o.dilation);
  o.groups = groups;
  if (PyUnicode_Check(padding.ptr())) {
    const auto mode = padding.cast<std::string>();
    if (mode == "valid") return o;
    if (mode != "same")
      fail(ErrorKind::Runtime, "conv2d", "Invalid padding string: '", mode, "' (expected 'valid' or 'same')");
    if (o.stride[0] != 1 || o.stride[1] != 1)
      fail(ErrorKind::Runtime, "conv2d", "padding='same' is not supported for strided convolutions (stride=",
           shape_str(DimVector{o.stride[0], o.stride[1]}), "). Hint: give the padding as numbers.");
    for (int d = 0; d < 2; ++d) {  // PyTorch's split: the odd extra row/column goes after
      const int64_t k = weight->dim() == 4 ? weight->shape[2 + d] : 1;
      const int64_t total = o.dilation[d] * (k - 1);
      o.pad_before[d] = total / 2;
      o.pad_after[d] = total - total / 2;
    }
    return o;
  }
  conv_pair(padding, "padding", o.pad_before);
  o.pad_after[0] = o.pad_before[0], o.pad_after[1] = o.pad_before[1];
  return o;
}

}  // namespace

static void bind_conv(py::module_& m, TensorClass&) {
  auto nn = m.attr("_nn").cast<py::module_>();
  nn.def("conv2d", [](const TensorPtr& input, const TensorPtr& weight, std::optional<TensorPtr> bias, py::object stride,
                      py::object padding, py::object dilation, int64_t groups) {
    const auto o = conv_options(weight, stride, padding, dilation, groups);
    const TensorPtr x = ops::autocast("conv2d", input), w = ops::autocast("conv2d", weight);
    const TensorPtr b = bias ? ops::autocast("conv2d", *bias) : nullptr;
    const int64_t per_output = w->dim() > 0 && w->shape[0] > 0 ? w->numel() / w->shape[0] : 1;
    return maybe_release(x->numel() * per_output, [&] { return ops::conv2d(x, w, b, o); });
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
     py::arg("dilation") = 1, py::arg("groups") = 1);
  nn.def("conv_transpose2d", [](const TensorPtr& input, const TensorPtr& weight, std::optional<TensorPtr> bias,
                                py::object stride, py::object padding, py::object output_padding, int64_t groups,
                                py::object dilation) {
    const char* op = "conv_transpose2d";
    ops::ConvTranspose2dOptions o;
    conv_pair(stride, "stride", o.stride, op);
    conv_pair(padding, "padding", o.padding, op);
    conv_pair(output_padding, "output_padding", o.output_padding, op);
    conv_pair(dilation, "dilation", o.dilation, op);
    o.groups = groups;
    const TensorPtr x = ops::autocast("conv_transpose2d", input), w = ops::autocast("conv_transpose2d", weight);
    const TensorPtr b = bias ? ops::autocast("conv_transpose2d", *bias) : nullptr;
    const int64_t per_input = w->dim() > 0 && w->shape[0] > 0 ? w->numel() / w->shape[0] : 1;
    return maybe_release(x->numel() * per_input, [&] { return ops::conv_transpose2d(x, w, b, o); });
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
     py::arg("output_padding") = 0, py::arg("groups") = 1, py::arg("dilation") = 1);
  nn.def("unfold", [](const TensorPtr& input, py::object kernel_size, py::object dilation, py::object padding,
                      py::object stride) {
    const auto o = unfold_options("unfold", kernel_size, dilation, padding, stride);
    return maybe_release(input->numel() * o.kernel[0] * o.kernel[1], [&] { return ops::im2col(input, o); });
  }, py::arg("input"), py::arg("kernel_size"), py::arg("dilation") = 1, py::arg("padding") = 0, py::arg("stride") = 1);
  nn.def("fold", [](const TensorPtr& input, py::object output_size, py::object kernel_size, py::object dilation,
                    py::object padding, py::object stride) {
    const auto o = unfold_options("fold", kernel_size, dilation, padding, stride);
    int64_t size[2];
    conv_pair(output_size, "output_size", size, "fold");
    return maybe_release(input->numel(), [&] { return ops::col2im(input, size, o); });
  }, py::arg("input"), py::arg("output_size"), py::arg("kernel_size"), py::arg("dilation") = 1, py::arg("padding") = 0,
     py::arg("stride") = 1);
}

GC_REGISTER_BINDINGS(bind_conv)

}  // namespace gc::bind
