// Bindings of the reduction family, with PyTorch's overloads folded into one function each:
// x.max() / x.max(dim, keepdim) -> (values, indices) / x.max(other); var/std with `unbiased`
// or `correction`; norm with p as a number, 'fro' or inf.
#include <algorithm>
#include <cmath>
#include "bind/common.h"

namespace gc::bind {

namespace {

std::string type_name(py::handle h) { return py::str(py::type::of(h).attr("__name__")).cast<std::string>(); }

// A single dim: a Python int (not a bool) or anything with __index__.
int64_t int_dim(py::handle h, const char* op) {
  if (PyBool_Check(h.ptr()) || !(PyLong_Check(h.ptr()) || PyIndex_Check(h.ptr())))
    fail(ErrorKind::Type, op, "argument 'dim' must be an int, not ", type_name(h));
  return py::int_(py::reinterpret_borrow<py::object>(h)).cast<int64_t>();
}

std::optional<int64_t> optional_int_dim(py::handle h, const char* op) {
  if (h.is_none()) return std::nullopt;
  return int_dim(h, op);
}

bool bool_arg(py::handle h, const char* op, const char* arg) {
  if (!PyBool_Check(h.ptr())) fail(ErrorKind::Type, op, "argument '", arg, "' must be bool, not ", type_name(h));
  return h.ptr() == Py_True;
}

// The `dtype=` of prod and norm: the input is converted before reducing, as PyTorch does.
TensorPtr with_dtype(const TensorPtr& x, py::handle dtype, const char* op) {
  auto dt = optional_dtype(dtype, op);
  return dt && *dt != x->dtype ? ops::to_dtype(x, *dt) : x;
}

// var/std(dim=None, unbiased=None, keepdim=False, *, correction=None). A bool in the dim slot
// is PyTorch's var(unbiased) overload.
double correction_arg(py::object& dim, py::handle unbiased, py::handle correction, const char* op) {
  if (PyBool_Check(dim.ptr())) {
    if (!unbiased.is_none()) fail(ErrorKind::Type, op, "got `unbiased` twice (as the first positional argument and by name)");
    double c = dim.ptr() == Py_True ? 1.0 : 0.0;
    dim = py::none();
    if (!correction.is_none()) fail(ErrorKind::Type, op, "pass either `unbiased` or `correction`, not both");
    return c;
  }
  if (!unbiased.is_none() && !correction.is_none())
    fail(ErrorKind::Type, op, "pass either `unbiased` or `correction`, not both (unbiased=True is correction=1)");
  if (!unbiased.is_none()) return bool_arg(unbiased, op, "unbiased") ? 1.0 : 0.0;
  if (correction.is_none()) return 1.0;
  if (PyBool_Check(correction.ptr()) || !(PyLong_Check(correction.ptr()) || PyFloat_Check(correction.ptr())))
    fail(ErrorKind::Type, op, "argument 'correction' must be a number, not ", type_name(correction));
  return py::float_(py::reinterpret_borrow<py::object>(correction)).cast<double>();
}

// norm's p: a number, inf, 'fro' (the 2-norm of the flattened dims) or None (the same).
double norm_order(py::handle p) {
  if (p.is_none()) return 2.0;
  if (py::isinstance<py::str>(p)) {
    auto s = p.cast<std::string>();
    if (s == "fro") return 2.0;
    if (s == "nuc")
      fail(ErrorKind::NotImplemented, "norm", "the nuclear norm (p='nuc') is not supported by gradcore. Hint: use "
           "p=2, p=1 or p=float('inf') for vector norms");
    fail(ErrorKind::Runtime, "norm", "order '", s, "' is not supported; expected a number, inf or 'fro'");
  }
  if (PyBool_Check(p.ptr()) || !(PyLong_Check(p.ptr()) || PyFloat_Check(p.ptr())))
    fail(ErrorKind::Type, "norm", "argument 'p' must be a number or 'fro', not ", type_name(p));
  return py::float_(py::reinterpret_borrow<py::object>(p)).cast<double>();
}

// any/all over an int, a tuple of ints (one reduction per dim, innermost first, so earlier dims
// keep their numbers) or None (every dim). An empty tuple reduces nothing, as in PyTorch.
TensorPtr any_all(const TensorPtr& x, py::handle dim, bool keepdim, bool is_all) {
  const char* op = is_all ? "all" : "any";
  auto f = [is_all](const TensorPtr& t, std::optional<int64_t> d, bool kd) {
    return is_all ? ops::all(t, d, kd) : ops::any(t, d, kd);
  };
  if (dim.is_none()) return f(x, std::nullopt, keepdim);
  if (PyLong_Check(dim.ptr()) || PyIndex_Check(dim.ptr())) return f(x, int_dim(dim, op), keepdim);
  DimVector dims = int_list(dim, op, "dim");
  if (dims.empty()) return ops::to_dtype(ops::to_dtype(x, DType::Bool, true), x->dtype == DType::UInt8 ? DType::UInt8 : DType::Bool);
  for (auto& d : dims) d = wrap_dim(d, x->dim(), op);
  std::sort(dims.begin(), dims.end());
  if (std::adjacent_find(dims.begin(), dims.end()) != dims.end())
    fail(ErrorKind::Runtime, op, "dim ", *std::adjacent_find(dims.begin(), dims.end()),
         " appears multiple times in the list of dims");
  TensorPtr r = x;
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) r = f(r, x->dim() == 0 ? 0 : *it, keepdim);
  return r;
}

}  // namespace

static void bind_reduce(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);

  py::object max_type = values_indices_type(m, "max"), min_type = values_indices_type(m, "min");

  // Binds `name` as a method (self first) and as gradcore.<name>(input, ...).
  auto both = [&](const char* name, auto f, auto... args) {
    cls.def(name, f, args...);
    fns.def(name, f, py::arg("input"), args...);
  };

  auto sum = [](const TensorPtr& x, py::object dim, bool keepdim, py::object dtype) {
    auto dims = dims_arg(dim, "sum");
    auto dt = optional_dtype(dtype, "sum");
    auto xc = ops::autocast("sum", x, dt.has_value());
    return maybe_release(x->numel(), [&] { return ops::sum(xc, dims, keepdim, dt); });
  };
  auto mean = [](const TensorPtr& x, py::object dim, bool keepdim, py::object dtype) {
    auto dims = dims_arg(dim, "mean");
    auto dt = optional_dtype(dtype, "mean");
    return maybe_release(x->numel(), [&] { return ops::mean(x, dims, keepdim, dt); });
  };
  both("sum", sum, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());
  both("mean", mean, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());

  for (bool is_std : {false, true}) {
    const char* name = is_std ? "std" : "var";
    both(name, [is_std, name](const TensorPtr& x, py::object dim, py::object unbiased, bool keepdim, py::object correction) {
      double c = correction_arg(dim, unbiased, correction, name);
      auto dims = dims_arg(dim, name);
      return maybe_release(x->numel(), [&] {
        return is_std ? ops::std(x, dims, c, keepdim) : ops::var(x, dims, c, keepdim);
      });
    }, py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false, py::kw_only(),
       py::arg("correction") = py::none());
  }

  both("prod", [](const TensorPtr& x, py::object dim, bool keepdim, py::object dtype) {
    auto d = optional_int_dim(dim, "prod");
    auto xc = with_dtype(ops::autocast("prod", x, !dtype.is_none()), dtype, "prod");
    return maybe_release(x->numel(), [&] { return ops::prod(xc, d, keepdim); });
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());

  for (bool is_max : {true, false}) {
    const char* name = is_max ? "amax" : "amin";
    both(name, [is_max, name](const TensorPtr& x, py::object dim, bool keepdim) {
      auto dims = dims_arg(dim, name);
      return maybe_release(x->numel(), [&] { return is_max ? ops::amax(x, dims, keepdim) : ops::amin(x, dims, keepdim); });
    }, py::arg("dim") = py::tuple(), py::arg("keepdim") = false);
  }

  // max/min: () -> all-reduce value; (dim, keepdim=False) -> (values, indices); (other) ->
  // elementwise maximum/minimum.
  for (bool is_max : {true, false}) {
    const char* name = is_max ? "max" : "min";
    py::handle rtype = is_max ? max_type : min_type;
    both(name, [is_max, name, rtype](const TensorPtr& x, py::object dim, py::object keepdim, py::object other) -> py::object {
      if (is_tensor(dim) || !other.is_none()) {
        if (is_tensor(dim) && !other.is_none())
          fail(ErrorKind::Type, name, "got two tensors to compare with (dim and other)");
        if (!keepdim.is_none()) fail(ErrorKind::Type, name, "keepdim is not accepted together with another tensor");
        auto o = as_tensor(other.is_none() ? dim : other, name, "other");
        return py::cast(maybe_release(x->numel(), [&] { return is_max ? ops::maximum(x, o) : ops::minimum(x, o); }));
      }
      if (dim.is_none()) {
        if (!keepdim.is_none())
          fail(ErrorKind::Type, name, "keepdim needs a dim. Hint: x.", name, "(dim, keepdim=True), or x.a", name, "() for all dims");
        if (x->numel() == 0)
          fail(ErrorKind::Runtime, name, "expected reduction dim to be specified for an empty input of shape ",
               shape_str(x->shape), ": the operation has no identity. Hint: pass dim= to reduce over a non-empty dim");
        return py::cast(maybe_release(x->numel(), [&] { return is_max ? ops::amax(x, {}, false) : ops::amin(x, {}, false); }));
      }
      int64_t d = int_dim(dim, name);
      bool kd = keepdim.is_none() ? false : bool_arg(keepdim, name, "keepdim");
      auto r = maybe_release(x->numel(), [&] { return is_max ? ops::max_dim(x, d, kd) : ops::min_dim(x, d, kd); });
      return rtype(r.first, r.second);
    }, py::arg("dim") = py::none(), py::arg("keepdim") = py::none(), py::kw_only(), py::arg("other") = py::none());
  }

  for (bool is_max : {true, false}) {
    const char* name = is_max ? "argmax" : "argmin";
    both(name, [is_max, name](const TensorPtr& x, py::object dim, bool keepdim) {
      auto d = optional_int_dim(dim, name);
      return maybe_release(x->numel(), [&] { return is_max ? ops::argmax(x, d, keepdim) : ops::argmin(x, d, keepdim); });
    }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  }

  both("norm", [](const TensorPtr& x, py::object p, py::object dim, bool keepdim, py::object dtype) {
    double ord = norm_order(p);
    auto dims = dims_arg(dim, "norm");
    // PyTorch's norm with a number or 'fro' is linalg.vector_norm (fp32_set_opt_dtype on CUDA).
    auto xc = with_dtype(ops::autocast("linalg_vector_norm", x, !dtype.is_none()), dtype, "norm");
    return maybe_release(x->numel(), [&] { return ops::norm(xc, ord, dims, keepdim); });
  }, py::arg("p") = "fro", py::arg("dim") = py::none(), py::arg("keepdim") = false, py::arg("dtype") = py::none());

  for (bool is_all : {false, true})
    both(is_all ? "all" : "any", [is_all](const TensorPtr& x, py::object dim, bool keepdim) {
      return any_all(x, dim, keepdim, is_all);
    }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
}

GC_REGISTER_BINDINGS(bind_reduce)

}  // namespace gc::bind
