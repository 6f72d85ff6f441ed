// Tensor factories and in-place fills.
#include <cmath>
#include <cstring>
#include <random>
#include "autograd/node.h"
#include "core/generator.h"
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace gc {

// A process starts from a nondeterministic seed, as PyTorch's does (manual_seed fixes it).
uint64_t nondeterministic_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

Generator& default_generator() {
  static Generator g(nondeterministic_seed());
  return g;
}

Generator& cuda_generator() {
  static Generator g(nondeterministic_seed(), Device{DeviceType::CUDA, -1});
  return g;
}

namespace ops {

TensorPtr empty(const DimVector& shape, DType dtype, Device device) {
  check_device_available(device, "empty");
  return empty_tensor(shape, dtype, device);
}

namespace {
// A float written into an int64 tensor must fit (PyTorch refuses NaN, infinities and overflow).
void check_fits(Scalar value, DType dtype, const char* op) {
  if (is_integral(dtype) && value.kind == Scalar::Float && !Scalar::fits_int64(value.d))
    fail(ErrorKind::Runtime, op, "value ", value.d, " cannot be converted to type int64 without overflow");
}
}  // namespace

TensorPtr full(const DimVector& shape, Scalar value, DType dtype, Device device) {
  check_fits(value, dtype, "full");
  auto t = empty(shape, dtype, device);
  GC_KERNEL_STORAGE(fill_kernel, *t, value);
  return t;
}
TensorPtr zeros(const DimVector& shape, DType dtype, Device device) {
  auto t = empty(shape, dtype, device);
  if (!t->storage->nbytes) return t;
#ifdef GRADCORE_CUDA
  if (!device.is_cpu()) {
    cuda::memset_zero(t->storage->data, device, t->storage->nbytes);
    return t;
  }
#endif
  std::memset(t->storage->data, 0, t->storage->nbytes);
  return t;
}
TensorPtr ones(const DimVector& shape, DType dtype, Device device) { return full(shape, Scalar::from_int(1), dtype, device); }
TensorPtr scalar_tensor(Scalar value, DType dtype, Device device) { return full({}, value, dtype, device); }
TensorPtr wrapped_scalar(Scalar value, Device device) {
  auto t = scalar_tensor(value, value.kind == Scalar::Float ? DType::Float64 : value.natural_dtype(), device);
  t->is_wrapped_number = true;
  return t;
}

TensorPtr arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dtype, Device device) {
  if (step.d == 0) fail(ErrorKind::Runtime, "arange", "step must be nonzero");
  if ((step.d > 0 && end.d < start.d) || (step.d < 0 && end.d > start.d))
    fail(ErrorKind::Runtime, "arange", "upper bound and larger bound inconsistent with step sign (start=", start.d,
         ", end=", end.d, ", step=", step.d, ")");
  bool any_float = start.kind == Scalar::Float || end.kind == Scalar::Float || step.kind == Scalar::Float;
  DType dt = dtype ? *dtype : (any_float ? default_dtype() : DType::Int64);
  double n = std::ceil((end.d - start.d) / step.d);
  auto t = empty({static_cast<int64_t>(n)}, dt, device);
  GC_KERNEL(arange_kernel, *t, start.d, step.d);
  return t;
}

TensorPtr linspace(double start, double end, int64_t steps, DType dtype, Device device) {
  if (steps < 0) fail(ErrorKind::Runtime, "linspace", "number of steps must be non-negative, got ", steps);
  auto t = empty({steps}, dtype, device);
  if (steps == 0) return t;
  if (steps == 1) {
    GC_KERNEL_STORAGE(fill_kernel, *t, Scalar::from_double(start));
    return t;
  }
  // PyTorch fills the first half from start and the second half from end, so both ends are exact.
  double step = (end - start) / static_cast<double>(steps - 1);
  auto tmp = empty({steps}, DType::Float64, Device{});  // computed on the host, then copied over
  auto* p = tmp->data_as<double>();
  int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; ++i) p[i] = i < half ? start + step * i : end - step * (steps - 1 - i);
  copy_into(t, tmp);
  return t;
}

TensorPtr eye(int64_t n, int64_t m, DType dtype, Device device) {
  if (n < 0 || m < 0) fail(ErrorKind::Runtime, "eye", "n and m must be non-negative, got n=", n, ", m=", m);
  auto t = zeros({n, m}, dtype, device);
  auto diag = as_strided(t, {std::min(n, m)}, {m + 1}, 0);
  GC_KERNEL_STORAGE(fill_kernel, *diag, Scalar::from_int(1));
  return t;
}

// PyTorch keeps one default generator for the CPU and one for CUDA devices; a generator passed
// in must belong to the tensor's device type.
Generator& generator_for(Generator* g, const TensorPtr& t, const char* op) {
  if (!g) return t->device.is_cpu() ? default_generator() : cuda_generator();
  if (g->device().type != t->device.type)
    fail(ErrorKind::Runtime, op, "Expected a '", t->device.is_cpu() ? "cpu" : "cuda", "' device type for generator but found '",
         g->device().is_cpu() ? "cpu" : "cuda", "'. Hint: create the generator with gradcore.Generator(device=...) of the tensor's device.");
  return *g;
}

void uniform_(const TensorPtr& t, double low, double high, Generator* gen) {
  if (!is_floating(t->dtype)) fail(ErrorKind::Runtime, "uniform_", "expected a floating-point tensor, got ", dtype_name(t->dtype));
  auto& g = generator_for(gen, t, "uniform_");
  auto dst = t->is_contiguous() ? t : empty(t->shape, t->dtype, t->device);
  GC_KERNEL(uniform_kernel, *dst, low, high, g.initial_seed(), g.reserve(static_cast<uint64_t>(t->numel())));
  if (dst != t) GC_KERNEL(copy_kernel, *t, *dst);
  t->bump_version();
}

void normal_(const TensorPtr& t, double mean, double std, Generator* gen) {
  if (!is_floating(t->dtype)) fail(ErrorKind::Runtime, "normal_", "expected a floating-point tensor, got ", dtype_name(t->dtype));
  if (std < 0) fail(ErrorKind::Runtime, "normal_", "expected std >= 0.0, got ", std);
  auto& g = generator_for(gen, t, "normal_");
  auto dst = t->is_contiguous() ? t : empty(t->shape, t->dtype, t->device);
  GC_KERNEL(normal_kernel, *dst, mean, std, g.initial_seed(), g.reserve(2 * static_cast<uint64_t>(t->numel())));
  if (dst != t) GC_KERNEL(copy_kernel, *t, *dst);
  t->bump_version();
}

TensorPtr rand(const DimVector& shape, DType dtype, Device device, Generator* gen) {
  auto t = empty(shape, dtype, device);
  uniform_(t, 0.0, 1.0, gen);
  return t;
}
TensorPtr randn(const DimVector& shape, DType dtype, Device device, Generator* gen) {
  auto t = empty(shape, dtype, device);
  normal_(t, 0.0, 1.0, gen);
  return t;
}
TensorPtr randint(int64_t low, int64_t high, const DimVector& shape, DType dtype, Device device, Generator* gen) {
  if (high <= low)
    fail(ErrorKind::Runtime, "randint", "random_ expects 'from' to be less than 'to', but got from=", low, " >= to=", high);
  auto t = empty(shape, dtype, device);
  auto& g = generator_for(gen, t, "randint");
  GC_KERNEL(randint_kernel, *t, low, high, g.initial_seed(), g.reserve(static_cast<uint64_t>(t->numel())));
  return t;
}

// fill_ and zero_ are differentiable: the filled tensor's old values no longer matter, so the
// gradient flowing back to them is zero.
struct FillBackward final : Node {
  TensorList apply(TensorList&& grads) override { return {nullptr}; }
  std::string name() const override { return "FillBackward0"; }
};

void fill_(const TensorPtr& t, Scalar value) {
  check_fits(value, t->dtype, "fill_");
  check_inplace(t, "fill_");
  GC_KERNEL_STORAGE(fill_kernel, *t, value);
  t->bump_version();
  if (GradMode::is_enabled() && t->requires_grad && !t->is_leaf())
    set_history(t, make_node<FillBackward>({t}));
}

TensorPtr zero_(const TensorPtr& t) {
  fill_(t, Scalar::from_int(0));
  return t;
}

}  // namespace ops
}  // namespace gc
