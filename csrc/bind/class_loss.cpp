// Bindings of the class losses: _C._cross_entropy and _C._nll_loss, which nn.functional wraps,
// with PyTorch's argument names and defaults.
#include "bind/common.h"

namespace gc::bind {

static void bind_class_loss(py::module_& m, TensorClass&) {
  m.def(
      "_cross_entropy",
      [](py::object input, py::object target, py::object weight, py::object reduction, int64_t ignore_index,
         double label_smoothing) {
        const char* op = "cross_entropy";
        // PyTorch's cross_entropy is aten::cross_entropy_loss, on the CPU's float32 list; on CUDA's
        // it is not, but the log_softmax and nll_loss it is made of are: each tensor takes the casts
        // of both layers (the second is a no-op after the first).
        auto x = ops::autocast("log_softmax", ops::autocast("cross_entropy_loss", as_tensor(input, op, "input")));
        auto t = ops::autocast("cross_entropy_loss", as_tensor(target, op, "target"));
        auto w = ops::autocast("nll_loss", ops::autocast("cross_entropy_loss", optional_tensor(weight, op, "weight")));
        auto red = reduction_arg(reduction, op);
        return maybe_release(x->numel(), [&] { return ops::cross_entropy(x, t, w, red, ignore_index, label_smoothing); });
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("reduction") = "mean",
      py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0);
  m.def(
      "_nll_loss",
      [](py::object input, py::object target, py::object weight, py::object reduction, int64_t ignore_index) {
        const char* op = "nll_loss";
        auto x = ops::autocast(op, as_tensor(input, op, "input")), t = as_tensor(target, op, "target");
        auto w = ops::autocast(op, optional_tensor(weight, op, "weight"));
        auto red = reduction_arg(reduction, op);
        return maybe_release(x->numel(), [&] { return ops::nll_loss(x, t, w, red, ignore_index); });
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("reduction") = "mean",
      py::arg("ignore_index") = -100);
}

GC_REGISTER_BINDINGS(bind_class_loss)

}  // namespace gc::bind
