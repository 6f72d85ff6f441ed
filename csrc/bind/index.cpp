// Bindings of the indexing family, and the Python indexing protocol: Tensor.__getitem__ and
// __setitem__ parse their index in C++ (ints, slices, None, ..., bools, int64/bool tensors,
// lists, ranges and NumPy arrays) into basic view steps plus advanced index tensors, PyTorch's way:
// ints, slices and None are views (ops::select/slice/unsqueeze), then the tensors index the
// result (ops::index, a copy). The common cases (one int, one slice, a tuple of them) build no
// Python object.
#include "bind/common.h"
#include "ops/index.h"

namespace gc::bind {

namespace {

std::string type_name(py::handle h) { return py::str(py::type::of(h).attr("__name__")).cast<std::string>(); }

// One parsed entry of an index tuple.
struct Item {
  enum Kind : uint8_t { Int, Slice, NewAxis, Ellipsis, Bool, Tensor } kind = Int;
  int64_t i = 0;  // Int: the index; Bool: 0/1
  Py_ssize_t start = 0, stop = 0, step = 1;
  TensorPtr t;  // Tensor: int64, or bool with dim >= 1
  // How many dims of the indexed tensor this entry consumes.
  int64_t dims() const {
    if (kind == Int || kind == Slice) return 1;
    if (kind == Tensor) return t->dtype == DType::Bool ? t->dim() : 1;
    return 0;
  }
};

[[noreturn]] void invalid_index(py::handle h) {
  // A string is a TypeError in PyTorch (it tries to build an index tensor from it); the rest IndexError.
  const bool text = PyUnicode_Check(h.ptr()) || PyBytes_Check(h.ptr());
  fail(text ? ErrorKind::Type : ErrorKind::Index, "__getitem__", "only integers, slices (`:`), ellipsis (`...`), None, bools and int64 or bool "
       "tensors (or lists / NumPy arrays of them) are valid indices (got ", type_name(h), ")");
}

int64_t index_int(PyObject* o) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow) fail(ErrorKind::Index, "__getitem__", "index ", py::str(o).cast<std::string>(), " does not fit in int64");
  return v;
}

void unpack_slice(PyObject* o, Item& it) {
  it.kind = Item::Slice;
  if (PySlice_Unpack(o, &it.start, &it.stop, &it.step) < 0) throw py::error_already_set();
  if (it.step < 0)
    fail(ErrorKind::Value, "__getitem__", "step must be greater than zero (got ", it.step, "); negative steps are "
         "not supported. Hint: index with a reversed arange, e.g. x[gradcore.arange(n - 1, -1, -1)].");
}

TensorPtr tensor_from_array(py::array a, py::handle src) {
  char kind = a.dtype().kind();
  if (a.size() == 0 && kind == 'f') kind = 'i';  // [] is an empty int64 index, as in PyTorch
  DType dt;
  py::array c;
  if (kind == 'b') {
    dt = DType::Bool;
    c = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(a);
  } else if (kind == 'i' || kind == 'u') {
    dt = DType::Int64;
    c = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
  } else {
    fail(ErrorKind::Index, "__getitem__", "arrays and lists used as indices must hold integers or bools, got ",
         kind == 'f' ? "floats" : py::str(a.dtype()).cast<std::string>(), " (from ", type_name(src), ")");
  }
  if (!c) throw py::error_already_set();
  auto t = ops::empty(DimVector(c.shape(), c.shape() + c.ndim()), dt, Device{});
  if (t->numel()) std::memcpy(t->data(), c.data(), static_cast<size_t>(t->numel()) * t->itemsize());
  return t;
}

// A list/tuple inside an index: flat lists of ints or bools directly, anything nested via NumPy.
TensorPtr tensor_from_sequence(py::handle seq) {
  PyObject* o = seq.ptr();
  Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
  PyObject** items = PySequence_Fast_ITEMS(o);
  bool all_int = n > 0, all_bool = n > 0;
  for (Py_ssize_t k = 0; k < n; ++k) {
    all_bool &= PyBool_Check(items[k]);
    all_int &= PyLong_Check(items[k]) && !PyBool_Check(items[k]);
  }
  if (all_int) {
    auto t = ops::empty({static_cast<int64_t>(n)}, DType::Int64, Device{});
    auto* p = t->data_as<int64_t>();
    for (Py_ssize_t k = 0; k < n; ++k) p[k] = index_int(items[k]);
    return t;
  }
  if (all_bool) {
    auto t = ops::empty({static_cast<int64_t>(n)}, DType::Bool, Device{});
    auto* p = t->data_as<bool>();
    for (Py_ssize_t k = 0; k < n; ++k) p[k] = items[k] == Py_True;
    return t;
  }
  py::array a;
  try {
    a = py::module_::import("numpy").attr("asarray")(seq);
  } catch (py::error_already_set&) {
    fail(ErrorKind::Index, "__getitem__", "a list used as an index must be a (nested, rectangular) list of ints or "
         "bools, got ", py::repr(seq).cast<std::string>());
  }
  if (a.dtype().kind() == 'O') invalid_index(seq);
  return tensor_from_array(a, seq);
}

void tensor_item(TensorPtr t, Item& it) {
  // PyTorch takes int32 indices as int64 ones and (deprecated) uint8 indices as bool masks
  if (t->dtype == DType::Int32 || t->dtype == DType::UInt8)
    t = ops::to_dtype(t, t->dtype == DType::Int32 ? DType::Int64 : DType::Bool);
  if (t->dtype != DType::Int64 && t->dtype != DType::Bool)
    fail(ErrorKind::Index, "__getitem__", "tensors used as indices must be long, int, byte or bool tensors, got ",
         dtype_name(t->dtype), ". Hint: convert the index with .long().");
  if (t->dim() == 0) {  // a 0-dim int64 tensor is an int (a view); a 0-dim bool, a bool
    it.kind = t->dtype == DType::Int64 ? Item::Int : Item::Bool;
    auto h = ops::to_cpu(t);  // the value decides the view, so it is read on the host
    it.i = h->dtype == DType::Int64 ? *h->data_as<int64_t>() : *h->data_as<bool>();
    return;
  }
  it.kind = Item::Tensor;
  it.t = std::move(t);
}

void to_item(py::handle h, Item& it) {
  PyObject* o = h.ptr();
  if (PyLong_Check(o)) {
    if (PyBool_Check(o)) {
      it.kind = Item::Bool;
      it.i = o == Py_True;
    } else {
      it.kind = Item::Int;
      it.i = index_int(o);
    }
  } else if (PySlice_Check(o)) {
    unpack_slice(o, it);
  } else if (o == Py_None) {
    it.kind = Item::NewAxis;
  } else if (o == Py_Ellipsis) {
    it.kind = Item::Ellipsis;
  } else if (is_tensor(h)) {
    tensor_item(h.cast<TensorPtr>(), it);
  } else if (PyList_Check(o) || PyTuple_Check(o)) {
    tensor_item(tensor_from_sequence(h), it);
  } else if (PyRange_Check(o)) {  // a sequence of ints, as a list of them
    tensor_item(tensor_from_sequence(py::list(py::reinterpret_borrow<py::object>(h))), it);
  } else if (py::isinstance<py::array>(h)) {
    tensor_item(tensor_from_array(py::reinterpret_borrow<py::array>(h), h), it);
  } else if (PyObject_HasAttrString(o, "dtype") && !PyFloat_Check(o)) {  // NumPy scalars
    char kind = py::dtype::from_args(h.attr("dtype")).kind();
    if (kind == 'b') {
      it.kind = Item::Bool;
      it.i = PyObject_IsTrue(o);
    } else if (kind == 'i' || kind == 'u') {
      it.kind = Item::Int;
      it.i = index_int(py::int_(py::reinterpret_borrow<py::object>(h)).ptr());
    } else {
      invalid_index(h);
    }
  } else if (PyIndex_Check(o) && !PyFloat_Check(o)) {
    it.kind = Item::Int;
    it.i = index_int(py::reinterpret_steal<py::object>(PyNumber_Index(o)).ptr());
  } else {
    invalid_index(h);
  }
}

// Parses an index into view steps and advanced index tensors (one entry per dim of the viewed
// tensor, null where the dim is taken whole; a k-dim mask is one entry covering k dims).
void parse_index(const Tensor& x, py::handle index, ops::BasicIndexList& steps, TensorList& adv) {
  std::vector<Item> items;
  if (PyTuple_Check(index.ptr())) {
    Py_ssize_t n = PyTuple_GET_SIZE(index.ptr());
    items.resize(n);
    for (Py_ssize_t k = 0; k < n; ++k) to_item(PyTuple_GET_ITEM(index.ptr(), k), items[k]);
  } else {
    items.resize(1);
    to_item(index, items[0]);
  }
  int64_t consumed = 0, ellipses = 0;
  for (const auto& it : items) {
    consumed += it.dims();
    ellipses += it.kind == Item::Ellipsis;
  }
  if (ellipses > 1) fail(ErrorKind::Index, "__getitem__", "an index can only have a single ellipsis ('...')");
  if (consumed > x.dim()) {
    if (x.dim() == 0)
      fail(ErrorKind::Index, "__getitem__", "invalid index of a 0-dim tensor. Hint: use tensor.item() to get the number");
    fail(ErrorKind::Index, "__getitem__", "too many indices for tensor of dimension ", x.dim(), " (shape ",
         shape_str(x.shape), ")");
  }
  steps.reserve(items.size());
  // dim: position in the view being built; src: the dim of x the next entry indexes;
  // covered: how many dims of the view the advanced list spans so far.
  int64_t dim = 0, src = 0, covered = 0;
  auto record = [&](TensorPtr t, int64_t span) {
    for (; covered < dim; ++covered) adv.push_back(nullptr);
    adv.push_back(std::move(t));
    covered += span;
    dim += span;
  };
  for (auto& it : items) {
    switch (it.kind) {
      case Item::Int: {
        int64_t n = x.shape[src++];
        if (it.i < -n || it.i >= n)
          fail(ErrorKind::Index, "__getitem__", "index ", it.i, " is out of bounds for dimension ", src - 1,
               " with size ", n);
        steps.push_back({ops::BasicIndex::Select, dim, it.i, 0, 1});
        break;
      }
      case Item::Slice: steps.push_back({ops::BasicIndex::Slice, dim, it.start, it.stop, it.step}); ++dim; ++src; break;
      case Item::NewAxis: steps.push_back({ops::BasicIndex::Unsqueeze, dim, 0, 0, 1}); ++dim; break;
      case Item::Ellipsis: dim += x.dim() - consumed; src += x.dim() - consumed; break;
      case Item::Bool: {  // a new axis of size 1, indexed by [0] (True) or [] (False)
        steps.push_back({ops::BasicIndex::Unsqueeze, dim, 0, 0, 1});
        auto t = ops::zeros({it.i ? 1 : 0}, DType::Int64, x.device);
        record(std::move(t), 1);
        break;
      }
      case Item::Tensor: {
        int64_t span = it.dims();
        record(std::move(it.t), span);
        src += span;
        break;
      }
    }
  }
}

TensorPtr getitem(const TensorPtr& x, py::handle index) {
  PyObject* o = index.ptr();
  // Fast paths: x[i], x[a:b:c], x[None].
  if (PyLong_CheckExact(o)) return ops::select(x, 0, index_int(o));
  if (PySlice_Check(o) && x->dim() > 0) {
    Item it;
    unpack_slice(o, it);
    auto r = ops::apply_basic_index(x, {{ops::BasicIndex::Slice, 0, it.start, it.stop, it.step}});
    return r == x ? ops::alias(x) : r;
  }
  if (o == Py_None) return ops::unsqueeze(x, 0);
  ops::BasicIndexList steps;
  TensorList adv;
  parse_index(*x, index, steps, adv);
  auto r = ops::apply_basic_index(x, steps);
  if (!adv.empty()) return maybe_release(r->numel(), [&] { return ops::index(r, adv); });
  return r == x ? ops::alias(x) : r;
}

void setitem(const TensorPtr& x, py::handle index, py::handle value) {
  TensorPtr v;
  if (is_tensor(value)) {
    v = value.cast<TensorPtr>();
  } else if (is_scalar(value)) {
    v = ops::scalar_tensor(to_scalar(value, "__setitem__", "value"), x->dtype, x->device);
  } else {
    fail(ErrorKind::Type, "__setitem__", "can't assign a ", type_name(value), " to a ", dtype_name(x->dtype),
         " tensor. Hint: wrap it with gradcore.tensor(...) first.");
  }
  ops::BasicIndexList steps;
  TensorList adv;
  parse_index(*x, index, steps, adv);
  maybe_release(x->numel(), [&] { ops::set_item(x, steps, adv, v); });
}

TensorList index_list(py::handle h, const char* op) {
  if (!PyList_Check(h.ptr()) && !PyTuple_Check(h.ptr()))
    fail(ErrorKind::Type, op, "argument 'indices' must be a tuple of tensors, not ", type_name(h));
  TensorList out;
  for (auto item : py::reinterpret_borrow<py::sequence>(h))
    out.push_back(item.is_none() ? nullptr : as_tensor(item, op, "indices"));
  return out;
}

py::object nonzero(const TensorPtr& x, bool as_tuple) {
  auto nz = maybe_release(x->numel(), [&] { return ops::nonzero(x); });
  if (!as_tuple) return py::cast(nz);
  if (x->dim() == 0) return py::make_tuple(ops::zeros({nz->shape[0]}, DType::Int64, x->device));
  py::tuple out(x->dim());
  for (int64_t d = 0; d < x->dim(); ++d) out[d] = ops::select(nz, 1, d);
  return std::move(out);
}

}  // namespace

static void bind_index(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  cls.def("__getitem__", &getitem);
  cls.def("__setitem__", &setitem);

  auto gather = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, bool sparse_grad) {
    return maybe_release(index->numel(), [&] { return ops::gather(x, dim, index); });
  };
  cls.def("gather", gather, py::arg("dim"), py::arg("index"), py::kw_only(), py::arg("sparse_grad") = false);
  fns.def("gather", gather, py::arg("input"), py::arg("dim"), py::arg("index"), py::kw_only(),
          py::arg("sparse_grad") = false);

  // scatter_add and index_put are on CUDA autocast's promote list: self and src / values in one type.
  auto scatter_add = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src) {
    auto ts = ops::autocast_promote("scatter_add", {x, src});
    return maybe_release(index->numel(), [&] { return ops::scatter_add(ts[0], dim, index, ts[1]); });
  };
  cls.def("scatter_add", scatter_add, py::arg("dim"), py::arg("index"), py::arg("src"));
  fns.def("scatter_add", scatter_add, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src"));
  cls.def("scatter_add_", [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src) {
    return maybe_release(index->numel(), [&] { return ops::scatter_add_(x, dim, index, src); });
  }, py::arg("dim"), py::arg("index"), py::arg("src"));

  // scatter(dim, index, src) or scatter(dim, index, value): a number is src filled to index's shape.
  // reduce= is PyTorch's deprecated form (add / multiply); it warns as PyTorch does for a tensor src.
  auto scatter_src = [](const TensorPtr& x, const TensorPtr& index, py::handle src, py::handle value,
                        const py::object& reduce, const char* op) {
    py::handle v = src.is_none() ? value : src;
    if (v.is_none()) fail(ErrorKind::Type, op, "missing the src tensor (or value)");
    if (is_tensor(v)) {
      if (!reduce.is_none())
        PyErr_WarnEx(PyExc_UserWarning, "The reduce argument of torch.scatter with Tensor src is deprecated and will "
                     "be removed in a future PyTorch release. Use torch.scatter_reduce instead for more reduction "
                     "options.", 1);
      return v.cast<TensorPtr>();
    }
    return ops::expand(ops::scalar_tensor(to_scalar(v, op, "value"), x->dtype, x->device), index->shape);
  };
  auto reduce_arg = [](const py::object& r) { return r.is_none() ? std::string() : r.cast<std::string>(); };
  auto scatter = [=](const TensorPtr& x, int64_t dim, const TensorPtr& index, py::object src, py::object value,
                     py::object reduce) {
    auto s = scatter_src(x, index, src, value, reduce, "scatter");
    return maybe_release(index->numel(), [&] { return ops::scatter(x, dim, index, s, reduce_arg(reduce)); });
  };
  auto scatter_ = [=](const TensorPtr& x, int64_t dim, const TensorPtr& index, py::object src, py::object value,
                      py::object reduce) {
    auto s = scatter_src(x, index, src, value, reduce, "scatter_");
    return maybe_release(index->numel(), [&] { return ops::scatter_(x, dim, index, s, reduce_arg(reduce)); });
  };
  cls.def("scatter", scatter, py::arg("dim"), py::arg("index"), py::arg("src") = py::none(), py::kw_only(),
          py::arg("value") = py::none(), py::arg("reduce") = py::none());
  fns.def("scatter", scatter, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src") = py::none(),
          py::kw_only(), py::arg("value") = py::none(), py::arg("reduce") = py::none());
  cls.def("scatter_", scatter_, py::arg("dim"), py::arg("index"), py::arg("src") = py::none(), py::kw_only(),
          py::arg("value") = py::none(), py::arg("reduce") = py::none());

  auto scatter_reduce = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                           const std::string& reduce, bool include_self) {
    return maybe_release(index->numel(), [&] { return ops::scatter_reduce(x, dim, index, src, reduce, include_self); });
  };
  cls.def("scatter_reduce", scatter_reduce, py::arg("dim"), py::arg("index"), py::arg("src"), py::arg("reduce"),
          py::kw_only(), py::arg("include_self") = true);
  fns.def("scatter_reduce", scatter_reduce, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src"),
          py::arg("reduce"), py::kw_only(), py::arg("include_self") = true);
  cls.def("scatter_reduce_", [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                                const std::string& reduce, bool include_self) {
    return maybe_release(index->numel(), [&] { return ops::scatter_reduce_(x, dim, index, src, reduce, include_self); });
  }, py::arg("dim"), py::arg("index"), py::arg("src"), py::arg("reduce"), py::kw_only(), py::arg("include_self") = true);

  auto index_add = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source, py::object alpha) {
    auto a = to_scalar(alpha, "index_add", "alpha");
    return maybe_release(source->numel(), [&] { return ops::index_add(x, dim, index, source, a); });
  };
  cls.def("index_add", index_add, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(),
          py::arg("alpha") = 1);
  fns.def("index_add", index_add, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("source"),
          py::kw_only(), py::arg("alpha") = 1);
  cls.def("index_add_", [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source,
                           py::object alpha) {
    auto a = to_scalar(alpha, "index_add_", "alpha");
    return maybe_release(source->numel(), [&] { return ops::index_add_(x, dim, index, source, a); });
  }, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(), py::arg("alpha") = 1);
  auto index_copy = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source) {
    return maybe_release(source->numel(), [&] { return ops::index_copy(x, dim, index, source); });
  };
  cls.def("index_copy", index_copy, py::arg("dim"), py::arg("index"), py::arg("source"));
  fns.def("index_copy", index_copy, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("source"));
  cls.def("index_copy_", [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source) {
    return maybe_release(source->numel(), [&] { return ops::index_copy_(x, dim, index, source); });
  }, py::arg("dim"), py::arg("index"), py::arg("source"));
  // value: a number, or a 0-dim tensor (differentiable).
  auto fill_value = [](const TensorPtr& x, py::handle v, const char* op) {
    return is_tensor(v) ? v.cast<TensorPtr>() : ops::scalar_tensor(to_scalar(v, op, "value"), x->dtype, x->device);
  };
  auto index_fill = [=](const TensorPtr& x, int64_t dim, const TensorPtr& index, py::object value) {
    auto v = fill_value(x, value, "index_fill");
    return maybe_release(x->numel(), [&] { return ops::index_fill(x, dim, index, v); });
  };
  cls.def("index_fill", index_fill, py::arg("dim"), py::arg("index"), py::arg("value"));
  fns.def("index_fill", index_fill, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("value"));
  cls.def("index_fill_", [=](const TensorPtr& x, int64_t dim, const TensorPtr& index, py::object value) {
    auto v = fill_value(x, value, "index_fill_");
    return maybe_release(x->numel(), [&] { return ops::index_fill_(x, dim, index, v); });
  }, py::arg("dim"), py::arg("index"), py::arg("value"));

  auto masked_scatter = [](const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source) {
    return maybe_release(x->numel(), [&] { return ops::masked_scatter(x, mask, source); });
  };
  cls.def("masked_scatter", masked_scatter, py::arg("mask"), py::arg("source"));
  fns.def("masked_scatter", masked_scatter, py::arg("input"), py::arg("mask"), py::arg("source"));
  cls.def("masked_scatter_", [](const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source) {
    return maybe_release(x->numel(), [&] { return ops::masked_scatter_(x, mask, source); });
  }, py::arg("mask"), py::arg("source"));
  auto take = [](const TensorPtr& x, const TensorPtr& index) {
    return maybe_release(index->numel(), [&] { return ops::take(x, index); });
  };
  cls.def("take", take, py::arg("index"));
  fns.def("take", take, py::arg("input"), py::arg("index"));

  auto index_select = [](const TensorPtr& x, int64_t dim, const TensorPtr& index) {
    return maybe_release(x->numel(), [&] { return ops::index_select(x, dim, index); });
  };
  cls.def("index_select", index_select, py::arg("dim"), py::arg("index"));
  fns.def("index_select", index_select, py::arg("input"), py::arg("dim"), py::arg("index"));

  auto masked_fill = [](const TensorPtr& x, const TensorPtr& mask, py::object value) {
    auto v = tensor_or_scalar(value, x->device, "masked_fill", "value");
    return maybe_release(x->numel(), [&] { return ops::masked_fill(x, mask, v); });
  };
  cls.def("masked_fill", masked_fill, py::arg("mask"), py::arg("value"));
  fns.def("masked_fill", masked_fill, py::arg("input"), py::arg("mask"), py::arg("value"));
  cls.def("masked_fill_", [](const TensorPtr& x, const TensorPtr& mask, py::object value) {
    auto v = tensor_or_scalar(value, x->device, "masked_fill_", "value");
    return maybe_release(x->numel(), [&] { return ops::masked_fill_(x, mask, v); });
  }, py::arg("mask"), py::arg("value"));

  cls.def("nonzero", &nonzero, py::kw_only(), py::arg("as_tuple") = false);
  fns.def("nonzero", &nonzero, py::arg("input"), py::kw_only(), py::arg("as_tuple") = false);

  auto index_put_ = [](const TensorPtr& x, py::handle indices, const TensorPtr& values, bool accumulate) {
    auto idx = index_list(indices, "index_put_");
    return maybe_release(values->numel(), [&] { return ops::index_put_(x, idx, values, accumulate); });
  };
  auto index_put = [](const TensorPtr& x, py::handle indices, const TensorPtr& values, bool accumulate) {
    auto idx = index_list(indices, "index_put");
    auto ts = ops::autocast_promote("index_put", {x, values});
    return maybe_release(x->numel(), [&] { return ops::index_put_(ops::clone(ts[0]), idx, ts[1], accumulate); });
  };
  cls.def("index_put_", index_put_, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false);
  cls.def("index_put", index_put, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false);
  fns.def("index_put", index_put, py::arg("input"), py::arg("indices"), py::arg("values"), py::arg("accumulate") = false);
}

GC_REGISTER_BINDINGS(bind_index)

}  // namespace gc::bind
