#include "bind/common.h"
#include <cmath>
#include <memory>
#include <string>
#include <vector>
#include "core/generator.h"

namespace gc::bind {

// Every op converts its tensor arguments, so this is on the hot path of a small op: a C-level
// type check against the cached Tensor type, then the holder is read straight from pybind11's
// instance (a Tensor and its Python subclasses such as Parameter have its simple layout: the
// value pointer, then the shared_ptr holder). Anything unusual takes pybind11's general cast.
static PyTypeObject* tensor_type() {
  static PyTypeObject* t = reinterpret_cast<PyTypeObject*>(py::type::of<Tensor>().ptr());
  return t;
}

bool is_tensor(py::handle h) { return PyObject_TypeCheck(h.ptr(), tensor_type()); }

TensorPtr as_tensor(py::handle h, const char* op, const char* arg) {
  if (!is_tensor(h))
    fail(ErrorKind::Type, op, "argument '", arg, "' must be a Tensor, not ", py::str(py::type::of(h).attr("__name__")).cast<std::string>());
  if (const TensorPtr* t = held_tensor(h.ptr())) return *t;
  return h.cast<TensorPtr>();
}

const TensorPtr* held_tensor(PyObject* o) {
  if (!PyObject_TypeCheck(o, tensor_type())) return nullptr;
  auto* inst = reinterpret_cast<py::detail::instance*>(o);
  if (!inst->simple_layout || !inst->simple_holder_constructed) return nullptr;
  return reinterpret_cast<const TensorPtr*>(&inst->simple_value_holder[1]);
}

namespace {
// The binding's docstring (its signature) for the fast function, kept alive with it.
const char* keep_doc(PyObject* fallback) {
  static std::vector<std::unique_ptr<std::string>> docs;
  py::object doc = py::reinterpret_borrow<py::object>(fallback).attr("__doc__");
  if (doc.is_none()) return nullptr;
  docs.push_back(std::make_unique<std::string>(doc.cast<std::string>()));
  return docs.back()->c_str();
}
}  // namespace

static std::vector<std::pair<std::string, PyObject**>>& fast_fallbacks() {
  static std::vector<std::pair<std::string, PyObject**>> slots;
  return slots;
}

PyObject** fast_function_fallback(const char* name) {
  for (auto& [n, slot] : fast_fallbacks())
    if (n == name) return slot;
  return nullptr;
}

void install_fast_function(py::module_ mod, PyMethodDef* def, PyObject** fallback) {
  *fallback = py::object(mod.attr(def->ml_name)).release().ptr();
  fast_fallbacks().emplace_back(def->ml_name, fallback);
  def->ml_doc = keep_doc(*fallback);
  py::object name = mod.attr("__name__");
  PyObject* fn = PyCFunction_NewEx(def, nullptr, name.ptr());
  if (!fn) throw py::error_already_set();
  mod.attr(def->ml_name) = py::reinterpret_steal<py::object>(fn);
}

void install_fast_method(TensorClass& cls, PyMethodDef* def, PyObject** fallback) {
  *fallback = cls.attr("__dict__")[def->ml_name].ptr();
  Py_INCREF(*fallback);
  def->ml_doc = keep_doc(*fallback);
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), def);
  if (!descr) throw py::error_already_set();
  cls.attr(def->ml_name) = py::reinterpret_steal<py::object>(descr);
}

PyObject* call_method_fallback(PyObject* fallback, PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                               PyObject* kwnames) {
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  std::vector<PyObject*> all(static_cast<size_t>(1 + nargs + nkw));
  all[0] = self;
  for (Py_ssize_t i = 0; i < nargs + nkw; ++i) all[static_cast<size_t>(1 + i)] = args[i];
  return PyObject_Vectorcall(fallback, all.data(), static_cast<size_t>(1 + nargs), kwnames);
}

bool is_scalar(py::handle h) {
  if (PyBool_Check(h.ptr()) || PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr())) return true;
  // NumPy scalars (np.float32(1.0), np.int64(3)) and 0-d arrays act as numbers.
  return py::isinstance<py::array>(h) ? py::reinterpret_borrow<py::array>(h).ndim() == 0
                                      : (PyObject_HasAttrString(h.ptr(), "dtype") && PyNumber_Check(h.ptr()) &&
                                         !is_tensor(h));
}

Scalar to_scalar(py::handle h, const char* op, const char* arg) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) return Scalar::from_bool(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) fail(ErrorKind::Runtime, op, "value of argument '", arg, "' doesn't fit in int64");
    return Scalar::from_int(v);
  }
  if (PyFloat_Check(o)) return Scalar::from_double(PyFloat_AS_DOUBLE(o));
  if (is_tensor(h)) {
    auto t = h.cast<TensorPtr>();
    if (t->numel() != 1)
      fail(ErrorKind::Runtime, op, "argument '", arg, "' must be a number or a one-element tensor, got shape ", shape_str(t->shape));
    return ops::scalar_of(t);
  }
  if (PyObject_HasAttrString(o, "dtype") && PyNumber_Check(o)) {  // NumPy scalar
    auto kind = py::str(h.attr("dtype").attr("kind")).cast<std::string>();
    if (kind == "b") return Scalar::from_bool(py::cast<bool>(h));
    if (kind == "i" || kind == "u") return Scalar::from_int(py::int_(py::reinterpret_borrow<py::object>(h)).cast<int64_t>());
    return Scalar::from_double(py::float_(py::reinterpret_borrow<py::object>(h)).cast<double>());
  }
  fail(ErrorKind::Type, op, "argument '", arg, "' must be a number, not ",
       py::str(py::type::of(h).attr("__name__")).cast<std::string>());
}

TensorPtr tensor_or_scalar(py::handle h, Device device, const char* op, const char* arg) {
  if (is_tensor(h)) return h.cast<TensorPtr>();
  if (PyBool_Check(h.ptr()) || PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr()) || is_scalar(h))
    return ops::wrapped_scalar(to_scalar(h, op, arg), device);
  if (py::isinstance<py::array>(h))  // t * ndarray is a Tensor, as in PyTorch
    return py::module_::import("gradcore").attr("as_tensor")(h, py::arg("device") = device.str()).cast<TensorPtr>();
  fail(ErrorKind::Type, op, "unsupported operand type for '", arg, "': expected a Tensor or a number, got ",
       py::str(py::type::of(h).attr("__name__")).cast<std::string>());
}

DimVector int_list(py::handle h, const char* op, const char* arg) {
  DimVector out;
  // One int, or anything with __index__ that is not a sequence or a tensor (NumPy integers).
  if (!PyBool_Check(h.ptr()) && (PyLong_Check(h.ptr()) || (PyIndex_Check(h.ptr()) && !is_tensor(h) &&
                                                           !py::isinstance<py::sequence>(h)))) {
    out.push_back(py::int_(py::reinterpret_borrow<py::object>(h)).cast<int64_t>());
    return out;
  }
  if (is_tensor(h)) {
    auto t = h.cast<TensorPtr>();
    if (t->dtype != DType::Int64 || t->dim() > 1)
      fail(ErrorKind::Type, op, "argument '", arg, "' must be a tuple of ints, got a ", dtype_name(t->dtype), " tensor");
  }
  if (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h))
    fail(ErrorKind::Type, op, "argument '", arg, "' must be a tuple of ints, not ",
         py::str(py::type::of(h).attr("__name__")).cast<std::string>());
  for (auto item : py::reinterpret_borrow<py::sequence>(h)) {
    if (PyBool_Check(item.ptr()) || !(PyLong_Check(item.ptr()) || PyIndex_Check(item.ptr())))
      fail(ErrorKind::Type, op, "argument '", arg, "' must be a tuple of ints, but found element of type ",
           py::str(py::type::of(item).attr("__name__")).cast<std::string>());
    out.push_back(py::int_(py::reinterpret_borrow<py::object>(item)).cast<int64_t>());
  }
  return out;
}

DimVector shape_from_args(const py::args& args, const char* op) {
  if (args.size() == 1) return int_list(args[0], op, "size");
  DimVector out;
  for (auto a : args) {
    if (PyBool_Check(a.ptr()) || !(PyLong_Check(a.ptr()) || PyIndex_Check(a.ptr())))
      fail(ErrorKind::Type, op, "size must be ints, but got an element of type ",
           py::str(py::type::of(a).attr("__name__")).cast<std::string>());
    out.push_back(py::int_(py::reinterpret_borrow<py::object>(a)).cast<int64_t>());
  }
  return out;
}

DimVector dims_arg(py::handle h, const char* op) {
  if (h.is_none()) return {};
  return int_list(h, op, "dim");
}

DType dtype_arg(py::handle h, const char* op) {
  if (py::isinstance<DType>(h)) return h.cast<DType>();
  // Python's float/int/bool builtins, as PyTorch accepts them: float64, int64, bool.
  if (h.ptr() == reinterpret_cast<PyObject*>(&PyFloat_Type)) return DType::Float64;  // a Python float is a double
  if (h.ptr() == reinterpret_cast<PyObject*>(&PyLong_Type)) return DType::Int64;
  if (h.ptr() == reinterpret_cast<PyObject*>(&PyBool_Type)) return DType::Bool;
  fail(ErrorKind::Type, op, "argument 'dtype' must be a gradcore.dtype (gradcore.float32, float64, bfloat16, float16, int64, bool), not ",
       py::str(h).cast<std::string>());
}

std::optional<DType> optional_dtype(py::handle h, const char* op) {
  if (h.is_none()) return std::nullopt;
  return dtype_arg(h, op);
}

Device device_arg(py::handle h, const char* op) {
  if (py::isinstance<Device>(h)) return h.cast<Device>();
  if (py::isinstance<py::str>(h)) {
    auto s = h.cast<std::string>();
    Device d;
    if (s == "cpu") return d;
    if (s.rfind("cuda", 0) == 0) {
      d.type = DeviceType::CUDA;
      if (s.size() > 4) {
        if (s[4] != ':') fail(ErrorKind::Runtime, op, "invalid device string '", s, "'");
        try {
          d.index = std::stoi(s.substr(5));
        } catch (...) {
          fail(ErrorKind::Runtime, op, "invalid device string '", s, "'");
        }
      }
      return d;
    }
    fail(ErrorKind::Runtime, op, "expected one of cpu, cuda device type at start of device string: ", s);
  }
  if (PyLong_Check(h.ptr())) {
    Device d;
    d.type = DeviceType::CUDA;
    d.index = h.cast<int>();
    return d;
  }
  fail(ErrorKind::Type, op, "argument 'device' must be a gradcore.device or a string, not ",
       py::str(py::type::of(h).attr("__name__")).cast<std::string>());
}

std::optional<Device> optional_device(py::handle h, const char* op) {
  if (h.is_none()) return std::nullopt;
  return device_arg(h, op);
}

Generator* generator_arg(py::handle h) {
  if (h.is_none()) return nullptr;
  if (!py::isinstance<Generator>(h))
    fail(ErrorKind::Type, "generator", "argument 'generator' must be a gradcore.Generator, not ", type_name(h));
  return h.cast<Generator*>();
}

ops::Reduction reduction_arg(py::handle h, const char* op) {
  if (py::isinstance<py::str>(h)) {
    auto s = h.cast<std::string>();
    if (s == "mean") return ops::Reduction::Mean;
    if (s == "sum") return ops::Reduction::Sum;
    if (s == "none") return ops::Reduction::None;
    fail(ErrorKind::Value, op, s, " is not a valid value for reduction. Hint: use 'mean', 'sum' or 'none'.");
  }
  fail(ErrorKind::Type, op, "argument 'reduction' must be a str ('mean', 'sum' or 'none'), not ",
       py::str(py::type::of(h).attr("__name__")).cast<std::string>());
}

TensorPtr optional_tensor(py::handle h, const char* op, const char* arg) {
  return h.is_none() ? nullptr : as_tensor(h, op, arg);
}

std::string type_name(py::handle h) { return py::str(py::type::of(h).attr("__name__")).cast<std::string>(); }

}  // namespace gc::bind
