// Bindings of gradcore._C._nn.batch_norm, layer_norm and rms_norm (nn.functional's and the norm
// layers'), with PyTorch's argument order; layer_norm and rms_norm take CUDA autocast's float32 casts.
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
  nn.def("layer_norm", [](const TensorPtr& input, const DimVector& normalized_shape, std::optional<TensorPtr> weight,
                          std::optional<TensorPtr> bias, double eps) {
    const char* op = "layer_norm";
    auto x = ops::autocast(op, input), w = ops::autocast(op, weight.value_or(nullptr)),
         b = ops::autocast(op, bias.value_or(nullptr));
    return maybe_release(x->numel(), [&] { return ops::layer_norm(x, normalized_shape, w, b, eps); });
  }, py::arg("input"), py::arg("normalized_shape"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
     py::arg("eps") = 1e-5);
  nn.def("rms_norm", [](const TensorPtr& input, const DimVector& normalized_shape, std::optional<TensorPtr> weight,
                        std::optional<double> eps) {
    const char* op = "rms_norm";
    auto x = ops::autocast(op, input), w = ops::autocast(op, weight.value_or(nullptr));
    return maybe_release(x->numel(), [&] { return ops::rms_norm(x, normalized_shape, w, eps); });
  }, py::arg("input"), py::arg("normalized_shape"), py::arg("weight") = py::none(), py::arg("eps") = py::none());
}

GC_REGISTER_BINDINGS(bind_norm)

}  // namespace gc::bind
