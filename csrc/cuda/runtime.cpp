// CUDA runtime: devices, the caching allocator, copies (see runtime.h).
//
// The allocator keeps freed device blocks in per-size bins and hands them out again, so a training
// loop calls cudaMalloc only during its first step: cudaMalloc/cudaFree synchronise the device and
// cost tens of microseconds each. Sizes round up to 512 bytes below 1 MiB and to 1/8 of the power
// of two above (at most 12.5% slack). When cudaMalloc fails the cache is returned to the driver
// and the allocation retried once; a second failure is "CUDA out of memory" (RuntimeError) with
// the numbers, never an abort.
#include "cuda/runtime.h"
#include <cuda_runtime_api.h>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>
#include "core/error.h"

namespace gc::cuda {

namespace {

[[noreturn]] void fail_cuda(const char* op, cudaError_t e) {
  fail(ErrorKind::Runtime, op, "CUDA error: ", cudaGetErrorString(e), " (", cudaGetErrorName(e), ")");
}

#define GC_CUDA_CHECK(op, expr)               \
  do {                                        \
    cudaError_t err_ = (expr);                \
    if (err_ != cudaSuccess) fail_cuda(op, err_); \
  } while (0)

size_t round_size(size_t n) {
  if (n > (size_t(1) << 62)) throw std::bad_alloc();
  if (n < (size_t(1) << 20)) return (n + 511) & ~size_t(511);
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = p / 8;
  return (n + step - 1) & ~(step - 1);
}

std::string mib(size_t b) { return std::to_string(b >> 20) + " MiB"; }

struct CUDAAllocator final : Allocator {
  int device;
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> bins;
  DeviceMemoryStats stats;

  explicit CUDAAllocator(int d) : device(d) {}

  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const size_t rounded = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu);
    void* p = nullptr;
    auto it = bins.find(rounded);
    if (it != bins.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      ++stats.hits;
    } else {
      ++stats.misses;
      DeviceGuard g(Device{DeviceType::CUDA, device});
      cudaError_t e = cudaMalloc(&p, rounded);
      if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // clear the sticky-free error state before retrying
        release_cached_locked();
        e = cudaMalloc(&p, rounded);
      }
      if (e != cudaSuccess) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        fail(ErrorKind::Runtime, "CUDA out of memory", "tried to allocate ", mib(rounded), " on cuda:", device,
             " (", mib(total_b), " total, ", mib(free_b), " free, ", mib(stats.allocated),
             " allocated by gradcore). Hint: use a smaller batch, free tensors you no longer need, or call "
             "gradcore.cuda.empty_cache().");
      }
      stats.reserved += rounded;
    }
    stats.allocated += rounded;
    if (stats.allocated > stats.peak_allocated) stats.peak_allocated = stats.allocated;
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    const size_t rounded = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu);
    bins[rounded].push_back(p);
    stats.allocated -= rounded;
  }

  void release_cached_locked() {
    DeviceGuard g(Device{DeviceType::CUDA, device});
    cudaDeviceSynchronize();
    for (auto& [size, blocks] : bins) {
      for (void* p : blocks) cudaFree(p);
      stats.reserved -= size * blocks.size();
    }
    bins.clear();
  }
};

std::once_flag count_once;
int g_count = 0;

std::vector<CUDAAllocator*>& allocators() {
  // Never destroyed: tensors may be freed during interpreter shutdown, after static destructors.
  static auto* v = [] {
    auto* a = new std::vector<CUDAAllocator*>();
    for (int i = 0; i < device_count(); ++i) a->push_back(new CUDAAllocator(i));
    return a;
  }();
  return *v;
}

}  // namespace

int device_count() {
  std::call_once(count_once, [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // no driver / no GPU: a CPU-only machine, not an error
      n = 0;
    }
    g_count = n;
  });
  return g_count;
}

void check_device(Device d, const char* op) {
  if (d.is_cpu()) return;
  int n = device_count();
  if (n == 0)
    fail(ErrorKind::Runtime, op, "device ", d.str(), " is not available: this gradcore has a CUDA backend but no "
         "CUDA GPU (or driver) was found. Hint: check gradcore.cuda.is_available() and fall back to device='cpu'.");
  if (d.norm_index() >= n)
    fail(ErrorKind::Runtime, op, "invalid device ", d.str(), ": only ", n, " CUDA device", n == 1 ? "" : "s",
         " available (cuda:0", n > 1 ? " .. cuda:" + std::to_string(n - 1) : std::string(), ").");
}

int current_device() {
  int d = 0;
  GC_CUDA_CHECK("cuda.current_device", cudaGetDevice(&d));
  return d;
}

void set_device(int device) {
  check_device(Device{DeviceType::CUDA, device}, "cuda.set_device");
  GC_CUDA_CHECK("cuda.set_device", cudaSetDevice(device));
}

DeviceGuard::DeviceGuard(Device d) {
  if (device_count() <= 1) return;  // one GPU: it is always current
  int want = d.norm_index();
  int cur = current_device();
  if (cur != want) {
    GC_CUDA_CHECK("cuda device guard", cudaSetDevice(want));
    prev = cur;
  }
}

DeviceGuard::~DeviceGuard() {
  if (prev >= 0) cudaSetDevice(prev);
}

void synchronize(int device) {
  int n = device_count();
  if (n == 0) fail(ErrorKind::Runtime, "cuda.synchronize", "no CUDA GPU is available");
  for (int i = 0; i < n; ++i) {
    if (device >= 0 && i != device) continue;
    DeviceGuard g(Device{DeviceType::CUDA, i});
    GC_CUDA_CHECK("cuda.synchronize", cudaDeviceSynchronize());
  }
}

Allocator& allocator(int index) {
  auto& v = allocators();
  if (index < 0) index = 0;
  if (index >= static_cast<int>(v.size())) check_device(Device{DeviceType::CUDA, index}, "allocate");
  return *v[static_cast<size_t>(index)];
}

DeviceMemoryStats memory_stats(int index) {
  auto* a = static_cast<CUDAAllocator*>(&allocator(index));
  std::lock_guard<std::mutex> lock(a->mu);
  return a->stats;
}

void empty_cache() {
  for (auto* a : allocators()) {
    std::lock_guard<std::mutex> lock(a->mu);
    a->release_cached_locked();
  }
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n) {
  if (n == 0) return;
  cudaMemcpyKind kind = dst_dev.is_cpu() ? (src_dev.is_cpu() ? cudaMemcpyHostToHost : cudaMemcpyDeviceToHost)
                                         : (src_dev.is_cpu() ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice);
  DeviceGuard g(dst_dev.is_cpu() ? src_dev : dst_dev);
  if (kind == cudaMemcpyDeviceToDevice && dst_dev != src_dev) {
    GC_CUDA_CHECK("copy", cudaMemcpyPeer(dst, dst_dev.norm_index(), src, src_dev.norm_index(), n));
  } else {
    // On the default stream: ordered after queued kernels; to the host it waits for them.
    GC_CUDA_CHECK("copy", cudaMemcpy(dst, src, n, kind));
  }
}

void memset_zero(void* dst, Device dev, size_t n) {
  if (n == 0) return;
  DeviceGuard g(dev);
  GC_CUDA_CHECK("zero_", cudaMemsetAsync(dst, 0, n, 0));
}

void* host_alloc_pinned(size_t n) {
  check_device(Device{DeviceType::CUDA, 0}, "pin_memory");
  void* p = nullptr;
  GC_CUDA_CHECK("pin_memory", cudaHostAlloc(&p, n > 0 ? n : 1, cudaHostAllocDefault));
  return p;
}

void host_free_pinned(void* p) { cudaFreeHost(p); }

bool is_pinned(const void* p) {
  if (!p || device_count() == 0) return false;
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return a.type == cudaMemoryTypeHost;
}

void check_launch(const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail_cuda(op, e);
}

}  // namespace gc::cuda
