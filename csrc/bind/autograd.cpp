// Bindings of the autograd entry points: Tensor.backward, gradcore._C._run_backward and _run_grad
// (autograd.backward / autograd.grad), and the hooks: Tensor.register_hook, retain_grad,
// register_post_accumulate_grad_hook, Node.register_hook / register_prehook, and the engine's
// queue_callback. The Node type that grad_fn returns is bound with the Tensor class (tensor.cpp),
// before any binding file that derives from it.
//
// The engine runs with the GIL released; a hook takes it to call Python, and a Python exception
// it raises unwinds the engine as py::error_already_set, re-raised when backward() returns.
#include "autograd/node.h"
#include "bind/common.h"

namespace gc::bind {

namespace {
// A list whose None entries (no gradient given) become null tensors.
TensorList nullable(const std::vector<std::optional<TensorPtr>>& ts) {
  TensorList out;
  out.reserve(ts.size());
  for (const auto& t : ts) out.push_back(t ? *t : nullptr);
  return out;
}

// backward(inputs=...): a tensor or a sequence of tensors; None means every leaf.
TensorList backward_inputs(py::handle inputs) {
  if (inputs.is_none()) return {};
  TensorList out;
  if (is_tensor(inputs)) out.push_back(inputs.cast<TensorPtr>());
  else
    for (auto item : py::iter(inputs)) out.push_back(as_tensor(item, "backward", "inputs"));
  if (out.empty()) fail(ErrorKind::Runtime, "backward", "'inputs' argument to backward() cannot be empty.");
  return out;
}

// A Python callable that the engine may call, copy and drop without the GIL: calling it and
// dropping the last reference take the GIL (at interpreter shutdown, the object is left to it).
struct PyCallable {
  py::object fn;
  explicit PyCallable(py::object f) : fn(std::move(f)) {}
  PyCallable(const PyCallable&) = delete;
  PyCallable& operator=(const PyCallable&) = delete;
  ~PyCallable() {
    if (!Py_IsInitialized()) {
      fn.release();
      return;
    }
    py::gil_scoped_acquire gil;
    fn = py::object();
  }
  // PyTorch's name of a hook in its errors: the function's __name__.
  std::string name() const {
    return py::hasattr(fn, "__name__") ? py::str(fn.attr("__name__")).cast<std::string>() : py::repr(fn).cast<std::string>();
  }
};

void check_callable(py::handle fn, const char* op) {
  if (!PyCallable_Check(fn.ptr())) fail(ErrorKind::Type, op, "the hook must be callable, got ", type_name(fn));
}

// A gradient a hook returned in place of `old`: None keeps it; else a tensor like it.
TensorPtr replacement_grad(const PyCallable& hook, py::handle r, const TensorPtr& old) {
  if (r.is_none()) return nullptr;
  if (!is_tensor(r))
    fail(ErrorKind::Type, "hook", "expected a Tensor, but hook '", hook.name(), "' returned '", type_name(r), "'");
  TensorPtr g = r.cast<TensorPtr>();
  if (!old) return g;
  if (g->shape != old->shape)
    fail(ErrorKind::Runtime, "hook", "hook '", hook.name(), "' has changed the size of value: it returned shape ",
         shape_str(g->shape), " for a gradient of shape ", shape_str(old->shape));
  if (g->dtype != old->dtype)
    fail(ErrorKind::Runtime, "hook", "hook '", hook.name(), "' has changed the type of value (was ", dtype_name(old->dtype),
         " got ", dtype_name(g->dtype), ")");
  if (g->device != old->device)
    fail(ErrorKind::Runtime, "hook", "hook '", hook.name(), "' has changed the device of value (was ", old->device.str(),
         " got ", g->device.str(), ")");
  return g;
}

GradHook grad_hook(py::object fn) {
  auto c = std::make_shared<PyCallable>(std::move(fn));
  return [c](const TensorPtr& g) -> TensorPtr {
    py::gil_scoped_acquire gil;
    py::object r = c->fn(g);
    return replacement_grad(*c, r, g);
  };
}

py::tuple to_tuple(const TensorList& ts) {
  py::tuple t(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) t[i] = ts[i] ? py::cast(ts[i]) : py::none();
  return t;
}

// A node hook's result: None keeps `grads`; a sequence of the same length replaces them.
void replace_grads(const PyCallable& hook, py::handle r, TensorList& grads) {
  if (r.is_none()) return;
  if (!py::isinstance<py::sequence>(r) || py::isinstance<py::str>(r))
    fail(ErrorKind::Type, "hook", "hook '", hook.name(), "' must return None or a tuple of gradients, got ", type_name(r));
  auto seq = py::reinterpret_borrow<py::sequence>(r);
  if (seq.size() != grads.size())
    fail(ErrorKind::Runtime, "hook", "hook '", hook.name(), "' has returned an incorrect number of values (got ", seq.size(),
         ", but expected ", grads.size(), ")");
  TensorList out(grads.size());
  for (size_t i = 0; i < grads.size(); ++i) out[i] = replacement_grad(hook, seq[i], grads[i]);
  grads = std::move(out);
}

// What a hook's handle removes it from: the leaf or the node, held weakly (a handle never keeps
// a graph alive).
struct HookHandle {
  std::weak_ptr<Tensor> leaf;
  std::weak_ptr<Node> node;
  uint64_t id;
  void remove() {
    if (auto t = leaf.lock()) {
      if (t->hooks) t->hooks->remove(id);
    } else if (auto n = node.lock()) {
      if (n->hooks) n->hooks->remove(id);
    }
  }
};

NodeHooks& node_hooks(Node& n) {
  if (!n.hooks) n.hooks = std::make_unique<NodeHooks>();
  return *n.hooks;
}

TensorHooks& tensor_hooks(Tensor& t) {
  if (!t.hooks) t.hooks = std::make_shared<TensorHooks>();
  return *t.hooks;
}

}  // namespace

static void bind_autograd(py::module_& m, TensorClass& cls) {
  cls.def("backward", [](const TensorPtr& t, py::object gradient, py::object retain_graph, py::object create_graph,
                         py::object inputs) {
    if (!create_graph.is_none() && create_graph.cast<bool>())
      fail(ErrorKind::NotImplemented, "backward", "create_graph=True (higher-order gradients) is not supported by gradcore");
    TensorList g{gradient.is_none() ? nullptr : as_tensor(gradient, "backward", "gradient")};
    bool retain = !retain_graph.is_none() && retain_graph.cast<bool>();
    TensorList ins = backward_inputs(inputs);
    py::gil_scoped_release release;
    run_backward({t}, g, retain, ins);
  }, py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(), py::arg("create_graph") = py::none(),
     py::arg("inputs") = py::none());

  m.def("_run_backward", [](std::vector<TensorPtr> roots, std::vector<std::optional<TensorPtr>> grads, bool retain,
                            py::object inputs) {
    TensorList ins = backward_inputs(inputs), g = nullable(grads);
    py::gil_scoped_release release;
    run_backward(roots, g, retain, ins);
  }, py::arg("roots"), py::arg("grads"), py::arg("retain"), py::arg("inputs") = py::none());
  m.def("_run_grad", [](std::vector<TensorPtr> roots, std::vector<std::optional<TensorPtr>> grads, std::vector<TensorPtr> inputs,
                        bool retain, bool allow_unused) {
    TensorList g = nullable(grads);
    py::gil_scoped_release release;
    return run_grad(roots, g, inputs, retain, allow_unused);
  });
}

static void bind_hooks(py::module_& m, TensorClass& cls) {
  py::class_<HookHandle>(m, "RemovableHandle")
      .def_readonly("id", &HookHandle::id)
      .def("remove", &HookHandle::remove)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](HookHandle& h, py::args) { h.remove(); });

  cls.def("register_hook", [](const TensorPtr& t, py::object fn) {
    check_callable(fn, "register_hook");
    if (!t->requires_grad)
      fail(ErrorKind::Runtime, "register_hook", "cannot register a hook on a tensor that doesn't require gradient");
    Edge e = gradient_edge(t);
    if (t->is_leaf()) return HookHandle{t, {}, tensor_hooks(*t).grad.add(grad_hook(std::move(fn)))};
    uint64_t id = node_hooks(*e.fn).tensor_pre.add({e.input_nr, grad_hook(std::move(fn))});
    return HookHandle{{}, e.fn, id};
  }, py::arg("hook"));
  cls.def("retain_grad", [](const TensorPtr& t) { retain_grad(t); });
  cls.def_property_readonly("retains_grad", [](const Tensor& t) { return t.retains_grad; });
  cls.def("register_post_accumulate_grad_hook", [](const TensorPtr& t, py::object fn) {
    check_callable(fn, "register_post_accumulate_grad_hook");
    if (!t->requires_grad)
      fail(ErrorKind::Runtime, "register_post_accumulate_grad_hook",
           "cannot register a hook on a tensor that doesn't require gradient");
    if (!t->is_leaf())
      fail(ErrorKind::Runtime, "register_post_accumulate_grad_hook",
           "post accumulate grad hooks cannot be registered on non-leaf tensors");
    auto c = std::make_shared<PyCallable>(std::move(fn));
    PostAccumulateHook hook = [c](const TensorPtr& leaf) {
      py::gil_scoped_acquire gil;
      py::object r = c->fn(leaf);
      if (!r.is_none())
        fail(ErrorKind::Runtime, "hook", "post accumulate grad hook '", c->name(), "' must return None, got ", type_name(r));
    };
    return HookHandle{t, {}, tensor_hooks(*t).post_accumulate.add(std::move(hook))};
  }, py::arg("hook"));

  auto node_cls = py::reinterpret_borrow<py::class_<Node, std::shared_ptr<Node>>>(m.attr("Node"));
  node_cls.def("register_prehook", [](const std::shared_ptr<Node>& n, py::object fn) {
    check_callable(fn, "register_prehook");
    auto c = std::make_shared<PyCallable>(std::move(fn));
    NodePreHook hook = [c](TensorList& grad_outputs) {
      py::gil_scoped_acquire gil;
      py::object r = c->fn(to_tuple(grad_outputs));
      replace_grads(*c, r, grad_outputs);
    };
    return HookHandle{{}, n, node_hooks(*n).pre.add(std::move(hook))};
  }, py::arg("fn"));
  node_cls.def("register_hook", [](const std::shared_ptr<Node>& n, py::object fn) {
    check_callable(fn, "register_hook");
    auto c = std::make_shared<PyCallable>(std::move(fn));
    NodePostHook hook = [c](TensorList& grad_inputs, const TensorList& grad_outputs) {
      py::gil_scoped_acquire gil;
      py::object r = c->fn(to_tuple(grad_inputs), to_tuple(grad_outputs));
      replace_grads(*c, r, grad_inputs);
    };
    return HookHandle{{}, n, node_hooks(*n).post.add(std::move(hook))};
  }, py::arg("fn"));

  // Variable._execution_engine.queue_callback(fn): fn() runs when the current backward ends.
  m.def("_queue_callback", [](py::object fn) {
    check_callable(fn, "queue_callback");
    auto c = std::make_shared<PyCallable>(std::move(fn));
    queue_callback([c] {
      py::gil_scoped_acquire gil;
      c->fn();
    });
  });
}

GC_REGISTER_BINDINGS(bind_autograd)
GC_REGISTER_BINDINGS(bind_hooks)

}  // namespace gc::bind
