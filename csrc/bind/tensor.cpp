// The Tensor class and what every tensor has: its dtype, device and generator types, its
// attributes, NumPy interop and the factories that make tensors. Views (shape.cpp), autograd
// (autograd.cpp) and each op family bind themselves in their own files.
#ifdef GRADCORE_CUDA
#include "cuda/runtime.h"
#endif
#include <pybind11/operators.h>
#include <sstream>
#include "autograd/node.h"
#include "bind/common.h"
#include "core/generator.h"

namespace gc::bind {

namespace {

py::object g_size_type;  // gradcore.Size, set from Python

}  // namespace

py::object make_size(const DimVector& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return g_size_type ? g_size_type(t) : py::object(t);
}

namespace {

std::string type_name(py::handle h) { return py::str(py::type::of(h).attr("__name__")).cast<std::string>(); }

// Creation kwargs shared by the factories.
struct Factory {
  std::optional<DType> dtype;
  Device device;
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

DType numpy_to_dtype(const py::array& a, const char* op) {
  char kind = a.dtype().kind();
  auto size = a.dtype().itemsize();
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'b') return DType::Bool;
  fail(ErrorKind::Type, op, "can't convert np.ndarray of type ", py::str(a.dtype()).cast<std::string>(),
       ". The only supported types are: float64, float32, int64 and bool. Hint: convert first, e.g. arr.astype(np.float32)");
}

py::dtype dtype_to_numpy(DType d) {
  switch (d) {
    case DType::Float32: return py::dtype::of<float>();
    case DType::Float64: return py::dtype::of<double>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Bool: return py::dtype::of<bool>();
  }
  return py::dtype::of<float>();
}

// Shares the array's memory: the storage keeps a reference to the array.
TensorPtr from_numpy(py::array arr) {
  DType dt = numpy_to_dtype(arr, "from_numpy");
  auto t = std::make_shared<Tensor>();
  int64_t isz = static_cast<int64_t>(itemsize(dt));
  int64_t max_off = 0;
  bool empty = false;
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    int64_t st = arr.strides(i);
    if (st < 0)
      fail(ErrorKind::Value, "from_numpy", "at least one stride in the given numpy array is negative. Hint: copy it "
           "first with arr.copy()");
    if (st % isz)
      fail(ErrorKind::Value, "from_numpy", "given numpy array strides not a multiple of the element byte size. Hint: "
           "copy it first with np.ascontiguousarray(arr)");
    t->shape.push_back(arr.shape(i));
    t->strides.push_back(st / isz);
    if (arr.shape(i) == 0) empty = true;
    else max_off += (arr.shape(i) - 1) * (st / isz);
  }
  t->dtype = dt;
  size_t nbytes = empty ? 0 : static_cast<size_t>(max_off + 1) * isz;
  auto* keep = new py::object(arr);
  t->storage = std::make_shared<Storage>(const_cast<void*>(arr.data()), nbytes, Device{}, [keep] {
    py::gil_scoped_acquire gil;
    delete keep;
  });
  return t;
}

py::array to_numpy(const TensorPtr& t) {
  if (!t->device.is_cpu())
    fail(ErrorKind::Type, "numpy", "can't convert ", t->device.str(), " device type tensor to numpy. Use Tensor.cpu() "
         "to copy the tensor to host memory first.");
  if (t->requires_grad)
    fail(ErrorKind::Runtime, "numpy", "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  std::vector<py::ssize_t> shape(t->shape.begin(), t->shape.end()), strides;
  for (auto s : t->strides) strides.push_back(s * static_cast<py::ssize_t>(t->itemsize()));
  auto holder = new std::shared_ptr<Storage>(t->storage);
  py::capsule base(holder, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  return py::array(dtype_to_numpy(t->dtype), shape, strides, t->data(), base);
}

// Copies an array into a new tensor of `dtype` (gradcore.tensor's back end).
TensorPtr tensor_from_numpy_copy(py::array arr, std::optional<DType> dtype, bool from_python) {
  py::array src = arr;
  char kind = arr.dtype().kind();
  DType natural;
  if (kind == 'f') natural = from_python ? default_dtype() : (arr.dtype().itemsize() == 8 ? DType::Float64 : DType::Float32);
  else if (kind == 'i' || kind == 'u') natural = DType::Int64;
  else if (kind == 'b') natural = DType::Bool;
  else
    fail(ErrorKind::Type, "tensor", "can't convert data of NumPy type ", py::str(arr.dtype()).cast<std::string>(),
         " to a tensor. The supported types are float, int and bool.");
  DType dt = dtype ? *dtype : natural;
  if (kind == 'f' && arr.dtype().itemsize() == 2) natural = DType::Float32;
  py::array conv = py::array::ensure(src.attr("astype")(dtype_to_numpy(dt)), py::array::c_style);
  DimVector shape(conv.shape(), conv.shape() + conv.ndim());
  auto t = ops::empty(shape, dt, Device{});
  if (t->storage->nbytes) std::memcpy(t->data(), conv.data(), t->storage->nbytes);
  return t;
}

}  // namespace

void bind_tensor_class(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);

  // ---- dtype, device, generator ----
  // A class, not an int-like enum: a dtype is never accepted where an int is expected.
  py::class_<DType> dtype_cls(m, "dtype");
  for (DType d : {DType::Bool, DType::Int64, DType::Float32, DType::Float64}) dtype_cls.attr(dtype_name(d)) = d;
  dtype_cls
      .def("__eq__", [](DType a, py::object b) { return py::isinstance<DType>(b) && a == b.cast<DType>(); })
      .def("__ne__", [](DType a, py::object b) { return !(py::isinstance<DType>(b) && a == b.cast<DType>()); })
      .def("__hash__", [](DType d) { return static_cast<int>(d); })
      .def(py::pickle([](DType d) { return py::make_tuple(static_cast<int>(d)); },
                      [](py::tuple t) { return static_cast<DType>(t[0].cast<int>()); }))
      .def("__repr__", [](DType d) { return std::string("gradcore.") + dtype_name(d); })
      .def("__str__", [](DType d) { return std::string("gradcore.") + dtype_name(d); })
      .def_property_readonly("is_floating_point", [](DType d) { return is_floating(d); })
      .def_property_readonly("itemsize", [](DType d) { return itemsize(d); });

  py::class_<Device>(m, "device")
      .def(py::init([](py::object spec, py::object index) {
             Device d = device_arg(spec, "device");
             if (!index.is_none()) {
               if (d.index >= 0) fail(ErrorKind::Runtime, "device", "type (string) must not include an index because index was passed explicitly: ", d.str());
               d.index = index.cast<int>();
               if (d.is_cpu() && d.index != 0 && d.index != -1) fail(ErrorKind::Runtime, "device", "CPU device index must be -1 or zero, got ", d.index);
               if (d.is_cpu()) d.index = -1;
             }
             return d;
           }),
           py::arg("type"), py::arg("index") = py::none())
      .def_property_readonly("type", [](const Device& d) { return d.is_cpu() ? "cpu" : "cuda"; })
      .def_property_readonly("index", [](const Device& d) -> py::object { return d.index < 0 ? py::object(py::none()) : py::object(py::int_(d.index)); })
      .def("__str__", &Device::str)
      .def("__repr__", [](const Device& d) {
        return d.index < 0 ? "device(type='" + std::string(d.is_cpu() ? "cpu" : "cuda") + "')"
                           : "device(type='cuda', index=" + std::to_string(d.index) + ")";
      })
      .def("__eq__", [](const Device& a, py::object b) {
        if (py::isinstance<Device>(b)) return a == b.cast<Device>();
        if (py::isinstance<py::str>(b)) return a == device_arg(b, "device");
        return false;
      })
      .def("__hash__", [](const Device& d) { return static_cast<int>(d.type) * 1000 + d.norm_index(); });

  py::class_<Generator>(m, "Generator")
      .def(py::init([](py::object device) { return new Generator(); }), py::arg("device") = py::none())
      .def("manual_seed", [](Generator& g, int64_t s) -> Generator& { g.manual_seed(static_cast<uint64_t>(s)); return g; },
           py::return_value_policy::reference)
      .def("initial_seed", &Generator::initial_seed)
      .def("get_state", [](const Generator& g) { return py::make_tuple(g.initial_seed(), g.offset()); })
      .def("set_state", [](Generator& g, py::tuple st) { g.set_state(st[0].cast<uint64_t>(), st[1].cast<uint64_t>()); });
  m.def("default_generator", []() -> Generator& { return default_generator(); }, py::return_value_policy::reference);
  m.def("_set_size_type", [](py::object t) { g_size_type = t; });
  // Free the reference before the interpreter tears down.
  m.add_object("_cleanup", py::capsule([]() { g_size_type = py::object(); }));

  // Seeds the CPU and the CUDA generators, as torch.manual_seed does.
  fns.def("manual_seed", [](int64_t s) -> Generator& {
    default_generator().manual_seed(static_cast<uint64_t>(s));
    cuda_generator().manual_seed(static_cast<uint64_t>(s));
    return default_generator();  // as PyTorch, which returns its default generator
  }, py::return_value_policy::reference);
  fns.def("initial_seed", []() { return default_generator().initial_seed(); });
  fns.def("get_default_dtype", []() { return default_dtype(); });
  fns.def("set_default_dtype", [](py::object d) { set_default_dtype(dtype_arg(d, "set_default_dtype")); });
  fns.def("is_grad_enabled", []() { return GradMode::is_enabled(); });
  m.def("_set_grad_enabled", [](bool on) { GradMode::set_enabled(on); });
  // CUDA queries (gradcore/cuda.py). A CPU-only build reports no devices.
#ifdef GRADCORE_CUDA
  m.attr("_cuda_built") = true;
  m.def("_cuda_device_count", []() { return cuda::device_count(); });
  m.def("_cuda_synchronize", [](int device) {
    py::gil_scoped_release nogil;
    cuda::synchronize(device);
  });
  m.def("_cuda_current_device", []() { return cuda::current_device(); });
  m.def("_cuda_set_device", [](int d) { cuda::set_device(d); });
  m.def("_cuda_empty_cache", []() { if (cuda::device_count() > 0) cuda::empty_cache(); });
  m.def("_cuda_memory_stats", [](int d) {
    auto s = cuda::memory_stats(d);
    py::dict r;
    r["allocated_bytes"] = s.allocated;
    r["reserved_bytes"] = s.reserved;
    r["peak_allocated_bytes"] = s.peak_allocated;
    r["cache_hits"] = s.hits;
    r["cache_misses"] = s.misses;
    return r;
  });
#else
  m.attr("_cuda_built") = false;
  m.def("_cuda_device_count", []() { return 0; });
#endif
  m.def("_cuda_manual_seed", [](int64_t s) { cuda_generator().manual_seed(static_cast<uint64_t>(s)); });
  m.def("_cuda_generator", []() -> Generator& { return cuda_generator(); }, py::return_value_policy::reference);
  fns.def("set_num_threads", [](int n) { set_num_threads(n); });
  fns.def("get_num_threads", []() { return get_num_threads(); });
  // The CPU caching allocator: counters (tests check that a training step's steady state
  // allocates nothing new) and a way to hand cached blocks back to the system.
  m.def("_cpu_allocator_stats", []() {
    auto s = cpu_allocator_stats();
    py::dict d;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    d["cached_bytes"] = s.cached_bytes;
    return d;
  });
  m.def("_cpu_empty_cache", []() { cpu_empty_cache(); });

  // The autograd node a tensor's grad_fn returns (bind/function.cpp derives Python functions' from it).
  py::class_<Node, std::shared_ptr<Node>>(m, "Node")
      .def("name", &Node::name)
      .def("__repr__", [](const Node& n) {
        std::ostringstream s;
        s << "<" << n.name() << " object at " << &n << ">";
        return s.str();
      })
      .def_property_readonly("next_functions", [](const Node& n) {
        py::list out;
        for (auto& e : n.next_edges) out.append(py::make_tuple(e.fn ? py::cast(e.fn) : py::none(), e.input_nr));
        return py::tuple(out);
      })
      .def_property_readonly("variable", [](Node& n) -> py::object {
        if (auto* acc = dynamic_cast<AccumulateGrad*>(&n)) return py::cast(acc->variable);
        fail(ErrorKind::Type, "variable", "only AccumulateGrad nodes have a variable");
      });

  // ---- factories ----
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
    check_factory_device(f.device, "randint");
    return ops::randint(low, high, int_list(size, "randint", "size"), f.dtype.value_or(DType::Int64), f.device, f.gen);
  });
  fns.def("arange", [](py::args args, py::kwargs kw) {
    py::dict rest;
    py::list pos(args);
    for (auto item : kw) {
      auto k = item.first.cast<std::string>();
      if (k == "start" || k == "end" || k == "step") continue;
      rest[item.first] = item.second;
    }
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

  // ---- attributes ----
  cls.def_property_readonly("shape", [](const Tensor& t) { return make_size(t.shape); })
      .def("size", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return make_size(t.shape);
        int64_t d = wrap_dim(dim.cast<int64_t>(), t.dim(), "size");
        return py::int_(t.dim() == 0 ? 1 : t.shape[d]);
      }, py::arg("dim") = py::none())
      .def("stride", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return py::tuple(py::cast(t.strides));
        return py::int_(t.strides[wrap_dim(dim.cast<int64_t>(), t.dim(), "stride")]);
      }, py::arg("dim") = py::none())
      .def("dim", &Tensor::dim)
      .def("ndimension", &Tensor::dim)
      .def_property_readonly("ndim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("nelement", &Tensor::numel)
      .def("element_size", &Tensor::itemsize)
      .def("storage_offset", [](const Tensor& t) { return t.offset; })
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data()); })
#ifdef GRADCORE_CUDA
      // A copy in page-locked host memory (DataLoader(pin_memory=True) pins every batch).
      .def("pin_memory", [](const TensorPtr& t) {
        if (!t->device.is_cpu())
          fail(ErrorKind::Runtime, "pin_memory", "cannot pin '", t->device.str(), "' memory: only CPU tensors can be pinned");
        const size_t n = static_cast<size_t>(t->numel()) * t->itemsize();
        void* p = cuda::host_alloc_pinned(n);
        auto out = std::make_shared<Tensor>();
        out->shape = t->shape;
        out->strides = contiguous_strides(t->shape);
        out->dtype = t->dtype;
        out->storage = std::make_shared<Storage>(p, n, Device{}, [p] { cuda::host_free_pinned(p); });
        ops::copy_into(out, t);
        return out;
      })
      .def("is_pinned", [](const Tensor& t) { return t.device.is_cpu() && cuda::is_pinned(t.storage->data); })
#else
      .def("is_pinned", [](const Tensor&) { return false; })
#endif
      .def("is_contiguous", [](const Tensor& t) { return t.is_contiguous(); })
      .def("is_floating_point", [](const Tensor& t) { return is_floating(t.dtype); })
      .def_property_readonly("dtype", [](const Tensor& t) { return t.dtype; })
      .def_property_readonly("device", [](const Tensor& t) { return t.device; })
      .def_property_readonly("is_cuda", [](const Tensor& t) { return !t.device.is_cpu(); })
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property_readonly("_version", [](const Tensor& t) { return t.version(); })
      .def_property_readonly("_base", [](const Tensor& t) { return t.base; })
      .def_property_readonly("_is_wrapped_number", [](const Tensor& t) { return t.is_wrapped_number; })
      .def_property("requires_grad", [](const Tensor& t) { return t.requires_grad; },
                    [](Tensor& t, bool on) {
                      if (!t.is_leaf())
                        fail(ErrorKind::Runtime, "requires_grad", "you can only change requires_grad flags of leaf variables. "
                             "Hint: to use a non-leaf as a new leaf, do y = x.detach().requires_grad_()");
                      if (on && !is_floating(t.dtype))
                        fail(ErrorKind::Runtime, "requires_grad", "only Tensors of floating point dtype can require gradients, got ",
                             dtype_name(t.dtype));
                      t.requires_grad = on;
                    })
      .def_property("grad", [](const Tensor& t) { return t.grad; },
                    [](Tensor& t, py::object g) {
                      if (g.is_none()) { t.grad = nullptr; return; }
                      if (!is_tensor(g))
                        fail(ErrorKind::Type, "grad", "assigned grad expected to be a Tensor or None but got grad of type ", type_name(g));
                      auto gt = g.cast<TensorPtr>();
                      if (gt->shape != t.shape)
                        fail(ErrorKind::Runtime, "grad", "assigned grad has data of a different size: the tensor has shape ",
                             shape_str(t.shape), " but the grad has shape ", shape_str(gt->shape));
                      if (gt->dtype != t.dtype)
                        fail(ErrorKind::Runtime, "grad", "assigned grad has data of a different type: ", dtype_name(gt->dtype),
                             " for a ", dtype_name(t.dtype), " tensor");
                      if (gt->device != t.device)
                        fail(ErrorKind::Runtime, "grad", "assigned grad has data located on a different device: ",
                             gt->device.str(), " for a tensor on ", t.device.str());
                      t.grad = gt;
                    })
      .def_property_readonly("grad_fn", [](const Tensor& t) { return t.grad_fn; })
      .def_property("data", [](const TensorPtr& t) { return ops::detach(t); },
                    [](Tensor& t, const TensorPtr& src) {
                      t.shape = src->shape; t.strides = src->strides; t.offset = src->offset;
                      t.dtype = src->dtype; t.device = src->device; t.storage = src->storage;
                    })
      .def("__hash__", [](const Tensor& t) { return reinterpret_cast<intptr_t>(&t); })
      .def("__len__", [](const Tensor& t) {
        if (t.dim() == 0) fail(ErrorKind::Type, "len", "len() of a 0-d tensor");
        return t.shape[0];
      })
      .def("numpy", [](const TensorPtr& t, bool force) {
        if (force) return to_numpy(ops::detach(ops::to_device(t, Device{})));
        return to_numpy(t);
      }, py::kw_only(), py::arg("force") = false)
      .def("requires_grad_", [](const TensorPtr& t, py::handle flag) {
        if (!PyBool_Check(flag.ptr()) && !PyLong_Check(flag.ptr()))
          fail(ErrorKind::Type, "requires_grad_", "argument 'requires_grad' must be bool, not ", type_name(flag));
        const bool on = PyObject_IsTrue(flag.ptr()) == 1;
        if (!t->is_leaf() && !on)
          fail(ErrorKind::Runtime, "requires_grad_", "you can only change requires_grad flags of leaf variables");
        if (on && !is_floating(t->dtype))
          fail(ErrorKind::Runtime, "requires_grad_", "only Tensors of floating point dtype can require gradients, got ", dtype_name(t->dtype));
        t->requires_grad = on;
        return t;
      }, py::arg("requires_grad") = true)
      .def("detach", &ops::detach)
      .def("detach_", [](const TensorPtr& t) {
        t->grad_fn = nullptr; t->requires_grad = false; t->output_nr = 0;
        return t;
      })
      .def("clone", [](const TensorPtr& t) { return ops::clone(t); })
      .def("contiguous", [](const TensorPtr& t) { return ops::contiguous(t); })
      .def("_to_dtype", [](const TensorPtr& t, DType d, bool copy) { return ops::to_dtype(t, d, copy); })
      .def("_to_device", [](const TensorPtr& t, const Device& d, bool copy) { return ops::to_device(t, d, copy); });

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

}  // namespace gc::bind
