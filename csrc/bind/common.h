// Shared by every binding file: how Python values become shapes, dims, dtypes, devices, scalars
// and tensors, and how each op family registers its bindings without touching a central list.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <optional>
#include "core/tensor.h"
#include "ops/ops.h"

namespace py = pybind11;

// DimVector (a SmallVector) converts like std::vector: from any sequence of ints, to a list.
namespace pybind11::detail {
template <typename T, size_t N>
struct type_caster<gc::SmallVector<T, N>> {
  using Vec = gc::SmallVector<T, N>;
  PYBIND11_TYPE_CASTER(Vec, const_name("list[") + make_caster<T>::name + const_name("]"));
  bool load(handle src, bool convert) {
    if (!isinstance<sequence>(src) || isinstance<bytes>(src) || isinstance<str>(src)) return false;
    auto seq = reinterpret_borrow<sequence>(src);
    value.clear();
    value.reserve(seq.size());
    for (auto item : seq) {
      make_caster<T> conv;
      if (!conv.load(item, convert)) return false;
      value.push_back(cast_op<T&&>(std::move(conv)));
    }
    return true;
  }
  static handle cast(const gc::SmallVector<T, N>& src, return_value_policy, handle) {
    list l(src.size());
    for (size_t i = 0; i < src.size(); ++i) PyList_SET_ITEM(l.ptr(), static_cast<ssize_t>(i), PyLong_FromLongLong(static_cast<long long>(src[i])));
    return l.release();
  }
};

// Tensor arguments and results (std::shared_ptr<Tensor>, the class's holder). Every op crosses
// this caster two or three times, so it goes straight to the instance: pybind11's generic holder
// caster looks the C++ type up in its registry (a hash of the type's name) each time a caster is
// made, for each argument and each result, which was a third of a small op's cost.
//   load: a Tensor (or a Python subclass such as Parameter) gives its holder; anything else,
//         None included, does not load (a TypeError naming the function, as in PyTorch; optional
//         tensors are std::optional<TensorPtr> or py::object in the binding).
//   cast: the Python object already wrapping this tensor when there is one (in-place ops return
//         self), else a new instance holding a copy of the shared_ptr; null becomes None.
template <>
class type_caster<std::shared_ptr<gc::Tensor>> {
 public:
  static constexpr auto name = const_name("Tensor");
  // The op gets a reference to the holder inside the Python object (alive for the whole call, as
  // the caller holds it), so passing a tensor costs no reference-count update; a by-value
  // parameter copies from it.
  template <typename T>
  using cast_op_type = pybind11::detail::cast_op_type<T>;
  operator std::shared_ptr<gc::Tensor>&() { return *held; }
  operator std::shared_ptr<gc::Tensor>*() { return held; }

  bool load(handle src, bool /*convert*/) {
    const type_info* ti = tensor_type_info();
    if (!src || !ti || !PyType_IsSubtype(Py_TYPE(src.ptr()), ti->type)) return false;
    auto* inst = reinterpret_cast<instance*>(src.ptr());
    value_and_holder vh = inst->simple_layout ? value_and_holder(inst, ti, 0, 0) : inst->get_value_and_holder(ti, false);
    if (!vh || !vh.holder_constructed()) return false;
    held = &vh.template holder<std::shared_ptr<gc::Tensor>>();
    return true;
  }

  static handle cast(const std::shared_ptr<gc::Tensor>& src, return_value_policy, handle) {
    if (!src) return none().release();
    const type_info* ti = tensor_type_info();
    if (!ti) throw cast_error("gradcore.Tensor is not registered yet");
    // A Python object wrapping this tensor holds a reference to it: when src is the only one (a
    // new result), there is none to look for.
    if (src.use_count() > 1)
      if (handle existing = find_registered_python_instance(src.get(), ti)) return existing;
    auto inst = reinterpret_steal<object>(make_new_instance(ti->type));
    auto* wrapper = reinterpret_cast<instance*>(inst.ptr());
    value_and_holder(wrapper, ti, 0, 0).value_ptr() = src.get();
    wrapper->owned = true;
    ti->init_instance(wrapper, &src);  // copy-constructs the holder from src
    return inst.release();
  }

 private:
  std::shared_ptr<gc::Tensor>* held = nullptr;

  // pybind11's record of gradcore.Tensor, found once (after bind/tensor.cpp registered it).
  static const type_info* tensor_type_info() {
    static const type_info* ti = nullptr;
    if (!ti) ti = get_type_info(typeid(gc::Tensor));
    return ti;
  }
};
// Still the holder of py::class_<Tensor, TensorPtr> (pybind11 recognises holders by their caster).
template <>
struct is_holder_type<gc::Tensor, std::shared_ptr<gc::Tensor>> : std::true_type {};
}  // namespace pybind11::detail

namespace gc::bind {

using TensorClass = py::class_<Tensor, TensorPtr>;

// Each op family's binding file defines `static void bind_xxx(py::module_& m, TensorClass& cls)`
// and registers it with GC_REGISTER_BINDINGS(bind_xxx). `m` is gradcore._C; module-level ops
// go on `m.attr("functions")` (everything public there is re-exported as gradcore.<name>),
// tensor methods on `cls`.
using Binder = void (*)(py::module_&, TensorClass&);
int register_binder(Binder b, bool after_all = false);
#define GC_REGISTER_BINDINGS(fn) static const int gc_registered_##fn = ::gc::bind::register_binder(fn);
// Runs after every GC_REGISTER_BINDINGS binder: the fast calls, which stand in front of bindings
// that must all exist first.
#define GC_REGISTER_FAST_CALLS(fn) static const int gc_registered_##fn = ::gc::bind::register_binder(fn, true);

// The Python type name of a value, for error messages.
std::string type_name(py::handle h);

// ---- NumPy interop (bind/numpy.cpp) ----
// A tensor sharing the array's memory (the storage keeps a reference to the array).
TensorPtr from_numpy(py::array arr);
// An array viewing the tensor's memory (CPU tensors that do not require grad).
py::array to_numpy(const TensorPtr& t);
// A new tensor copied from the array, converted to `dtype` when given (gradcore.tensor's back end).
TensorPtr tensor_from_numpy_copy(py::array arr, std::optional<DType> dtype, bool from_python);

// A shape as gradcore.Size (a tuple subclass).
py::object make_size(const DimVector& s);

// The body of a C slot of the Tensor type (nb_add, nb_negative, ...): f() returns the new
// reference; a C++ exception becomes the Python exception pybind11 would raise for it.
template <typename F>
PyObject* slot_call(const F& f) noexcept {
  try {
    return f();
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

// ---- fast calls: the hottest functions and methods in front of their pybind11 bindings ----
// pybind11's dispatcher (overload resolution, argument casters, defaults, keywords) is most of a
// small op's cost. For the plain positional forms (gradcore.exp(x), x.exp(), gradcore.mul(a, b),
// a.mul(b)) a METH_FASTCALL function does the call itself and hands anything else (keywords,
// other counts or types) to the pybind11 binding it replaced, unchanged, so errors, signatures
// and extra arguments stay pybind11's. `def` must outlive the module (a static); `fallback`
// receives the binding it stands in front of (a strong reference, kept for the process).
void install_fast_function(py::module_ mod, PyMethodDef* def, PyObject** fallback);
void install_fast_method(TensorClass& cls, PyMethodDef* def, PyObject** fallback);
// Both at once for an op `name` with a fast function form and method form (static method
// definitions, one per instantiation).
using FastFn = PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t, PyObject*);
template <FastFn Function, FastFn Method>
void install_fast_pair(py::module_ fns, TensorClass& cls, const char* name, PyObject** function_fallback,
                       PyObject** method_fallback) {
  static PyMethodDef fdef{name, reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Function)),
                          METH_FASTCALL | METH_KEYWORDS, nullptr};
  static PyMethodDef mdef{name, reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Method)),
                          METH_FASTCALL | METH_KEYWORDS, nullptr};
  install_fast_function(fns, &fdef, function_fallback);
  install_fast_method(cls, &mdef, method_fallback);
}
// Where the fast call of gradcore.<name> keeps its fallback (null when it has none): bind/out.cpp
// puts its out= wrapper there.
PyObject** fast_function_fallback(const char* name);
// Gives the functions that take out= in PyTorch their out= argument (bind/out.cpp); runs last.
void install_out_arguments(py::module_& m);
// The fallback for a method: the unbound binding called with self first.
PyObject* call_method_fallback(PyObject* fallback, PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                               PyObject* kwnames);
// The tensor a Python object holds, without a reference-count update, or null when it is not a
// Tensor with pybind11's simple layout (then the fast path steps aside).
const TensorPtr* held_tensor(PyObject* o);

// Module for functions exported as gradcore.<name>.
py::module_ functions(py::module_& m);
// gradcore.return_types.<name>: the namedtuple (values, indices) of an op returning both (max,
// min, sort, topk), like torch.return_types.<name>; made on first use.
py::object values_indices_type(py::module_& m, const char* name);

// ---- conversions from Python (TypeError on the wrong kind, naming `op` and `arg`) ----
bool is_tensor(py::handle h);
TensorPtr as_tensor(py::handle h, const char* op, const char* arg);
// Tensor, or a Python/NumPy number turned into a wrapped 0-dim tensor on `device`.
TensorPtr tensor_or_scalar(py::handle h, Device device, const char* op, const char* arg);
bool is_scalar(py::handle h);
Scalar to_scalar(py::handle h, const char* op, const char* arg);
// Shape from `view(2, 3)`, `view((2, 3))`, `view([2, 3])`, `view(gradcore.Size([2, 3]))`.
DimVector shape_from_args(const py::args& args, const char* op);
DimVector int_list(py::handle h, const char* op, const char* arg);

// An int, or a sequence of 1 or 2 ints, as the pair a 2-D op (conv2d, max_pool2d) takes; another
// length calls bad_length(ints), which raises that op's own PyTorch error.
template <typename F>
void int_pair(py::handle h, const char* op, const char* arg, int64_t out[2], const F& bad_length) {
  if (PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr())) {
    out[0] = out[1] = h.cast<int64_t>();
    return;
  }
  DimVector v = int_list(h, op, arg);
  if (v.size() != 1 && v.size() != 2) bad_length(v);
  out[0] = v[0], out[1] = v.size() == 2 ? v[1] : v[0];
}

// dim=None -> empty (all dims), an int, or a tuple/list of ints.
DimVector dims_arg(py::handle h, const char* op);
DType dtype_arg(py::handle h, const char* op);
std::optional<DType> optional_dtype(py::handle h, const char* op);
Device device_arg(py::handle h, const char* op);
std::optional<Device> optional_device(py::handle h, const char* op);
Generator* generator_arg(py::handle h);
// reduction='mean' | 'sum' | 'none' of the losses (ValueError / TypeError otherwise).
ops::Reduction reduction_arg(py::handle h, const char* op);
// None, or a tensor (TypeError for anything else).
TensorPtr optional_tensor(py::handle h, const char* op, const char* arg);

// Runs f with the GIL released when the work is large enough to be worth the switch.
template <typename F>
auto maybe_release(int64_t work, F&& f) -> decltype(f()) {
  if (work >= (1 << 16)) {
    py::gil_scoped_release release;
    return f();
  }
  return f();
}

}  // namespace gc::bind
