// Bindings of the softmax family: x.softmax(dim) and gradcore.softmax(input, dim, dtype=None)
// (and log_softmax), plus the loss entry points _C._cross_entropy and _C._nll_loss that
// nn.functional wraps, with PyTorch's argument names and defaults.
#include "bind/common.h"

namespace gc::bind {

static int64_t dim_arg(py::handle h, const char* op) {
  if (h.is_none() || PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
    fail(ErrorKind::Type, op, "argument 'dim' must be an int, not ", py::str(py::type::of(h).attr("__name__")).cast<std::string>(),
         ". Hint: name the class dim, e.g. ", op, "(x, dim=-1)");
  return py::int_(py::reinterpret_borrow<py::object>(h)).cast<int64_t>();
}

static ops::Reduction reduction_arg(py::handle h, const char* op) {
  if (py::isinstance<py::str>(h)) {
    auto s = h.cast<std::string>();
    if (s == "mean") return ops::Reduction::Mean;
    if (s == "sum") return ops::Reduction::Sum;
    if (s == "none") return ops::Reduction::None;
    fail(ErrorKind::Value, op, s, " is not a valid value for reduction. Hint: use 'mean', 'sum' or 'none'.");
  }
  fail(ErrorKind::Type, op, "argument 'reduction' must be a str ('mean', 'sum' or 'none'), not ",
       py::str(py::type::of(h).attr("__name__")).cast<std::string>());
}

static TensorPtr optional_tensor(py::handle h, const char* op, const char* arg) {
  return h.is_none() ? nullptr : as_tensor(h, op, arg);
}

static void bind_softmax(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  for (bool log : {false, true}) {
    const char* name = log ? "log_softmax" : "softmax";
    // dtype, when given, casts the input first (differentiably), as PyTorch's does.
    auto f = [log, name](const TensorPtr& x, py::object dim, py::object dtype) {
      int64_t d = dim_arg(dim, name);
      auto dt = optional_dtype(dtype, name);
      return maybe_release(x->numel(), [&] {
        auto in = dt ? ops::to_dtype(x, *dt) : x;
        return log ? ops::log_softmax(in, d) : ops::softmax(in, d);
      });
    };
    cls.def(name, f, py::arg("dim"), py::arg("dtype") = py::none());
    fns.def(name, f, py::arg("input"), py::arg("dim"), py::arg("dtype") = py::none());
  }

  m.def(
      "_cross_entropy",
      [](py::object input, py::object target, py::object weight, py::object reduction, int64_t ignore_index,
         double label_smoothing) {
        const char* op = "cross_entropy";
        auto x = as_tensor(input, op, "input"), t = as_tensor(target, op, "target");
        auto w = optional_tensor(weight, op, "weight");
        auto red = reduction_arg(reduction, op);
        return maybe_release(x->numel(), [&] { return ops::cross_entropy(x, t, w, red, ignore_index, label_smoothing); });
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("reduction") = "mean",
      py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0);
  m.def(
      "_mse_loss",
      [](py::object input, py::object target, py::object reduction) {
        const char* op = "mse_loss";
        auto x = as_tensor(input, op, "input"), t = as_tensor(target, op, "target");
        auto red = reduction_arg(reduction, op);
        if (x->shape != t->shape) {
          // PyTorch's warning, attributed to the caller of nn.functional.mse_loss (stack level 2).
          auto msg = "Using a target size (gradcore.Size(" + shape_str(t->shape) + ")) that is different to the input "
                     "size (gradcore.Size(" + shape_str(x->shape) + ")). This will likely lead to incorrect results "
                     "due to broadcasting. Please ensure they have the same size.";
          if (PyErr_WarnEx(PyExc_UserWarning, msg.c_str(), 2) < 0) throw py::error_already_set();
        }
        return maybe_release(x->numel(), [&] { return ops::mse_loss(x, t, red); });
      },
      py::arg("input"), py::arg("target"), py::arg("reduction") = "mean");
  m.def(
      "_nll_loss",
      [](py::object input, py::object target, py::object weight, py::object reduction, int64_t ignore_index) {
        const char* op = "nll_loss";
        auto x = as_tensor(input, op, "input"), t = as_tensor(target, op, "target");
        auto w = optional_tensor(weight, op, "weight");
        auto red = reduction_arg(reduction, op);
        return maybe_release(x->numel(), [&] { return ops::nll_loss(x, t, w, red, ignore_index); });
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("reduction") = "mean",
      py::arg("ignore_index") = -100);
}

GC_REGISTER_BINDINGS(bind_softmax)

}  // namespace gc::bind
