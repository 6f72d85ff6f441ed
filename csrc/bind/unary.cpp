// Bindings of the unary family: x.exp() and gradcore.exp(x), in-place variants, clamp and
// the parametrised activations.
#include <cmath>
#include "bind/common.h"

namespace gc::bind {

static std::optional<Scalar> opt_scalar(py::handle h, const char* arg) {
  if (h.is_none()) return std::nullopt;
  return to_scalar(h, "clamp", arg);
}

static void bind_unary(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  using U = ops::UnaryOp;
  static const std::pair<const char*, U> table[] = {
      {"neg", U::Neg}, {"negative", U::Neg}, {"abs", U::Abs}, {"exp", U::Exp}, {"log", U::Log}, {"sqrt", U::Sqrt},
      {"rsqrt", U::Rsqrt}, {"sin", U::Sin}, {"cos", U::Cos}, {"tanh", U::Tanh}, {"sigmoid", U::Sigmoid},
      {"relu", U::Relu}, {"sign", U::Sign}, {"floor", U::Floor}, {"ceil", U::Ceil}, {"round", U::Round},
      {"log1p", U::Log1p}, {"expm1", U::Expm1}, {"logical_not", U::LogicalNot}, {"reciprocal", U::Reciprocal},
      {"square", U::Square},
  };
  for (const auto& [name, op] : table) {
    U o = op;
    auto f = [o](const TensorPtr& x) { return maybe_release(x->numel(), [&] { return ops::unary(o, x); }); };
    if (o != U::Round) {  // round takes decimals=, bound below
      cls.def(name, f);
      fns.def(name, f, py::arg("input"));
    }
    std::string inplace = std::string(name) + "_";
    cls.def(inplace.c_str(), [o](const TensorPtr& x) { return maybe_release(x->numel(), [&] { return ops::unary_(o, x); }); });
    fns.def(inplace.c_str(), [o](const TensorPtr& x) { return ops::unary_(o, x); }, py::arg("input"));
  }
  cls.def("__neg__", [](const TensorPtr& x) { return ops::unary(U::Neg, x); });
  cls.def("__abs__", [](const TensorPtr& x) { return ops::unary(U::Abs, x); });
  cls.def("__invert__", [](const TensorPtr& x) {
    if (x->dtype != DType::Bool) fail(ErrorKind::Type, "bitwise_not", "~ is only supported on bool tensors in gradcore, got ", dtype_name(x->dtype));
    return ops::unary(U::LogicalNot, x);
  });

  // round(x, decimals=d): PyTorch's formula, nearbyint(x * 10^d) / 10^d (divide and multiply
  // for negative d, so the power of ten stays exact).
  auto round = [](const TensorPtr& x, int64_t decimals) {
    if (decimals == 0) return ops::unary(U::Round, x);
    if (!is_floating(x->dtype))
      fail(ErrorKind::NotImplemented, "round", "decimals= is only implemented for floating-point tensors, got ",
           dtype_name(x->dtype), ". Hint: convert with .float() first");
    auto ten = ops::wrapped_scalar(Scalar::from_double(std::pow(10.0, static_cast<double>(decimals < 0 ? -decimals : decimals))), x->device);
    if (decimals > 0) return ops::div(ops::unary(U::Round, ops::mul(x, ten)), ten);
    return ops::mul(ops::unary(U::Round, ops::div(x, ten)), ten);
  };
  cls.def("round", round, py::kw_only(), py::arg("decimals") = 0);
  fns.def("round", round, py::arg("input"), py::kw_only(), py::arg("decimals") = 0);

  auto clamp = [](const TensorPtr& x, py::object min, py::object max) {
    return ops::clamp(x, opt_scalar(min, "min"), opt_scalar(max, "max"));
  };
  auto clamp_ = [](const TensorPtr& x, py::object min, py::object max) {
    return ops::clamp_(x, opt_scalar(min, "min"), opt_scalar(max, "max"));
  };
  for (const char* n : {"clamp", "clip"}) {
    cls.def(n, clamp, py::arg("min") = py::none(), py::arg("max") = py::none());
    fns.def(n, clamp, py::arg("input"), py::arg("min") = py::none(), py::arg("max") = py::none());
  }
  cls.def("clamp_", clamp_, py::arg("min") = py::none(), py::arg("max") = py::none());
  cls.def("clip_", clamp_, py::arg("min") = py::none(), py::arg("max") = py::none());
  cls.def("clamp_min", [](const TensorPtr& x, py::object v) { return ops::clamp(x, to_scalar(v, "clamp_min", "min"), std::nullopt); });
  cls.def("clamp_max", [](const TensorPtr& x, py::object v) { return ops::clamp(x, std::nullopt, to_scalar(v, "clamp_max", "max")); });

  m.def("_leaky_relu", &ops::leaky_relu, py::arg("input"), py::arg("negative_slope") = 0.01);
  m.def("_gelu", [](const TensorPtr& x, const std::string& approx) {
    if (approx != "none" && approx != "tanh") fail(ErrorKind::Runtime, "gelu", "approximate must be 'none' or 'tanh', got '", approx, "'");
    return ops::gelu(x, approx == "tanh");
  }, py::arg("input"), py::arg("approximate") = "none");
  m.def("_softplus", &ops::softplus, py::arg("input"), py::arg("beta") = 1.0, py::arg("threshold") = 20.0);
}

GC_REGISTER_BINDINGS(bind_unary)

}  // namespace gc::bind
