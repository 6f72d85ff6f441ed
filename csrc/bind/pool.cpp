// Bindings of the pooling family: gradcore._C._nn.max_pool2d (nn.functional.max_pool2d, nn.MaxPool2d
// and, over a height of 1, max_pool1d), with PyTorch's argument forms (an int or a pair; stride
// None or empty means the kernel size).
#include "bind/common.h"

namespace gc::bind {

namespace {

// An int or a pair, with PyTorch's max_pool2d error for another length.
void pool_pair(py::handle h, const char* arg, int64_t out[2]) {
  int_pair(h, "max_pool2d", arg, out, [&](const DimVector& v) {
    fail(ErrorKind::Runtime, "max_pool2d", arg, " must either be a single int, or a tuple of two ints, got ", arg,
         "=", shape_str(v));
  });
}

}  // namespace

static void bind_pool(py::module_& m, TensorClass&) {
  auto nn = m.attr("_nn").cast<py::module_>();
  nn.def("max_pool2d", [](const TensorPtr& input, py::object kernel_size, py::object stride, py::object padding,
                          py::object dilation, bool ceil_mode, bool return_indices) -> py::object {
    ops::Pool2dOptions o;
    pool_pair(kernel_size, "kernel_size", o.kernel);
    const bool no_stride = stride.is_none() || (PySequence_Check(stride.ptr()) && py::len(stride) == 0);
    if (no_stride) o.stride[0] = o.kernel[0], o.stride[1] = o.kernel[1];
    else pool_pair(stride, "stride", o.stride);
    pool_pair(padding, "padding", o.padding);
    pool_pair(dilation, "dilation", o.dilation);
    o.ceil_mode = ceil_mode;
    auto [out, indices] = maybe_release(input->numel() * o.kernel[0] * o.kernel[1], [&] { return ops::max_pool2d(input, o); });
    if (return_indices) return py::make_tuple(out, indices);
    return py::cast(out);
  }, py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0,
     py::arg("dilation") = 1, py::arg("ceil_mode") = false, py::arg("return_indices") = false);
}

GC_REGISTER_BINDINGS(bind_pool)

}  // namespace gc::bind
