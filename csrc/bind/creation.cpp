// Bindings of the tensor factories (zeros, ones, full, arange, rand, randperm, normal, ...,
// from_numpy, the back end of gradcore.tensor) with PyTorch's keyword arguments, and the in-place
// fills (zero_, fill_, copy_, uniform_, normal_) (ops/creation.cpp, ops/random.cpp, ops/copy.cpp).
#include "bind/common.h"
#include "core/generator.h"

namespace gc::bind {

namespace {

// gradcore.set_default_device: where the factories put a tensor given no device= (the *_like
// factories keep their input's). Only the Python surface reads it: ops never see it.
Device& default_device() {
  static Device d;
  return d;
}

// Creation kwargs shared by the factories.
struct Factory {
  std::optional<DType> dtype;
  Device device = default_device();
  bool requires_grad = false;
  Generator* gen = nullptr;
};
Factory factory_kwargs(const py::kwargs& kw, const char* op) {
  Factory f;
  for (auto item : kw) {
    auto k = item.first.cast<std::string>();
    if (k == "dtype") f.dtype = optional_dtype(item.second, op);
    else if (k == "device") { if (!item.second.is_none()) f.device = device_arg(item.second, op); }
    else if (k == "requires_grad") f.requires_grad = item.second.cast<bool>();
    else if (k == "generator") f.gen = generator_arg(item.second);
    else if (k == "layout" || k == "pin_memory" || k == "memory_format") continue;
    else fail(ErrorKind::Type, op, "got an unexpected keyword argument '", k, "'");
  }
  return f;
}

TensorPtr finish_factory(TensorPtr t, const Factory& f, const char* op) {
  if (f.requires_grad) {
    if (!is_floating(t->dtype))
      fail(ErrorKind::Runtime, op, "only Tensors of floating point dtype can require gradients, got ", dtype_name(t->dtype));
    t->requires_grad = true;
  }
  return t;
}

void check_factory_device(Device d, const char* op) { check_device_available(d, op); }

}  // namespace

static void bind_creation(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);
  auto shape_factory = [&](const char* name, auto make) {
    fns.def(name, [name, make](py::args args, py::kwargs kw) {
      auto f = factory_kwargs(kw, name);
      check_factory_device(f.device, name);
      auto shape = shape_from_args(args, name);
      return finish_factory(make(shape, f), f, name);
    });
  };
  shape_factory("zeros", [](const DimVector& s, const Factory& f) { return ops::zeros(s, f.dtype.value_or(default_dtype()), f.device); });
  shape_factory("ones", [](const DimVector& s, const Factory& f) { return ops::ones(s, f.dtype.value_or(default_dtype()), f.device); });
  shape_factory("empty", [](const DimVector& s, const Factory& f) { return ops::empty(s, f.dtype.value_or(default_dtype()), f.device); });
  shape_factory("rand", [](const DimVector& s, const Factory& f) { return ops::rand(s, f.dtype.value_or(default_dtype()), f.device, f.gen); });
  shape_factory("randn", [](const DimVector& s, const Factory& f) { return ops::randn(s, f.dtype.value_or(default_dtype()), f.device, f.gen); });
  fns.def("full", [](py::object size, py::object value, py::kwargs kw) {
    auto f = factory_kwargs(kw, "full");
    check_factory_device(f.device, "full");
    DimVector shape = int_list(size, "full", "size");  // checked first, as PyTorch does
    Scalar v = to_scalar(value, "full", "fill_value");
    return finish_factory(ops::full(shape, v, f.dtype.value_or(v.natural_dtype()), f.device), f, "full");
  }, py::arg("size"), py::arg("fill_value"));
  auto like_factory = [&](const char* name, auto make) {
    fns.def(name, [name, make](const TensorPtr& t, py::kwargs kw) {
      auto f = factory_kwargs(kw, name);
      if (!kw.contains("device")) f.device = t->device;
      check_factory_device(f.device, name);
      DType dt = f.dtype.value_or(t->dtype);
      return finish_factory(make(t->shape, dt, f), f, name);
    }, py::arg("input"));
  };
  like_factory("zeros_like", [](const DimVector& s, DType dt, const Factory& f) { return ops::zeros(s, dt, f.device); });
  like_factory("ones_like", [](const DimVector& s, DType dt, const Factory& f) { return ops::ones(s, dt, f.device); });
  like_factory("empty_like", [](const DimVector& s, DType dt, const Factory& f) { return ops::empty(s, dt, f.device); });
  like_factory("rand_like", [](const DimVector& s, DType dt, const Factory& f) { return ops::rand(s, dt, f.device, f.gen); });
  like_factory("randn_like", [](const DimVector& s, DType dt, const Factory& f) { return ops::randn(s, dt, f.device, f.gen); });
  fns.def("full_like", [](const TensorPtr& t, py::object value, py::kwargs kw) {
    auto f = factory_kwargs(kw, "full_like");
    if (!kw.contains("device")) f.device = t->device;
    return finish_factory(ops::full(t->shape, to_scalar(value, "full_like", "fill_value"), f.dtype.value_or(t->dtype), f.device), f, "full_like");
  }, py::arg("input"), py::arg("fill_value"));
  fns.def("randint", [](py::args args, py::kwargs kw) {
    // randint(high, size) or randint(low, high, size); size may also be a keyword.
    auto f = factory_kwargs(kw, "randint");
    py::list pos(args);
    if (kw.contains("size")) pos.append(kw["size"]);
    int64_t low = 0, high;
    py::object size;
    if (pos.size() == 2) { high = pos[0].cast<int64_t>(); size = pos[1]; }
    else if (pos.size() == 3) { low = pos[0].cast<int64_t>(); high = pos[1].cast<int64_t>(); size = pos[2]; }
    else fail(ErrorKind::Type, "randint", "expected randint(high, size) or randint(low, high, size)");
    if (is_tensor(size) || !PySequence_Check(size.ptr()))
      fail(ErrorKind::Type, "randint", "argument 'size' must be a tuple of ints, not ", type_name(size),
           " (randint(high, size) or randint(low, high, size), e.g. randint(0, 10, (3,)))");
    check_factory_device(f.device, "randint");
    return ops::randint(low, high, int_list(size, "randint", "size"), f.dtype.value_or(DType::Int64), f.device, f.gen);
  });
  fns.def("randperm", [](int64_t n, py::kwargs kw) {
    auto f = factory_kwargs(kw, "randperm");
    check_factory_device(f.device, "randperm");
    return finish_factory(ops::randperm(n, f.dtype.value_or(DType::Int64), f.device, f.gen), f, "randperm");
  }, py::arg("n"));
  // normal(Tensor mean, Tensor std), (Tensor mean, float std=1), (float mean, Tensor std), and the
  // factory (float mean, float std, size, dtype=..., device=...).
  fns.def("normal", [](py::object mean, py::object std, py::object size, py::kwargs kw) {
    auto f = factory_kwargs(kw, "normal");
    bool mt = is_tensor(mean), st = is_tensor(std);
    if (mt || st) {
      if (!size.is_none())
        fail(ErrorKind::Type, "normal", "size is only taken with a float mean and a float std, e.g. normal(0.0, 1.0, (2, 3))");
      return ops::normal(mt ? as_tensor(mean, "normal", "mean") : nullptr, mt ? 0.0 : to_scalar(mean, "normal", "mean").d,
                         st ? as_tensor(std, "normal", "std") : nullptr, st ? 0.0 : to_scalar(std, "normal", "std").d, f.gen);
    }
    if (size.is_none())
      fail(ErrorKind::Type, "normal", "received an invalid combination of arguments: with a float mean and a float std, pass a "
           "size, e.g. normal(0.0, 1.0, (2, 3)); or pass mean or std as a tensor");
    double m = to_scalar(mean, "normal", "mean").d, sd = to_scalar(std, "normal", "std").d;
    if (!(sd >= 0.0)) fail(ErrorKind::Runtime, "normal", "normal expects std >= 0.0, but found std ", sd);
    check_factory_device(f.device, "normal");
    auto t = ops::empty(int_list(size, "normal", "size"), f.dtype.value_or(default_dtype()), f.device);
    ops::normal_(t, m, sd, f.gen);
    return finish_factory(t, f, "normal");
  }, py::arg("mean"), py::arg("std") = 1.0, py::arg("size") = py::none());
  fns.def("arange", [](py::args args, py::kwargs kw) {
    py::dict rest;
    py::list pos(args);
    for (auto item : kw) {
      auto k = item.first.cast<std::string>();
      if (k == "start" || k == "end" || k == "step") continue;
      rest[item.first] = item.second;
    }
    const char* names[] = {"start", "end", "step"};
    for (size_t i = 0; i < pos.size(); ++i)
      if (pos[i].is_none())
        fail(ErrorKind::Type, "arange", "argument ", i + 1, " must be a number, not NoneType");
    for (const char* k : names)
      if (kw.contains(k) && kw[k].is_none()) fail(ErrorKind::Type, "arange", "argument '", k, "' must be a number, not NoneType");
    auto f = factory_kwargs(py::kwargs(rest), "arange");
    check_factory_device(f.device, "arange");
    Scalar start = Scalar::from_int(0), end, step = Scalar::from_int(1);
    if (kw.contains("end")) {
      if (pos.size() > 0) start = to_scalar(pos[0], "arange", "start");
      if (kw.contains("start")) start = to_scalar(kw["start"], "arange", "start");
      end = to_scalar(kw["end"], "arange", "end");
    } else if (pos.size() == 1) end = to_scalar(pos[0], "arange", "end");
    else if (pos.size() >= 2) {
      start = to_scalar(pos[0], "arange", "start");
      end = to_scalar(pos[1], "arange", "end");
      if (pos.size() == 3) step = to_scalar(pos[2], "arange", "step");
    } else fail(ErrorKind::Type, "arange", "expected arange(end), arange(start, end) or arange(start, end, step)");
    if (kw.contains("step")) step = to_scalar(kw["step"], "arange", "step");
    return finish_factory(ops::arange(start, end, step, f.dtype, f.device), f, "arange");
  });
  fns.def("linspace", [](double start, double end, int64_t steps, py::kwargs kw) {
    auto f = factory_kwargs(kw, "linspace");
    check_factory_device(f.device, "linspace");
    return finish_factory(ops::linspace(start, end, steps, f.dtype.value_or(default_dtype()), f.device), f, "linspace");
  }, py::arg("start"), py::arg("end"), py::arg("steps"));
  fns.def("eye", [](int64_t n, py::object mo, py::kwargs kw) {
    auto f = factory_kwargs(kw, "eye");
    check_factory_device(f.device, "eye");
    int64_t mm = mo.is_none() ? n : mo.cast<int64_t>();
    return finish_factory(ops::eye(n, mm, f.dtype.value_or(default_dtype()), f.device), f, "eye");
  }, py::arg("n"), py::arg("m") = py::none());
  m.def("_set_default_device", [](py::object d) {
    default_device() = d.is_none() ? Device{} : device_arg(d, "set_default_device");
  });
  m.def("_get_default_device", [] { return default_device(); });
  fns.def("from_numpy", [](py::object a) {
    if (!py::isinstance<py::array>(a))
      fail(ErrorKind::Type, "from_numpy", "expected np.ndarray (got ", type_name(a), ")");
    return from_numpy(a.cast<py::array>());
  });
  m.def("_tensor_from_array", [](py::array a, py::object dtype, bool from_python) {
    return tensor_from_numpy_copy(a, optional_dtype(dtype, "tensor"), from_python);
  });

  // Python subclasses (nn.Parameter) construct through this: a new tensor object sharing the
  // data's storage, a fresh leaf with the given requires_grad.
  cls.def(py::init([](const TensorPtr& data, bool requires_grad) {
            auto t = detached_alias(data);
            if (requires_grad && !is_floating(t->dtype))
              fail(ErrorKind::Runtime, "Parameter", "only Tensors of floating point dtype can require gradients, got ",
                   dtype_name(t->dtype));
            t->requires_grad = requires_grad;
            return t;
          }),
          py::arg("data"), py::arg("requires_grad") = false);

  cls.def("zero_", [](const TensorPtr& t) { return ops::zero_(t); })
      .def("fill_", [](const TensorPtr& t, py::object v) { ops::fill_(t, to_scalar(v, "fill_", "value")); return t; }, py::arg("value"))
      .def("copy_", [](const TensorPtr& t, const TensorPtr& src, bool non_blocking) {
        return maybe_release(t->numel(), [&] { return ops::copy_(t, src); });
      }, py::arg("src"), py::arg("non_blocking") = false)
      .def("uniform_", [](const TensorPtr& t, double a, double b, py::object gen) { ops::uniform_(t, a, b, generator_arg(gen)); return t; },
           py::arg("from") = 0.0, py::arg("to") = 1.0, py::kw_only(), py::arg("generator") = py::none())
      .def("normal_", [](const TensorPtr& t, double mean, double std, py::object gen) { ops::normal_(t, mean, std, generator_arg(gen)); return t; },
           py::arg("mean") = 0.0, py::arg("std") = 1.0, py::kw_only(), py::arg("generator") = py::none());
}

GC_REGISTER_BINDINGS(bind_creation)

}  // namespace gc::bind
