// Bindings of views and shapes: view/reshape/permute/transpose/expand/slices as methods and as
// gradcore functions, cat/stack, broadcast_shapes (ops/shape.cpp).
#include "bind/common.h"

namespace gc::bind {

namespace {
// cat/stack's `tensors`: a list or tuple of tensors (any sequence but a Tensor, which is one
// tensor, not a sequence of its rows: PyTorch refuses it with TypeError too).
std::vector<TensorPtr> tensor_sequence(py::handle h, const char* op) {
  if (is_tensor(h) || !PySequence_Check(h.ptr()) || PyUnicode_Check(h.ptr()))
    fail(ErrorKind::Type, op, "argument 'tensors' must be a tuple or list of Tensors, not ", type_name(h));
  std::vector<TensorPtr> out;
  py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
  out.reserve(seq.size());
  for (size_t i = 0; i < seq.size(); ++i) {
    py::object item = seq[i];
    if (!is_tensor(item))
      fail(ErrorKind::Type, op, "expected a sequence of Tensors, but element ", i, " is ", type_name(item));
    out.push_back(item.cast<TensorPtr>());
  }
  return out;
}

}  // namespace

static void bind_shape(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  cls.def("view", [](const TensorPtr& t, py::args a) {
        if (a.size() == 1 && py::isinstance<DType>(a[0]))
          fail(ErrorKind::NotImplemented, "view", "view(dtype) reinterpretation is not supported; use .to(dtype)");
        return ops::view(t, shape_from_args(a, "view"));
      })
      .def("view_as", [](const TensorPtr& t, const TensorPtr& o) { return ops::view(t, o->shape); })
      .def("reshape", [](const TensorPtr& t, py::args a) { return ops::reshape(t, shape_from_args(a, "reshape")); })
      .def("reshape_as", [](const TensorPtr& t, const TensorPtr& o) { return ops::reshape(t, o->shape); })
      .def("flatten", &ops::flatten, py::arg("start_dim") = 0, py::arg("end_dim") = -1)
      .def("unsqueeze", &ops::unsqueeze, py::arg("dim"))
      .def("squeeze", [](const TensorPtr& t, py::object dim) {
        if (dim.is_none()) return ops::squeeze(t, std::nullopt);
        return ops::squeeze(t, dims_arg(dim, "squeeze"));
      }, py::arg("dim") = py::none())
      .def("transpose", &ops::transpose, py::arg("dim0"), py::arg("dim1"))
      .def("t", &ops::matrix_t)
      .def_property_readonly("T", [](const TensorPtr& t) {
        DimVector perm;
        for (int64_t d = t->dim() - 1; d >= 0; --d) perm.push_back(d);
        return ops::permute(t, perm);
      })
      .def_property_readonly("mT", [](const TensorPtr& t) {
        if (t->dim() < 2) fail(ErrorKind::Runtime, "mT", "tensor.mT is only supported on matrices or batches of matrices. Got ", t->dim(), "-D tensor.");
        return ops::transpose(t, -2, -1);
      })
      .def("permute", [](const TensorPtr& t, py::args a) { return ops::permute(t, shape_from_args(a, "permute")); })
      .def("expand", [](const TensorPtr& t, py::args a) { return ops::expand(t, shape_from_args(a, "expand")); })
      .def("expand_as", [](const TensorPtr& t, const TensorPtr& o) { return ops::expand(t, o->shape); })
      .def("narrow", [](const TensorPtr& t, int64_t dim, int64_t start, int64_t length) {
        return ops::slice(t, dim, start, start + length, 1);
      })
      .def("select", &ops::select, py::arg("dim"), py::arg("index"))
      .def("_slice", &ops::slice)
      .def("_split_with_sizes", [](const TensorPtr& t, const std::vector<int64_t>& sizes, int64_t dim, bool by_sizes) {
        return ops::split_with_sizes(t, DimVector(sizes.begin(), sizes.end()), dim, by_sizes);
      })
      .def("as_strided", [](const TensorPtr& t, py::object size, py::object stride, py::object off) {
        return ops::as_strided(t, int_list(size, "as_strided", "size"), int_list(stride, "as_strided", "stride"),
                               off.is_none() ? t->offset : off.cast<int64_t>());
      }, py::arg("size"), py::arg("stride"), py::arg("storage_offset") = py::none());
  // Function forms of the view methods (gradcore.reshape(x, shape), ...).
  fns.def("reshape", [](const TensorPtr& t, py::object shape) { return ops::reshape(t, int_list(shape, "reshape", "shape")); },
          py::arg("input"), py::arg("shape"));
  fns.def("permute", [](const TensorPtr& t, py::object dims) { return ops::permute(t, int_list(dims, "permute", "dims")); },
          py::arg("input"), py::arg("dims"));
  fns.def("flatten", &ops::flatten, py::arg("input"), py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  fns.def("unsqueeze", &ops::unsqueeze, py::arg("input"), py::arg("dim"));
  fns.def("squeeze", [](const TensorPtr& t, py::object dim) {
    return dim.is_none() ? ops::squeeze(t, std::nullopt) : ops::squeeze(t, dims_arg(dim, "squeeze"));
  }, py::arg("input"), py::arg("dim") = py::none());
  fns.def("transpose", &ops::transpose, py::arg("input"), py::arg("dim0"), py::arg("dim1"));
  fns.def("t", &ops::matrix_t, py::arg("input"));
  // cat and stack are on CPU autocast's promote list (concat is PyTorch's cat too).
  fns.def("cat", [](py::object ts, int64_t dim) {
    return ops::cat(ops::autocast_promote("cat", tensor_sequence(ts, "cat")), dim);
  }, py::arg("tensors"), py::arg("dim") = 0);
  fns.def("concat", [](std::vector<TensorPtr> ts, int64_t dim) {
    return ops::cat(ops::autocast_promote("cat", std::move(ts)), dim);
  }, py::arg("tensors"), py::arg("dim") = 0);
  fns.def("stack", [](py::object ts, int64_t dim) {
    return ops::stack(ops::autocast_promote("stack", tensor_sequence(ts, "stack")), dim);
  }, py::arg("tensors"), py::arg("dim") = 0);
  fns.def("broadcast_shapes", [](py::args shapes) {
    DimVector out;
    for (auto s : shapes) out = ops::broadcast_shapes(out, int_list(s, "broadcast_shapes", "shape"), "broadcast_shapes");
    return make_size(out);
  });

}

GC_REGISTER_BINDINGS(bind_shape)

}  // namespace gc::bind
