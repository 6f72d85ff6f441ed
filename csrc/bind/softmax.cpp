// Bindings of the softmax family: x.softmax(dim) and gradcore.softmax(input, dim, dtype=None)
// (and log_softmax), with PyTorch's argument names and defaults.
#include "bind/common.h"

namespace gc::bind {

static int64_t dim_arg(py::handle h, const char* op) {
  if (h.is_none() || PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
    fail(ErrorKind::Type, op, "argument 'dim' must be an int, not ", py::str(py::type::of(h).attr("__name__")).cast<std::string>(),
         ". Hint: name the class dim, e.g. ", op, "(x, dim=-1)");
  return py::int_(py::reinterpret_borrow<py::object>(h)).cast<int64_t>();
}

static void bind_softmax(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  for (bool log : {false, true}) {
    const char* name = log ? "log_softmax" : "softmax";
    // dtype, when given, casts the input first (differentiably), as PyTorch's does; else, under
    // CUDA autocast, a 16-bit input computes in float32 (fp32_set_opt_dtype).
    auto f = [log, name](const TensorPtr& x, py::object dim, py::object dtype) {
      int64_t d = dim_arg(dim, name);
      auto dt = optional_dtype(dtype, name);
      return maybe_release(x->numel(), [&] {
        auto in = dt ? ops::to_dtype(x, *dt) : ops::autocast(name, x);
        return log ? ops::log_softmax(in, d) : ops::softmax(in, d);
      });
    };
    cls.def(name, f, py::arg("dim"), py::arg("dtype") = py::none());
    fns.def(name, f, py::arg("input"), py::arg("dim"), py::arg("dtype") = py::none());
  }
}

GC_REGISTER_BINDINGS(bind_softmax)

}  // namespace gc::bind
