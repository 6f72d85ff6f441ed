// gradcore._C: the Tensor class first, then every op family's bindings (registered by the
// family's own binding file), and the one place where C++ errors become Python exceptions.
#include <vector>
#include "bind/common.h"

namespace gc::bind {

static std::vector<Binder>& binders(bool after_all) {
  static std::vector<Binder> first, last;
  return after_all ? last : first;
}
int register_binder(Binder b, bool after_all) {
  binders(after_all).push_back(b);
  return 0;
}

py::module_ functions(py::module_& m) { return m.attr("functions").cast<py::module_>(); }

py::object values_indices_type(py::module_& m, const char* name) {
  py::module_ rt = functions(m).attr("return_types");
  if (!py::hasattr(rt, name))
    rt.attr(name) = py::module_::import("collections")
                        .attr("namedtuple")(name, py::make_tuple("values", "indices"), py::arg("module") = "gradcore.return_types");
  return rt.attr(name);
}

void bind_tensor_class(py::module_& m, TensorClass& cls);  // bind/tensor.cpp

}  // namespace gc::bind

PYBIND11_MODULE(_C, m) {
  using namespace gc;
  m.doc() = "gradcore native core: tensors, CPU kernels and reverse-mode autograd";
  m.def_submodule("functions", "ops exported as gradcore.<name>").attr("return_types") =
      m.def_submodule("return_types", "named tuples returned by ops (gradcore.return_types), like torch.return_types");
  m.def_submodule("_nn", "ops that nn.functional wraps (gradcore.nn.functional.<name>)");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const py::cast_error& e) {
      // A Python value of the wrong type reaching a typed C++ argument: PyTorch's TypeError.
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const Error& e) {
      switch (e.kind) {
        case ErrorKind::Value: PyErr_SetString(PyExc_ValueError, e.what()); return;
        case ErrorKind::Index: PyErr_SetString(PyExc_IndexError, e.what()); return;
        case ErrorKind::Type: PyErr_SetString(PyExc_TypeError, e.what()); return;
        case ErrorKind::NotImplemented: PyErr_SetString(PyExc_NotImplementedError, e.what()); return;
        case ErrorKind::Runtime: PyErr_SetString(PyExc_RuntimeError, e.what()); return;
        case ErrorKind::Assertion: PyErr_SetString(PyExc_AssertionError, e.what()); return;
      }
    }
  });
  bind::TensorClass cls(m, "Tensor", py::buffer_protocol());
  bind::bind_tensor_class(m, cls);
  for (auto b : bind::binders(false)) b(m, cls);
  for (auto b : bind::binders(true)) b(m, cls);
  bind::install_out_arguments(m);
}
