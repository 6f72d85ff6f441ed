// Bindings of the autograd entry points: Tensor.backward, gradcore._C._run_backward and _run_grad
// (autograd.backward / autograd.grad). The Node type that grad_fn returns is bound with the
// Tensor class (tensor.cpp), before any binding file that derives from it.
#include "autograd/node.h"
#include "bind/common.h"

namespace gc::bind {

namespace {
// A list whose None entries (no gradient given) become null tensors.
TensorList nullable(const std::vector<std::optional<TensorPtr>>& ts) {
  TensorList out;
  out.reserve(ts.size());
  for (const auto& t : ts) out.push_back(t ? *t : nullptr);
  return out;
}

// backward(inputs=...): a tensor or a sequence of tensors; None means every leaf.
TensorList backward_inputs(py::handle inputs) {
  if (inputs.is_none()) return {};
  TensorList out;
  if (is_tensor(inputs)) out.push_back(inputs.cast<TensorPtr>());
  else
    for (auto item : py::iter(inputs)) out.push_back(as_tensor(item, "backward", "inputs"));
  if (out.empty()) fail(ErrorKind::Runtime, "backward", "'inputs' argument to backward() cannot be empty.");
  return out;
}

}  // namespace

static void bind_autograd(py::module_& m, TensorClass& cls) {
  cls.def("backward", [](const TensorPtr& t, py::object gradient, py::object retain_graph, py::object create_graph,
                         py::object inputs) {
    if (!create_graph.is_none() && create_graph.cast<bool>())
      fail(ErrorKind::NotImplemented, "backward", "create_graph=True (higher-order gradients) is not supported by gradcore");
    TensorList g{gradient.is_none() ? nullptr : as_tensor(gradient, "backward", "gradient")};
    bool retain = !retain_graph.is_none() && retain_graph.cast<bool>();
    TensorList ins = backward_inputs(inputs);
    py::gil_scoped_release release;
    run_backward({t}, g, retain, ins);
  }, py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(), py::arg("create_graph") = py::none(),
     py::arg("inputs") = py::none());

  m.def("_run_backward", [](std::vector<TensorPtr> roots, std::vector<std::optional<TensorPtr>> grads, bool retain,
                            py::object inputs) {
    TensorList ins = backward_inputs(inputs), g = nullable(grads);
    py::gil_scoped_release release;
    run_backward(roots, g, retain, ins);
  }, py::arg("roots"), py::arg("grads"), py::arg("retain"), py::arg("inputs") = py::none());
  m.def("_run_grad", [](std::vector<TensorPtr> roots, std::vector<std::optional<TensorPtr>> grads, std::vector<TensorPtr> inputs,
                        bool retain, bool allow_unused) {
    TensorList g = nullable(grads);
    py::gil_scoped_release release;
    return run_grad(roots, g, inputs, retain, allow_unused);
  });
}

GC_REGISTER_BINDINGS(bind_autograd)

}  // namespace gc::bind
