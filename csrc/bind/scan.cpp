// Bindings of the scans: cumsum / cumprod (dim, *, dtype=None) as gradcore functions and Tensor
// methods, and the in-place cumsum_ / cumprod_, which keep the tensor's dtype.
#include "bind/common.h"

namespace gc::bind {

static void bind_scan(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  for (bool is_sum : {true, false}) {
    const char* name = is_sum ? "cumsum" : "cumprod";
    auto f = [is_sum, name](const TensorPtr& x, int64_t dim, py::object dtype) {
      auto dt = optional_dtype(dtype, name);
      auto xc = ops::autocast(name, x, dt.has_value());
      return maybe_release(x->numel(), [&] { return is_sum ? ops::cumsum(xc, dim, dt) : ops::cumprod(xc, dim, dt); });
    };
    cls.def(name, f, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
    fns.def(name, f, py::arg("input"), py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
    cls.def(is_sum ? "cumsum_" : "cumprod_", [is_sum, name](const TensorPtr& x, int64_t dim, py::object dtype) {
      DType dt = optional_dtype(dtype, name).value_or(x->dtype);
      return maybe_release(x->numel(), [&] {
        return ops::copy_(x, is_sum ? ops::cumsum(x, dim, dt) : ops::cumprod(x, dim, dt));
      });
    }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
  }
}

GC_REGISTER_BINDINGS(bind_scan)

}  // namespace gc::bind
