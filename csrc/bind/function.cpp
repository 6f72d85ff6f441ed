// User-defined autograd functions (gradcore.autograd.Function). `Fn.apply` runs the user's
// forward in Python under no_grad, then `_function_record` (here) turns the call into a graph
// node of type PyFunctionNode that joins the C++ graph like a built-in op: edges to the inputs'
// nodes, its outputs' grad_fn, SavedTensors with version checks. The engine runs with the GIL
// released; PyFunctionNode::apply takes it back to call the user's backward.
//
// Ownership, so that no cycle keeps a graph alive: a node owns the Python ctx (user attributes,
// needs_input_grad) and its saved tensors; saved *outputs* are stored as detached aliases (no
// grad_fn), and the ctx reaches the node only through a weak reference. The ctx's to_save /
// non_differentiable / dirty_tensors lists, which may hold outputs, are cleared by apply once
// recorded.
#include <unordered_set>
#include "autograd/node.h"
#include "bind/common.h"

namespace gc::bind {

namespace {

struct ArgInfo {
  bool is_tensor = false;
  bool differentiable = false;  // outputs only: has this node as grad_fn
  DimVector shape;
  DType dtype = DType::Float32;
  Device device;
};

ArgInfo describe(const TensorPtr& t) {
  ArgInfo a;
  if (!t) return a;
  a.is_tensor = true;
  a.shape = t->shape;
  a.dtype = t->dtype;
  a.device = t->device;
  return a;
}

// Can a tensor of shape `from` be broadcast to `to`? (a gradient of shape `to` is then summed
// back to `from`, as for built-in ops).
bool expandable_to(const DimVector& from, const DimVector& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    if (f != t && f != 1) return false;
  }
  return true;
}

struct PyFunctionNode final : Node {
  std::string fn_name;      // "<Function class name>Backward", as PyTorch names it
  py::object ctx;           // the ctx passed to forward and backward
  py::object backward_fn;   // the class's backward (or vjp)
  std::vector<ArgInfo> inputs;   // one per positional argument of forward
  std::vector<ArgInfo> outputs;  // one per value forward returned
  std::vector<SavedTensor> saved;
  // Per saved slot: -2 input or intermediate, -1 None, k >= 0 output number k (re-attached to
  // this node when unpacked, as PyTorch does).
  std::vector<int64_t> saved_kind;
  std::weak_ptr<PyFunctionNode> self;
  bool materialize_grads = true;

  ~PyFunctionNode() override {
    // The last owner may be C++ code; Python objects need the GIL (and, at interpreter
    // shutdown, an interpreter: then they are left to it).
    if (!Py_IsInitialized()) {
      ctx.release();
      backward_fn.release();
      return;
    }
    py::gil_scoped_acquire gil;
    ctx = py::object();
    backward_fn = py::object();
  }

  std::string name() const override { return fn_name; }
  void visit_saved(const SavedVisitor& v) override {
    for (auto& s : saved) v("saved_tensors", s);
  }

  py::tuple unpack_saved() const {
    py::tuple out(saved.size());
    for (size_t i = 0; i < saved.size(); ++i) {
      if (saved_kind[i] == -1) {
        out[i] = py::none();
        continue;
      }
      TensorPtr t = saved[i].unpack(*this);
      if (saved_kind[i] >= 0) {
        t = detached_alias(t);
        set_history(t, self.lock(), static_cast<uint32_t>(saved_kind[i]));
      }
      out[i] = py::cast(t);
    }
    return out;
  }

  TensorList apply(TensorList&& grads) override {
    py::gil_scoped_acquire gil;
    py::tuple args(1 + outputs.size());
    args[0] = ctx;
    for (size_t i = 0; i < outputs.size(); ++i) {
      TensorPtr g = i < grads.size() ? grads[i] : nullptr;
      const ArgInfo& o = outputs[i];
      if (!g && o.is_tensor && materialize_grads) g = ops::zeros(o.shape, o.dtype, o.device);
      args[i + 1] = g ? py::cast(g) : py::none();
    }
    py::object res = backward_fn(*args);
    py::tuple r = py::isinstance<py::tuple>(res) ? res.cast<py::tuple>() : py::make_tuple(res);
    size_t n = r.size();
    if (n > inputs.size()) {
      // Trailing Nones (e.g. for keyword-only extras) are allowed, as in PyTorch.
      bool extra_none = true;
      for (size_t i = inputs.size(); i < n; ++i) extra_none = extra_none && r[i].is_none();
      if (extra_none) n = inputs.size();
    }
    if (n != inputs.size())
      fail(ErrorKind::Runtime, fn_name.c_str(), "function ", fn_name, " returned an incorrect number of gradients "
           "(expected ", inputs.size(), ", got ", n, "). Hint: backward must return one value per argument of forward, "
           "None for arguments that are not tensors or need no gradient.");
    TensorList out(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      py::handle v = r[i];
      if (v.is_none()) continue;
      const ArgInfo& in = inputs[i];
      if (!in.is_tensor)
        fail(ErrorKind::Runtime, fn_name.c_str(), "function ", fn_name, " returned a gradient different than None at "
             "position ", i + 1, ", but the corresponding forward input was not a Tensor. Hint: return None there.");
      if (!is_tensor(v))
        fail(ErrorKind::Runtime, fn_name.c_str(), "function ", fn_name, " returned an object of type ",
             py::str(py::type::of(v).attr("__name__")).cast<std::string>(), " as the gradient at position ", i + 1,
             "; expected a Tensor or None");
      if (!needs_input_grad(i)) continue;
      TensorPtr g = v.cast<TensorPtr>();
      if (g->shape != in.shape) {
        if (!expandable_to(in.shape, g->shape))
          fail(ErrorKind::Runtime, fn_name.c_str(), "Function ", fn_name, " returned an invalid gradient at index ", i,
               " - got ", shape_str(g->shape), " but expected shape compatible with ", shape_str(in.shape),
               " (the shape of that input)");
        g = ops::sum_to_shape(g, in.shape);
      }
      if (g->device != in.device)
        fail(ErrorKind::Runtime, fn_name.c_str(), "Function ", fn_name, " returned a gradient at index ", i, " on ",
             g->device.str(), " but that input is on ", in.device.str());
      if (g->dtype != in.dtype) g = ops::to_dtype(g, in.dtype);
      out[i] = std::move(g);
    }
    return out;
  }
};

// What the ctx holds to reach its node: weak, so the ctx (owned by the node) owns nothing back.
struct SavedTensorsRef {
  std::weak_ptr<PyFunctionNode> node;
  py::tuple unpack() const {
    auto n = node.lock();
    if (!n)
      fail(ErrorKind::Runtime, "saved_tensors", "the graph this ctx belonged to has been freed, and its saved tensors "
           "with it. Hint: read ctx.saved_tensors inside backward.");
    return n->unpack_saved();
  }
};

std::unordered_set<const Tensor*> tensor_set(py::handle seq, const char* what) {
  std::unordered_set<const Tensor*> s;
  if (seq.is_none()) return s;
  for (auto item : seq) {
    if (!is_tensor(item))
      fail(ErrorKind::Type, what, "only accepts tensors, got an object of type ",
           py::str(py::type::of(item).attr("__name__")).cast<std::string>());
    s.insert(item.cast<TensorPtr>().get());
  }
  return s;
}

// Wraps the outputs of a forward call; builds the node when an input needs a gradient.
py::object record(py::object cls, py::object ctx, py::object backward_fn, py::tuple args, py::object result,
                  py::object to_save, py::object non_differentiable, py::object dirty_tensors, bool materialize_grads) {
  std::string name = py::str(cls.attr("__name__")).cast<std::string>() + "Backward";
  bool is_tuple = py::isinstance<py::tuple>(result);
  py::tuple raw = is_tuple ? result.cast<py::tuple>() : py::make_tuple(result);
  TensorList ins(args.size());
  bool any_requires = false;
  for (size_t i = 0; i < args.size(); ++i)
    if (is_tensor(args[i])) {
      ins[i] = args[i].cast<TensorPtr>();
      any_requires = any_requires || ins[i]->requires_grad;
    }
  auto non_diff = tensor_set(non_differentiable, "mark_non_differentiable");
  auto dirty = tensor_set(dirty_tensors, "mark_dirty");

  auto is_input = [&](const Tensor* t) {
    for (auto& in : ins)
      if (in.get() == t) return true;
    return false;
  };
  for (auto* d : dirty) {
    if (!is_input(d))
      fail(ErrorKind::Runtime, name.c_str(), "mark_dirty was given a tensor that is not an input of forward; only "
           "inputs modified in place may be marked dirty");
    bool returned = false;
    for (auto o : raw) returned = returned || (is_tensor(o) && o.cast<TensorPtr>().get() == d);
    if (!returned)
      fail(ErrorKind::Runtime, name.c_str(), "some tensors marked dirty were not returned by forward. The inputs that "
           "are modified in place must all be outputs of the Function.");
  }

  std::shared_ptr<PyFunctionNode> node;
  if (GradMode::is_enabled() && any_requires) {
    node = make_node<PyFunctionNode>(ins);
    node->self = node;
    node->fn_name = name;
    node->ctx = ctx;
    node->backward_fn = backward_fn;
    node->materialize_grads = materialize_grads;
    node->num_outputs = static_cast<uint32_t>(raw.size());
    for (auto& in : ins) node->inputs.push_back(describe(in));
    node->outputs.resize(raw.size());
  }

  py::tuple out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    py::handle o = raw[i];
    if (!is_tensor(o)) {
      out[i] = o;
      continue;
    }
    TensorPtr t = o.cast<TensorPtr>();
    bool input = is_input(t.get());
    bool is_dirty = dirty.count(t.get()) > 0;
    // An input returned as is becomes a view of itself, so its own history stays untouched.
    TensorPtr target = t;
    if (input && !is_dirty) target = make_view(t, t->shape, t->strides, t->offset);
    if (!node) {
      out[i] = py::cast(target);
      continue;
    }
    if (is_dirty) check_inplace(t, name.c_str());
    else if (!input && (t->grad_fn || t->requires_grad)) target = detached_alias(t);  // not ours to rebase
    bool differentiable = is_floating(t->dtype) && !non_diff.count(t.get());
    if (differentiable) set_history(target, node, static_cast<uint32_t>(i));
    node->outputs[i] = describe(target);
    node->outputs[i].differentiable = differentiable;
    out[i] = py::cast(target);
  }

  if (node && !to_save.is_none()) {
    for (auto item : to_save) {
      if (item.is_none()) {
        node->saved.emplace_back();
        node->saved_kind.push_back(-1);
        continue;
      }
      TensorPtr st = item.cast<TensorPtr>();
      bool is_output = st->grad_fn.get() == node.get();
      node->saved.emplace_back(st, is_output);
      node->saved_kind.push_back(is_output ? static_cast<int64_t>(st->output_nr) : -2);
    }
  }
  if (node) ctx.attr("_saved_ref") = SavedTensorsRef{node};
  return is_tuple ? py::object(out) : py::object(out[0]);
}

}  // namespace

static void bind_function(py::module_& m, TensorClass&) {
  py::class_<SavedTensorsRef>(m, "_SavedTensorsRef").def("unpack", &SavedTensorsRef::unpack);
  // `y.grad_fn` of a custom Function: a Node whose unknown attributes are the ctx's, as in
  // PyTorch where the node is the ctx (y.grad_fn.saved_tensors, y.grad_fn.<attr>).
  py::class_<PyFunctionNode, Node, std::shared_ptr<PyFunctionNode>>(m, "_FunctionBackward")
      .def("__getattr__", [](const PyFunctionNode& n, const std::string& attr) -> py::object {
        return n.ctx.attr(attr.c_str());
      });
  m.def("_function_record", &record, py::arg("cls"), py::arg("ctx"), py::arg("backward_fn"), py::arg("args"),
        py::arg("result"), py::arg("to_save"), py::arg("non_differentiable"), py::arg("dirty_tensors"),
        py::arg("materialize_grads"));
}

GC_REGISTER_BINDINGS(bind_function)

}  // namespace gc::bind
