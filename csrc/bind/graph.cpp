// Bindings of what the recorded graph shows about itself and of anomaly mode: Node.metadata,
// the _saved_* attributes and _saved_info (what a node holds for backward, for
// gradcore.autograd.graph), and the anomaly switches with their Python side (the forward stack
// recorded per node, the warning that reports it, and the forward check's callback), used by
// gradcore.autograd.anomaly.
#include <algorithm>
#include <cmath>
#include <unordered_set>
#include <vector>
#include "autograd/node.h"
#include "core/half.h"
#include "bind/common.h"
#include "ops/ops.h"

namespace gc::bind {

namespace {
// Node.metadata: a dict that lives as long as the node. Dropping it needs the GIL (the last
// owner of a node may be the engine, running without it).
struct PyNodeMetadata final : NodeMetadata {
  py::dict dict;
  ~PyNodeMetadata() override {
    if (!Py_IsInitialized()) {
      dict.release();
      return;
    }
    py::gil_scoped_acquire gil;
    dict = py::dict();
  }
};

py::dict& metadata_of(Node& n) {
  if (!n.metadata) n.metadata = std::make_unique<PyNodeMetadata>();
  return static_cast<PyNodeMetadata&>(*n.metadata).dict;
}

// The saved slots of `n` named `name` (several for an index list or a Function's saved_tensors).
std::vector<SavedTensor*> saved_slots(Node& n, const std::string& name) {
  std::vector<SavedTensor*> out;
  n.visit_saved([&](const char* slot, SavedTensor& s) {
    if (name == slot) out.push_back(&s);
  });
  return out;
}

py::object unpack_slot(const Node& n, const SavedTensor& s) {
  if (!s.defined() && !s.released()) return py::none();  // not needed by this call's backward
  return py::cast(s.unpack(n));                           // raises once freed or modified in place
}

// The (min, max) of a tensor's values as floats, or None for an empty or non-numeric one.
py::object value_range(const TensorPtr& t) {
  if (!t || t->numel() == 0 || t->dtype == DType::Bool) return py::none();
  auto read = [](const TensorPtr& r) {
    auto c = ops::to_cpu(ops::to_dtype(r, DType::Float64));
    return *reinterpret_cast<const double*>(c->data());
  };
  return py::make_tuple(read(ops::amin(t, {}, false)), read(ops::amax(t, {}, false)));
}

// The forward check's Python callback, touched only with the GIL held (ops may run without it).
// Never destroyed: the interpreter may be gone when static destructors run.
py::object& forward_callback() {
  static auto* cb = new py::object();
  return *cb;
}

// The hooks themselves stay installed; the switches and the callback change (a callback may turn
// the check off or replace itself while it runs).
void set_forward_check(py::object callback) {
  if (callback.is_none()) {
    AnomalyMode::flags.fetch_and(~AnomalyMode::ForwardCheck);
    forward_callback() = py::object();
    forget_forward_check_inputs();
    return;
  }
  if (!PyCallable_Check(callback.ptr()))
    fail(ErrorKind::Type, "set_forward_check", "the callback must be callable or None, got ", type_name(callback));
  forward_callback() = std::move(callback);
  AnomalyMode::flags.fetch_or(AnomalyMode::ForwardCheck);
}

void report_nonfinite_output(const Node& n, const TensorPtr& out, const TensorList& inputs) {
  py::gil_scoped_acquire gil;
  py::object cb = forward_callback();  // our own reference: the callback may replace itself
  if (!cb) return;
  py::list shapes, ranges;
  for (const auto& t : inputs) {
    shapes.append(t ? make_size(t->shape) : py::none());
    ranges.append(value_range(t));
  }
  bool has_nan = ops::to_cpu(ops::any(ops::compare(kernels::BinaryOp::Ne, out, out), std::nullopt, false))->data()[0] != 0;
  cb(n.name(), shapes, ranges, has_nan ? "nan" : "inf");
}

void set_anomaly_enabled(bool enabled, bool check_nan) {
  unsigned bits = AnomalyMode::Enabled | AnomalyMode::CheckNan;
  AnomalyMode::flags.fetch_and(~bits);
  if (enabled) AnomalyMode::flags.fetch_or(check_nan ? bits : AnomalyMode::Enabled);
}

// The anomaly hooks' Python side, installed once: where each node was created, the warning that
// names it when its backward fails (PyTorch's wording), and the forward check's report.
void install_anomaly_hooks() {
  auto& hooks = anomaly_hooks();
  hooks.on_nonfinite_output = &report_nonfinite_output;
  hooks.on_node_created = [](Node& n) {
    py::gil_scoped_acquire gil;
    metadata_of(n)["traceback_"] = py::module_::import("traceback").attr("format_stack")();
  };
  hooks.on_backward_error = [](const Node& n) {
    py::gil_scoped_acquire gil;
    std::string msg = "Error detected in " + n.name() + ". ";
    py::object tb;
    if (n.metadata) tb = static_cast<PyNodeMetadata&>(*n.metadata).dict.attr("get")("traceback_");
    if (tb && !tb.is_none())
      msg += "Traceback of forward call that caused the error:\n" + py::str("").attr("join")(tb).cast<std::string>();
    else
      msg += "No forward pass information available. Enable detect anomaly during forward pass for more information.";
    PyErr_WarnEx(PyExc_UserWarning, msg.c_str(), 1);
    if (PyErr_Occurred()) throw py::error_already_set();
  };
}
// The sum of squares of a CPU tensor's values, in double: all of them when there are at most
// 2 * sample, else kChunks contiguous runs spread evenly over the data (sample values in all),
// scaled up by numel / sampled. Contiguous runs, not single strided elements, so the read streams
// through the cache instead of touching one line per value.
template <typename T>
double sampled_square_sum(const T* p, int64_t n, int64_t sample) {
  constexpr int64_t kChunks = 16;
  auto run = [p](int64_t begin, int64_t end) {
    double s = 0;
    for (int64_t i = begin; i < end; ++i) {
      double v;
      if constexpr (std::is_same_v<T, double>) v = p[i];
      else v = static_cast<float>(p[i]);  // 16-bit floats widen through float
      s += v * v;
    }
    return s;
  };
  if (n <= 2 * sample) return run(0, n);
  const int64_t chunk = std::max<int64_t>(1, sample / kChunks);
  double s = 0;
  for (int64_t i = 0; i < kChunks; ++i) {
    const int64_t begin = i * (n / kChunks);
    s += run(begin, begin + chunk);
  }
  return s * (static_cast<double>(n) / static_cast<double>(kChunks * chunk));
}

// The doctor's per-step look at an optimizer's parameters, in one call: (the most backward()
// calls summed in any .grad, how many have a .grad, the indices of those that require grad and
// have none, the 2-norm of all gradients estimated from `sample` values of each large one), the
// norm None where a gradient is not a contiguous CPU floating tensor (the caller computes it).
py::tuple doctor_grads(const std::vector<TensorPtr>& params, int64_t sample) {
  uint32_t most = 0;
  int64_t with_grad = 0;
  py::list missing;
  double squares = 0;
  bool native_norm = true;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = *params[i];
    const TensorPtr& g = p.grad;
    if (!g) {
      if (p.requires_grad) missing.append(i);
      continue;
    }
    ++with_grad;
    most = std::max(most, p.grad_sums);  // changed in place since (clipped, say): still those sums
    if (!native_norm || !g->device.is_cpu() || !g->is_contiguous()) {
      native_norm = false;
      continue;
    }
    const int64_t n = g->numel();
    switch (g->dtype) {
      case DType::Float32: squares += sampled_square_sum(g->data_as<float>(), n, sample); break;
      case DType::Float64: squares += sampled_square_sum(g->data_as<double>(), n, sample); break;
      case DType::BFloat16: squares += sampled_square_sum(g->data_as<BFloat16>(), n, sample); break;
      case DType::Float16: squares += sampled_square_sum(g->data_as<Half>(), n, sample); break;
      default: native_norm = false;
    }
  }
  py::object norm = native_norm ? py::object(py::float_(std::sqrt(squares))) : py::object(py::none());
  return py::make_tuple(most, with_grad, missing, norm);
}
}  // namespace

static void bind_graph(py::module_& m, TensorClass&) {
  auto node_cls = py::reinterpret_borrow<py::class_<Node, std::shared_ptr<Node>>>(m.attr("Node"));
  node_cls.def_property_readonly("metadata", [](Node& n) { return metadata_of(n); });
  // [(name, tensor or None, storage id, storage bytes)] for every saved slot, without unpacking:
  // what print_graph shows and counts (a storage shared by several slots is counted once).
  node_cls.def("_saved_info", [](Node& n) {
    py::list out;
    n.visit_saved([&](const char* name, SavedTensor& s) {
      const TensorPtr& t = s.peek();
      if (!t) return;
      out.append(py::make_tuple(name, t, reinterpret_cast<uintptr_t>(t->storage.get()), t->storage->nbytes));
    });
    return out;
  });
  // (shape, dtype) of output 0 (an AccumulateGrad's: its leaf's).
  node_cls.def("_output_meta", [](const Node& n) -> py::tuple {
    if (auto* acc = dynamic_cast<const AccumulateGrad*>(&n))
      return py::make_tuple(make_size(acc->variable->shape), DType(acc->variable->dtype));
    return py::make_tuple(make_size(n.output_shape), DType(n.output_dtype));
  });
  // grad_fn._saved_self, _saved_result, ...: the saved tensor (a tuple where a node saved a list).
  node_cls.def("__getattr__", [](const std::shared_ptr<Node>& n, const std::string& attr) -> py::object {
    const std::string prefix = "_saved_";
    if (attr.compare(0, prefix.size(), prefix) == 0) {
      auto slots = saved_slots(*n, attr.substr(prefix.size()));
      if (slots.size() == 1) return unpack_slot(*n, *slots[0]);
      if (!slots.empty()) {
        py::tuple t(slots.size());
        for (size_t i = 0; i < slots.size(); ++i) t[i] = unpack_slot(*n, *slots[i]);
        return t;
      }
    }
    throw py::attribute_error("'" + n->name() + "' object has no attribute '" + attr + "'");
  });

  install_anomaly_hooks();
  m.def("_set_anomaly_enabled", &set_anomaly_enabled, py::arg("enabled"), py::arg("check_nan") = true);
  m.def("_is_anomaly_enabled", [] { return AnomalyMode::on(AnomalyMode::Enabled); });
  m.def("_is_anomaly_check_nan_enabled", [] { return AnomalyMode::on(AnomalyMode::CheckNan); });
  m.def("_set_forward_check", &set_forward_check, py::arg("callback"));
  m.def("_live_autograd_nodes", &live_nodes);
  m.def("_backward_passes", &backward_passes);
  // The training doctor's look at the graph below `roots` before backward runs it, without a walk
  // in Python: (nodes, how many of them a backward pass numbered <= `before` already ran (an
  // earlier iteration's graph still attached)).
  m.def("_graph_summary", [](const std::vector<TensorPtr>& roots, uint64_t before) {
    std::unordered_set<Node*> seen;
    std::vector<Node*> stack;
    for (auto& r : roots)
      if (r && r->grad_fn && seen.insert(r->grad_fn.get()).second) stack.push_back(r->grad_fn.get());
    int64_t nodes = 0, earlier = 0;
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      if (dynamic_cast<AccumulateGrad*>(n)) continue;
      ++nodes;
      if (n->backward_pass != 0 && n->backward_pass <= before) ++earlier;
      for (auto& e : n->next_edges)
        if (e.fn && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
    return py::make_tuple(nodes, earlier);
  }, py::arg("roots"), py::arg("before"));
  m.def("_doctor_grads", &doctor_grads, py::arg("params"), py::arg("sample"));
  // Records each parameter's .grad as it is now: the next backward() into it counts as one more
  // sum unless .grad is zeroed, assigned or replaced first (see Tensor::grad_sums).
  m.def("_doctor_mark_grads", [](const std::vector<TensorPtr>& params) {
    for (const auto& p : params) p->mark_grad();
  }, py::arg("params"));
  m.def("_forward_check_enabled", [] { return AnomalyMode::on(AnomalyMode::ForwardCheck); });
}

GC_REGISTER_BINDINGS(bind_graph)

}  // namespace gc::bind
