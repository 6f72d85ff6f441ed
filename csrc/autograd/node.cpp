#include "autograd/node.h"
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include "ops/ops.h"

namespace gc {

namespace {
std::atomic<uint64_t> g_next_seq{0};
std::atomic<uint64_t> g_destroyed{0};
std::atomic<uint64_t> g_next_hook_id{0};
}  // namespace

uint64_t next_hook_id() { return g_next_hook_id.fetch_add(1, std::memory_order_relaxed); }

Node::Node() : seq(g_next_seq.fetch_add(1, std::memory_order_relaxed)) {}

namespace {
// Nodes waiting to be destroyed by the loop in release_node, on this thread.
thread_local std::vector<std::shared_ptr<Node>>* t_pending = nullptr;
}  // namespace

void release_node(std::shared_ptr<Node>& n) {
  if (!n) return;
  std::shared_ptr<Node> own = std::move(n);
  if (own.use_count() != 1) return;  // someone else still holds it: dropping ours is cheap
  if (t_pending) {
    t_pending->push_back(std::move(own));
    return;
  }
  std::vector<std::shared_ptr<Node>> pending;
  t_pending = &pending;
  pending.push_back(std::move(own));
  while (!pending.empty()) {
    std::shared_ptr<Node> x = std::move(pending.back());
    pending.pop_back();
    x.reset();  // its destructor only queues what it owned
  }
  t_pending = nullptr;
}

Node::~Node() {
  g_destroyed.fetch_add(1, std::memory_order_relaxed);
  for (auto& e : next_edges) release_node(e.fn);
}

uint64_t live_nodes() {
  return g_next_seq.load(std::memory_order_relaxed) - g_destroyed.load(std::memory_order_relaxed);
}

void Node::release_saved() {
  visit_saved([](const char*, SavedTensor& s) { s.reset(); });
}

std::atomic<unsigned> AnomalyMode::flags{0};

AnomalyHooks& anomaly_hooks() {
  static AnomalyHooks hooks;
  return hooks;
}

namespace {
// The inputs of the node this thread created last, while the forward check is on, so that
// set_history can report them when the op's output is not finite. Held weakly: the check must not
// keep the last op's inputs alive once the caller drops them (they are alive while the op runs).
thread_local std::pair<const Node*, std::vector<std::weak_ptr<Tensor>>> t_last_inputs;
// Set while the forward check itself runs ops (and the callback runs Python): no checks inside.
thread_local bool t_in_forward_check = false;

// Finite iff the exponent bits are not all ones (inf and NaN have them all set); on the bits, with
// no early exit, the loop vectorizes.
template <typename U>
bool all_finite_bits(const void* data, int64_t n, U exponent) {
  const U* p = static_cast<const U*>(data);
  U inf_or_nan = 0;
  for (int64_t i = 0; i < n; ++i) inf_or_nan |= static_cast<U>((p[i] & exponent) == exponent);
  return inf_or_nan == 0;
}

bool all_finite(const TensorPtr& t) {
  // The common case, a contiguous float32/float64 CPU tensor, is read in place: no op, no allocation.
  if (t->device.type == DeviceType::CPU && t->is_contiguous()) {
    if (t->dtype == DType::Float32) return all_finite_bits<uint32_t>(t->data(), t->numel(), 0x7f800000u);
    if (t->dtype == DType::Float64) return all_finite_bits<uint64_t>(t->data(), t->numel(), 0x7ff0000000000000ull);
  }
  // x * 0 is NaN exactly where x is NaN or inf, so the float64 sum of it is finite iff all of x is.
  auto zero = ops::mul(t, ops::scalar_tensor(Scalar::from_int(0), t->dtype, t->device));
  auto s = ops::to_cpu(ops::sum(zero, {}, false, DType::Float64));
  return std::isfinite(*reinterpret_cast<const double*>(s->data()));
}

void check_forward_output(const TensorPtr& out, const Node& fn) {
  auto& hook = anomaly_hooks().on_nonfinite_output;
  if (t_in_forward_check || !hook || !is_floating(out->dtype) || out->numel() == 0) return;
  t_in_forward_check = true;
  struct Reset {
    ~Reset() { t_in_forward_check = false; }
  } reset;
  NoGradGuard no_grad;
  if (all_finite(out)) return;
  TensorList inputs;
  if (t_last_inputs.first == &fn)
    for (const auto& w : t_last_inputs.second) inputs.push_back(w.lock());
  hook(fn, out, inputs);
}
}  // namespace

void forget_forward_check_inputs() { t_last_inputs = {}; }

void note_node_created(Node& n, const TensorList& inputs) {
  if (AnomalyMode::on(AnomalyMode::Enabled) && anomaly_hooks().on_node_created) anomaly_hooks().on_node_created(n);
  if (AnomalyMode::on(AnomalyMode::ForwardCheck)) {
    t_last_inputs.first = &n;
    t_last_inputs.second.assign(inputs.begin(), inputs.end());
  }
}

TensorList AccumulateGrad::apply(TensorList&& grads) {
  accumulate(run_grad_hooks(std::move(grads[0])));
  return {};
}

TensorPtr AccumulateGrad::run_grad_hooks(TensorPtr g) const {
  if (!g || !variable->hooks) return g;
  for (auto& hook : variable->hooks->grad.snapshot())
    if (TensorPtr r = hook(g)) g = std::move(r);
  return g;
}

void AccumulateGrad::accumulate(TensorPtr g) {
  if (!g) return;
  auto& v = *variable;
  v.grad_sums = v.grad_marked() ? v.grad_sums + 1 : 1;
  if (!v.grad) {
    // Take the incoming buffer when nobody else can see it; otherwise own a copy. A broadcast
    // (stride-0) gradient is materialised so .grad is always a plain tensor.
    v.grad = (g.use_count() == 1 && g->is_contiguous() && !g->base) ? g : ops::clone(g);
    v.grad->requires_grad = false;
  } else {
    // In place, as PyTorch does when not building a graph of the backward: a reference to the
    // old .grad sees the sum.
    ops::binary_(ops::BinaryOp::Add, v.grad, g);
  }
  v.mark_grad();
  if (v.hooks)
    for (auto& hook : v.hooks->post_accumulate.snapshot()) hook(variable);
}

SavedTensor::SavedTensor(const TensorPtr& t, bool is_output) {
  if (!t) return;
  data_ = is_output ? detached_alias(t) : t;
  version_ = t->version();
}

TensorPtr SavedTensor::unpack(const Node& owner) const {
  if (!data_)
    fail(ErrorKind::Runtime, owner.name().c_str(),
         "Trying to backward through the graph a second time (or directly access saved tensors after they "
         "have already been freed). Saved intermediate values of the graph are freed when you call "
         ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
         "graph a second time.");
  if (data_->version() != version_)
    fail(ErrorKind::Runtime, owner.name().c_str(),
         "one of the variables needed for gradient computation has been modified by an inplace operation: "
         "a tensor of shape ", shape_str(data_->shape), " (", dtype_name(data_->dtype), ") is at version ",
         data_->version(), "; expected version ", version_,
         " instead. Hint: use an out-of-place op (x = x + y instead of x += y), or .clone() the tensor "
         "before modifying it.");
  return data_;
}

std::string backward_name(const char* op, int overload) {
  std::string r;
  bool up = true;
  for (const char* p = op; *p; ++p) {
    if (*p == '_') {
      up = true;
      continue;
    }
    r += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(*p))) : *p;
    up = false;
  }
  return r + "Backward" + std::to_string(overload);
}

Edge gradient_edge(const TensorPtr& t) {
  refresh_view_history(t);
  if (!t->requires_grad) return Edge{};
  if (t->grad_fn) return Edge{t->grad_fn, t->output_nr};
  auto acc = t->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    t->grad_accumulator = acc;
  }
  return Edge{acc, 0};
}

bool compute_requires_grad(std::initializer_list<const TensorPtr*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (auto* t : inputs)
    if (*t && (*t)->requires_grad) return true;
  return false;
}

bool compute_requires_grad(const TensorList& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (auto& t : inputs)
    if (t && t->requires_grad) return true;
  return false;
}

namespace {
NodeHooks& node_hooks_of(Node& n) {
  if (!n.hooks) n.hooks = std::make_unique<NodeHooks>();
  return *n.hooks;
}

void forget_retained(Node& n, const Tensor* t) {
  if (!n.hooks) return;
  auto& r = n.hooks->retains_grad;
  r.erase(std::remove_if(r.begin(), r.end(), [t](const NodeHooks::RetainedOutput& o) {
            auto alive = o.tensor.lock();
            return !alive || alive.get() == t;
          }), r.end());
}
}  // namespace

void retain_grad(const TensorPtr& t) {
  if (!t->requires_grad)
    fail(ErrorKind::Runtime, "retain_grad", "can't retain_grad on Tensor that has requires_grad=False");
  if (t->is_leaf() || t->retains_grad) return;
  Edge e = gradient_edge(t);
  node_hooks_of(*e.fn).retains_grad.push_back({e.input_nr, t});
  t->retains_grad = true;
}

void set_history(const TensorPtr& out, const std::shared_ptr<Node>& fn, uint32_t nr) {
  if (out->retains_grad && out->grad_fn != fn) {
    if (out->grad_fn) forget_retained(*out->grad_fn, out.get());
    if (fn) node_hooks_of(*fn).retains_grad.push_back({nr, out});
  }
  out->grad_fn = fn;
  out->output_nr = nr;
  out->requires_grad = true;
  if (nr == 0) {
    fn->output_shape = out->shape;
    fn->output_dtype = out->dtype;
  }
  if (AnomalyMode::on(AnomalyMode::ForwardCheck)) check_forward_output(out, *fn);
}

void check_inplace(const TensorPtr& self, const char* op, bool view_ok) {
  if (!GradMode::is_enabled()) return;
  if (view_ok && self->base) {
    if (self->base->requires_grad && self->base->is_leaf())
      fail(ErrorKind::Runtime, op, "a view of a leaf Variable that requires grad is being used in an in-place "
           "operation (shape ", shape_str(self->shape), "). Hint: do the update under `with gradcore.no_grad():`, "
           "or write into a clone.");
    return;
  }
  if (self->requires_grad && self->is_leaf() && !self->base)
    fail(ErrorKind::Runtime, op,
         "a leaf Variable that requires grad is being used in an in-place operation (shape ",
         shape_str(self->shape), "). Hint: wrap the update in `with gradcore.no_grad():`, as optimizers do, "
         "or use an out-of-place op.");
  if (self->base && (self->base->requires_grad || self->requires_grad))
    fail(ErrorKind::Runtime, op,
         "in-place modification of a view (shape ", shape_str(self->shape),
         ") of a tensor that requires grad is not supported by gradcore. Hint: build the result out of "
         "place (gradcore.where, gradcore.cat, or .clone() the base before writing into it), or do it "
         "under no_grad().");
}

namespace {
// The region of a contiguous base that a view covers, as (shape, strides, offset) in elements.
struct Region {
  DimVector shape, strides;
  int64_t offset;
  TensorPtr of(const TensorPtr& base_shaped) const {  // base_shaped: contiguous, the base's shape
    return ops::as_strided(base_shaped, shape, strides, base_shaped->offset + offset);
  }
};

// The base's gradient: its old history gets g outside the region, the result written into the
// region gets g inside it (which flows on through the in-place op's derivative).
struct CopySlices final : Node {
  Region region;
  DimVector base_shape;
  TensorList apply(TensorList&& g) override {
    NoGradGuard no_grad;
    auto gb = ops::contiguous(g[0]);
    TensorPtr g_old, g_result;
    if (needs_input_grad(1)) g_result = ops::clone(region.of(gb));
    if (needs_input_grad(0)) {
      g_old = gb == g[0] ? ops::clone(gb) : gb;
      ops::fill_(region.of(g_old), Scalar::from_int(0));
    }
    return {g_old, g_result};
  }
  std::string name() const override { return "CopySlices"; }
};

// The rebased view's gradient goes to the base, inside the region.
struct ViewOfBaseBackward final : Node {
  Region region;
  DimVector base_shape;
  DType dtype;
  TensorList apply(TensorList&& g) override {
    NoGradGuard no_grad;
    auto gb = ops::zeros(base_shape, dtype, g[0]->device);
    ops::copy_into(region.of(gb), g[0]);
    return {gb};
  }
  std::string name() const override { return "AsStridedBackward0"; }
};
}  // namespace

void commit_inplace(const TensorPtr& view, const TensorPtr& result, const char* op) {
  {
    NoGradGuard no_grad;
    ops::copy_into(view, result);
  }
  view->bump_version();
  if (!view->base) {
    set_history(view, result->grad_fn, result->output_nr);
    ++view->history_gen;  // its views re-derive their history (gradient_edge)
    return;
  }
  const TensorPtr base = view->base;
  if (!base->is_contiguous())
    fail(ErrorKind::Runtime, op, "in-place modification of a view of a non-contiguous tensor (shape ",
         shape_str(base->shape), ") that requires grad is not supported. Hint: call .contiguous() on it first.");
  Region region{view->shape, view->strides, view->offset - base->offset};
  auto n = make_node<CopySlices>({base, result});
  n->region = region;
  n->base_shape = base->shape;
  set_history(base, n);
  ++base->history_gen;  // every other view of base now re-derives its history (gradient_edge)
  set_view_of_base_history(view, op);
}

TensorPtr copy_with_history(const TensorPtr& t) {
  Edge e = gradient_edge(t);
  if (!e.fn || !t->grad_fn) return ops::clone(t);
  TensorPtr c;
  {
    NoGradGuard no_grad;
    c = ops::clone(t);
  }
  c->grad_fn = e.fn;
  c->output_nr = e.input_nr;
  c->requires_grad = true;
  return c;
}

void set_view_of_base_history(const TensorPtr& view, const char* op) {
  const TensorPtr& base = view->base;
  if (!base->is_contiguous())
    fail(ErrorKind::Runtime, op, "a view of a non-contiguous tensor (shape ", shape_str(base->shape),
         ") whose history an in-place op rewrote is not supported. Hint: call .contiguous() on it first.");
  auto v = make_node<ViewOfBaseBackward>({base});
  v->region = Region{view->shape, view->strides, view->offset - base->offset};
  v->base_shape = base->shape;
  v->dtype = base->dtype;
  set_history(view, v);
  view->base_history_gen = base->history_gen;
}

void refresh_view_history(const TensorPtr& t) {
  if (!t->base || t->base_history_gen == Tensor::kNoHistory || t->base_history_gen == t->base->history_gen) return;
  if (t->base->requires_grad && GradMode::is_enabled())
    set_view_of_base_history(t, "backward");
  else
    t->base_history_gen = t->base->history_gen;
}

}  // namespace gc
