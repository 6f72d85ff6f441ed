// Reverse-mode autograd: the graph is a DAG of Nodes, one per differentiable op call. A tensor
// owns its grad_fn; a node owns edges to the nodes of its inputs and what its backward needs.
// Nothing global holds the graph, so dropping the output of an unused forward pass frees it.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "core/tensor.h"

namespace gc {

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;  // which of fn's outputs this gradient belongs to
};

// Hooks (PyTorch's Tensor.register_hook, register_post_accumulate_grad_hook, Node.register_hook
// and register_prehook): callables the engine calls around nodes; bind/autograd.cpp wraps Python
// functions in them. Each has a process-unique id by which its handle removes it.
// A gradient hook returns a replacement for the gradient, or null to keep it.
using GradHook = std::function<TensorPtr(const TensorPtr& grad)>;
// A node pre-hook may rewrite the gradients w.r.t. the node's outputs; a post-hook those w.r.t.
// its inputs (one per edge), seeing the outputs' gradients.
using NodePreHook = std::function<void(TensorList& grad_outputs)>;
using NodePostHook = std::function<void(TensorList& grad_inputs, const TensorList& grad_outputs)>;
using PostAccumulateHook = std::function<void(const TensorPtr& leaf)>;

uint64_t next_hook_id();

template <typename F>
struct HookList {
  std::vector<std::pair<uint64_t, F>> items;
  uint64_t add(F fn) {
    uint64_t id = next_hook_id();
    items.emplace_back(id, std::move(fn));
    return id;
  }
  bool remove(uint64_t id) {
    for (auto it = items.begin(); it != items.end(); ++it)
      if (it->first == id) {
        items.erase(it);
        return true;
      }
    return false;
  }
  // A copy, so a hook may remove itself (or add others) while the list runs.
  std::vector<F> snapshot() const {
    std::vector<F> out;
    out.reserve(items.size());
    for (auto& [id, fn] : items) out.push_back(fn);
    return out;
  }
};

struct NodeHooks {
  struct OutputHook {
    uint32_t output_nr;
    GradHook fn;
  };
  HookList<OutputHook> tensor_pre;  // register_hook of the node's non-leaf outputs
  // Outputs that retain_grad() was called on: each keeps the gradient reaching it (after the
  // tensor_pre hooks, as PyTorch runs retains_grad hooks last). Held weakly: a node never keeps
  // its output alive.
  struct RetainedOutput {
    uint32_t output_nr;
    std::weak_ptr<Tensor> tensor;
  };
  std::vector<RetainedOutput> retains_grad;
  HookList<NodePreHook> pre;
  HookList<NodePostHook> post;
  bool remove(uint64_t id) { return tensor_pre.remove(id) || pre.remove(id) || post.remove(id); }
};

struct TensorHooks {  // a leaf's
  HookList<GradHook> grad;                          // before its gradient is accumulated
  HookList<PostAccumulateHook> post_accumulate;     // after, with the leaf
  bool remove(uint64_t id) { return grad.remove(id) || post_accumulate.remove(id); }
};

class SavedTensor;
// A node's `metadata` (PyTorch's grad_fn.metadata dict); the binding derives the Python one. In
// anomaly mode it holds "traceback_", the Python stack where the node was created.
struct NodeMetadata {
  virtual ~NodeMetadata() = default;
};
// Names each tensor a node saved for backward, as PyTorch's _saved_* attributes do ("self",
// "other", "result", ...); an absent one (not needed, or freed) is visited too.
using SavedVisitor = std::function<void(const char* name, SavedTensor& saved)>;

// How many autograd nodes exist now (created minus destroyed): the training doctor watches it grow
// when something keeps every iteration's graph alive.
uint64_t live_nodes();
// How many backward passes the engine has run (each marks the nodes it runs with its number).
uint64_t backward_passes();

struct Node {
  std::vector<Edge> next_edges;  // one per differentiable input; fn==nullptr where none is needed
  uint64_t seq;                  // creation order: the engine runs later nodes first
  uint32_t num_outputs = 1;
  uint64_t backward_pass = 0;  // the number of the backward pass that last ran this node (0: none)
  std::unique_ptr<NodeHooks> hooks;  // null unless a hook was registered
  std::unique_ptr<NodeMetadata> metadata;  // null until asked for, or anomaly mode records a stack
  DimVector output_shape;                  // of output 0, as set_history saw it (print_graph shows it)
  DType output_dtype = DType::Float32;

  Node();
  virtual ~Node();
  // Gradients w.r.t. this node's outputs in, gradients w.r.t. its inputs (one per edge) out.
  // A null entry in `grads` means zero; a null entry returned means "no gradient".
  virtual TensorList apply(TensorList&& grads) = 0;
  virtual std::string name() const = 0;
  // Nodes keep their saved tensors in SavedTensor members and list them here, for introspection
  // (grad_fn._saved_self, print_graph) and for release_saved.
  virtual void visit_saved(const SavedVisitor&) {}
  // Free what backward needed: the saved tensors, and whatever else a node overrides it to drop.
  virtual void release_saved();
  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].fn != nullptr; }
};

// Gradient sink of a leaf that requires grad: adds the incoming gradient into `.grad`.
// Its leaf's gradient hooks run first, its post-accumulate hooks after.
struct AccumulateGrad final : Node {
  TensorPtr variable;
  explicit AccumulateGrad(TensorPtr v) : variable(std::move(v)) {}
  TensorList apply(TensorList&& grads) override;
  // The leaf's gradient hooks applied to `g` (autograd.grad captures a leaf's gradient after them).
  TensorPtr run_grad_hooks(TensorPtr g) const;
  // Adds `g` into .grad, then runs the post-accumulate hooks.
  void accumulate(TensorPtr g);
  std::string name() const override { return "AccumulateGrad"; }
};

// A tensor saved for backward, with the version it had then: unpacking after an in-place write
// raises PyTorch's error instead of silently producing a wrong gradient. Outputs of the node
// that saves them are kept as detached aliases, so a node never owns itself through them.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const TensorPtr& t, bool is_output);
  TensorPtr unpack(const Node& owner) const;
  void reset() {
    data_.reset();
    released_ = true;
  }
  bool defined() const { return static_cast<bool>(data_); }
  // Freed by release_saved (unpacking raises), as opposed to never saved.
  bool released() const { return released_; }
  // What is held, without the version check (introspection: shapes, dtypes, bytes).
  const TensorPtr& peek() const { return data_; }

 private:
  TensorPtr data_;
  uint64_t version_ = 0;
  bool released_ = false;
};

// The edge through which gradient flows into `t`: its grad_fn, or its leaf accumulator.
Edge gradient_edge(const TensorPtr& t);
// A view whose base's history an in-place op rewrote since the view's grad_fn was made gets a
// new one from the base's current history (AsStridedBackward0 over its region); others are left
// as they are. gradient_edge() and the grad_fn property call it.
void refresh_view_history(const TensorPtr& t);
// The history of `view` as the region of its base's current history.
void set_view_of_base_history(const TensorPtr& view, const char* op);
// Does any input need a gradient under the current grad mode?
bool compute_requires_grad(std::initializer_list<const TensorPtr*> inputs);
bool compute_requires_grad(const TensorList& inputs);
// Tensor.retain_grad(): a non-leaf `t` keeps its gradient in .grad during backward (a leaf does
// anyway); RuntimeError when it does not require grad.
void retain_grad(const TensorPtr& t);

// Anomaly mode (PyTorch's detect_anomaly) and the forward check the training doctor uses. Each
// switch costs one relaxed load where it is tested (make_node, set_history, the engine) when off.
struct AnomalyHooks {
  // In anomaly mode, when a node is created: records where (its metadata's "traceback_").
  std::function<void(Node&)> on_node_created;
  // In anomaly mode, when a node's backward raised or returned NaN: reports where it was created.
  std::function<void(const Node&)> on_backward_error;
  // With the forward check on, when an op recording a node wrote NaN or inf into `out`.
  std::function<void(const Node&, const TensorPtr& out, const TensorList& inputs)> on_nonfinite_output;
};
AnomalyHooks& anomaly_hooks();
struct AnomalyMode {
  enum : unsigned { Enabled = 1, CheckNan = 2, ForwardCheck = 4 };
  static std::atomic<unsigned> flags;
  static bool on(unsigned bits) { return (flags.load(std::memory_order_relaxed) & bits) != 0; }
};
// Called by make_node when anomaly mode or the forward check is on.
void note_node_created(Node& n, const TensorList& inputs);
// Drops the last op's inputs the forward check keeps on this thread (when it is turned off).
void forget_forward_check_inputs();

// Creates node N, wires an edge per input (in order) and returns it.
template <typename N, typename... A>
std::shared_ptr<N> make_node(const TensorList& inputs, A&&... args) {
  auto n = std::make_shared<N>(std::forward<A>(args)...);
  n->next_edges.reserve(inputs.size());
  for (auto& t : inputs) n->next_edges.push_back(t ? gradient_edge(t) : Edge{});
  if (AnomalyMode::on(AnomalyMode::Enabled | AnomalyMode::ForwardCheck)) note_node_created(*n, inputs);
  return n;
}
// PyTorch's name of an op's backward node: "log_sigmoid", 0 -> "LogSigmoidBackward0".
std::string backward_name(const char* op, int overload = 0);
// Makes `out` the output number `nr` of node `fn` (an in-place op's new history: a tensor that
// retains its gradient then keeps the one reaching its new node).
void set_history(const TensorPtr& out, const std::shared_ptr<Node>& fn, uint32_t nr = 0);
// In-place ops on a tensor whose history changes: leaves that require grad refuse (outside
// no_grad), views of tensors that require grad are refused with a hint.
// `view_ok`: the op rebases a view's history itself (commit_inplace), so a view of a
// non-leaf (or of a tensor that does not require grad) may be written.
void check_inplace(const TensorPtr& self, const char* op, bool view_ok = false);
// The end of an in-place op that needs a graph: `result` was computed out of place (from a clone
// of self, so saved inputs stay intact); its values are written into self, self's version bumps,
// and self takes the result's history. For a view, its base takes a CopySlices node instead (its
// old gradient outside the view's region, the result's inside it) and the view becomes a view of
// the base's new history, as in PyTorch.
void commit_inplace(const TensorPtr& self, const TensorPtr& result, const char* op);
// A copy of `t`'s values (a new storage) that carries t's history: what an in-place op computes
// from out of place, so the graph shows the op applied to t itself, as PyTorch's does (no
// CloneBackward0 between them). A leaf's copy records a clone, as its gradient must reach it.
TensorPtr copy_with_history(const TensorPtr& t);

// Runs `fn` when the backward pass now running on this thread has finished (PyTorch's
// Variable._execution_engine.queue_callback); callbacks may queue more. RuntimeError outside one.
void queue_callback(std::function<void()> fn);

// backward(): accumulates into leaves' .grad; with `inputs`, only into those tensors' .grad
// (leaves or not), as PyTorch's backward(inputs=...).
void run_backward(const TensorList& roots, const TensorList& grad_roots, bool retain_graph,
                  const TensorList& inputs = {});
// autograd.grad(): returns d(roots)/d(inputs) without touching .grad.
TensorList run_grad(const TensorList& roots, const TensorList& grad_roots, const TensorList& inputs,
                    bool retain_graph, bool allow_unused);

}  // namespace gc
