// Memory goes through one interface per device, so a caching allocator can serve the steady
// state of a training loop without asking the OS for memory. A failed allocation throws
// std::bad_alloc (Python sees MemoryError); it never aborts.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include "core/dtype.h"

namespace gc {

struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* p, size_t nbytes) = 0;
};

Allocator& allocator_for(Device d);

// The CPU allocator keeps freed blocks for reuse (see allocator.cpp). Counters for tests and
// benchmarks: hits are requests served from the cache, misses went to the system.
struct AllocatorStats {
  uint64_t hits = 0, misses = 0;
  size_t cached_bytes = 0;
};
AllocatorStats cpu_allocator_stats();
// Returns every cached block to the system.
void cpu_empty_cache();

// A block of memory shared by a tensor and all its views. `version` counts in-place writes, so
// autograd can tell when a tensor saved for backward was modified afterwards.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  uint64_t version = 0;
  // Memory owned by someone else (a NumPy array): released by this instead of the allocator.
  std::function<void()> external_release;

  Storage(size_t n, Device d);
  Storage(void* external, size_t n, Device d, std::function<void()> release)
      : data(external), nbytes(n), device(d), external_release(std::move(release)) {}
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

}  // namespace gc
