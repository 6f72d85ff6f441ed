// Bindings of the binary family: every row of kernels/binary.h by its api column (gradcore.mul(a, b),
// a.mul(b), a.mul_(b)), then what takes arguments (add/sub with alpha, div with rounding_mode),
// Python's operators (+, +=, the reflected 2 + t), PyTorch's aliases, and where.
#include "bind/common.h"
#include "core/autocast.h"

namespace gc::bind {

using ops::BinaryOp;

namespace {

TensorPtr binop(BinaryOp op, const TensorPtr& self, py::handle other, const char* name, bool reflected = false) {
  const TensorPtr* held = held_tensor(other.ptr());
  const TensorPtr o = held ? TensorPtr() : tensor_or_scalar(other, self->device, name, "other");
  const TensorPtr& ot = held ? *held : o;
  const TensorPtr& a = reflected ? ot : self;
  const TensorPtr& b = reflected ? self : ot;
  if (Autocast::any()) {  // pow is on CUDA's float32 list (Python numbers are not cast)
    const char* aten = kernels::binary_info(op).name;
    const TensorPtr ac = ops::autocast(aten, a), bc = ops::autocast(aten, b);
    return maybe_release(std::max(ac->numel(), bc->numel()), [&] { return ops::binary(op, ac, bc); });
  }
  return maybe_release(std::max(a->numel(), b->numel()), [&] { return ops::binary(op, a, b); });
}

TensorPtr inplace(BinaryOp op, const TensorPtr& self, py::handle other, const char* name, Scalar alpha = Scalar::from_int(1)) {
  auto o = tensor_or_scalar(other, self->device, name, "other");
  return maybe_release(self->numel(), [&] { return ops::binary_(op, self, o, alpha); });
}

// gradcore.X(input, other) where either may be a Python number (2 * t as gradcore.mul(2, t)).
TensorPtr function_form(BinaryOp op, py::object a, py::object b, const char* name) {
  if (is_tensor(a)) return binop(op, a.cast<TensorPtr>(), b, name);
  return binop(op, as_tensor(b, name, "other"), a, name, true);
}

Scalar alpha_arg(py::handle h) { return to_scalar(h, "add", "alpha"); }

// Generated from one row: the function form, the method and (api Method) the in-place method.
void bind_row(py::module_& fns, TensorClass& cls, BinaryOp op) {
  const auto& info = kernels::binary_info(op);
  const char* nm = info.name;
  switch (info.api) {
    case kernels::BinaryApi::Method:
      cls.def((std::string(nm) + "_").c_str(), [op, nm](const TensorPtr& t, py::object o) { return inplace(op, t, o, nm); },
              py::arg("other"));
      [[fallthrough]];
    case kernels::BinaryApi::NoInplace:
      cls.def(nm, [op, nm](const TensorPtr& t, py::object o) { return binop(op, t, o, nm); }, py::arg("other"));
      fns.def(nm, [op, nm](py::object a, py::object b) { return function_form(op, a, b, nm); }, py::arg("input"),
              py::arg("other"));
      return;
    case kernels::BinaryApi::Manual: return;
  }
}

// Python's arithmetic operators as C number slots of the Tensor type (a + b calls the slot
// straight from the interpreter, as for NumPy's arrays, instead of looking __add__ up and going
// through pybind11's argument dispatch). The same rules as the __add__ / __radd__ methods above,
// which stay for Tensor.__add__(a, b) and for Python subclasses (they get CPython's generic slot).
// Either operand may be the tensor: CPython calls the slot of each operand's type in turn.
template <BinaryOp Op>
PyObject* binary_slot(PyObject* a, PyObject* b) {
  return slot_call([&]() -> PyObject* {
    const char* nm = kernels::binary_info(Op).name;
    py::handle ha(a), hb(b);
    if (const TensorPtr* ta = held_tensor(a); ta && held_tensor(b))  // tensor op tensor: the common case
      return py::cast(binop(Op, *ta, hb, nm)).release().ptr();
    if (is_tensor(ha)) {
      if (!is_tensor(hb) && !is_scalar(hb) && !py::isinstance<py::array>(hb)) Py_RETURN_NOTIMPLEMENTED;
      return py::cast(binop(Op, as_tensor(ha, nm, "input"), hb, nm)).release().ptr();
    }
    if (!is_tensor(hb) || !is_scalar(ha)) Py_RETURN_NOTIMPLEMENTED;
    return py::cast(binop(Op, as_tensor(hb, nm, "input"), ha, nm, true)).release().ptr();
  });
}

// a += b: the slot of a's type, so a is the tensor.
template <BinaryOp Op>
PyObject* inplace_slot(PyObject* a, PyObject* b) {
  return slot_call([&] {
    const char* nm = kernels::binary_info(Op).name;
    return py::cast(inplace(Op, as_tensor(a, nm, "input"), b, nm)).release().ptr();
  });
}

void install_number_slots(TensorClass& cls) {
  PyNumberMethods* nb = reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_as_number;
  nb->nb_add = &binary_slot<BinaryOp::Add>;
  nb->nb_subtract = &binary_slot<BinaryOp::Sub>;
  nb->nb_multiply = &binary_slot<BinaryOp::Mul>;
  nb->nb_true_divide = &binary_slot<BinaryOp::Div>;
  nb->nb_inplace_add = &inplace_slot<BinaryOp::Add>;
  nb->nb_inplace_subtract = &inplace_slot<BinaryOp::Sub>;
  nb->nb_inplace_multiply = &inplace_slot<BinaryOp::Mul>;
  nb->nb_inplace_true_divide = &inplace_slot<BinaryOp::Div>;
  PyType_Modified(reinterpret_cast<PyTypeObject*>(cls.ptr()));
}

// Fast calls (bind/common.h): gradcore.X(a, b) with a tensor first, and a.X(b), for every row
// bound as a function and method (add, sub and div too: without alpha / rounding_mode they are
// the plain op).
template <BinaryOp Op>
struct BinaryFast {
  static inline PyObject* function_fallback = nullptr;
  static inline PyObject* method_fallback = nullptr;
  static PyObject* run(const TensorPtr& a, PyObject* b) {
    return slot_call([&] { return py::cast(binop(Op, a, b, kernels::binary_info(Op).name)).release().ptr(); });
  }
  static PyObject* function(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    if (nargs == 2 && !kwnames)
      if (const TensorPtr* a = held_tensor(args[0])) return run(*a, args[1]);
    return PyObject_Vectorcall(function_fallback, args, static_cast<size_t>(nargs), kwnames);
  }
  static PyObject* method(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    if (nargs == 1 && !kwnames)
      if (const TensorPtr* a = held_tensor(self)) return run(*a, args[0]);
    return call_method_fallback(method_fallback, self, args, nargs, kwnames);
  }
  static void install(py::module_& m, TensorClass& cls) {
    install_fast_pair<&function, &method>(functions(m), cls, kernels::binary_info(Op).name, &function_fallback,
                                          &method_fallback);
  }
};

void binary_fast_calls(py::module_& m, TensorClass& cls) {
#define GC_FAST_ROW(F, ...) BinaryFast<BinaryOp::F>::install(m, cls);
  GC_BINARY_OPS(GC_FAST_ROW)
#undef GC_FAST_ROW
}

}  // namespace

GC_REGISTER_FAST_CALLS(binary_fast_calls)

static void bind_binary(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
#define GC_BIND_ROW(F, ...) bind_row(fns, cls, BinaryOp::F);
  GC_BINARY_OPS(GC_BIND_ROW)
#undef GC_BIND_ROW

  // add/sub(other, *, alpha=1): self + alpha * other, and in place.
  auto add_like = [&](const char* name, BinaryOp op) {
    auto f = [name, op](const TensorPtr& t, py::object o, py::object alpha) {
      auto ot = tensor_or_scalar(o, t->device, name, "other");
      Scalar a = alpha_arg(alpha);
      return maybe_release(t->numel(), [&] { return ops::binary(op, t, ot, a); });
    };
    cls.def(name, f, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
    fns.def(name, [f, name](py::object a, py::object b, py::object alpha) {
      if (!is_tensor(a)) {
        auto bt = as_tensor(b, name, "other");
        return f(ops::wrapped_scalar(to_scalar(a, name, "input"), bt->device), b, alpha);
      }
      return f(a.cast<TensorPtr>(), b, alpha);
    }, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
    cls.def((std::string(name) + "_").c_str(), [op, name](const TensorPtr& t, py::object o, py::object alpha) {
      return inplace(op, t, o, name, alpha_arg(alpha));
    }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  };
  add_like("add", BinaryOp::Add);
  add_like("sub", BinaryOp::Sub);
  add_like("subtract", BinaryOp::Sub);

  // div(other, *, rounding_mode=None): true division, or rounded toward zero ('trunc') or down ('floor').
  auto div = [](const TensorPtr& t, const TensorPtr& ot, py::object rounding_mode) {
    if (rounding_mode.is_none()) return ops::div(t, ot);
    auto mode = rounding_mode.cast<std::string>();
    if (mode == "floor") return ops::floor_divide(t, ot);
    if (mode == "trunc") {
      auto q = ops::div(t, ot);
      auto neg = ops::compare(BinaryOp::Lt, q, ops::wrapped_scalar(Scalar::from_int(0), q->device));
      auto tq = ops::where(neg, ops::unary(kernels::Ceil{}, q), ops::unary(kernels::Floor{}, q));
      return is_floating(ops::result_type(t, ot)) ? tq : ops::to_dtype(tq, DType::Int64);
    }
    fail(ErrorKind::Value, "div", "rounding_mode must be None, 'trunc' or 'floor', got '", mode, "'");
  };
  for (const char* name : {"div", "divide", "true_divide"}) {
    cls.def(name, [div, name](const TensorPtr& t, py::object o, py::object mode) {
      return div(t, tensor_or_scalar(o, t->device, name, "other"), mode);
    }, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
    fns.def(name, [div, name](py::object a, py::object b, py::object mode) {
      if (is_tensor(a)) return div(a.cast<TensorPtr>(), tensor_or_scalar(b, a.cast<TensorPtr>()->device, name, "other"), mode);
      auto bt = as_tensor(b, name, "other");
      return div(ops::wrapped_scalar(to_scalar(a, name, "input"), bt->device), bt, mode);
    }, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
  }
  cls.def("div_", [](const TensorPtr& t, py::object o) { return inplace(BinaryOp::Div, t, o, "div_"); }, py::arg("other"));

  // Python's operators. Comparisons with non-tensors that are not numbers (t == None) return
  // NotImplemented, so Python falls back to identity, as for PyTorch. A NumPy array on the right
  // becomes a tensor (t * ndarray is a Tensor); on the left, as in PyTorch, it is refused.
  struct OpDef { const char* py; const char* rpy; const char* ipy; BinaryOp op; };
  static const OpDef operators[] = {
      {"__add__", "__radd__", "__iadd__", BinaryOp::Add}, {"__sub__", "__rsub__", "__isub__", BinaryOp::Sub},
      {"__mul__", "__rmul__", "__imul__", BinaryOp::Mul}, {"__truediv__", "__rtruediv__", "__itruediv__", BinaryOp::Div},
      {"__pow__", "__rpow__", "__ipow__", BinaryOp::Pow},
      {"__floordiv__", "__rfloordiv__", "__ifloordiv__", BinaryOp::FloorDivide},
      {"__mod__", "__rmod__", "__imod__", BinaryOp::Remainder}, {"__eq__", nullptr, nullptr, BinaryOp::Eq},
      {"__ne__", nullptr, nullptr, BinaryOp::Ne}, {"__lt__", nullptr, nullptr, BinaryOp::Lt},
      {"__le__", nullptr, nullptr, BinaryOp::Le}, {"__gt__", nullptr, nullptr, BinaryOp::Gt},
      {"__ge__", nullptr, nullptr, BinaryOp::Ge}, {"__and__", "__rand__", "__iand__", BinaryOp::LogicalAnd},
      {"__or__", "__ror__", "__ior__", BinaryOp::LogicalOr}, {"__xor__", "__rxor__", "__ixor__", BinaryOp::LogicalXor},
  };
  for (const auto& d : operators) {
    const BinaryOp op = d.op;
    const char* nm = kernels::binary_info(op).name;
    cls.def(d.py, [op, nm](const TensorPtr& t, py::object o) -> py::object {
      if (!is_tensor(o) && !is_scalar(o) && !py::isinstance<py::array>(o))
        return py::reinterpret_borrow<py::object>(Py_NotImplemented);
      return py::cast(binop(op, t, o, nm));
    }, py::is_operator());
    if (d.rpy)
      cls.def(d.rpy, [op, nm](const TensorPtr& t, py::object o) -> py::object {
        if (!is_scalar(o)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        return py::cast(binop(op, t, o, nm, true));
      }, py::is_operator());
    if (d.ipy)
      cls.def(d.ipy, [op, nm](const TensorPtr& t, py::object o) { return inplace(op, t, o, nm); }, py::is_operator());
  }
  install_number_slots(cls);  // after the methods: defining __add__ resets the slot

  // Aliases PyTorch has.
  for (auto [alias, op] : {std::pair{"multiply", BinaryOp::Mul}, {"greater", BinaryOp::Gt}, {"less", BinaryOp::Lt},
                           {"greater_equal", BinaryOp::Ge}, {"less_equal", BinaryOp::Le}, {"not_equal", BinaryOp::Ne}}) {
    const BinaryOp o = op;
    const char* nm = alias;
    cls.def(alias, [o, nm](const TensorPtr& t, py::object x) { return binop(o, t, x, nm); }, py::arg("other"));
    fns.def(alias, [o, nm](py::object a, py::object b) { return function_form(o, a, b, nm); }, py::arg("input"),
            py::arg("other"));
  }

  cls.def("where", [](const TensorPtr& t, const TensorPtr& cond, py::object other) {
    return ops::where(cond, t, tensor_or_scalar(other, t->device, "where", "other"));
  }, py::arg("condition"), py::arg("other"));
  fns.def("where", [](const TensorPtr& cond, py::object a, py::object b) {
    return ops::where(cond, tensor_or_scalar(a, cond->device, "where", "input"), tensor_or_scalar(b, cond->device, "where", "other"));
  }, py::arg("condition"), py::arg("input"), py::arg("other"));
  fns.def("promote_types", [](DType a, DType b) { return promote(a, b); }, py::arg("type1"), py::arg("type2"));
  fns.def("result_type", [](py::object a, py::object b) {
    return ops::result_type(tensor_or_scalar(a, Device{}, "result_type", "tensor1"), tensor_or_scalar(b, Device{}, "result_type", "tensor2"));
  });
}

GC_REGISTER_BINDINGS(bind_binary)

}  // namespace gc::bind
