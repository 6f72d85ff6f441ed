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

// out (contiguous, M elements) = sum over the plan, computed with a wide accumulator
// (double for floats, int64 for integers and bool); scale multiplies the result (1/K for mean).
void sum_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double scale);

}  // namespace gc::cpu
