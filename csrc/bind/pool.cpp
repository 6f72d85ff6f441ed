// Bindings of the pooling family: gradcore._C._nn.max_pool2d, avg_pool2d (nn.functional's and the
// layers', and over a height of 1 the 1-D forms), with PyTorch's argument forms (an int or a pair;
// stride None or empty means the kernel size), and adaptive_max_pool2d / adaptive_avg_pool2d taking
// the output size as two ints (Python resolves PyTorch's int / tuple / None forms).
#include "bind/common.h"

namespace gc::bind {

namespace {

// An int or a pair, with PyTorch's error for another length.
void pool_pair(py::handle h, const char* op, const char* arg, int64_t out[2]) {
  int_pair(h, op, arg, out, [&](const DimVector& v) {
    fail(ErrorKind::Runtime, op, arg, " must either be a single int, or a tuple of two ints, got ", arg, "=",
         shape_str(v));
  });
}

// kernel_size, stride (None or empty: the kernel size) and padding of a sliding-window pool.
ops::Pool2dOptions pool_options(const char* op, py::handle kernel_size, py::handle stride, py::handle padding) {
  ops::Pool2dOptions o;
  pool_pair(kernel_size, op, "kernel_size", o.kernel);
  const bool no_stride = stride.is_none() || (PySequence_Check(stride.ptr()) && py::len(stride) == 0);
  if (no_stride) o.stride[0] = o.kernel[0], o.stride[1] = o.kernel[1];
  else pool_pair(stride, op, "stride", o.stride);
  pool_pair(padding, op, "padding", o.padding);
  return o;
}

py::object with_indices(std::pair<TensorPtr, TensorPtr> r, bool return_indices) {
  if (return_indices) return py::make_tuple(r.first, r.second);
  return py::cast(r.first);
}

}  // namespace

static void bind_pool(py::module_& m, TensorClass&) {
  auto nn = m.attr("_nn").cast<py::module_>();
  nn.def("max_pool2d", [](const TensorPtr& input, py::object kernel_size, py::object stride, py::object padding,
                          py::object dilation, bool ceil_mode, bool return_indices) -> py::object {
    ops::Pool2dOptions o = pool_options("max_pool2d", kernel_size, stride, padding);
    pool_pair(dilation, "max_pool2d", "dilation", o.dilation);
    o.ceil_mode = ceil_mode;
    return with_indices(maybe_release(input->numel() * o.kernel[0] * o.kernel[1], [&] { return ops::max_pool2d(input, o); }),
                        return_indices);
  }, py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0,
     py::arg("dilation") = 1, py::arg("ceil_mode") = false, py::arg("return_indices") = false);
  nn.def("avg_pool2d", [](const TensorPtr& input, py::object kernel_size, py::object stride, py::object padding,
                          bool ceil_mode, bool count_include_pad, py::object divisor_override) {
    ops::Pool2dOptions o = pool_options("avg_pool2d", kernel_size, stride, padding);
    o.ceil_mode = ceil_mode;
    const int64_t divisor = divisor_override.is_none() ? -1 : divisor_override.cast<int64_t>();
    return maybe_release(input->numel() * o.kernel[0] * o.kernel[1],
                         [&] { return ops::avg_pool2d(input, o, count_include_pad, divisor); });
  }, py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0,
     py::arg("ceil_mode") = false, py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none());
  nn.def("adaptive_max_pool2d", [](const TensorPtr& input, int64_t out_h, int64_t out_w, bool return_indices) {
    return with_indices(maybe_release(input->numel() * 4, [&] { return ops::adaptive_max_pool2d(input, out_h, out_w); }),
                        return_indices);
  }, py::arg("input"), py::arg("out_h"), py::arg("out_w"), py::arg("return_indices") = false);
  nn.def("adaptive_avg_pool2d", [](const TensorPtr& input, int64_t out_h, int64_t out_w) {
    return maybe_release(input->numel() * 4, [&] { return ops::adaptive_avg_pool2d(input, out_h, out_w); });
  }, py::arg("input"), py::arg("out_h"), py::arg("out_w"));
}

GC_REGISTER_BINDINGS(bind_pool)

}  // namespace gc::bind
