// Binding of gradcore._C._nn.batch_norm (nn.functional.batch_norm and the BatchNorm layers), with
// PyTorch's argument order.
#include "bind/common.h"

namespace gc::bind {

static void bind_norm(py::module_& m, TensorClass&) {
  auto nn = m.attr("_nn").cast<py::module_>();
  nn.def("batch_norm", [](const TensorPtr& input, std::optional<TensorPtr> running_mean,
                          std::optional<TensorPtr> running_var, std::optional<TensorPtr> weight,
                          std::optional<TensorPtr> bias, bool training, double momentum, double eps) {
    auto opt = [](const std::optional<TensorPtr>& t) -> TensorPtr { return t ? *t : nullptr; };
    return maybe_release(input->numel(), [&] {
      return ops::batch_norm(input, opt(weight), opt(bias), opt(running_mean), opt(running_var), training, momentum, eps);
    });
  }, py::arg("input"), py::arg("running_mean"), py::arg("running_var"), py::arg("weight") = py::none(),
     py::arg("bias") = py::none(), py::arg("training") = false, py::arg("momentum") = 0.1, py::arg("eps") = 1e-5);
}

GC_REGISTER_BINDINGS(bind_norm)

}  // namespace gc::bind
