// CUDA copy, fill, random and arange kernels: csrc/cpu/copy.cpp on the GPU.
//
// copy_kernel converts any dtype to any dtype over a strided walk (src broadcast to dst's shape);
// contiguous same-shape same-dtype copies are one device-to-device cudaMemcpyAsync on the default
// stream. fill_kernel converts the scalar on the host, exactly as the CPU does.
//
// Random fills reproduce the CPU's numbers: the generator is counter based (Generator::mix and
// Generator::uniform are __host__ __device__), element i of the contiguous dst draws counter
// base + i (normal: base + 2i and base + 2i + 1, Box-Muller), whatever the launch shape. The
// trick for bit-exact agreement is to stop nvcc from fusing a*b+c into an FMA, which the CPU
// build cannot do on baseline x86-64 (no FMA instruction without -march): the arithmetic after
// the draw is written with explicitly rounded intrinsics (__fmul_rn, __fadd_rn, __dmul_rn,
// __dadd_rn). uniform, randint and arange are then bit-identical to the CPU; normal goes through
// the device's log and cos, which may differ from the host libm by an ulp or two in double
// (invisible after rounding to float32 almost always).
#include <cuda_runtime.h>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include "core/generator.h"
#include "cuda/copy.h"
#include "cuda/loops.cuh"
#include "kernels/convert.h"
#include "kernels/random.h"

namespace gc::cuda {

namespace {

using kernels::convert;

template <typename To, typename From>
struct ConvertF {
  __device__ __forceinline__ To operator()(From v) const { return convert<To>(v); }
};

template <typename T>
struct FillF {
  T x;
  __device__ __forceinline__ void operator()(char** p) const { *reinterpret_cast<T*>(p[0]) = x; }
};

// ---- element-indexed fills: o[i] = convert<T>(f(i)) over a contiguous dst of n elements ----
template <typename T, typename F>
__global__ void fill_indexed_kernel(T* o, int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    o[i] = convert<T>(f(i));
}

template <typename F>
void fill_indexed(const Tensor& dst, const char* name, F f) {
  // callers pass contiguous tensors
  GC_DISPATCH_STORAGE(dst.dtype, "random fill", [&] {
    const int64_t n = dst.numel();
    if (n == 0) return;
    fill_indexed_kernel<scalar_t><<<grid_for(n), kBlock>>>(dst.data_as<scalar_t>(), n, f);
    check_launch(name);
  });
}

// Float32 uniform: 24 random bits, drawn in float precision so values never round up to `high`.
struct UniformFloat {
  uint64_t seed, base;
  float low, w, high;
  bool w_zero;
  __device__ __forceinline__ float operator()(int64_t i) const {
    float u = static_cast<float>(Generator::mix(seed, base + static_cast<uint64_t>(i)) >> 40) * 0x1.0p-24f;
    float v = __fadd_rn(low, __fmul_rn(w, u));
    return v < high || w_zero ? v : low;
  }
};

struct UniformDouble {
  uint64_t seed, base;
  double low, w;
  __device__ __forceinline__ double operator()(int64_t i) const {
    return __dadd_rn(low, __dmul_rn(w, Generator::uniform(seed, base + static_cast<uint64_t>(i))));
  }
};

// Box-Muller on two independent counters per element.
struct NormalF {
  uint64_t seed, base;
  double mean, std;
  __device__ __forceinline__ double operator()(int64_t i) const {
    constexpr double kTwoPi = 2.0 * 3.14159265358979323846;  // 2.0 * M_PI, as the CPU
    uint64_t c = base + 2 * static_cast<uint64_t>(i);
    double u1 = __dadd_rn(1.0, -Generator::uniform(seed, c));  // (0, 1]
    double u2 = Generator::uniform(seed, c + 1);
    double r = ::sqrt(__dmul_rn(-2.0, ::log(u1)));
    return __dadd_rn(mean, __dmul_rn(__dmul_rn(std, r), ::cos(__dmul_rn(kTwoPi, u2))));
  }
};

struct RandintF {
  uint64_t seed, base, range;
  int64_t low;
  __device__ __forceinline__ int64_t operator()(int64_t i) const {
    // low + (draw % range), wrapping like the CPU's two's-complement sum
    return static_cast<int64_t>(static_cast<uint64_t>(low) + Generator::mix(seed, base + static_cast<uint64_t>(i)) % range);
  }
};

// Exponential, geometric and Bernoulli draws (kernels/random.h) of element i.
template <typename Draw>
struct DrawF {
  uint64_t seed, base;
  Draw draw;
  __device__ __forceinline__ double operator()(int64_t i) const { return draw(seed, base + static_cast<uint64_t>(i)); }
};

struct BernoulliF {
  uint64_t seed, base;
  double p;
  __device__ __forceinline__ double operator()(int64_t i) const { return kernels::bernoulli_draw(p, seed, base + static_cast<uint64_t>(i)); }
};

struct ArangeF {
  double start, step;
  __device__ __forceinline__ double operator()(int64_t i) const {
    return __dadd_rn(start, __dmul_rn(step, static_cast<double>(i)));
  }
};

}  // namespace

void copy_kernel(const Tensor& dst, const Tensor& src) {
  GC_DISPATCH_STORAGE(dst.dtype, "copy", [&] {
    using out_t = scalar_t;
    GC_DISPATCH_STORAGE(src.dtype, "copy", [&] {
      using in_t = scalar_t;
      if (dst.numel() == 0) return;
      if (dst.is_contiguous() && src.is_contiguous() && dst.shape == src.shape && std::is_same_v<out_t, in_t>) {
        cudaError_t e = cudaMemcpyAsync(dst.data(), src.data(), static_cast<size_t>(dst.numel()) * sizeof(out_t),
                                        cudaMemcpyDeviceToDevice, 0);
        if (e != cudaSuccess) {
          cudaGetLastError();  // clear it, so that a later check_launch does not report it again
          fail(ErrorKind::Runtime, "copy", "CUDA error: ", cudaGetErrorString(e), " (", cudaGetErrorName(e), ")");
        }
        return;
      }
      unary_loop<out_t, in_t>(dst, src, "copy", ConvertF<out_t, in_t>{});
    });
  });
}

void fill_kernel(const Tensor& dst, Scalar v) {
  GC_DISPATCH_STORAGE(dst.dtype, "fill_", [&] {
    scalar_t x = v.kind == Scalar::Float ? convert<scalar_t>(v.d) : convert<scalar_t>(v.i);
    for_each<1>(dst.shape, {&dst}, "fill_", FillF<scalar_t>{x});
  });
}

void uniform_kernel(const Tensor& dst, double low, double high, uint64_t seed, uint64_t base) {
  double w = high - low;
  if (dst.dtype == DType::Float32)
    fill_indexed(dst, "uniform_",
                 UniformFloat{seed, base, static_cast<float>(low), static_cast<float>(w), static_cast<float>(high), w == 0});
  else
    fill_indexed(dst, "uniform_", UniformDouble{seed, base, low, w});
}

void normal_kernel(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t base) {
  fill_indexed(dst, "normal_", NormalF{seed, base, mean, std});
}

void randint_kernel(const Tensor& dst, int64_t low, int64_t high, uint64_t seed, uint64_t base) {
  uint64_t range = static_cast<uint64_t>(high - low);
  fill_indexed(dst, "randint", RandintF{seed, base, range, low});
}

void exponential_kernel(const Tensor& dst, double lambd, uint64_t seed, uint64_t base) {
  fill_indexed(dst, "exponential_", DrawF<kernels::ExponentialDraw>{seed, base, {lambd}});
}

void geometric_kernel(const Tensor& dst, double p, uint64_t seed, uint64_t base) {
  fill_indexed(dst, "geometric_", DrawF<kernels::GeometricDraw>{seed, base, {std::log1p(-p)}});
}

void bernoulli_kernel(const Tensor& dst, double p, uint64_t seed, uint64_t base) {
  fill_indexed(dst, "bernoulli_", BernoulliF{seed, base, p});
}

void arange_kernel(const Tensor& dst, double start, double step) {
  fill_indexed(dst, "arange", ArangeF{start, step});
}

}  // namespace gc::cuda
