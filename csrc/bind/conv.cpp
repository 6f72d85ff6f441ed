// Bindings of the convolution family: gradcore._C._nn.conv2d (nn.functional.conv2d, nn.Conv2d and,
// over a height of 1, conv1d), with PyTorch's argument forms: an int or a pair for stride,
// dilation and padding, and padding='valid' / 'same'.
#include "bind/common.h"

namespace gc::bind {

namespace {

// An int or a pair, with PyTorch's conv2d error for another length.
void conv_pair(py::handle h, const char* arg, int64_t out[2]) {
  int_pair(h, "conv2d", arg, out, [&](const DimVector& v) {
    fail(ErrorKind::Runtime, "conv2d", "expected ", arg, " to be a single integer value or a list of 2 values to "
         "match the convolution dimensions, but got ", arg, "=", shape_str(v));
  });
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
    const TensorPtr b = bias ? *bias : nullptr;
    const int64_t per_output = weight->dim() > 0 && weight->shape[0] > 0 ? weight->numel() / weight->shape[0] : 1;
    return maybe_release(input->numel() * per_output, [&] { return ops::conv2d(input, weight, b, o); });
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
     py::arg("dilation") = 1, py::arg("groups") = 1);
}

GC_REGISTER_BINDINGS(bind_conv)

}  // namespace gc::bind
