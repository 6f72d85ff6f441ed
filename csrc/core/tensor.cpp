#include "core/tensor.h"
#include <limits>
#ifdef GRADCORE_CUDA
#include "cuda/runtime.h"
#endif
#ifdef GRADCORE_OPENMP
#include <omp.h>
#endif

namespace gc {

namespace {
DType g_default_dtype = DType::Float32;
thread_local bool t_grad_enabled = true;
int g_num_threads = 0;  // 0: not set yet, use OpenMP's default
}  // namespace

DType default_dtype() { return g_default_dtype; }
void set_default_dtype(DType t) {
  if (!is_floating(t))
    fail(ErrorKind::Type, "set_default_dtype", "only floating-point types are supported as the default type, got ",
         dtype_name(t));
  g_default_dtype = t;
}

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool on) { t_grad_enabled = on; }

int get_num_threads() {
#ifdef GRADCORE_OPENMP
  if (omp_in_parallel()) return 1;  // a kernel called from a parallel region runs on its thread alone
  return g_num_threads > 0 ? g_num_threads : omp_get_max_threads();
#else
  return 1;
#endif
}
void set_num_threads(int n) {
  if (n < 1) fail(ErrorKind::Runtime, "set_num_threads", "expected a positive number of threads, got ", n);
  g_num_threads = n;
#ifdef GRADCORE_OPENMP
  omp_set_num_threads(n);
#endif
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // as PyTorch: an empty tensor is contiguous whatever its strides
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

DimVector contiguous_strides(const DimVector& shape) {
  DimVector st(shape.size());
  int64_t s = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
  return st;
}

int64_t checked_numel(const DimVector& shape, const char* op) {
  int64_t n = 1;
  for (auto s : shape) {
    if (s < 0) fail(ErrorKind::Runtime, op, "negative dimension ", s, " in shape ", shape_str(shape));
    if (s != 0 && n > std::numeric_limits<int64_t>::max() / s)
      fail(ErrorKind::Runtime, op, "shape ", shape_str(shape), " has too many elements to address");
    n *= s;
  }
  return n;
}

void check_no_internal_overlap(const Tensor& t, const char* op) {
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.strides[d] == 0 && t.shape[d] > 1)
      fail(ErrorKind::Runtime, op, "unsupported operation: more than one element of the written-to tensor (shape ",
           shape_str(t.shape), ", strides ", shape_str(t.strides), ") refers to a single memory location. "
           "Hint: clone() the tensor before writing into it (an expand()ed tensor shares its elements).");
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = ndim > 0 ? ndim : 1;  // a 0-dim tensor accepts dim 0 and -1, as in PyTorch
  if (dim < -n || dim >= n)
    fail(ErrorKind::Index, op, "dimension out of range (expected to be in range of [", -n, ", ", n - 1,
         "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

TensorPtr empty_tensor(const DimVector& shape, DType dtype, Device device) {
  int64_t n = checked_numel(shape, "empty");
  size_t isz = gc::itemsize(dtype);
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / isz)
    fail(ErrorKind::Runtime, "empty", "shape ", shape_str(shape), " is too large to allocate");
  auto t = std::make_shared<Tensor>();
  t->shape = shape;
  t->strides = contiguous_strides(shape);
  t->dtype = dtype;
#ifdef GRADCORE_CUDA
  // A tensor always names its GPU: 'cuda' means the current device, as in PyTorch (cuda:0).
  if (!device.is_cpu() && device.index < 0) {
    check_device_available(device, "empty");
    device.index = cuda::current_device();
  }
#endif
  t->device = device;
  t->storage = std::make_shared<Storage>(static_cast<size_t>(n) * isz, device);
  return t;
}

TensorPtr make_view(const TensorPtr& src, DimVector shape, DimVector strides, int64_t offset) {
  auto t = std::make_shared<Tensor>();
  t->shape = std::move(shape);
  t->strides = std::move(strides);
  t->offset = offset;
  t->dtype = src->dtype;
  t->device = src->device;
  t->storage = src->storage;
  t->base = src->base ? src->base : src;
  if (GradMode::is_enabled()) t->base_history_gen = t->base->history_gen;
  return t;
}

TensorPtr detached_alias(const TensorPtr& src) {
  auto t = std::make_shared<Tensor>();
  t->shape = src->shape;
  t->strides = src->strides;
  t->offset = src->offset;
  t->dtype = src->dtype;
  t->device = src->device;
  t->storage = src->storage;
  return t;
}

}  // namespace gc
