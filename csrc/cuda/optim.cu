// Fused optimizer updates on CUDA: PyTorch's `_single_tensor_<optimizer>` loop bodies
// (torch/optim/*.py) rewritten per element, one grid-stride pass over a parameter that reads the
// parameter, its gradient and its state and writes the parameter and the state.
//
// The formulas, operation order and roundings are those of the CPU kernels (cpu/optim.cpp):
// every element computes in the parameter's scalar type T, and the Python-side scalars (1 - beta1,
// the bias corrections, -lr...) come from the same host functions as the CPU's (cpu::*_scalars in
// cpu/optim.h). The trick that
// makes float32 agree with the CPU bit for bit: every + - * / and sqrt goes through the
// round-to-nearest intrinsics (__fadd_rn, __fmul_rn, ...), which nvcc never contracts into a
// fused multiply-add, so each operation rounds exactly once, as the CPU's (FMA-free) loops do.
// Options that change which arrays are touched are plain runtime flags: they are uniform across
// the grid, so branching on them costs nothing on the GPU.
#include <cmath>
#include "cuda/loops.cuh"
#include "cuda/optim.h"

namespace gc::cuda {

namespace {

// ---- one rounding per operation (no FMA contraction) ----
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

// PyTorch's lerp(s, e, w): |w| < 0.5 ? s + w * (e - s) : e - (e - s) * (1 - w), the two forms
// folded into (small ? s : e) + coef * (e - s) with coef = small ? w : -(1 - w) (exactly equal).
// Built on the host from the T-rounded weight.
template <typename T>
struct Lerp {
  bool small;
  T coef;
  __device__ __forceinline__ T operator()(T s, T e) const { return add(small ? s : e, mul(coef, sub(e, s))); }
};

template <typename T>
Lerp<T> make_lerp(T w) {
  Lerp<T> l;
  l.small = std::abs(w) < T(0.5);
  l.coef = l.small ? w : -(T(1) - w);
  return l;
}

// torch.maximum: NaN wins.
template <typename T>
__device__ __forceinline__ T nan_max(T a, T b) {
  return (a != a || a > b) ? a : b;
}


#define GC_ELEMENTS(i, n)                                                                           \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// SGD:  g <- (maximize ? -g : g) + wd * p
//       b <- first step ? g : momentum * b + (1 - dampening) * g;   g <- nesterov ? g + momentum * b : b
//       p <- p - lr * g
template <typename T>
struct SgdArgs {
  T *p, *buf;
  const T* gr;
  kernels::SgdScalars<T> c;
  bool init;
};

template <typename T>
__global__ void sgd_kernel(int64_t n, SgdArgs<T> a) {
  GC_ELEMENTS(i, n) {
    T g = mul(a.c.sign, a.gr[i]);
    if (a.c.decay) g = add(g, mul(a.c.wd, a.p[i]));
    if (a.c.use_momentum) {
      const T b = a.init ? g : add(mul(a.buf[i], a.c.momentum), mul(a.c.one_minus_damp, g));
      a.buf[i] = b;
      g = a.c.nesterov ? add(g, mul(a.c.momentum, b)) : b;
    }
    a.p[i] = add(a.p[i], mul(a.c.neg_lr, g));
  }
}

// Adam / AdamW, with bc1 = 1 - beta1^step, bc2 = 1 - beta2^step:
//   g <- maximize ? -g : g;   AdamW: p <- p * (1 - lr * wd);  Adam: g <- g + wd * p
//   m <- lerp(m, g, 1 - beta1);   v <- beta2 * v + (1 - beta2) * g * g;   amsgrad: vmax <- max(vmax, v)
//   p <- p - (lr / bc1) * m / (sqrt(v or vmax) / sqrt(bc2) + eps)
// Without AdamW's decay the scale is 1, an exact no-op.
template <typename T>
struct AdamArgs {
  T *p, *m, *v, *vmax;
  const T* gr;
  kernels::AdamScalars<T> c;
  Lerp<T> lerp;
};

template <typename T>
__global__ void adam_kernel(int64_t n, AdamArgs<T> a) {
  GC_ELEMENTS(i, n) {
    T g = mul(a.c.sign, a.gr[i]);
    const T pv = mul(a.p[i], a.c.scale);
    if (a.c.coupled_decay) g = add(g, mul(a.c.wd, pv));
    const T mi = a.lerp(a.m[i], g);
    T vi = add(mul(a.v[i], a.c.beta2), mul(mul(a.c.w2, g), g));
    a.m[i] = mi;
    a.v[i] = vi;
    if (a.c.amsgrad) {
      vi = nan_max(a.vmax[i], vi);
      a.vmax[i] = vi;
    }
    a.p[i] = add(pv, div(mul(a.c.neg_step_size, mi), add(div(sqrt_rn(vi), a.c.bc2_sqrt), a.c.eps)));
  }
}

// RMSprop:
//   g <- (maximize ? -g : g) + wd * p;   s <- alpha * s + (1 - alpha) * g * g
//   centered: ga <- lerp(ga, g, 1 - alpha), avg <- sqrt(s - ga * ga) + eps;  else avg <- sqrt(s) + eps
//   momentum > 0: b <- momentum * b + g / avg, p <- p - lr * b;   else p <- p - lr * g / avg
template <typename T>
struct RmspropArgs {
  T *p, *sq, *ga, *buf;
  const T* gr;
  kernels::RmspropScalars<T> c;
  Lerp<T> lerp;
};

template <typename T>
__global__ void rmsprop_kernel(int64_t n, RmspropArgs<T> a) {
  GC_ELEMENTS(i, n) {
    T g = mul(a.c.sign, a.gr[i]);
    if (a.c.decay) g = add(g, mul(a.c.wd, a.p[i]));
    const T s = add(mul(a.sq[i], a.c.alpha), mul(mul(a.c.one_minus_alpha, g), g));
    a.sq[i] = s;
    T avg;
    if (a.c.centered) {
      const T ga = a.lerp(a.ga[i], g);
      a.ga[i] = ga;
      avg = add(sqrt_rn(add(s, mul(mul(T(-1), ga), ga))), a.c.eps);
    } else {
      avg = add(sqrt_rn(s), a.c.eps);
    }
    if (a.c.use_momentum) {
      const T b = add(mul(a.buf[i], a.c.momentum), div(g, avg));
      a.buf[i] = b;
      a.p[i] = add(a.p[i], mul(a.c.neg_lr, b));
    } else {
      a.p[i] = add(a.p[i], div(mul(a.c.neg_lr, g), avg));
    }
  }
}

// Adagrad, with clr = lr / (1 + (step - 1) * lr_decay):
//   g <- (maximize ? -g : g) + wd * p;   s <- s + g * g;   p <- p - clr * g / (sqrt(s) + eps)
template <typename T>
struct AdagradArgs {
  T *p, *sum;
  const T* gr;
  kernels::AdagradScalars<T> c;
};

template <typename T>
__global__ void adagrad_kernel(int64_t n, AdagradArgs<T> a) {
  GC_ELEMENTS(i, n) {
    T g = mul(a.c.sign, a.gr[i]);
    if (a.c.decay) g = add(g, mul(a.c.wd, a.p[i]));
    const T s = add(a.sum[i], mul(g, g));
    a.sum[i] = s;
    a.p[i] = add(a.p[i], div(mul(a.c.neg_clr, g), add(sqrt_rn(s), a.c.eps)));
  }
}

#undef GC_ELEMENTS

template <typename T>
__global__ void amp_unscale_kernel(T* g, T inv, float* found, int64_t n) {
  GC_GRID_LOOP(i, n) {
    const T v = g[i];
    if (!(v - v == v - v)) *found = 1.0f;  // every writer writes 1: a benign race
    g[i] = v * inv;
  }
}

}  // namespace

void amp_unscale(const Tensor& grad, double inv_scale, const Tensor& found_inf) {
  GC_DISPATCH_FLOAT(grad.dtype, "GradScaler.unscale_", [&] {
    const int64_t n = grad.numel();
    if (n == 0) return;
    amp_unscale_kernel<scalar_t><<<grid_for(n), kBlock>>>(grad.data_as<scalar_t>(), static_cast<scalar_t>(inv_scale),
                                                          found_inf.data_as<float>(), n);
    check_launch("GradScaler.unscale_");
  });
}

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor* momentum_buffer, bool init_buffer,
                const SgdOptions& o) {
  const int64_t n = param.numel();
  if (n == 0) return;
  GC_DISPATCH_FLOAT(param.dtype, "sgd_step", [&] {
    using T = scalar_t;
    SgdArgs<T> a;
    a.p = param.data_as<T>();
    a.gr = grad.data_as<T>();
    a.buf = data_or_null<T>(momentum_buffer);
    a.c = kernels::sgd_scalars<T>(o);
    a.init = init_buffer;
    sgd_kernel<T><<<grid_for(n), kBlock>>>(n, a);
    check_launch("sgd_step");
  });
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor* max_exp_avg_sq, double step, const AdamOptions& o) {
  const int64_t n = param.numel();
  if (n == 0) return;
  GC_DISPATCH_FLOAT(param.dtype, "adam_step", [&] {
    using T = scalar_t;
    AdamArgs<T> a;
    a.p = param.data_as<T>();
    a.gr = grad.data_as<T>();
    a.m = exp_avg.data_as<T>();
    a.v = exp_avg_sq.data_as<T>();
    a.vmax = data_or_null<T>(max_exp_avg_sq);
    a.c = kernels::adam_scalars<T>(o, step);
    a.lerp = make_lerp(a.c.lerp_weight);
    adam_kernel<T><<<grid_for(n), kBlock>>>(n, a);
    check_launch("adam_step");
  });
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor* grad_avg,
                    const Tensor* momentum_buffer, const RmspropOptions& o) {
  const int64_t n = param.numel();
  if (n == 0) return;
  GC_DISPATCH_FLOAT(param.dtype, "rmsprop_step", [&] {
    using T = scalar_t;
    RmspropArgs<T> a;
    a.p = param.data_as<T>();
    a.gr = grad.data_as<T>();
    a.sq = square_avg.data_as<T>();
    a.ga = data_or_null<T>(grad_avg);
    a.buf = data_or_null<T>(momentum_buffer);
    a.c = kernels::rmsprop_scalars<T>(o);
    a.lerp = make_lerp(a.c.one_minus_alpha);
    rmsprop_kernel<T><<<grid_for(n), kBlock>>>(n, a);
    check_launch("rmsprop_step");
  });
}

void adagrad_update(const Tensor& param, const Tensor& grad, const Tensor& state_sum, double step,
                    const AdagradOptions& o) {
  const int64_t n = param.numel();
  if (n == 0) return;
  GC_DISPATCH_FLOAT(param.dtype, "adagrad_step", [&] {
    using T = scalar_t;
    AdagradArgs<T> a;
    a.p = param.data_as<T>();
    a.gr = grad.data_as<T>();
    a.sum = state_sum.data_as<T>();
    a.c = kernels::adagrad_scalars<T>(o, step);
    adagrad_kernel<T><<<grid_for(n), kBlock>>>(n, a);
    check_launch("adagrad_step");
  });
}

}  // namespace gc::cuda
