// out= for the functions that take it in PyTorch (gradcore.add(a, b, out=c), gradcore.max(x, 1,
// out=(v, i)), ...), written once for all of them: each listed gradcore.<name> gets a wrapper that,
// when out= is among the keywords, takes it out, runs the function, and writes its result into
// `out` with PyTorch's rules:
//   - under grad mode, no argument (nor out) may require grad: out= ops are not differentiable;
//   - the result must be castable to out's dtype (no float into an integer tensor, nothing but
//     bool into bool); index results (argmax, the indices of max/min) need an int64 out;
//   - out is resized to the result's shape: silently when it is empty, with PyTorch's UserWarning
//     otherwise;
//   - out itself (or the tuple of outs, as the function's named tuple) is returned.
// The wrapper stands behind a function's fast call (bind/common.h), as that call's fallback, so
// the plain positional forms pay nothing; calls without out= go straight to the binding.
#include <deque>
#include <string>
#include <vector>
#include "autograd/node.h"
#include "bind/common.h"

namespace gc::bind {

namespace {

// PyTorch's canCast: no floating into integral or bool, nothing but bool into bool.
bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != DType::Bool && to == DType::Bool) return false;
  return true;
}

// PyTorch's ScalarType names, which its out= messages use.
const char* scalar_type_name(DType t) {
  switch (t) {
    case DType::Bool: return "Bool";
    case DType::UInt8: return "Byte";
    case DType::Int8: return "Char";
    case DType::Int16: return "Short";
    case DType::Int32: return "Int";
    case DType::Int64: return "Long";
    case DType::Float32: return "Float";
    case DType::Float64: return "Double";
    case DType::BFloat16: return "BFloat16";
    case DType::Float16: return "Half";
  }
  return "";
}

bool requires_grad_arg(py::handle h) {
  if (const TensorPtr* t = held_tensor(h.ptr())) return (*t)->requires_grad;
  if (is_tensor(h)) return h.cast<TensorPtr>()->requires_grad;
  if (PyList_Check(h.ptr()) || PyTuple_Check(h.ptr()))
    for (auto item : py::reinterpret_borrow<py::sequence>(h))
      if (requires_grad_arg(item)) return true;
  return false;
}

// out's storage replaced by a contiguous one of `shape` (PyTorch's resize_ of an out tensor).
void resize_out(const TensorPtr& out, const DimVector& shape, const char* op) {
  if (out->numel() > 0) {
    std::string msg = std::string(op) + "(): An output with one or more elements was resized since it had shape " +
                      shape_str(out->shape) + ", which does not match the required output shape " + shape_str(shape) +
                      ". This behavior is deprecated, and in a future PyTorch release outputs will not be resized "
                      "unless they have zero elements. You can explicitly reuse an out tensor t by resizing it, "
                      "inplace, to zero elements with t.resize_(0).";
    if (PyErr_WarnEx(PyExc_UserWarning, msg.c_str(), 1) < 0) throw py::error_already_set();
  }
  auto fresh = ops::empty(shape, out->dtype, out->device);
  out->storage = fresh->storage;
  out->shape = fresh->shape;
  out->strides = fresh->strides;
  out->offset = 0;
}

// Writes one result into one out tensor (`index_result`: argmax's, or max/min's indices).
void write_out(const TensorPtr& out, const TensorPtr& result, bool index_result, const char* op) {
  if (out->device != result->device)
    fail(ErrorKind::Runtime, op, "Expected out tensor to have device ", result->device.str(), ", but got ",
         out->device.str(), " instead");
  if (index_result && out->dtype != DType::Int64)
    fail(ErrorKind::Runtime, op, "Expected out tensor to have dtype long int, but got ", dtype_name(out->dtype),
         " instead");
  if (!can_cast(result->dtype, out->dtype))
    fail(ErrorKind::Runtime, op, "result type ", scalar_type_name(result->dtype),
         " can't be cast to the desired output type ", scalar_type_name(out->dtype), ". Hint: pass an out tensor of "
         "dtype ", dtype_name(result->dtype), ".");
  if (out->shape != result->shape) resize_out(out, result->shape, op);
  ops::copy_into(out, result);
  out->bump_version();
}

// The wrapper's state: the wrapped callable and the function's name.
struct OutWrapped {
  PyObject* inner;
  const char* name;
  bool index_result;  // argmax / argmin
};
std::vector<OutWrapped>& wrapped() {
  static std::vector<OutWrapped> w;
  return w;
}

PyObject* call_with_out(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  const OutWrapped& w = wrapped()[static_cast<size_t>(PyLong_AsSsize_t(self))];
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  Py_ssize_t out_at = -1;
  for (Py_ssize_t k = 0; k < nkw; ++k)
    if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, k), "out") == 0) out_at = k;
  if (out_at < 0) return PyObject_Vectorcall(w.inner, args, static_cast<size_t>(nargs), kwnames);
  return slot_call([&]() -> PyObject* {
    py::handle out = args[nargs + out_at];
    // The call without out=.
    std::vector<PyObject*> rest(args, args + nargs);
    py::list names;
    for (Py_ssize_t k = 0; k < nkw; ++k)
      if (k != out_at) {
        rest.push_back(args[nargs + k]);
        names.append(PyTuple_GET_ITEM(kwnames, k));
      }
    py::tuple kw = py::tuple(names);
    auto call = [&] {
      PyObject* r = PyObject_Vectorcall(w.inner, rest.data(), static_cast<size_t>(nargs), nkw > 1 ? kw.ptr() : nullptr);
      if (!r) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(r);
    };
    if (out.is_none()) return call().release().ptr();
    const bool tuple_out = PyTuple_Check(out.ptr()) || PyList_Check(out.ptr());
    if (!tuple_out && !is_tensor(out))
      fail(ErrorKind::Type, w.name, "argument 'out' must be Tensor, not ", type_name(out));
    if (GradMode::is_enabled()) {
      bool grad = requires_grad_arg(out);
      for (size_t i = 0; i < rest.size() && !grad; ++i) grad = requires_grad_arg(rest[i]);
      if (grad)
        fail(ErrorKind::Runtime, w.name, "functions with out=... arguments don't support automatic differentiation, "
             "but one of the arguments requires grad. Hint: call it under gradcore.no_grad(), or drop out=.");
    }
    py::object result = call();
    if (is_tensor(result)) {
      if (tuple_out) fail(ErrorKind::Type, w.name, "argument 'out' must be Tensor, not ", type_name(out));
      write_out(out.cast<TensorPtr>(), result.cast<TensorPtr>(), w.index_result, w.name);
      return out.inc_ref().ptr();
    }
    // A named tuple of tensors (max / min along a dim): out is a tuple of as many tensors.
    auto parts = py::reinterpret_borrow<py::tuple>(result);
    if (!tuple_out || py::len(out) != parts.size())
      fail(ErrorKind::Type, w.name, "argument 'out' must be a tuple of ", parts.size(), " Tensors, not ",
           type_name(out));
    py::tuple outs(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      py::object o = py::reinterpret_borrow<py::sequence>(out)[i];
      write_out(as_tensor(o, w.name, "out"), parts[i].cast<TensorPtr>(), i == 1, w.name);
      outs[i] = o;
    }
    return py::type::of(result)(*outs).release().ptr();
  });
}

// Puts the wrapper in front of `name`'s binding: as its fast call's fallback when it has one,
// else as gradcore.<name> itself.
void add_out_argument(py::module_ fns, const char* name, bool index_result) {
  PyObject** slot = fast_function_fallback(name);
  PyObject* inner = slot ? *slot : py::object(fns.attr(name)).release().ptr();
  wrapped().push_back({inner, name, index_result});
  static std::deque<PyMethodDef> defs;  // must outlive the module, as their docstrings
  static std::deque<std::string> docs;
  py::object doc = py::handle(inner).attr("__doc__");
  if (!doc.is_none()) docs.push_back(doc.cast<std::string>());
  defs.push_back({name, reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&call_with_out)),
                  METH_FASTCALL | METH_KEYWORDS, doc.is_none() ? nullptr : docs.back().c_str()});
  py::object id = py::int_(wrapped().size() - 1);
  PyObject* fn = PyCFunction_NewEx(&defs.back(), id.ptr(), fns.attr("__name__").ptr());
  if (!fn) throw py::error_already_set();
  if (slot) *slot = fn;  // the fast call hands keyword calls to it (it keeps the binding, inner, alive)
  else fns.attr(name) = py::reinterpret_steal<py::object>(fn);
}

}  // namespace

void install_out_arguments(py::module_& m) {
  auto fns = functions(m);
  for (const char* name : {"add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow",
                           "maximum", "minimum", "remainder", "fmod", "floor_divide", "atan2", "matmul", "mm", "bmm",
                           "cat", "concat", "concatenate", "stack", "sum", "mean", "prod", "amax", "amin", "max",
                           "min", "clamp", "clip", "clamp_min", "clamp_max", "where", "round", "negative"})
    if (py::hasattr(fns, name)) add_out_argument(fns, name, false);
  for (const char* name : {"argmax", "argmin"}) add_out_argument(fns, name, true);
#define GC_OUT_ROW(F, fn_name, dtype, saves, api) \
  if (kernels::UnaryApi::api == kernels::UnaryApi::Tensor) add_out_argument(fns, fn_name, false);
  GC_UNARY_OPS(GC_OUT_ROW)
#undef GC_OUT_ROW
}

}  // namespace gc::bind
