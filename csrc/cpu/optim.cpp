// Fused optimizer updates. Each kernel is PyTorch's `_single_tensor_<optimizer>` loop body
// (torch/optim/*.py) rewritten per element: where PyTorch runs several in-place tensor ops over
// the whole parameter (grad.add(param), exp_avg.lerp_, exp_avg_sq.mul_.addcmul_, param.addcdiv_)
// and so streams the arrays through memory four to six times, we stream them once.
//
// To match PyTorch's numbers, every element computes in the parameter's scalar type T with the
// same operation order as ATen's CPU kernels, and the Python-side scalars (1 - beta1, the bias
// corrections, -lr...) are formed in double first and then rounded to T, as PyTorch does when a
// Python float meets a float32 tensor:
//   add(a, b, alpha)        a + alpha * b
//   addcmul(s, a, b, value) s + value * a * b
//   addcdiv(s, a, b, value) s + value * a / b
//   lerp(s, e, w)           |w| < 0.5 ? s + w * (e - s) : e - (e - s) * (1 - w)
// The update is memory-bound, so the loop must vectorize: options that select arrays (amsgrad,
// momentum, centered...) are template parameters and the rest are branch-free, leaving one
// straight-line body per instantiation; elements are split across OpenMP threads above a grain.
//
// 16-bit parameters (bfloat16, float16; their gradients and state share the dtype, as in PyTorch)
// run the float32 body itself on float scratch (see run_update): every element is updated exactly
// as the float32 kernel updates it and each stored value is rounded once.
#include "cpu/optim.h"
#include <array>
#include <cmath>
#include <cstdlib>
#include <string>
#include <type_traits>
#include "cpu/loops.h"

namespace gc::cpu {

namespace {

// PyTorch's lerp, with its two forms (chosen by the loop-invariant weight) folded into one
// expression so the loop has no branch: (e - s) * (1 - w) subtracted equals (-(1 - w)) * (e - s)
// added, exactly.
template <typename T>
struct Lerp {
  bool small;
  T coef;
  explicit Lerp(T w) : small(std::abs(w) < T(0.5)), coef(small ? w : -(T(1) - w)) {}
  T operator()(T s, T e) const { return (small ? s : e) + coef * (e - s); }
};

// torch.maximum: NaN wins. (Bitwise | keeps the select branch-free.)
template <typename T>
inline T nan_max(T a, T b) {
  return ((a != a) | (a > b)) ? a : b;
}

// f(std::bool_constant<a>{}, std::bool_constant<b>{}): options that change which arrays a kernel
// touches become template parameters, so each instantiation's loop is straight-line and
// vectorizes (GCC will not unswitch a loop on several runtime flags).
template <typename F>
void with_flags(bool a, bool b, F&& f) {
  if (a) {
    if (b) f(std::true_type{}, std::true_type{});
    else f(std::true_type{}, std::false_type{});
  } else {
    if (b) f(std::false_type{}, std::true_type{});
    else f(std::false_type{}, std::false_type{});
  }
}

// body(i) for i in [begin, end), with the widest vectors the CPU has: the loop of cpu/loops.h
// compiled once per ISA, without FMA, so every element rounds exactly as in the baseline loop; the
// updates are bound by their divisions and square roots, so the width is what counts.
template <typename F>
void element_range_best(const F& body, int64_t begin, int64_t end) {
  index_loop_widest([body, begin](int64_t i) { body(begin + i); }, end - begin);
}

// body(i) for i in [0, n), in parallel when n is large enough to pay for the threads, with the
// widest vectors the CPU has.
template <typename F>
void for_each_element(int64_t n, const F& body) {
#ifdef GRADCORE_OPENMP
  int nt = get_num_threads();
  if (nt > 1 && n >= kParallelGrain) {
    nt = static_cast<int>(std::min<int64_t>(nt, n / (kParallelGrain / 4)));
#pragma omp parallel num_threads(nt)
    {
      const int64_t t = omp_get_thread_num(), chunk = (n + omp_get_num_threads() - 1) / omp_get_num_threads();
      const int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
      element_range_best(body, begin, end);
    }
    return;
  }
#endif
  element_range_best(body, 0, n);
}

template <typename T>
T* ptr(const Tensor* t) {
  return t ? t->data_as<T>() : nullptr;
}

// Runs the update that make_body(arrays) builds (body(i) reads and writes element i of arrays of
// the compute type T) over the n elements of `arrays` (storage type S; null when unused). With
// S = T the body runs on the arrays themselves. 16-bit arrays go through float scratch a chunk at
// a time: the chunk of every array is widened, the float body runs on the scratch, and the
// arrays whose bit is set in `written` are rounded back. The conversions run with the widest
// vectors (cpu/loops.h); the chunks, all in L1, cost far less than widening whole arrays.
template <typename T, typename S, size_t N, typename MakeBody>
void run_update(int64_t n, const std::array<S*, N>& arrays, unsigned written, const MakeBody& make_body) {
  if constexpr (std::is_same_v<T, S>) {
    (void)written;
    for_each_element(n, make_body(arrays));
  } else {
    constexpr int64_t kChunk = 1024;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    auto run_chunk = [&](int64_t ch) {
      alignas(64) T buf[N][kChunk];
      std::array<T*, N> b;
      const int64_t off = ch * kChunk, len = std::min(kChunk, n - off);
      for (size_t k = 0; k < N; ++k) {
        b[k] = arrays[k] ? buf[k] : nullptr;
        if (arrays[k]) widen_run(buf[k], arrays[k] + off, len);
      }
      element_range_best(make_body(b), 0, len);
      for (size_t k = 0; k < N; ++k)
        if (arrays[k] && ((written >> k) & 1u)) narrow_run(arrays[k] + off, buf[k], len);
    };
#ifdef GRADCORE_OPENMP
    int nt = get_num_threads();
    if (nt > 1 && n >= kParallelGrain) {
      nt = static_cast<int>(std::min<int64_t>(nt, n / (kParallelGrain / 4)));
#pragma omp parallel for num_threads(nt) schedule(static)
      for (int64_t ch = 0; ch < chunks; ++ch) run_chunk(ch);
      return;
    }
#endif
    for (int64_t ch = 0; ch < chunks; ++ch) run_chunk(ch);
  }
}

// SGD:  g <- (maximize ? -g : g) + wd * p
//       b <- first step ? g : momentum * b + (1 - dampening) * g;   g <- nesterov ? g + momentum * b : b
//       p <- p - lr * g
template <typename T, typename S>
void sgd_typed(const Tensor& param, const Tensor& grad, const Tensor* buf_t, bool init, const SgdOptions& o) {
  const std::array<S*, 3> arrays{param.data_as<S>(), grad.data_as<S>(), ptr<S>(buf_t)};
  const auto c = kernels::sgd_scalars<T>(o);
  with_flags(c.decay, c.use_momentum, [&](auto decay, auto use_momentum) {
    run_update<T>(param.numel(), arrays, 0b101u, [&](const std::array<T*, 3>& a) {
      T* p = a[0];
      const T* gr = a[1];
      T* buf = a[2];
      return [=](int64_t i) {
        T g = c.sign * gr[i];
        if constexpr (decltype(decay)::value) g = g + c.wd * p[i];
        if constexpr (decltype(use_momentum)::value) {
          const T b = init ? g : buf[i] * c.momentum + c.one_minus_damp * g;
          buf[i] = b;
          g = c.nesterov ? g + c.momentum * b : b;
        }
        p[i] = p[i] + c.neg_lr * g;
      };
    });
  });
}

// Adam / AdamW, with bc1 = 1 - beta1^step, bc2 = 1 - beta2^step:
//   g <- maximize ? -g : g;   AdamW: p <- p * (1 - lr * wd);  Adam: g <- g + wd * p
//   m <- lerp(m, g, 1 - beta1);   v <- beta2 * v + (1 - beta2) * g * g;   amsgrad: vmax <- max(vmax, v)
//   p <- p - (lr / bc1) * m / (sqrt(v or vmax) / sqrt(bc2) + eps)
// Without AdamW's decay the scale is 1, an exact no-op.
template <typename T, typename S>
void adam_typed(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor* max_t, double step, const AdamOptions& o) {
  const std::array<S*, 5> arrays{param.data_as<S>(), grad.data_as<S>(), exp_avg.data_as<S>(), exp_avg_sq.data_as<S>(),
                                 ptr<S>(max_t)};
  const auto c = kernels::adam_scalars<T>(o, step);
  const Lerp<T> lerp(c.lerp_weight);
  with_flags(c.coupled_decay, c.amsgrad, [&](auto coupled_decay, auto amsgrad) {
    run_update<T>(param.numel(), arrays, 0b11101u, [&](const std::array<T*, 5>& a) {
      T* p = a[0];
      const T* gr = a[1];
      T *m = a[2], *v = a[3], *vmax = a[4];
      return [=](int64_t i) {
        T g = c.sign * gr[i];
        const T pv = p[i] * c.scale;
        if constexpr (decltype(coupled_decay)::value) g = g + c.wd * pv;
        const T mi = lerp(m[i], g);
        T vi = v[i] * c.beta2 + c.w2 * g * g;
        m[i] = mi;
        v[i] = vi;
        if constexpr (decltype(amsgrad)::value) {
          vi = nan_max(vmax[i], vi);
          vmax[i] = vi;
        }
        p[i] = pv + c.neg_step_size * mi / (std::sqrt(vi) / c.bc2_sqrt + c.eps);
      };
    });
  });
}

// RMSprop:
//   g <- (maximize ? -g : g) + wd * p;   s <- alpha * s + (1 - alpha) * g * g
//   centered: ga <- lerp(ga, g, 1 - alpha), avg <- sqrt(s - ga * ga) + eps;  else avg <- sqrt(s) + eps
//   momentum > 0: b <- momentum * b + g / avg, p <- p - lr * b;   else p <- p - lr * g / avg
template <typename T, typename S>
void rmsprop_typed(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor* grad_avg_t,
                   const Tensor* buf_t, const RmspropOptions& o) {
  const std::array<S*, 5> arrays{param.data_as<S>(), grad.data_as<S>(), square_avg.data_as<S>(), ptr<S>(grad_avg_t),
                                 ptr<S>(buf_t)};
  const auto c = kernels::rmsprop_scalars<T>(o);
  const Lerp<T> lerp(c.one_minus_alpha);
  with_flags(c.centered, c.use_momentum, [&](auto centered, auto use_momentum) {
    run_update<T>(param.numel(), arrays, 0b11101u, [&](const std::array<T*, 5>& a) {
      T* p = a[0];
      const T* gr = a[1];
      T *sq = a[2], *ga = a[3], *buf = a[4];
      return [=](int64_t i) {
        T g = c.sign * gr[i];
        if (c.decay) g = g + c.wd * p[i];
        const T s = sq[i] * c.alpha + c.one_minus_alpha * g * g;
        sq[i] = s;
        T avg;
        if constexpr (decltype(centered)::value) {
          const T a = lerp(ga[i], g);
          ga[i] = a;
          avg = std::sqrt(s + T(-1) * a * a) + c.eps;
        } else {
          avg = std::sqrt(s) + c.eps;
        }
        if constexpr (decltype(use_momentum)::value) {
          const T b = buf[i] * c.momentum + g / avg;
          buf[i] = b;
          p[i] = p[i] + c.neg_lr * b;
        } else {
          p[i] = p[i] + c.neg_lr * g / avg;
        }
      };
    });
  });
}

// Adagrad, with clr = lr / (1 + (step - 1) * lr_decay):
//   g <- (maximize ? -g : g) + wd * p;   s <- s + g * g;   p <- p - clr * g / (sqrt(s) + eps)
template <typename T, typename S>
void adagrad_typed(const Tensor& param, const Tensor& grad, const Tensor& state_sum, double step,
                   const AdagradOptions& o) {
  const std::array<S*, 3> arrays{param.data_as<S>(), grad.data_as<S>(), state_sum.data_as<S>()};
  const auto c = kernels::adagrad_scalars<T>(o, step);
  run_update<T>(param.numel(), arrays, 0b101u, [&](const std::array<T*, 3>& a) {
    T* p = a[0];
    const T* gr = a[1];
    T* sum = a[2];
    return [=](int64_t i) {
      T g = c.sign * gr[i];
      if (c.decay) g = g + c.wd * p[i];
      const T s = sum[i] + g * g;
      sum[i] = s;
      p[i] = p[i] + c.neg_clr * g / (std::sqrt(s) + c.eps);
    };
  });
}

}  // namespace

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor* momentum_buffer, bool init_buffer,
                const SgdOptions& o) {
  dispatch_float_opmath(param.dtype, "sgd_step", [&](auto t, auto s) {
    sgd_typed<decltype(t), decltype(s)>(param, grad, momentum_buffer, init_buffer, o);
  });
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor* max_exp_avg_sq, double step, const AdamOptions& o) {
  dispatch_float_opmath(param.dtype, "adam_step", [&](auto t, auto s) {
    adam_typed<decltype(t), decltype(s)>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, o);
  });
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor* grad_avg,
                    const Tensor* momentum_buffer, const RmspropOptions& o) {
  dispatch_float_opmath(param.dtype, "rmsprop_step", [&](auto t, auto s) {
    rmsprop_typed<decltype(t), decltype(s)>(param, grad, square_avg, grad_avg, momentum_buffer, o);
  });
}

void adagrad_update(const Tensor& param, const Tensor& grad, const Tensor& state_sum, double step,
                    const AdagradOptions& o) {
  dispatch_float_opmath(param.dtype, "adagrad_step",
                        [&](auto t, auto s) { adagrad_typed<decltype(t), decltype(s)>(param, grad, state_sum, step, o); });
}

// 16-bit gradients: each value read as float, scaled in float, rounded once.
void amp_unscale(const Tensor& grad, double inv_scale, const Tensor& found_inf) {
  dispatch_float_opmath(grad.dtype, "GradScaler.unscale_", [&](auto t, auto s) {
    using T = decltype(t);
    using S = decltype(s);
    S* g = grad.data_as<S>();
    const T inv = static_cast<T>(inv_scale);
    const int64_t n = grad.numel();
    bool bad = false;
    for (int64_t i = 0; i < n; ++i) {
      const T v = static_cast<T>(g[i]);
      bad |= !(v - v == v - v);  // inf - inf and NaN - NaN are NaN: not finite, without a branch
      g[i] = static_cast<S>(v * inv);
    }
    if (bad) *found_inf.data_as<float>() = 1.0f;
  });
}

}  // namespace gc::cpu
