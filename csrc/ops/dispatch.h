// Device dispatch: GC_KERNEL(fn, args...) calls cpu::fn(args...) or, for tensors on a CUDA
// device, cuda::fn(args...) with that device made current. The device is the first tensor
// argument's (ops check that all operands share it before calling a kernel). Every kernel has a
// twin of the same name and arguments in each backend, so a CUDA build that lacks one does not
// compile.
#pragma once
#include <utility>
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
#include "cpu/reduce.h"
#include "cpu/regression_loss.h"
#include "cpu/softmax.h"
#include "cpu/unary.h"
#ifdef GRADCORE_CUDA
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
#include "cuda/reduce.h"
#include "cuda/regression_loss.h"
#include "cuda/runtime.h"
#include "cuda/softmax.h"
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

#ifdef GRADCORE_CUDA
namespace gc {
// Evaluates the arguments once (they may have side effects, e.g. reserving random numbers), then
// calls the CPU or the CUDA twin.
template <typename CpuFn, typename CudaFn, typename... A>
decltype(auto) dispatch_kernel(CpuFn cpu_fn, CudaFn cuda_fn, A&&... args) {
  const Device dev = kernel_device(args...);
  if (dev.is_cpu()) return cpu_fn(std::forward<A>(args)...);
  cuda::DeviceGuard guard(dev);
  return cuda_fn(std::forward<A>(args)...);
}
}  // namespace gc
#define GC_KERNEL(fn, ...)                                                                          \
  ::gc::dispatch_kernel([](auto&&... a) -> decltype(auto) { return ::gc::cpu::fn(std::forward<decltype(a)>(a)...); }, \
                        [](auto&&... a) -> decltype(auto) { return ::gc::cuda::fn(std::forward<decltype(a)>(a)...); }, \
                        __VA_ARGS__)
#else
#define GC_KERNEL(fn, ...) ::gc::cpu::fn(__VA_ARGS__)
#endif
