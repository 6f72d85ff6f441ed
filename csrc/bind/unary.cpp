// Bindings of the unary family: every row of kernels/unary.h by its api column (gradcore.exp(x),
// x.exp(), x.exp_(); gradcore._C._nn.silu for nn.functional), then what takes arguments: round's
// decimals, clamp, and the activations with parameters.
#include <cmath>
#include <cstring>
#include "bind/common.h"
#include "core/autocast.h"

namespace gc::bind {

static std::optional<Scalar> opt_scalar(py::handle h, const char* arg) {
  if (h.is_none()) return std::nullopt;
  return to_scalar(h, "clamp", arg);
}

// The input of an out-of-place row under autocast: the policy of the row's aten op (exp, log,
// rsqrt, ... are on CUDA's float32 list), or of pow for square, which PyTorch computes as pow(x, 2).
// The in-place forms are on no list.
// `held` keeps a cast alive; without autocast x itself is returned, with no reference-count update.
static const TensorPtr& autocast_input(const kernels::UnaryFn& f, const TensorPtr& x, TensorPtr& held) {
  if (!Autocast::any()) return x;
  const char* name = kernels::unary_info(f).name;
  return held = ops::autocast(std::strcmp(name, "square") == 0 ? "pow" : name, x);
}

// One op row's bindings, by its api column.
static void bind_row(py::module_& m, TensorClass& cls, const kernels::UnaryFn& f) {
  const auto& info = kernels::unary_info(f);
  auto out_of_place = [f](const TensorPtr& x) {
    TensorPtr held;
    const TensorPtr& xc = autocast_input(f, x, held);
    return maybe_release(xc->numel(), [&] { return ops::unary(f, xc); });
  };
  auto in_place = [f](const TensorPtr& x) { return maybe_release(x->numel(), [&] { return ops::unary_(f, x); }); };
  const std::string inplace_name = std::string(info.name) + "_";
  switch (info.api) {
    case kernels::UnaryApi::Tensor: {
      auto fns = functions(m);
      cls.def(info.name, out_of_place);
      fns.def(info.name, out_of_place, py::arg("input"));
      cls.def(inplace_name.c_str(), in_place);
      fns.def(inplace_name.c_str(), in_place, py::arg("input"));
      return;
    }
    case kernels::UnaryApi::NN: {
      auto nn = m.attr("_nn").cast<py::module_>();
      nn.def(info.name, out_of_place, py::arg("input"));
      nn.def(inplace_name.c_str(), in_place, py::arg("input"));
      return;
    }
    case kernels::UnaryApi::Manual: return;
  }
}

// Fast calls (bind/common.h) for every row with the Tensor surface: gradcore.X(x) and x.X().
template <class F>
struct UnaryFast {
  static inline PyObject* function_fallback = nullptr;
  static inline PyObject* method_fallback = nullptr;
  static PyObject* run(const TensorPtr& x) {
    return slot_call([&] {
      TensorPtr held;
      const TensorPtr& xc = autocast_input(F{}, x, held);
      return py::cast(maybe_release(xc->numel(), [&] { return ops::unary(F{}, xc); })).release().ptr();
    });
  }
  static PyObject* function(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    if (nargs == 1 && !kwnames)
      if (const TensorPtr* x = held_tensor(args[0])) return run(*x);
    return PyObject_Vectorcall(function_fallback, args, static_cast<size_t>(nargs), kwnames);
  }
  static PyObject* method(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    if (nargs == 0 && !kwnames)
      if (const TensorPtr* x = held_tensor(self)) return run(*x);
    return call_method_fallback(method_fallback, self, args, nargs, kwnames);
  }
  static void install(py::module_& m, TensorClass& cls) {
    install_fast_pair<&function, &method>(functions(m), cls, kernels::unary_info(kernels::UnaryFn{F{}}).name,
                                          &function_fallback, &method_fallback);
  }
};

static void unary_fast_calls(py::module_& m, TensorClass& cls) {
#define GC_FAST_ROW(F, name, dtype, saves, api)                       \
  if constexpr (kernels::UnaryApi::api == kernels::UnaryApi::Tensor) \
    UnaryFast<kernels::F>::install(m, cls);
  GC_UNARY_OPS(GC_FAST_ROW)
#undef GC_FAST_ROW
}
GC_REGISTER_FAST_CALLS(unary_fast_calls)

static void bind_unary(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
#define GC_BIND_ROW(F, ...) bind_row(m, cls, kernels::F{});
  GC_UNARY_OPS(GC_BIND_ROW)
#undef GC_BIND_ROW
  cls.def("negative", [](const TensorPtr& x) { return ops::unary(kernels::Neg{}, x); });
  fns.def("negative", [](const TensorPtr& x) { return ops::unary(kernels::Neg{}, x); }, py::arg("input"));
  cls.def("negative_", [](const TensorPtr& x) { return ops::unary_(kernels::Neg{}, x); });
  fns.def("negative_", [](const TensorPtr& x) { return ops::unary_(kernels::Neg{}, x); }, py::arg("input"));
  cls.def("__neg__", [](const TensorPtr& x) { return ops::unary(kernels::Neg{}, x); });
  cls.def("__abs__", [](const TensorPtr& x) { return ops::unary(kernels::Abs{}, x); });
  cls.def("__invert__", [](const TensorPtr& x) {
    if (x->dtype != DType::Bool) fail(ErrorKind::Type, "bitwise_not", "~ is only supported on bool tensors in gradcore, got ", dtype_name(x->dtype));
    return ops::unary(kernels::LogicalNot{}, x);
  });
  // -t as the type's C slot (see install_number_slots in bind/binary.cpp); __neg__ stays for
  // Tensor.__neg__ and Python subclasses.
  reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_as_number->nb_negative = [](PyObject* x) {
    return slot_call([&] { return py::cast(ops::unary(kernels::Neg{}, as_tensor(x, "neg", "input"))).release().ptr(); });
  };
  PyType_Modified(reinterpret_cast<PyTypeObject*>(cls.ptr()));

  // round(x, decimals=d): PyTorch's formula, nearbyint(x * 10^d) / 10^d (divide and multiply
  // for negative d, so the power of ten stays exact).
  auto round = [](const TensorPtr& x, int64_t decimals) {
    if (decimals == 0) return ops::unary(kernels::Round{}, x);
    if (!is_floating(x->dtype))
      fail(ErrorKind::NotImplemented, "round", "decimals= is only implemented for floating-point tensors, got ",
           dtype_name(x->dtype), ". Hint: convert with .float() first");
    auto ten = ops::wrapped_scalar(Scalar::from_double(std::pow(10.0, static_cast<double>(decimals < 0 ? -decimals : decimals))), x->device);
    if (decimals > 0) return ops::div(ops::unary(kernels::Round{}, ops::mul(x, ten)), ten);
    return ops::mul(ops::unary(kernels::Round{}, ops::div(x, ten)), ten);
  };
  cls.def("round", round, py::kw_only(), py::arg("decimals") = 0);
  fns.def("round", round, py::arg("input"), py::kw_only(), py::arg("decimals") = 0);

  // Bounds that are numbers take the fused kernel; a tensor bound (broadcast, promoted, and
  // differentiable) takes the tensor form, as PyTorch's clamp.Tensor overload.
  auto tensor_bound = [](const TensorPtr& x, py::handle b, const char* arg) -> TensorPtr {
    return b.is_none() ? nullptr : tensor_or_scalar(b, x->device, "clamp", arg);
  };
  auto clamp = [tensor_bound](const TensorPtr& x, py::object min, py::object max) {
    if (is_tensor(min) || is_tensor(max))
      return ops::clamp_tensor(x, tensor_bound(x, min, "min"), tensor_bound(x, max, "max"));
    return ops::clamp(x, opt_scalar(min, "min"), opt_scalar(max, "max"));
  };
  auto clamp_ = [tensor_bound](const TensorPtr& x, py::object min, py::object max) {
    if (is_tensor(min) || is_tensor(max))
      return ops::copy_(x, ops::clamp_tensor(x, tensor_bound(x, min, "min"), tensor_bound(x, max, "max")));
    return ops::clamp_(x, opt_scalar(min, "min"), opt_scalar(max, "max"));
  };
  for (const char* n : {"clamp", "clip"}) {
    cls.def(n, clamp, py::arg("min") = py::none(), py::arg("max") = py::none());
    fns.def(n, clamp, py::arg("input"), py::arg("min") = py::none(), py::arg("max") = py::none());
  }
  cls.def("clamp_", clamp_, py::arg("min") = py::none(), py::arg("max") = py::none());
  cls.def("clip_", clamp_, py::arg("min") = py::none(), py::arg("max") = py::none());
  // clamp_min(x, min) / clamp_max(x, max): clamp with one bound (a number or a tensor).
  for (bool is_min : {true, false}) {
    const std::string name = is_min ? "clamp_min" : "clamp_max";
    const char* arg = is_min ? "min" : "max";
    auto one_bound = [is_min](auto& f, const TensorPtr& x, py::object b) {
      return is_min ? f(x, b, py::none()) : f(x, py::none(), b);
    };
    auto out_of_place = [one_bound, clamp](const TensorPtr& x, py::object b) { return one_bound(clamp, x, b); };
    cls.def(name.c_str(), out_of_place, py::arg(arg));
    fns.def(name.c_str(), out_of_place, py::arg("input"), py::arg(arg));
    cls.def((name + "_").c_str(), [one_bound, clamp_](const TensorPtr& x, py::object b) { return one_bound(clamp_, x, b); },
            py::arg(arg));
  }

  auto nn = m.attr("_nn").cast<py::module_>();
  nn.def("leaky_relu", [](const TensorPtr& x, double slope) { return ops::unary(kernels::LeakyRelu{slope}, x); },
         py::arg("input"), py::arg("negative_slope") = 0.01);
  nn.def("leaky_relu_", [](const TensorPtr& x, double slope) { return ops::unary_(kernels::LeakyRelu{slope}, x); },
         py::arg("input"), py::arg("negative_slope") = 0.01);
  nn.def("gelu", [](const TensorPtr& x, const std::string& approx) {
    if (approx != "none" && approx != "tanh") fail(ErrorKind::Runtime, "gelu", "approximate must be 'none' or 'tanh', got '", approx, "'");
    return ops::unary(kernels::Gelu{approx == "tanh"}, x);
  }, py::arg("input"), py::arg("approximate") = "none");
  nn.def("hardtanh", [](const TensorPtr& x, double lo, double hi) { return ops::unary(kernels::Hardtanh{lo, hi}, x); },
         py::arg("input"), py::arg("min_val") = -1.0, py::arg("max_val") = 1.0);
  nn.def("hardtanh_", [](const TensorPtr& x, double lo, double hi) { return ops::unary_(kernels::Hardtanh{lo, hi}, x); },
         py::arg("input"), py::arg("min_val") = -1.0, py::arg("max_val") = 1.0);
  nn.def("softplus", [](const TensorPtr& x, double beta, double threshold) {
    return ops::unary(kernels::Softplus{beta, threshold}, ops::autocast("softplus", x));
  },
         py::arg("input"), py::arg("beta") = 1.0, py::arg("threshold") = 20.0);
}

GC_REGISTER_BINDINGS(bind_unary)

}  // namespace gc::bind
