// The backward pass: count how many gradients each node waits for, then run nodes whose inputs
// are complete, latest-created first, summing gradients that meet at a node. One loop, no
// recursion, grad mode off throughout (gradcore builds no graph of the backward pass).
#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include "autograd/node.h"
#include "ops/ops.h"

namespace gc {

namespace {

struct NodeTask {
  Node* node;
  bool operator<(const NodeTask& o) const { return node->seq < o.node->seq; }
};

void accumulate(TensorPtr& slot, TensorPtr g) {
  if (!g) return;
  if (!slot) slot = std::move(g);
  else slot = ops::add(slot, g);
}

TensorList root_grads(const TensorList& roots, const TensorList& grad_roots, const char* op) {
  TensorList grads(roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    const auto& r = roots[i];
    if (!r->requires_grad)
      fail(ErrorKind::Runtime, op, "element ", i, " of tensors does not require grad and does not have a "
           "grad_fn. Hint: set requires_grad=True on the inputs, and do not compute the loss under no_grad().");
    TensorPtr g = i < grad_roots.size() ? grad_roots[i] : nullptr;
    if (!g) {
      if (r->numel() != 1)
        fail(ErrorKind::Runtime, op, "grad can be implicitly created only for scalar outputs, but the output "
             "has shape ", shape_str(r->shape), ". Hint: reduce it first (loss.sum() or loss.mean()), or pass "
             "gradient= a tensor of that shape.");
      g = ops::ones(r->shape, r->dtype, r->device);
    } else {
      if (g->shape != r->shape)
        fail(ErrorKind::Runtime, op, "the gradient has shape ", shape_str(g->shape), " but the output has shape ",
             shape_str(r->shape), "; they must match");
      if (g->device != r->device)
        fail(ErrorKind::Runtime, op, "the gradient is on ", g->device.str(), " but the output is on ", r->device.str());
      if (g->dtype != r->dtype) g = ops::to_dtype(g, r->dtype);
    }
    grads[i] = std::move(g);
  }
  return grads;
}

// The callbacks queued during the backward pass running on this thread (null outside one).
thread_local std::vector<std::function<void()>>* t_final_callbacks = nullptr;

struct FinalCallbacks {
  std::vector<std::function<void()>> queue;
  std::vector<std::function<void()>>* prev;
  FinalCallbacks() : prev(t_final_callbacks) { t_final_callbacks = &queue; }
  ~FinalCallbacks() { t_final_callbacks = prev; }
  void run() {
    for (size_t i = 0; i < queue.size(); ++i) {  // a callback may queue more
      auto fn = std::move(queue[i]);
      fn();
    }
  }
};

// The hooks of the tensors whose gradients fill `grads` (the node's outputs'), then the
// retain_grad() of those that keep theirs: .grad becomes a copy of the gradient, or the sum out of
// place (PyTorch's retains_grad hook: a reference to the old .grad keeps its value).
void run_tensor_pre_hooks(NodeHooks& h, TensorList& grads) {
  for (auto& oh : h.tensor_pre.snapshot())
    if (oh.output_nr < grads.size() && grads[oh.output_nr])
      if (TensorPtr r = oh.fn(grads[oh.output_nr])) grads[oh.output_nr] = std::move(r);
  for (auto& kept : h.retains_grad) {
    TensorPtr t = kept.tensor.lock();
    if (!t || kept.output_nr >= grads.size() || !grads[kept.output_nr]) continue;
    const TensorPtr& g = grads[kept.output_nr];
    t->grad = t->grad ? ops::add(t->grad, g) : ops::clone(g);
  }
}

// The node's pre-hooks, the node, then its post-hooks (which see one gradient per input, null
// where there is none).
TensorList apply_with_hooks(Node& n, TensorList&& in) {
  for (auto& hook : n.hooks->pre.snapshot()) hook(in);
  if (n.hooks->post.items.empty()) return n.apply(std::move(in));
  TensorList grad_outputs = in;
  TensorList out = n.apply(std::move(in));
  out.resize(n.next_edges.size());
  for (auto& hook : n.hooks->post.snapshot()) hook(out, grad_outputs);
  return out;
}

// Anomaly mode (PyTorch's detect_anomaly): a node that raises, or (with check_nan) returns NaN,
// has the Python stack of the forward call that created it reported before the error propagates.
TensorList apply_in_anomaly_mode(Node& n, TensorList&& in) {
  auto report = [&n] {
    if (anomaly_hooks().on_backward_error) anomaly_hooks().on_backward_error(n);
  };
  TensorList out;
  try {
    out = n.hooks ? apply_with_hooks(n, std::move(in)) : n.apply(std::move(in));
  } catch (...) {
    report();
    throw;
  }
  if (!AnomalyMode::on(AnomalyMode::CheckNan)) return out;
  for (size_t i = 0; i < out.size(); ++i) {
    const TensorPtr& g = out[i];
    if (!g || !is_floating(g->dtype) || g->numel() == 0) continue;
    auto nan = ops::to_cpu(ops::sum(ops::to_dtype(ops::compare(kernels::BinaryOp::Ne, g, g), DType::Float64), {}, false));
    if (*reinterpret_cast<const double*>(nan->data()) > 0) {
      report();
      fail(ErrorKind::Runtime, "backward", "Function '", n.name(), "' returned nan values in its ", i, "th output.");
    }
  }
  return out;
}

// Runs the graph below `roots`. With `captures` (autograd.grad), only nodes that lead to a
// captured edge run, AccumulateGrad never runs, and the gradient arriving at each captured edge
// is stored in `captured`.
std::atomic<uint64_t> g_backward_passes{0};

void execute(const TensorList& roots, TensorList grads, bool retain_graph,
             const std::vector<Edge>* captures, TensorList* captured) {
  NoGradGuard no_grad;
  const uint64_t pass = g_backward_passes.fetch_add(1, std::memory_order_relaxed) + 1;
  FinalCallbacks callbacks;
  std::vector<Edge> root_edges;
  for (auto& r : roots) root_edges.push_back(gradient_edge(r));

  // Dependencies: how many edges point at each node from the part of the graph we walk.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  for (auto& e : root_edges)
    if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  std::vector<Node*> order;  // every node reachable, for pruning in grad mode
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    order.push_back(n);
    for (auto& e : n->next_edges) {
      if (!e.fn) continue;
      deps[e.fn.get()]++;
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }

  // In grad mode, a node runs only if a captured edge lies below it.
  std::unordered_set<Node*> needed;
  std::unordered_map<Node*, std::vector<std::pair<uint32_t, size_t>>> capture_at;
  if (captures) {
    for (size_t i = 0; i < captures->size(); ++i) {
      const Edge& c = (*captures)[i];
      if (c.fn) capture_at[c.fn.get()].push_back({c.input_nr, i});
    }
    bool changed = true;
    while (changed) {
      changed = false;
      // Reverse discovery order visits most children before their parents: few passes.
      for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Node* n = *it;
        if (needed.count(n)) continue;
        for (auto& e : n->next_edges)
          if (e.fn && (capture_at.count(e.fn.get()) || needed.count(e.fn.get()))) {
            needed.insert(n);
            changed = true;
            break;
          }
      }
    }
  }

  std::unordered_map<Node*, TensorList> buffers;
  std::priority_queue<NodeTask> ready;
  for (size_t i = 0; i < root_edges.size(); ++i) {
    auto& e = root_edges[i];
    auto& buf = buffers[e.fn.get()];
    if (buf.size() < e.fn->num_outputs) buf.resize(e.fn->num_outputs);
    accumulate(buf[e.input_nr], grads[i]);
  }
  for (auto& e : root_edges)
    if (deps[e.fn.get()] == 0) {
      deps[e.fn.get()] = -1;  // queued
      ready.push({e.fn.get()});
    }

  while (!ready.empty()) {
    Node* n = ready.top().node;
    ready.pop();
    TensorList in = std::move(buffers[n]);
    buffers.erase(n);
    in.resize(n->num_outputs);
    if (n->hooks) run_tensor_pre_hooks(*n->hooks, in);
    if (captures) {
      auto it = capture_at.find(n);
      if (it != capture_at.end()) {
        // A leaf's gradient is captured after its hooks, as it would be accumulated.
        auto* acc = dynamic_cast<AccumulateGrad*>(n);
        for (auto& [nr, idx] : it->second) (*captured)[idx] = acc ? acc->run_grad_hooks(in[nr]) : in[nr];
      }
    }
    // A node none of whose outputs got a gradient (everything above it was cut off, e.g. by an
    // in-place fill) contributes nothing: it is skipped, as its inputs get no gradient from it.
    bool run = (!captures || needed.count(n) > 0) &&
               std::any_of(in.begin(), in.end(), [](const TensorPtr& t) { return t != nullptr; });
    TensorList out;
    if (run) {
      n->backward_pass = pass;
      out = AnomalyMode::on(AnomalyMode::Enabled) ? apply_in_anomaly_mode(*n, std::move(in))
            : n->hooks                              ? apply_with_hooks(*n, std::move(in))
                                                    : n->apply(std::move(in));
      // Saved tensors are dropped; a later backward through this node raises when it unpacks
      // them (nodes that saved nothing can run again, as in PyTorch).
      if (!retain_graph) n->release_saved();
    }
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      auto& e = n->next_edges[i];
      if (!e.fn) continue;
      if (run && i < out.size() && out[i]) {
        auto& buf = buffers[e.fn.get()];
        if (buf.size() < e.fn->num_outputs) buf.resize(e.fn->num_outputs);
        accumulate(buf[e.input_nr], std::move(out[i]));
      }
      if (--deps[e.fn.get()] == 0) {
        deps[e.fn.get()] = -1;
        ready.push({e.fn.get()});
      }
    }
  }
  callbacks.run();
}

}  // namespace

uint64_t backward_passes() { return g_backward_passes.load(std::memory_order_relaxed); }

void queue_callback(std::function<void()> fn) {
  if (!t_final_callbacks)
    fail(ErrorKind::Runtime, "queue_callback", "Final callbacks can only be installed during backward pass. "
         "Hint: call it from a hook that runs during backward().");
  t_final_callbacks->push_back(std::move(fn));
}

void run_backward(const TensorList& roots, const TensorList& grad_roots, bool retain_graph, const TensorList& inputs) {
  if (!inputs.empty()) {
    // Only the part of the graph between the roots and `inputs` runs; each input's gradient is
    // accumulated into its .grad the way a leaf's is.
    TensorList g = run_grad(roots, grad_roots, inputs, retain_graph, true);
    for (size_t i = 0; i < inputs.size(); ++i)
      if (g[i]) AccumulateGrad(inputs[i]).accumulate(g[i]);  // hooks ran when g was captured
    return;
  }
  TensorList grads = root_grads(roots, grad_roots, "backward");
  execute(roots, std::move(grads), retain_graph, nullptr, nullptr);
}

TensorList run_grad(const TensorList& roots, const TensorList& grad_roots, const TensorList& inputs,
                    bool retain_graph, bool allow_unused) {
  TensorList grads = root_grads(roots, grad_roots, "autograd.grad");
  std::vector<Edge> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]->requires_grad)
      fail(ErrorKind::Runtime, "autograd.grad", "input ", i, " (shape ", shape_str(inputs[i]->shape),
           ") does not require grad. Hint: set requires_grad=True on it before the forward pass.");
    captures.push_back(gradient_edge(inputs[i]));
  }
  TensorList captured(inputs.size());
  execute(roots, std::move(grads), retain_graph, &captures, &captured);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!captured[i] && !allow_unused)
      fail(ErrorKind::Runtime, "autograd.grad", "input ", i, " (shape ", shape_str(inputs[i]->shape),
           ") was not used in the graph of the outputs. Hint: pass allow_unused=True to get None for it.");
    if (captured[i] && captured[i]->shape != inputs[i]->shape)
      captured[i] = ops::sum_to_shape(captured[i], inputs[i]->shape);
  }
  return captured;
}

}  // namespace gc
