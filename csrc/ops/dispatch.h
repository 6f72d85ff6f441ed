// Device dispatch: GC_KERNEL(fn, args...) calls cpu::fn(args...) or, for tensors on a CUDA
// device, cuda::fn(args...) with that device made current. The device is the first tensor
// argument's (ops check that all operands share it before calling a kernel). Every kernel has a
// twin of the same name and arguments in each backend, so a CUDA build that lacks one does not
// compile.
#pragma once
#include <atomic>
#include <type_traits>
#include <utility>
#include <vector>
#include "cpu/attention.h"
#include "cpu/binary.h"
#include "cpu/class_loss.h"
#include "cpu/conv.h"
#include "cpu/copy.h"
#include "cpu/index.h"
#include "cpu/linear.h"
#include "cpu/matmul.h"
#include "cpu/norm.h"
#include "cpu/optim.h"
#include "cpu/pool.h"
#include "cpu/random.h"
#include "cpu/reduce.h"
#include "cpu/regression_loss.h"
#include "cpu/rnn.h"
#include "cpu/scan.h"
#include "cpu/softmax.h"
#include "cpu/sort.h"
#include "cpu/unary.h"
#ifdef GRADCORE_CUDA
#include "cuda/attention.h"
#include "cuda/binary.h"
#include "cuda/class_loss.h"
#include "cuda/conv.h"
#include "cuda/copy.h"
#include "cuda/index.h"
#include "cuda/linear.h"
#include "cuda/matmul.h"
#include "cuda/norm.h"
#include "cuda/optim.h"
#include "cuda/pool.h"
#include "cuda/random.h"
#include "cuda/reduce.h"
#include "cuda/regression_loss.h"
#include "cuda/rnn.h"
#include "cuda/runtime.h"
#include "cuda/scan.h"
#include "cuda/softmax.h"
#include "cuda/sort.h"
#include "cuda/unary.h"
#endif

namespace gc {

// The device of the first `const Tensor&` among a kernel's arguments.
template <typename... R>
Device kernel_device(const Tensor& t, const R&...) {
  return t.device;
}
template <typename A, typename... R>
Device kernel_device(const A&, const R&... rest) {
  return kernel_device(rest...);
}

}  // namespace gc

namespace gc {

// 16-bit floats (bfloat16, float16) compute in float32, as PyTorch's kernels do (its "opmath"
// type), and are rounded once on the way out. A kernel that does not read them itself gets, from
// GC_KERNEL, float32 twins of its 16-bit tensor arguments: each 16-bit storage an argument lives
// in is widened whole into a float32 storage, and the argument becomes a view of it with the same
// shape, strides and offset (kernels that take strides or offsets of the original layout, or
// arguments that alias one storage, see the same layout). After the kernel ran, every widened
// storage is rounded back whole (values the kernel did not write round-trip exactly). This is the
// slow twin that native 16-bit kernels are tested against; it costs two conversion passes over
// each 16-bit storage an argument touches.
class HalfWidening {
 public:
  template <typename A>
  static bool is_half_arg(const A& a) {
    if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) return is_half(a.dtype);
    else if constexpr (std::is_same_v<std::decay_t<A>, const Tensor*> || std::is_same_v<std::decay_t<A>, Tensor*>)
      return a != nullptr && is_half(a->dtype);
    else return false;
  }
  const Tensor& widen(const Tensor& t) {
    if (!is_half(t.dtype)) return t;
    auto view = std::make_shared<Tensor>();
    view->shape = t.shape;
    view->strides = t.strides;
    view->offset = t.offset;
    view->dtype = DType::Float32;
    view->device = t.device;
    view->storage = wide_storage(t);
    views_.push_back(view);
    return *view;
  }
  const Tensor* widen(const Tensor* t) { return t ? &widen(*t) : nullptr; }
  Tensor* widen(Tensor* t) { return t ? const_cast<Tensor*>(&widen(*t)) : nullptr; }  // t itself, or its twin
  template <typename A, typename = std::enable_if_t<!std::is_same_v<std::decay_t<A>, Tensor> &&
                                                    !std::is_same_v<std::decay_t<A>, const Tensor*> &&
                                                    !std::is_same_v<std::decay_t<A>, Tensor*>>>
  A&& widen(A&& a) {
    return std::forward<A>(a);
  }
  void narrow_back() {
    for (auto& w : wide_) copy(*flat(w.narrow, w.dtype), *flat(w.wide->storage, DType::Float32));
  }

 private:
  struct Widened {
    std::shared_ptr<Storage> narrow;
    DType dtype;
    TensorPtr wide;  // flat float32 [elements of narrow]
  };
  // The whole of storage s as a flat tensor of dtype d.
  static TensorPtr flat(const std::shared_ptr<Storage>& s, DType d) {
    auto t = std::make_shared<Tensor>();
    t->shape = {static_cast<int64_t>(s->nbytes / itemsize(d))};
    t->strides = {1};
    t->dtype = d;
    t->device = s->device;
    t->storage = s;
    return t;
  }
  std::shared_ptr<Storage> wide_storage(const Tensor& t) {
    for (auto& w : wide_)
      if (w.narrow == t.storage) return w.wide->storage;
    auto narrow = flat(t.storage, t.dtype);
    auto wide = empty_tensor(narrow->shape, DType::Float32, t.device);
    copy(*wide, *narrow);
    wide_.push_back({t.storage, t.dtype, wide});
    return wide->storage;
  }
  static void copy(const Tensor& dst, const Tensor& src);
  std::vector<Widened> wide_;
  std::vector<TensorPtr> views_;
};

// Tests and benchmarks: when set, every kernel gets float32 twins of its 16-bit arguments, the
// native 16-bit ones too (GC_KERNEL_16's flags are ignored), so that a native kernel can be
// compared with the widening path it replaced (gradcore._C._force_half_widening).
inline std::atomic<bool> g_force_half_widening{false};

// fn(args...), through float32 twins when an argument is a 16-bit float tensor.
template <typename Fn, typename... A>
decltype(auto) call_widening(Fn&& fn, A&&... args) {
  if (!(HalfWidening::is_half_arg(args) || ...)) return fn(std::forward<A>(args)...);
  HalfWidening w;
  using R = decltype(fn(std::forward<A>(args)...));
  if constexpr (std::is_void_v<R>) {
    fn(w.widen(std::forward<A>(args))...);
    w.narrow_back();
  } else {
    R r = fn(w.widen(std::forward<A>(args))...);
    w.narrow_back();
    return r;
  }
}

inline void HalfWidening::copy(const Tensor& dst, const Tensor& src) {
#ifdef GRADCORE_CUDA
  if (!dst.device.is_cpu()) {
    cuda::DeviceGuard guard(dst.device);
    cuda::copy_kernel(dst, src);
    return;
  }
#endif
  cpu::copy_kernel(dst, src);
}

}  // namespace gc

#ifdef GRADCORE_CUDA
namespace gc {
// Evaluates the arguments once (they may have side effects, e.g. reserving random numbers), then
// calls the CPU or the CUDA twin.
// cpu_native16 / cuda_native16: that backend's kernel reads and writes 16-bit floats itself, so
// its arguments pass as they are instead of through float32 twins.
template <typename CpuFn, typename CudaFn, typename... A>
decltype(auto) dispatch_kernel(bool cpu_native16, bool cuda_native16, CpuFn cpu_fn, CudaFn cuda_fn, A&&... args) {
  const Device dev = kernel_device(args...);
  const bool widen_all = g_force_half_widening.load(std::memory_order_relaxed);
  if (dev.is_cpu()) {
    if (cpu_native16 && !widen_all) return cpu_fn(std::forward<A>(args)...);
    return call_widening(cpu_fn, std::forward<A>(args)...);
  }
  cuda::DeviceGuard guard(dev);
  if (cuda_native16 && !widen_all) return cuda_fn(std::forward<A>(args)...);
  return call_widening(cuda_fn, std::forward<A>(args)...);
}
}  // namespace gc
#define GC_KERNEL_16(cpu_native, cuda_native, fn, ...)                                                      \
  ::gc::dispatch_kernel(                                                                                  \
      cpu_native, cuda_native,                                                                            \
      [](auto&&... a) -> decltype(auto) { return ::gc::cpu::fn(std::forward<decltype(a)>(a)...); },        \
      [](auto&&... a) -> decltype(auto) { return ::gc::cuda::fn(std::forward<decltype(a)>(a)...); }, __VA_ARGS__)
#else
namespace gc {
template <typename CpuFn, typename... A>
decltype(auto) dispatch_kernel(bool cpu_native16, bool /*cuda_native16*/, CpuFn cpu_fn, A&&... args) {
  if (cpu_native16 && !g_force_half_widening.load(std::memory_order_relaxed)) return cpu_fn(std::forward<A>(args)...);
  return call_widening(cpu_fn, std::forward<A>(args)...);
}
}  // namespace gc
#define GC_KERNEL_16(cpu_native, cuda_native, fn, ...)                                                      \
  ::gc::dispatch_kernel(                                                                                  \
      cpu_native, cuda_native,                                                                            \
      [](auto&&... a) -> decltype(auto) { return ::gc::cpu::fn(std::forward<decltype(a)>(a)...); }, __VA_ARGS__)
#endif
// GC_KERNEL(fn, args...): the kernel of the argument's device; 16-bit floats through float32 twins.
// GC_KERNEL_16(cpu_native, cuda_native, fn, args...): the same, except that on a backend whose flag
// is true the kernel gets 16-bit tensors as they are (it handles them, or widens them itself).
#define GC_KERNEL(fn, ...) GC_KERNEL_16(false, false, fn, __VA_ARGS__)
