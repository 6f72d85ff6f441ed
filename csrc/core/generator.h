// Random numbers: a counter-based generator (SplitMix64 of seed and a running offset), so the
// value of element i depends only on (seed, offset + i): fills are reproducible whatever the
// thread count, and parallel fills need no shared state.
#pragma once
#include <cstdint>

// mix and uniform also run on the GPU (csrc/cuda/copy.cu), so CUDA fills draw the same numbers.
#include "core/dtype.h"
#include "core/host_device.h"

namespace gc {

class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ULL, Device device = Device{}) : seed_(seed), device_(device) {}
  void manual_seed(uint64_t s) { seed_ = s; offset_ = 0; }
  uint64_t initial_seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  Device device() const { return device_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }
  // Reserves n draws and returns the first counter value.
  uint64_t reserve(uint64_t n) { uint64_t o = offset_; offset_ += n; return o; }

  GC_HOST_DEVICE static uint64_t mix(uint64_t seed, uint64_t counter) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL + counter * 0xD1B54A32D192ED03ULL + 0x632BE59BD9B4E019ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  GC_HOST_DEVICE static double uniform(uint64_t seed, uint64_t counter) { return (mix(seed, counter) >> 11) * 0x1.0p-53; }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
  Device device_;  // the device whose tensors this generator fills
};

// A seed from the operating system's entropy source (what a process starts from, and seed()).
uint64_t nondeterministic_seed();

Generator& default_generator();
Generator& cuda_generator();  // the default generator of CUDA tensors

}  // namespace gc
