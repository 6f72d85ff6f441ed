// Reductions on the CPU. A reduction over a set of dims is planned as M independent outputs
// (the kept dims) each folding K inputs (the reduced dims, merged where contiguous). Threads
// split the outputs when there are enough of them, otherwise they split K and merge partials.
#pragma once
#include <vector>
#include "cpu/loops.h"
#include "ops/ops.h"

namespace gc::cpu {

struct ReducePlan {
  DimVector kept_shape, kept_strides;  // element strides of x
  DimVector red_shape, red_strides;    // merged reduced dims, innermost last
  int64_t M = 1, K = 1;
};

// `reduce_mask[d]` says whether dim d of x is reduced.
ReducePlan make_reduce_plan(const Tensor& x, const std::vector<bool>& reduce_mask);

// Calls visit(offset, k) for k in [k0, k1) of the reduced elements of the output whose base
// offset (in elements) is `base`.
template <typename F>
inline void for_reduced(const ReducePlan& p, int64_t base, int64_t k0, int64_t k1, F&& visit) {
  const int64_t nd = static_cast<int64_t>(p.red_shape.size());
  if (nd == 0) {
    if (k0 < k1) visit(base, int64_t(0));
    return;
  }
  if (nd == 1) {
    const int64_t s = p.red_strides[0];
    for (int64_t k = k0; k < k1; ++k) visit(base + k * s, k);
    return;
  }
  DimVector idx(nd);
  int64_t rem = k0, off = base;
  for (int64_t d = nd - 1; d >= 0; --d) {
    idx[d] = rem % p.red_shape[d];
    rem /= p.red_shape[d];
    off += idx[d] * p.red_strides[d];
  }
  const int64_t last = nd - 1, ls = p.red_strides[last];
  for (int64_t k = k0; k < k1;) {
    int64_t n = std::min(p.red_shape[last] - idx[last], k1 - k);
    for (int64_t j = 0; j < n; ++j) visit(off + j * ls, k + j);
    k += n;
    off += n * ls;
    idx[last] += n;
    for (int64_t d = last; d > 0 && idx[d] == p.red_shape[d]; --d) {
      off -= idx[d] * p.red_strides[d];
      idx[d] = 0;
      idx[d - 1]++;
      off += p.red_strides[d - 1];
    }
  }
}

// Offset in x of output m's first reduced element.
inline int64_t kept_offset(const ReducePlan& p, int64_t m) {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(p.kept_shape.size()) - 1; d >= 0; --d) {
    off += (m % p.kept_shape[d]) * p.kept_strides[d];
    m /= p.kept_shape[d];
  }
  return off;
}

// Generic fold: Acc has init(), add(value, k) and merge(other); write(m, acc) stores output m.
template <typename T, typename Acc, typename Write>
void reduce_loop(const Tensor& x, const ReducePlan& p, const Acc& init, Write write) {
  const T* data = x.data_as<T>();
  const int64_t M = p.M, K = p.K;
  if (M == 0) return;
  int nt = get_num_threads();
  bool big = M * K >= kParallelGrain && nt > 1;
  if (!big || M >= nt) {
#ifdef GRADCORE_OPENMP
#pragma omp parallel for num_threads(nt) if (big) schedule(static)
#endif
    for (int64_t m = 0; m < M; ++m) {
      Acc acc = init;
      for_reduced(p, kept_offset(p, m), 0, K, [&](int64_t off, int64_t k) { acc.add(data[off], k); });
      write(m, acc);
    }
    return;
  }
  // Few outputs, many inputs each: split K across threads and merge the partial folds in order.
  for (int64_t m = 0; m < M; ++m) {
    std::vector<Acc> parts(nt, init);
    int64_t base = kept_offset(p, m);
#ifdef GRADCORE_OPENMP
#pragma omp parallel num_threads(nt)
    {
      int t = omp_get_thread_num();
      int64_t chunk = (K + nt - 1) / nt, k0 = std::min(K, chunk * t), k1 = std::min(K, k0 + chunk);
      Acc& acc = parts[t];
      for_reduced(p, base, k0, k1, [&](int64_t off, int64_t k) { acc.add(data[off], k); });
    }
#else
    for_reduced(p, base, 0, K, [&](int64_t off, int64_t k) { parts[0].add(data[off], k); });
#endif
    Acc total = parts[0];
    for (int t = 1; t < nt; ++t) total.merge(parts[t]);
    write(m, total);
  }
}

// Calls fn(m, base) for every output m with the offset of its first reduced element; threads
// split the outputs when the whole reduction is large.
template <typename F>
void for_each_output(const ReducePlan& p, F fn) {
  if (p.M == 0) return;
  int nt = get_num_threads();
  bool big = p.M * p.K >= kParallelGrain && nt > 1 && p.M > 1;
#ifdef GRADCORE_OPENMP
#pragma omp parallel for num_threads(nt) if (big) schedule(static)
#endif
  for (int64_t m = 0; m < p.M; ++m) fn(m, kept_offset(p, m));
  (void)big;
}

// Every kernel below writes output m of a contiguous `out` (M elements, the kept dims in
// row-major order) and accumulates floats in double.

// out = sum over the plan, computed with a wide accumulator (double for floats, int64 for
// integers and bool); scale multiplies the result (1/K for mean).
void sum_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double scale);
// out = sum((x - mean)^2) / max(0, K - correction), or its square root; Welford's update.
void var_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double correction, bool take_sqrt);
// out = product (int64 for integer and bool inputs).
void prod_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p);
// out = max (is_max) or min; NaN propagates. K must be > 0.
void minmax_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_max);
// indices = position k (row-major over the reduced dims) of the max (min), the first one among
// ties, the first NaN if any; values (optional) = that element. K must be > 0.
void arg_minmax_kernel(const Tensor* values, const Tensor& indices, const Tensor& x, const ReducePlan& p, bool is_max);
// out = vector p-norm: ord 0 (count of non-zeros), 1, 2, +-inf, or any other p.
void norm_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double ord);
// out (bool) = any / all of x != 0.
void any_all_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_all);

// Backward kernels. gx and x share shape and (contiguous) strides, so one plan addresses both;
// g is contiguous with M elements.
// gx = g * product of the other elements of each reduction (exact when x holds zeros).
void prod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const ReducePlan& p);
// gx (zeroed by the caller) receives g[m] at the reduced element indices[m] of output m.
void index_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& indices, const ReducePlan& p);

}  // namespace gc::cpu
