// The CUDA runtime layer: device queries, the current-device guard, the caching device allocator
// and byte copies between host and device. Host code only (no CUDA headers), so csrc/ops and
// csrc/bind can include it; compiled only in CUDA builds (GRADCORE_CUDA).
//
// Streams are kept simple: every kernel and copy goes to the legacy default stream of its device,
// so work is ordered, and a block freed to the cache can be handed to the next kernel at once (it
// runs after every kernel that used the block). Copies to the host synchronise, so a value read
// on the host is always the finished one.
#pragma once
#include <cstddef>
#include <cstdint>
#include "core/allocator.h"
#include "core/dtype.h"

namespace gc::cuda {

// Number of usable GPUs: 0 without a driver or GPU (never an error; queried once).
int device_count();
// RuntimeError naming `op` unless `d` is a CUDA device that exists.
void check_device(Device d, const char* op);
void synchronize(int device);  // -1: every device
int current_device();
void set_device(int device);

// Makes `d` the current device for the guard's lifetime (kernels launch on the current device).
struct DeviceGuard {
  int prev = -1;
  explicit DeviceGuard(Device d);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
};

// The caching allocator of device `index` (see runtime.cpp).
Allocator& allocator(int index);
struct DeviceMemoryStats {
  size_t allocated = 0, reserved = 0, peak_allocated = 0;
  uint64_t hits = 0, misses = 0;
};
DeviceMemoryStats memory_stats(int index);
void empty_cache();

// Copies `n` bytes; either side may be host or device memory (the devices say which).
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n);
// Sets `n` bytes of device memory to zero.
void memset_zero(void* dst, Device dev, size_t n);

// Page-locked host memory (cudaHostAlloc): copies from it to the GPU run at full bus speed.
void* host_alloc_pinned(size_t n);
void host_free_pinned(void* p);
bool is_pinned(const void* p);

// Throws a RuntimeError naming `op` when a kernel launch (or an earlier asynchronous kernel) failed.
void check_launch(const char* op);

}  // namespace gc::cuda
