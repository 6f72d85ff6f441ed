// The CPU allocator: a cache of freed blocks in front of aligned_alloc.
//
// A training step allocates the same tensors every iteration (activations, gradients, temporary
// results), so after the first step almost every request has the size of a block freed a moment
// ago. Freed blocks are kept in bins by (rounded) size and handed out again: the steady state of a
// training loop never calls the system allocator, which for large blocks would otherwise mean an
// mmap and fresh page faults per tensor per step. The cache is bounded (kMaxCachedBytes); beyond it
// blocks go back to the system. Sanitizer builds skip the cache, so ASan still sees every
// use-after-free.
#include "core/allocator.h"
#include "core/tensor.h"
#ifdef GRADCORE_CUDA
#include "cuda/runtime.h"
#endif
#include <pthread.h>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace gc {

namespace {

constexpr size_t kAlign = 64;                      // SIMD kernels may use aligned loads on fresh tensors
constexpr size_t kMaxCachedBytes = size_t(1) << 30;  // free bytes held at most
constexpr size_t kMaxBlockBytes = size_t(1) << 29;   // larger blocks are never cached

// Sizes are rounded so that nearby sizes share a bin: to 64 bytes below 4 KiB, above that to an
// eighth of the power of two below (at most 12.5% slack).
[[noreturn]] void out_of_memory(size_t nbytes) {
  // PyTorch's error type and wording: a RuntimeError naming the bytes, not a MemoryError.
  fail(ErrorKind::Runtime, "DefaultCPUAllocator", "not enough memory: you tried to allocate ", nbytes,
       " bytes. Hint: use a smaller batch or shape, or free tensors you no longer need.");
}

size_t round_size(size_t n) {
  if (n > (size_t(1) << 62)) out_of_memory(n);
  if (n < 4096) return (n + kAlign - 1) & ~(kAlign - 1);
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = p / 8;
  return (n + step - 1) & ~(step - 1);
}

void* system_alloc(size_t rounded) { return std::aligned_alloc(kAlign, rounded); }

struct CPUAllocator final : Allocator {
#if defined(GRADCORE_SANITIZE)
  static constexpr bool kCache = false;
#else
  static constexpr bool kCache = true;
#endif
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> bins;
  size_t cached = 0;
  AllocatorStats stats;

  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const size_t rounded = round_size(nbytes);
    if (kCache && rounded <= kMaxBlockBytes) {
      std::lock_guard<std::mutex> lock(mu);
      auto it = bins.find(rounded);
      if (it != bins.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached -= rounded;
        ++stats.hits;
        return p;
      }
      ++stats.misses;
    }
    void* p = system_alloc(rounded);
    if (!p && kCache) {  // memory is short: give the cache back to the system and try once more
      empty_cache();
      p = system_alloc(rounded);
    }
    if (!p) out_of_memory(nbytes);
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    const size_t rounded = round_size(nbytes);
    if (kCache && rounded <= kMaxBlockBytes) {
      std::lock_guard<std::mutex> lock(mu);
      if (cached + rounded <= kMaxCachedBytes) {
        bins[rounded].push_back(p);
        cached += rounded;
        return;
      }
    }
    std::free(p);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [size, blocks] : bins)
      for (void* p : blocks) std::free(p);
    bins.clear();
    cached = 0;
  }

  AllocatorStats get_stats() {
    std::lock_guard<std::mutex> lock(mu);
    AllocatorStats s = stats;
    s.cached_bytes = cached;
    return s;
  }
};

CPUAllocator& cpu_allocator() {
  // Never destroyed: tensors owned by Python objects may be freed during interpreter shutdown,
  // after static destructors would have run.
  static CPUAllocator* a = [] {
    auto* p = new CPUAllocator();
    // A fork while another thread holds the lock would leave the child's copy locked forever.
    pthread_atfork([] { cpu_allocator().mu.lock(); }, [] { cpu_allocator().mu.unlock(); },
                   [] { cpu_allocator().mu.unlock(); });
    return p;
  }();
  return *a;
}

}  // namespace

void check_device_available(Device d, const char* op) {
  if (d.is_cpu()) return;
#ifdef GRADCORE_CUDA
  cuda::check_device(d, op);
#else
  // PyTorch raises AssertionError ("Torch not compiled with CUDA enabled") here; a CUDA build on a
  // machine without a GPU raises RuntimeError (cuda::check_device).
  fail(ErrorKind::Assertion, op, "device ", d.str(), " is not available: gradcore was built without CUDA support. "
       "Hint: use device='cpu', or check gradcore.cuda.is_available() first.");
#endif
}

Allocator& allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  check_device_available(d, "allocate");
#ifdef GRADCORE_CUDA
  return cuda::allocator(d.norm_index());
#else
  return cpu_allocator();  // not reached: check_device_available threw
#endif
}

void cpu_empty_cache() { cpu_allocator().empty_cache(); }
AllocatorStats cpu_allocator_stats() { return cpu_allocator().get_stats(); }

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) { data = allocator_for(d).allocate(n); }

Storage::~Storage() {
  if (external_release) {
    external_release();
  } else if (data) {
    allocator_for(device).deallocate(data, nbytes);
  }
}

}  // namespace gc
