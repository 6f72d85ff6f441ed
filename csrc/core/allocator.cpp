#include "core/allocator.h"
#include <cstdlib>
#include <new>

namespace gc {

namespace {
// 64-byte aligned so SIMD kernels may use aligned loads on fresh tensors.
struct CPUAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    size_t rounded = (nbytes + 63) & ~size_t(63);
    if (rounded < nbytes) throw std::bad_alloc();
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* p, size_t) override { std::free(p); }
};
}  // namespace

Allocator& allocator_for(Device d) {
  static CPUAllocator cpu;
  if (!d.is_cpu())
    fail(ErrorKind::Runtime, "allocate", "device ", d.str(),
         " is not available: gradcore was built without CUDA support; use device='cpu'");
  return cpu;
}

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) { data = allocator_for(d).allocate(n); }

Storage::~Storage() {
  if (external_release) {
    external_release();
  } else if (data) {
    allocator_for(device).deallocate(data, nbytes);
  }
}

}  // namespace gc
