// The tensor: a strided view (shape, strides, offset) of a reference-counted Storage, plus the
// autograd fields. This C++ class *is* the Python `gradcore.Tensor` (bound in bind/tensor.cpp).
#pragma once
#include <atomic>
#include <memory>
#include <vector>
#include "core/allocator.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/small_vector.h"

namespace gc {

struct Node;
struct TensorHooks;
class Tensor;
using TensorPtr = std::shared_ptr<Tensor>;
using TensorList = std::vector<TensorPtr>;
// Shapes and strides (strides in elements, as PyTorch reports them). Up to 6 dims live inside
// the tensor object; more go to the heap.
using DimVector = SmallVector<int64_t, 6>;

// Drops a reference to a graph node without recursion: when it is the last one, the node (and
// every node only it kept alive) is destroyed by a loop, so a graph of any depth frees safely.
void release_node(std::shared_ptr<Node>& n);

class Tensor {
 public:
  Tensor() = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  ~Tensor() { release_node(grad_fn); }

  DimVector shape;
  DimVector strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  Device device;
  std::shared_ptr<Storage> storage;

  // Autograd. A tensor owns its grad_fn; a node owns its edges to its inputs' nodes; a leaf that
  // requires grad is reached through an AccumulateGrad node that it holds weakly.
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  TensorPtr grad;
  std::weak_ptr<Node> grad_accumulator;
  // How many backward() calls are summed in .grad (the training doctor's forgotten-zero_grad
  // check): AccumulateGrad counts one per accumulation and starts again at 1 when .grad is new or
  // was changed since it was last marked (zeroed in place, assigned, or replaced): its storage and
  // version when last marked, by an accumulation or by mark_grad().
  uint32_t grad_sums = 0;
  uint64_t grad_mark_version = 0;
  const Storage* grad_mark_storage = nullptr;
  // A leaf's register_hook / register_post_accumulate_grad_hook callables (autograd/node.h);
  // null when it has none, so accumulating a gradient pays one test.
  std::shared_ptr<TensorHooks> hooks;
  // For a view: the tensor it views (PyTorch's `._base`).
  TensorPtr base;
  // In-place ops that rewrite a tensor's history (x.mul_(2), or an in-place op on one of its
  // views, which rebases x onto CopySlices) bump its history_gen; a view made with grad enabled
  // records its base's history_gen, and when they differ its grad_fn is stale: gradient_edge()
  // re-derives it from the base's current history, as PyTorch regenerates a view's grad_fn.
  static constexpr uint32_t kNoHistory = ~uint32_t(0);
  uint32_t history_gen = 0;
  uint32_t base_history_gen = kNoHistory;
  // A Python number turned into a 0-dim tensor: it does not take part in dtype promotion
  // unless it is of a higher category (PyTorch's "wrapped number").
  bool is_wrapped_number = false;

  int64_t dim() const { return static_cast<int64_t>(shape.size()); }
  int64_t numel() const {
    int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
  size_t itemsize() const { return gc::itemsize(dtype); }
  bool is_contiguous() const;
  char* data() const { return static_cast<char*>(storage->data) + offset * static_cast<int64_t>(itemsize()); }
  template <typename T>
  T* data_as() const { return reinterpret_cast<T*>(data()); }
  bool is_leaf() const { return !grad_fn; }
  uint64_t version() const { return storage->version; }
  void bump_version() { ++storage->version; }
  // Records .grad as it is now: a later accumulation into it adds to grad_sums.
  void mark_grad() {
    grad_mark_storage = grad ? grad->storage.get() : nullptr;
    grad_mark_version = grad ? grad->version() : 0;
  }
  bool grad_marked() const { return grad && grad->storage.get() == grad_mark_storage && grad->version() == grad_mark_version; }
};

// The data of an optional operand (null when the tensor is absent), as kernels take them.
template <typename T>
T* data_or_null(const Tensor* t) {
  return t ? t->data_as<T>() : nullptr;
}

DimVector contiguous_strides(const DimVector& shape);
// Checks sizes (non-negative, no overflow) and returns the element count.
int64_t checked_numel(const DimVector& shape, const char* op);
// Wraps a possibly negative dim into [0, ndim); IndexError naming the op when out of range.
// In-place writes refuse a tensor some of whose elements share memory (an expand()ed view: a
// stride of 0 on a dim of size > 1), as PyTorch does, instead of applying once per alias.
void check_no_internal_overlap(const Tensor& t, const char* op);
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// RuntimeError naming `op` unless tensors can live on `d` in this build and on this machine.
void check_device_available(Device d, const char* op);

// A new, uninitialised, contiguous tensor.
TensorPtr empty_tensor(const DimVector& shape, DType dtype, Device device);
// A view of `src`'s storage with new geometry; records `src` (or its base) as the view's base.
TensorPtr make_view(const TensorPtr& src, DimVector shape, DimVector strides, int64_t offset);
// The same data with no autograd history (shares storage and version counter).
TensorPtr detached_alias(const TensorPtr& t);

// Grad mode: thread-local, as in PyTorch.
struct GradMode {
  static bool is_enabled();
  static void set_enabled(bool on);
};
struct NoGradGuard {
  bool prev;
  NoGradGuard() : prev(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev); }
};

// The thread count used by OpenMP kernels (gradcore.set_num_threads).
int get_num_threads();
void set_num_threads(int n);

}  // namespace gc
