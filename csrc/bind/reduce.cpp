// Bindings of the reduction family.
#include "bind/common.h"

namespace gc::bind {

static void bind_reduce(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  auto sum = [](const TensorPtr& x, py::object dim, bool keepdim, py::object dtype) {
    auto dims = dims_arg(dim, "sum");
    auto dt = optional_dtype(dtype, "sum");
    return maybe_release(x->numel(), [&] { return ops::sum(x, dims, keepdim, dt); });
  };
  auto mean = [](const TensorPtr& x, py::object dim, bool keepdim, py::object dtype) {
    auto dims = dims_arg(dim, "mean");
    auto dt = optional_dtype(dtype, "mean");
    return maybe_release(x->numel(), [&] { return ops::mean(x, dims, keepdim, dt); });
  };
  cls.def("sum", sum, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());
  fns.def("sum", sum, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
          py::arg("dtype") = py::none());
  cls.def("mean", mean, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());
  fns.def("mean", mean, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
          py::arg("dtype") = py::none());
}

GC_REGISTER_BINDINGS(bind_reduce)

}  // namespace gc::bind
