#include "cpu/reduce.h"

namespace gc::cpu {

ReducePlan make_reduce_plan(const Tensor& x, const std::vector<bool>& reduce_mask) {
  ReducePlan p;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.shape[d] == 1) continue;  // size-1 dims contribute nothing either way
    if (reduce_mask[d]) {
      // Merge with the previous reduced dim when contiguous with it.
      if (!p.red_shape.empty() && p.red_strides.back() == x.strides[d] * x.shape[d]) {
        p.red_shape.back() *= x.shape[d];
        p.red_strides.back() = x.strides[d];
      } else {
        p.red_shape.push_back(x.shape[d]);
        p.red_strides.push_back(x.strides[d]);
      }
      p.K *= x.shape[d];
    } else {
      p.kept_shape.push_back(x.shape[d]);
      p.kept_strides.push_back(x.strides[d]);
      p.M *= x.shape[d];
    }
  }
  if (x.numel() == 0) {
    // Empty input: M outputs of an empty fold (or no outputs at all).
    p.M = 1;
    p.K = 1;
    for (int64_t d = 0; d < x.dim(); ++d) (reduce_mask[d] ? p.K : p.M) *= x.shape[d];
    p.red_shape.assign(1, 0);
    p.red_strides.assign(1, 0);
    p.kept_shape.assign(1, p.M);
    p.kept_strides.assign(1, 0);
  }
  return p;
}

namespace {
template <typename A>
struct SumAcc {
  A s = 0;
  template <typename V>
  void add(V v, int64_t) { s += static_cast<A>(v); }
  void merge(const SumAcc& o) { s += o.s; }
};
template <typename O, typename A>
O scaled_sum(A s, double scale) {
  if constexpr (std::is_same_v<O, bool>) return s != 0;
  else if (scale == 1.0) return static_cast<O>(s);
  else return static_cast<O>(static_cast<double>(s) * scale);
}
}  // namespace

void sum_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double scale) {
  GC_DISPATCH_ALL(x.dtype, "sum", [&] {
    using T = scalar_t;
    using A = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    GC_DISPATCH_ALL(out.dtype, "sum", [&] {
      using O = scalar_t;
      O* o = out.data_as<O>();
      reduce_loop<T>(x, p, SumAcc<A>{}, [&](int64_t m, const SumAcc<A>& acc) {
        o[m] = scaled_sum<O>(acc.s, scale);
      });
    });
  });
}

}  // namespace gc::cpu
