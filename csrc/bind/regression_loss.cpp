// Bindings of the regression losses: _C._mse_loss, which nn.functional.mse_loss wraps.
#include "bind/common.h"

namespace gc::bind {

static void bind_regression_loss(py::module_& m, TensorClass&) {
  m.def(
      "_mse_loss",
      [](py::object input, py::object target, py::object reduction) {
        const char* op = "mse_loss";
        auto x = ops::autocast(op, as_tensor(input, op, "input")), t = ops::autocast(op, as_tensor(target, op, "target"));
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
}

GC_REGISTER_BINDINGS(bind_regression_loss)

}  // namespace gc::bind
