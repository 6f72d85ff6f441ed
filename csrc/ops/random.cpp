// Sampling ops: multinomial, randperm, normal with tensor parameters, bernoulli, and the in-place
// fills exponential_, geometric_, random_ (kernels: cpu/random.cpp and cpu/copy.cpp, their CUDA
// twins, and the formulas in kernels/random.h). Every op reserves its generator counters before
// the kernel runs, so a result depends only on the generator's (seed, offset), never on the thread
// count or the device's launch shape.
#include <cmath>
#include <limits>
#include "autograd/node.h"
#include "core/generator.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc::ops {

namespace {

// The samples of normal and bernoulli are not differentiable functions of their parameters:
// PyTorch gives mean, std and p a zero gradient (and an in-place fill's old values get none).
struct RandomBackward final : Node {
  std::string op;
  std::vector<DimVector> shapes;
  std::vector<DType> dtypes;
  std::vector<Device> devices;
  TensorList apply(TensorList&& grads) override {
    TensorList out;
    for (size_t i = 0; i < shapes.size(); ++i)
      out.push_back(needs_input_grad(i) ? zeros(shapes[i], dtypes[i], devices[i]) : nullptr);
    return out;
  }
  std::string name() const override { return op; }
};

void record_random_history(const TensorPtr& out, const char* node_name, const TensorList& inputs) {
  if (!GradMode::is_enabled()) return;
  bool any = false;
  for (auto& t : inputs) any = any || (t && t->requires_grad);
  if (!any) return;
  auto n = make_node<RandomBackward>(inputs);
  n->op = node_name;
  for (auto& t : inputs) {
    n->shapes.push_back(t ? t->shape : DimVector{});
    n->dtypes.push_back(t ? t->dtype : DType::Float32);
    n->devices.push_back(t ? t->device : Device{});
  }
  set_history(out, n);
}

// The host value of a 0-dim bool tensor (one device sync for CUDA tensors).
bool host_bool(const TensorPtr& t) { return to_cpu(t)->data_as<bool>()[0]; }

// True when every element of x lies in [lo, hi] (NaN fails both comparisons).
bool all_within(const TensorPtr& x, double lo, double hi) {
  if (x->numel() == 0) return true;
  auto ge = compare(BinaryOp::Ge, x, wrapped_scalar(Scalar::from_double(lo), x->device));
  auto le = compare(BinaryOp::Le, x, wrapped_scalar(Scalar::from_double(hi), x->device));
  return host_bool(all(compare(BinaryOp::LogicalAnd, ge, le), std::nullopt, false));
}

// The data of x as contiguous float64 with no history: what the sampling kernels read.
TensorPtr float64_operand(const TensorPtr& x) { return contiguous(to_dtype(detach(x), DType::Float64)); }

// Runs fill(dst) on t itself or, when t is strided, on a contiguous temporary copied into t.
template <typename F>
void fill_in_place(const TensorPtr& t, const char* op, F fill) {
  check_inplace(t, op);
  auto dst = t->is_contiguous() ? t : empty(t->shape, t->dtype, t->device);
  fill(dst);
  if (dst != t) GC_KERNEL(copy_kernel, *t, *dst);
  t->bump_version();
  if (GradMode::is_enabled() && t->requires_grad && !t->is_leaf()) record_random_history(t, backward_name(op).c_str(), {t});
}

void check_floating_fill(const TensorPtr& t, const char* op, const char* what) {
  if (!is_floating(t->dtype))
    fail(ErrorKind::Runtime, op, what, " is a continuous probability distribution. dtype must be a floating point but you specified ",
         dtype_name(t->dtype), ". Hint: draw into a float tensor, then convert.");
}

}  // namespace

TensorPtr multinomial(const TensorPtr& input, int64_t num_samples, bool replacement, Generator* gen) {
  const char* op = "multinomial";
  if (input->dim() != 1 && input->dim() != 2)
    fail(ErrorKind::Runtime, op, "prob_dist must be 1 or 2 dim, got shape ", shape_str(input->shape));
  if (!is_floating(input->dtype))
    fail(ErrorKind::Runtime, op, "multinomial only supports floating-point dtypes for input, got: ", dtype_name(input->dtype),
         ". Hint: pass weights as floats, e.g. w.float().");
  const int64_t C = input->shape.back(), rows = input->dim() == 2 ? input->shape[0] : 1;
  if (num_samples <= 0) fail(ErrorKind::Runtime, op, "cannot sample n_sample <= 0 samples (got num_samples=", num_samples, ")");
  if (!replacement && num_samples > C)
    fail(ErrorKind::Runtime, op, "cannot sample n_sample > prob_dist.size(-1) samples without replacement (num_samples=",
         num_samples, ", categories=", C, "). Hint: pass replacement=True.");
  auto p = float64_operand(reshape(input, {rows, C}));
  if (rows > 0) {
    if (!all_within(p, 0.0, std::numeric_limits<double>::max()))
      fail(ErrorKind::Runtime, op, "probability tensor contains either `inf`, `nan` or element < 0");
    if (C == 0 || !host_bool(all(compare(BinaryOp::Gt, sum(p, {1}, false), wrapped_scalar(Scalar::from_int(0), p->device)),
                                 std::nullopt, false)))
      fail(ErrorKind::Runtime, op, "invalid multinomial distribution (sum of probabilities <= 0)");
  }
  auto out = empty({rows, num_samples}, DType::Int64, input->device);
  auto& g = generator_for(gen, input, op);
  const uint64_t draws = static_cast<uint64_t>(rows) * static_cast<uint64_t>(replacement ? num_samples : C);
  if (replacement) GC_KERNEL(multinomial_with_replacement_kernel, *out, *p, g.initial_seed(), g.reserve(draws));
  else GC_KERNEL(multinomial_without_replacement_kernel, *out, *p, g.initial_seed(), g.reserve(draws));
  return input->dim() == 1 ? reshape(out, {num_samples}) : out;
}

TensorPtr randperm(int64_t n, DType dtype, Device device, Generator* gen) {
  const char* op = "randperm";
  if (n < 0) fail(ErrorKind::Runtime, op, "Trying to create tensor with negative dimension ", n, ": [", n, "]");
  if (dtype == DType::Bool) fail(ErrorKind::NotImplemented, op, "\"randperm\" not implemented for 'Bool'");
  if (is_floating(dtype)) {
    // Every integer up to n - 1 must be exact in the result dtype.
    const int digits = dtype == DType::Float16 ? 11 : dtype == DType::BFloat16 ? 8 : dtype == DType::Float32 ? 24 : 53;
    const int64_t limit = (int64_t{1} << digits) + 1;
    if (n > limit) fail(ErrorKind::Runtime, op, "n cannot be greater than ", limit, " for ", dtype_name(dtype), " type.");
  }
  auto perm = empty({n}, DType::Int64, device);
  auto& g = generator_for(gen, perm, op);
  GC_KERNEL(randperm_kernel, *perm, g.initial_seed(), g.reserve(static_cast<uint64_t>(n)));
  return dtype == DType::Int64 ? perm : to_dtype(perm, dtype);
}

TensorPtr normal(const TensorPtr& mean, double mean_value, const TensorPtr& std, double std_value, Generator* gen) {
  const char* op = "normal";
  const TensorPtr& like = mean ? mean : std;
  if (!is_floating(like->dtype))
    fail(ErrorKind::NotImplemented, op, "\"normal_kernel_cpu\" not implemented for '", dtype_name(like->dtype),
         "'. Hint: pass a floating-point mean and std.");
  if (mean && std && mean->device != std->device)
    fail(ErrorKind::Runtime, op, "expected all tensors to be on the same device, but mean is on ", mean->device.str(),
         " and std on ", std->device.str(), ". Hint: move both with .to(device).");
  if (std && !all_within(std, 0.0, HUGE_VAL)) fail(ErrorKind::Runtime, op, "normal expects all elements of std >= 0.0");
  if (!std && !(std_value >= 0.0)) fail(ErrorKind::Runtime, op, "normal expects std >= 0.0, but found std ", std_value);
  const DimVector shape = mean && std ? broadcast_shapes(mean->shape, std->shape, op) : like->shape;
  auto z = randn(shape, like->dtype, like->device, gen);
  auto m = mean ? detach(mean) : wrapped_scalar(Scalar::from_double(mean_value), like->device);
  auto s = std ? detach(std) : wrapped_scalar(Scalar::from_double(std_value), like->device);
  auto out = add(m, mul(s, z));
  if (out->dtype != like->dtype) out = to_dtype(out, like->dtype);
  // PyTorch's node names: NormalBackward1 (Tensor, float), 2 (float, Tensor), 3 (Tensor, Tensor).
  record_random_history(out, mean && std ? "NormalBackward3" : mean ? "NormalBackward1" : "NormalBackward2", {mean, std});
  return out;
}

TensorPtr bernoulli(const TensorPtr& p, Generator* gen) {
  const char* op = "bernoulli";
  if (!is_floating(p->dtype))
    fail(ErrorKind::NotImplemented, op, "\"bernoulli_tensor_cpu_p_\" not implemented for '", dtype_name(p->dtype),
         "'. Hint: pass probabilities as floats.");
  if (!all_within(p, 0.0, 1.0))
    fail(ErrorKind::Runtime, op, "Expected p_in >= 0 && p_in <= 1 to be true, but got false (every probability must be in [0, 1])");
  auto out = empty(p->shape, p->dtype, p->device);
  auto& g = generator_for(gen, out, op);
  GC_KERNEL(bernoulli_tensor_kernel, *out, *float64_operand(p), g.initial_seed(), g.reserve(static_cast<uint64_t>(out->numel())));
  record_random_history(out, "BernoulliBackward0", {p});
  return out;
}

TensorPtr bernoulli(const TensorPtr& input, double p, Generator* gen) {
  auto out = empty(input->shape, input->dtype, input->device);
  bernoulli_(out, p, gen);
  record_random_history(out, "BernoulliBackward1", {input});
  return out;
}

void bernoulli_(const TensorPtr& t, double p, Generator* gen) {
  if (!(p >= 0.0 && p <= 1.0)) fail(ErrorKind::Runtime, "bernoulli_", "bernoulli_ expects p to be in [0, 1], but got p=", p);
  auto& g = generator_for(gen, t, "bernoulli_");
  fill_in_place(t, "bernoulli_", [&](const TensorPtr& dst) {
    GC_KERNEL(bernoulli_kernel, *dst, p, g.initial_seed(), g.reserve(static_cast<uint64_t>(dst->numel())));
  });
}

void bernoulli_(const TensorPtr& t, const TensorPtr& p, Generator* gen) {
  const char* op = "bernoulli_";
  if (p->device != t->device)
    fail(ErrorKind::Runtime, op, "expected p on ", t->device.str(), " (the tensor's device), got ", p->device.str(),
         ". Hint: move p with .to(device).");
  if (broadcast_shapes(t->shape, p->shape, op) != t->shape)
    fail(ErrorKind::Runtime, op, "p of shape ", shape_str(p->shape), " cannot be broadcast to the tensor's shape ",
         shape_str(t->shape));
  if (!all_within(p, 0.0, 1.0))
    fail(ErrorKind::Runtime, op, "Expected p_in >= 0 && p_in <= 1 to be true, but got false (every probability must be in [0, 1])");
  auto pe = float64_operand(expand(p, t->shape));
  auto& g = generator_for(gen, t, op);
  fill_in_place(t, op, [&](const TensorPtr& dst) {
    GC_KERNEL(bernoulli_tensor_kernel, *dst, *pe, g.initial_seed(), g.reserve(static_cast<uint64_t>(dst->numel())));
  });
}

void exponential_(const TensorPtr& t, double lambd, Generator* gen) {
  check_floating_fill(t, "exponential_", "Exponential distribution");
  if (!(lambd > 0.0)) fail(ErrorKind::Runtime, "exponential_", "exponential_ expects lambda > 0.0, but found lambda=", lambd);
  auto& g = generator_for(gen, t, "exponential_");
  fill_in_place(t, "exponential_", [&](const TensorPtr& dst) {
    GC_KERNEL(exponential_kernel, *dst, lambd, g.initial_seed(), g.reserve(static_cast<uint64_t>(dst->numel())));
  });
}

void geometric_(const TensorPtr& t, double p, Generator* gen) {
  if (!(p > 0.0 && p < 1.0)) fail(ErrorKind::Runtime, "geometric_", "geometric_ expects p to be in (0, 1), but got p=", p);
  auto& g = generator_for(gen, t, "geometric_");
  fill_in_place(t, "geometric_", [&](const TensorPtr& dst) {
    GC_KERNEL(geometric_kernel, *dst, p, g.initial_seed(), g.reserve(static_cast<uint64_t>(dst->numel())));
  });
}

void random_(const TensorPtr& t, int64_t from, std::optional<int64_t> to, Generator* gen) {
  const char* op = "random_";
  // Unset `to`: the largest integer the dtype holds exactly, plus one (int64: the largest int64,
  // which itself is never drawn).
  int64_t hi = 0;
  switch (t->dtype) {
    case DType::Bool: hi = 2; break;
    case DType::UInt8: hi = 256; break;
    case DType::Int8: hi = 128; break;
    case DType::Int16: hi = 32768; break;
    case DType::Int32: hi = int64_t{1} << 31; break;
    case DType::Int64: hi = std::numeric_limits<int64_t>::max(); break;
    case DType::Float32: hi = (int64_t{1} << 24) + 1; break;
    case DType::Float64: hi = (int64_t{1} << 53) + 1; break;
    case DType::BFloat16: hi = (int64_t{1} << 8) + 1; break;
    case DType::Float16: hi = (int64_t{1} << 11) + 1; break;
  }
  if (to) hi = *to;
  if (from >= hi) fail(ErrorKind::Runtime, op, "random_ expects 'from' to be less than 'to', but got from=", from, " >= to=", hi);
  if (t->dtype == DType::Bool && (from < 0 || hi > 2))
    fail(ErrorKind::Runtime, op, (from < 0 ? "from" : "to - 1"), " is out of bounds for bool");
  static const struct { DType dtype; int64_t lo, hi; } narrow[] = {
      {DType::UInt8, 0, 255}, {DType::Int8, -128, 127}, {DType::Int16, -32768, 32767},
      {DType::Int32, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()}};
  for (const auto& n : narrow)
    if (t->dtype == n.dtype && (from < n.lo || hi - 1 > n.hi))
      fail(ErrorKind::Runtime, op, (from < n.lo ? "from" : "to - 1"), " is out of bounds for ", dtype_name(t->dtype));
  auto& g = generator_for(gen, t, op);
  fill_in_place(t, op, [&](const TensorPtr& dst) {
    GC_KERNEL(randint_kernel, *dst, from, hi, g.initial_seed(), g.reserve(static_cast<uint64_t>(dst->numel())));
  });
}

}  // namespace gc::ops
