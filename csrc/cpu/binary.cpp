// CPU elementwise binary kernels: each op's functor (kernels/binary.h) run by the strided loops of
// cpu/loops.h, which the compiler vectorises where the formula allows. binary_kernel and
// binary_backward_kernel read and write 16-bit floats themselves (float opmath, cpu/loops.h).
#include "cpu/binary.h"
#include "cpu/loops.h"
#include <limits>

namespace gc::cpu {

namespace {
// Pow with a constant exponent N / D: the formula of kernels::Pow with b known at compile time,
// so its special cases (x * x, x * x * x, 1 / x, sqrt ...) fold away the branch that calls pow,
// which kept the whole loop scalar (x.pow(3) ran 45x slower than PyTorch). The same values and
// gradients as Pow's, bit for bit.
template <int N, int D = 1>
struct PowByConst {
  template <typename T> GC_HOST_DEVICE T operator()(T a, T) const { return kernels::Pow{}(a, T(N) / T(D)); }
  template <typename T> GC_HOST_DEVICE T grad(T g, T a, T, T y) const { return kernels::Pow{}.grad_a(g, a, T(N) / T(D), y); }
};
template <typename F>
struct GradOf {
  F f;
  template <typename T> GC_HOST_DEVICE T operator()(T g, T a, T b, T y) const { return f.grad(g, a, b, y); }
};

// The exponent when b holds one value everywhere (a broadcast scalar), else NaN.
template <typename S>
double uniform_exponent(const Tensor& b) {
  for (int64_t d = 0; d < b.dim(); ++d)
    if (b.strides[d] != 0 && b.shape[d] != 1) return std::numeric_limits<double>::quiet_NaN();
  return b.numel() > 0 ? static_cast<double>(*b.data_as<S>()) : std::numeric_limits<double>::quiet_NaN();
}

// Calls run(PowByConst<...>{}) when b is one of the special exponents, and returns whether it did.
template <typename S, typename Run>
bool with_const_exponent(const Tensor& b, const Run& run) {
  const double e = uniform_exponent<S>(b);
  if (e == 2) return run(PowByConst<2>{}), true;
  if (e == 3) return run(PowByConst<3>{}), true;
  if (e == 0.5) return run(PowByConst<1, 2>{}), true;
  if (e == -0.5) return run(PowByConst<-1, 2>{}), true;
  if (e == -1) return run(PowByConst<-1>{}), true;
  if (e == -2) return run(PowByConst<-2>{}), true;
  return false;
}
}  // namespace

void binary_kernel(kernels::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, Scalar alpha) {
  kernels::visit_binary(op, [&](auto f) {
    using F = decltype(f);
    if (is_half(a.dtype)) {
      return dispatch_half(a.dtype, [&](auto tag) {
        using S = decltype(tag);
        if constexpr (kernels::kBinaryInfoOf<F>.grad_a == kernels::BinaryReads::Passes) {
          const auto al = static_cast<float>(alpha.d);
          if (al != 1.0f) return binary_loop<S, S, S>(out, a, b, Opmath<kernels::WithAlpha<F, float>>{{f, al}});
        }
        if constexpr (std::is_same_v<F, kernels::Pow>)
          if (with_const_exponent<S>(b, [&](auto p) { binary_loop<S, S, S>(out, a, b, Opmath<decltype(p)>{p}); }))
            return;
        binary_loop<Store16<decltype(f(float{}, float{})), S>, S, S>(out, a, b, Opmath<F>{f});
      });
    }
    dispatch_dtype_set<kernels::dtype_set(kernels::kBinaryInfoOf<F>.dtype)>(a.dtype, kernels::kBinaryInfoOf<F>.name, [&](auto tag) {
      using T = decltype(tag);
      using O = decltype(f(T{}, T{}));
      if constexpr (kernels::kBinaryInfoOf<F>.grad_a == kernels::BinaryReads::Passes && !std::is_same_v<T, bool>) {
        const T al = static_cast<T>(std::is_integral_v<T> ? static_cast<double>(alpha.i) : alpha.d);
        if (al != T(1)) return binary_loop<T, T, T>(out, a, b, kernels::WithAlpha<F, T>{f, al});
      }
      if constexpr (std::is_same_v<F, kernels::Pow> && std::is_floating_point_v<T>)
        if (with_const_exponent<T>(b, [&](auto p) { binary_loop<T, T, T>(out, a, b, p); })) return;
      binary_loop<O, T, T>(out, a, b, f);
    });
  });
}

void binary_backward_kernel(kernels::BinaryOp op, bool for_b, const Tensor& gx, const Tensor& g, const Tensor& a,
                            const Tensor& b, const Tensor& y) {
  kernels::visit_binary(op, [&](auto f) {
    using F = decltype(f);
    if (is_half(gx.dtype)) {
      return dispatch_half(gx.dtype, [&](auto tag) {
        using S = decltype(tag);
        if constexpr (std::is_same_v<F, kernels::Pow>)
          if (!for_b && with_const_exponent<S>(b, [&](auto p) {
                quaternary_loop<S>(gx, g, a, b, y, Opmath<GradOf<decltype(p)>>{{p}});
              }))
            return;
        if (for_b) quaternary_loop<S>(gx, g, a, b, y, Opmath<kernels::BinaryGradB<F>>{{f}});
        else quaternary_loop<S>(gx, g, a, b, y, Opmath<kernels::BinaryGradA<F>>{{f}});
      });
    }
    GC_DISPATCH_FLOAT(gx.dtype, kernels::kBinaryInfoOf<F>.name, [&] {
      if constexpr (std::is_same_v<F, kernels::Pow>)
        if (!for_b && with_const_exponent<scalar_t>(b, [&](auto p) {
              quaternary_loop<scalar_t>(gx, g, a, b, y, GradOf<decltype(p)>{p});
            }))
          return;
      if (for_b) quaternary_loop<scalar_t>(gx, g, a, b, y, kernels::BinaryGradB<F>{f});
      else quaternary_loop<scalar_t>(gx, g, a, b, y, kernels::BinaryGradA<F>{f});
    });
  });
}

void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  GC_DISPATCH_ALL(out.dtype, "where", [&] {
    ternary_loop<scalar_t, bool, scalar_t, scalar_t>(out, cond, a, b, kernels::Where{});
  });
}

}  // namespace gc::cpu
