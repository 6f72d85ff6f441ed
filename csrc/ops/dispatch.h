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
#include "cpu/layer_norm.h"
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
#include "cuda/layer_norm.h"
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

// The storage-only dtypes compute in a wider twin: 16-bit floats (bfloat16, float16) in float32,
// as PyTorch's kernels do (its "opmath" type), rounded once on the way out; the narrow integers
// (uint8, int8, int16, int32) in int64, wrapping around on the way out as PyTorch's integer
// arithmetic does. A kernel that does not read them itself gets, from GC_KERNEL, wide twins of its
// narrow tensor arguments: each narrow storage an argument lives in is widened whole into a wide
// storage, and the argument becomes a view of it with the same shape, strides and offset (kernels
// that take strides or offsets of the original layout, or arguments that alias one storage, see
// the same layout). After the kernel ran, every widened storage is narrowed back whole (values the
// kernel did not write round-trip exactly). This is the slow twin that native 16-bit kernels are
// tested against; it costs two conversion passes over each narrow storage an argument touches.
// Which dtypes a backend's kernel gets as wide twins: every storage-only dtype, only the narrow
// integers (the kernel reads 16-bit floats itself), or none (copy and fill read every dtype).
enum class Widen : uint8_t { All, NarrowInts, None };

class NarrowWidening {
 public:
  explicit NarrowWidening(Widen mode) : mode_(mode) {}
  static bool widens(Widen mode, DType d) {
    return mode == Widen::All ? is_narrow(d) : mode == Widen::NarrowInts && is_narrow_int(d);
  }
  template <typename A>
  static bool is_narrow_arg(Widen mode, const A& a) {
    if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) return widens(mode, a.dtype);
    else if constexpr (std::is_same_v<std::decay_t<A>, const Tensor*> || std::is_same_v<std::decay_t<A>, Tensor*>)
      return a != nullptr && widens(mode, a->dtype);
    else return false;
  }
  const Tensor& widen(const Tensor& t) {
    if (!widens(mode_, t.dtype)) return t;
    auto view = std::make_shared<Tensor>();
    view->shape = t.shape;
    view->strides = t.strides;
    view->offset = t.offset;
    view->dtype = wide_dtype(t.dtype);
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
    for (auto& w : wide_) copy(*flat(w.narrow, w.dtype), *w.wide);
  }

 private:
  struct Widened {
    std::shared_ptr<Storage> narrow;
    DType dtype;
    TensorPtr wide;  // flat [elements of narrow], of wide_dtype(dtype)
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
    auto wide = empty_tensor(narrow->shape, wide_dtype(t.dtype), t.device);
    copy(*wide, *narrow);
    wide_.push_back({t.storage, t.dtype, wide});
    return wide->storage;
  }
  static void copy(const Tensor& dst, const Tensor& src);
  Widen mode_;
  std::vector<Widened> wide_;
  std::vector<TensorPtr> views_;
};

// Tests and benchmarks: when set, every kernel gets wide twins of its narrow arguments, the native
// 16-bit and storage kernels too (GC_KERNEL_16's flags are ignored), so that a native kernel can
// be compared with the widening path it replaced (gradcore._C._force_half_widening).
inline std::atomic<bool> g_force_half_widening{false};

// fn(args...), through wide twins of the arguments whose dtype `mode` widens.
template <typename Fn, typename... A>
decltype(auto) call_widening(Widen mode, Fn&& fn, A&&... args) {
  if (g_force_half_widening.load(std::memory_order_relaxed)) mode = Widen::All;
  if (!(NarrowWidening::is_narrow_arg(mode, args) || ...)) return fn(std::forward<A>(args)...);
  NarrowWidening w(mode);
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

inline void NarrowWidening::copy(const Tensor& dst, const Tensor& src) {
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
// calls the CPU or the CUDA twin, through wide twins of the arguments that backend's mode widens.
template <typename CpuFn, typename CudaFn, typename... A>
decltype(auto) dispatch_kernel(Widen cpu_mode, Widen cuda_mode, CpuFn cpu_fn, CudaFn cuda_fn, A&&... args) {
  const Device dev = kernel_device(args...);
  if (dev.is_cpu()) return call_widening(cpu_mode, cpu_fn, std::forward<A>(args)...);
  cuda::DeviceGuard guard(dev);
  return call_widening(cuda_mode, cuda_fn, std::forward<A>(args)...);
}
}  // namespace gc
#define GC_KERNEL_WIDEN(cpu_mode, cuda_mode, fn, ...)                                                      \
  ::gc::dispatch_kernel(                                                                                  \
      cpu_mode, cuda_mode,                                                                                \
      [](auto&&... a) -> decltype(auto) { return ::gc::cpu::fn(std::forward<decltype(a)>(a)...); },        \
      [](auto&&... a) -> decltype(auto) { return ::gc::cuda::fn(std::forward<decltype(a)>(a)...); }, __VA_ARGS__)
#else
namespace gc {
template <typename CpuFn, typename... A>
decltype(auto) dispatch_kernel(Widen cpu_mode, Widen /*cuda_mode*/, CpuFn cpu_fn, A&&... args) {
  return call_widening(cpu_mode, cpu_fn, std::forward<A>(args)...);
}
}  // namespace gc
#define GC_KERNEL_WIDEN(cpu_mode, cuda_mode, fn, ...)                                                      \
  ::gc::dispatch_kernel(                                                                                  \
      cpu_mode, cuda_mode,                                                                                \
      [](auto&&... a) -> decltype(auto) { return ::gc::cpu::fn(std::forward<decltype(a)>(a)...); }, __VA_ARGS__)
#endif
// GC_KERNEL(fn, args...): the kernel of the argument's device; 16-bit floats through float32 twins,
// narrow integers through int64 twins.
// GC_KERNEL_16(cpu_native, cuda_native, fn, args...): the same, except that on a backend whose flag
// is true the kernel gets 16-bit tensors as they are (it handles them, or widens them itself).
// GC_KERNEL_STORAGE(fn, args...): every dtype as it is (copy and fill read and write them all).
#define GC_KERNEL_16(cpu_native, cuda_native, fn, ...)                                                     \
  GC_KERNEL_WIDEN((cpu_native) ? ::gc::Widen::NarrowInts : ::gc::Widen::All,                               \
                  (cuda_native) ? ::gc::Widen::NarrowInts : ::gc::Widen::All, fn, __VA_ARGS__)
#define GC_KERNEL(fn, ...) GC_KERNEL_16(false, false, fn, __VA_ARGS__)
#define GC_KERNEL_STORAGE(fn, ...) GC_KERNEL_WIDEN(::gc::Widen::None, ::gc::Widen::None, fn, __VA_ARGS__)
