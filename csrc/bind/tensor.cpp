// The Tensor class and what every tensor has: its dtype, device and Node types and its
// attributes (shape, dtype, grad, conversions). Factories (creation.cpp), NumPy interop
// (numpy.cpp), views (shape.cpp), autograd (autograd.cpp) and each op family bind themselves in
// their own files.
#ifdef GRADCORE_CUDA
#include "cuda/runtime.h"
#endif
#include <pybind11/operators.h>
#include <sstream>
#include "autograd/node.h"
#include "bind/common.h"
#include "cpu/isa.h"
#include "ops/dispatch.h"

namespace gc::bind {

namespace {

py::object g_size_type;  // gradcore.Size, set from Python

// PyTorch's warning on reading the .grad of a non-leaf that does not retain it (always None).
void warn_non_leaf_grad() {
  if (PyErr_WarnEx(PyExc_UserWarning,
                   "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                   "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                   "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf "
                   "Tensor by mistake, make sure you access the leaf Tensor instead. See "
                   "github.com/pytorch/pytorch/pull/30531 for more information.", 1) < 0)
    throw py::error_already_set();
}

}  // namespace

py::object make_size(const DimVector& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return g_size_type ? g_size_type(t) : py::object(t);
}


void bind_tensor_class(py::module_& m, TensorClass& cls) {
  auto fns = functions(m);

  // ---- dtype, device ----
  // A class, not an int-like enum: a dtype is never accepted where an int is expected.
  py::class_<DType> dtype_cls(m, "dtype");
  for (DType d : {DType::Bool, DType::Int64, DType::Float32, DType::Float64, DType::BFloat16, DType::Float16,
                  DType::UInt8, DType::Int8, DType::Int16, DType::Int32})
    dtype_cls.attr(dtype_name(d)) = d;
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

  m.def("_set_size_type", [](py::object t) { g_size_type = t; });
  // Free the reference before the interpreter tears down.
  m.add_object("_cleanup", py::capsule([]() { g_size_type = py::object(); }));

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
  fns.def("set_num_threads", [](int n) { set_num_threads(n); });
  fns.def("get_num_threads", []() { return get_num_threads(); });
  // The instruction set the CPU kernels run (cpu/isa.h; GRADCORE_CPU_ISA forces a lower one).
  // Native 16-bit kernels off (true) or on: the float32-twin path they are tested against.
  m.def("_force_half_widening", [](bool on) { g_force_half_widening.store(on); });
  m.def("_cpu_isa", []() { return std::string(cpu::isa_name(cpu::cpu_isa())); });
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
      .def_property("grad", [](const Tensor& t) {
                      if (!t.grad && !t.is_leaf() && !t.retains_grad) warn_non_leaf_grad();
                      return t.grad;
                    },
                    [](Tensor& t, py::object g) {
                      t.grad_mark_storage = nullptr;  // an assigned .grad sums from scratch
                      t.grad_sums = 0;
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
      .def_property_readonly("grad_fn", [](const TensorPtr& t) { refresh_view_history(t); return t->grad_fn; })
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

}

}  // namespace gc::bind
