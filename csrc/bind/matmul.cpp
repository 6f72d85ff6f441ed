// Bindings of the matmul family: a @ b, matmul/mm/bmm as methods and gradcore functions, and
// _C._linear for nn.functional.linear, _C._gemm_into for tests. Big products run with the GIL released.
#include <algorithm>
#include "bind/common.h"
#include "cpu/matmul.h"

namespace gc::bind {

// Multiply-adds of a @ b, roughly: every element of one operand meets a row or column of the
// other. Only decides whether releasing the GIL is worth it.
static int64_t matmul_work(const TensorPtr& a, const TensorPtr& b) {
  const int64_t m = a->dim() >= 2 ? a->shape[a->dim() - 2] : 1, n = b->dim() >= 2 ? b->shape.back() : 1;
  return std::max(a->numel() * n, b->numel() * m);
}

// op(a, b) on autocast's operands (matmul, mm and bmm compute in its lower precision).
template <typename Op>
static TensorPtr product(const char* name, Op op, const TensorPtr& a0, const TensorPtr& b0) {
  const TensorPtr a = ops::autocast(name, a0), b = ops::autocast(name, b0);
  return maybe_release(matmul_work(a, b), [&] { return op(a, b); });
}

static void bind_matmul(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  // Operators return NotImplemented for non-tensors so Python raises its usual TypeError.
  cls.def("__matmul__", [](const TensorPtr& self, py::object other) -> py::object {
    if (!is_tensor(other)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(product("matmul", &ops::matmul, self, other.cast<TensorPtr>()));
  }, py::is_operator());
  cls.def("__rmatmul__", [](const TensorPtr& self, py::object other) -> py::object {
    if (!is_tensor(other)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(product("matmul", &ops::matmul, other.cast<TensorPtr>(), self));
  }, py::is_operator());

  struct Def { const char* name; const char* arg; TensorPtr (*op)(const TensorPtr&, const TensorPtr&); };
  static const Def defs[] = {{"matmul", "other", &ops::matmul}, {"mm", "mat2", &ops::mm}, {"bmm", "mat2", &ops::bmm}};
  for (const auto& d : defs) {
    const Def* def = &d;
    auto f = [def](py::object a, py::object b) {
      return product(def->name, def->op, as_tensor(a, def->name, "input"), as_tensor(b, def->name, def->arg));
    };
    cls.def(d.name, f, py::arg(d.arg));
    fns.def(d.name, f, py::arg("input"), py::arg(d.arg));
  }

  // _linear_relu is relu(linear(...)) in one op: nn.Sequential uses it for a Linear followed by
  // a ReLU, so the pre-activation is never stored and the backward masks and sums in one pass.
  static const std::pair<const char*, TensorPtr (*)(const TensorPtr&, const TensorPtr&, const TensorPtr&)>
      linears[] = {{"_linear", &ops::linear}, {"_linear_relu", &ops::linear_relu}};
  for (const auto& [name, op] : linears) {
    auto fn = op;
    m.def(name, [fn](py::object x, py::object w, py::object b) {
      auto xt = ops::autocast("linear", as_tensor(x, "linear", "input"));
      auto wt = ops::autocast("linear", as_tensor(w, "linear", "weight"));
      TensorPtr bt = b.is_none() ? nullptr : ops::autocast("linear", as_tensor(b, "linear", "bias"));
      int64_t work = xt->numel() * (wt->dim() == 2 ? wt->shape[0] : 1);
      return maybe_release(work, [&] { return fn(xt, wt, bt); });
    }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none());
  }
  // The raw kernel entry (no autograd): out = beta * out + alpha * a @ b, for tests and benchmarks.
  m.def("_gemm_into", [](const TensorPtr& out, const TensorPtr& a, const TensorPtr& b, double alpha, double beta) {
    maybe_release(matmul_work(a, b), [&] { ops::gemm_into(out, a, b, alpha, beta); });
  }, py::arg("out"), py::arg("a"), py::arg("b"), py::arg("alpha") = 1.0, py::arg("beta") = 0.0);
  // How many CPU products took the sparse-A path so far (tests check the path they mean to test).
  m.def("_gemm_sparse_calls", &cpu::gemm_sparse_calls);
  m.def("_gemm_direct_calls", &cpu::gemm_direct_calls);
  m.def("_gemm_16_kernel", [](const std::string& dtype) {
    return std::string(cpu::gemm_16_kernel(dtype == "bfloat16" ? DType::BFloat16 : DType::Float16));
  });
}

GC_REGISTER_BINDINGS(bind_matmul)

}  // namespace gc::bind
