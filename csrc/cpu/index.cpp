#include "cpu/index.h"
#include <atomic>
#include <cstring>
#include "cpu/loops.h"

namespace gc::cpu {

namespace {
inline int64_t wrap(int64_t v, int64_t size) { return v < 0 ? v + size : v; }
inline int64_t load_index(const char* p) { return *reinterpret_cast<const int64_t*>(p); }

template <typename T>
T scalar_as(Scalar v) {
  if constexpr (std::is_same_v<T, bool>) return v.kind == Scalar::Float ? v.d != 0 : v.i != 0;
  else return v.kind == Scalar::Float ? static_cast<T>(v.d) : static_cast<T>(v.i);
}
}  // namespace

std::optional<int64_t> first_index_out_of_range(const Tensor& idx, int64_t lo, int64_t size) {
  // v in [lo, size)  <=>  (unsigned)(v - lo) < (unsigned)(size - lo): one compare per entry,
  // or-reduced without branches (parallel when large); the offending value is looked up only
  // on failure.
  const uint64_t ulo = static_cast<uint64_t>(lo), range = static_cast<uint64_t>(size) - ulo;
  std::atomic<bool> bad{false};
  for_each<1>(idx.shape, {&idx}, [&bad, ulo, range](char* const* p, const int64_t* s, int64_t n) {
    bool b = false;
    if (s[0] == sizeof(int64_t)) {
      const uint64_t* v = reinterpret_cast<const uint64_t*>(p[0]);
      for (int64_t i = 0; i < n; ++i) b |= v[i] - ulo >= range;
    } else {
      for (int64_t i = 0; i < n; ++i) b |= *reinterpret_cast<const uint64_t*>(p[0] + i * s[0]) - ulo >= range;
    }
    if (b) bad.store(true, std::memory_order_relaxed);
  });
  if (!bad.load()) return std::nullopt;
  std::optional<int64_t> first;
  auto find = [&](char* const* p, const int64_t* s, int64_t n) {
    for (int64_t i = 0; i < n && !first; ++i) {
      int64_t v = load_index(p[0] + i * s[0]);
      if (v < lo || v >= size) first = v;
    }
  };
  LoopGeom<1> g = make_geom<1>(idx.shape, {&idx});
  loop_range<1>(g, 0, idx.numel(), find);
  return first;
}

void add_index_offsets(const Tensor& off, const Tensor& idx, int64_t size, int64_t stride) {
  for_each<2>(off.shape, {&off, &idx}, [size, stride](char* const* p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(int64_t) && s[1] == sizeof(int64_t)) {
      int64_t* o = reinterpret_cast<int64_t*>(p[0]);
      const int64_t* v = reinterpret_cast<const int64_t*>(p[1]);
      for (int64_t i = 0; i < n; ++i) o[i] += wrap(v[i], size) * stride;
      return;
    }
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<int64_t*>(p[0] + i * s[0]) += wrap(load_index(p[1] + i * s[1]), size) * stride;
  });
}

void gather_kernel(const Tensor& out, const Tensor& src, const Tensor& idx, int64_t size, int64_t stride) {
  GC_DISPATCH_ALL(out.dtype, "index", [&] {
    const int64_t step = stride * static_cast<int64_t>(sizeof(scalar_t));
    for_each<3>(out.shape, {&out, &src, &idx}, [size, step](char* const* p, const int64_t* s, int64_t n) {
      if (s[2] == 0) {
        // One index for the whole inner run (row gathers: x[idx], embeddings): a plain strided
        // copy from one place, a memcpy when both sides are contiguous.
        const char* from = p[1] + wrap(load_index(p[2]), size) * step;
        if (s[0] == sizeof(scalar_t) && s[1] == sizeof(scalar_t)) {
          std::memcpy(p[0], from, static_cast<size_t>(n) * sizeof(scalar_t));
          return;
        }
        for (int64_t i = 0; i < n; ++i)
          *reinterpret_cast<scalar_t*>(p[0] + i * s[0]) = *reinterpret_cast<const scalar_t*>(from + i * s[1]);
        return;
      }
      if (s[0] == sizeof(scalar_t) && s[1] == 0 && s[2] == sizeof(int64_t)) {
        // The indexed dim is innermost (gather along the last dim, x[:, idx] on a row):
        // a contiguous run of indices into one source line.
        auto* o = reinterpret_cast<scalar_t*>(p[0]);
        const auto* ix = reinterpret_cast<const int64_t*>(p[2]);
        const char* from = p[1];
        for (int64_t i = 0; i < n; ++i) o[i] = *reinterpret_cast<const scalar_t*>(from + wrap(ix[i], size) * step);
        return;
      }
      for (int64_t i = 0; i < n; ++i) {
        int64_t v = wrap(load_index(p[2] + i * s[2]), size);
        *reinterpret_cast<scalar_t*>(p[0] + i * s[0]) = *reinterpret_cast<const scalar_t*>(p[1] + i * s[1] + v * step);
      }
    });
  });
}

namespace {
template <typename T, bool Accumulate>
void scatter_typed(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride) {
  const int64_t step = stride * static_cast<int64_t>(sizeof(T));
  auto put = [](T* to, T v) {
    if constexpr (!Accumulate) *to = v;
    else if constexpr (std::is_same_v<T, bool>) *to = *to || v;
    else *to += v;
  };
  auto fn = [size, step, put](char* const* p, const int64_t* s, int64_t n) {
    if (s[2] == 0 && s[0] == sizeof(T) && s[1] == sizeof(T)) {
      // One index for the whole contiguous inner run (the backward of row gathers: x[idx],
      // embeddings): a unit-stride loop into one destination row, which vectorises.
      T* to = reinterpret_cast<T*>(p[0] + wrap(load_index(p[2]), size) * step);
      const T* v = reinterpret_cast<const T*>(p[1]);
      for (int64_t i = 0; i < n; ++i) put(to + i, v[i]);
      return;
    }
    for (int64_t i = 0; i < n; ++i)
      put(reinterpret_cast<T*>(p[0] + i * s[0] + wrap(load_index(p[2] + i * s[2]), size) * step),
          *reinterpret_cast<const T*>(p[1] + i * s[1]));
  };
  LoopGeom<3> g = make_geom<3>(dst.shape, {&dst, &values, &idx});
  loop_range<3>(g, 0, dst.numel(), fn);
}
}  // namespace

void scatter_kernel(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride,
                    bool accumulate) {
  if (dst.numel() == 0) return;
  GC_DISPATCH_ALL(dst.dtype, "index_put_", [&] {
    if (accumulate) scatter_typed<scalar_t, true>(dst, values, idx, size, stride);
    else scatter_typed<scalar_t, false>(dst, values, idx, size, stride);
  });
}

namespace {
template <typename T, kernels::ScatterReduce R>
void scatter_reduce_typed(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride) {
  const int64_t step = stride * static_cast<int64_t>(sizeof(T));
  auto fn = [size, step](char* const* p, const int64_t* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      T* to = reinterpret_cast<T*>(p[0] + i * s[0] + wrap(load_index(p[2] + i * s[2]), size) * step);
      *to = kernels::scatter_combine<R>(*to, *reinterpret_cast<const T*>(p[1] + i * s[1]));
    }
  };
  LoopGeom<3> g = make_geom<3>(dst.shape, {&dst, &values, &idx});
  loop_range<3>(g, 0, dst.numel(), fn);
}
}  // namespace

void scatter_reduce_kernel(const Tensor& dst, const Tensor& values, const Tensor& idx, int64_t size, int64_t stride,
                           kernels::ScatterReduce reduce) {
  using kernels::ScatterReduce;
  if (dst.numel() == 0) return;
  GC_DISPATCH_ALL(dst.dtype, "scatter_reduce", [&] {
    switch (reduce) {
      case ScatterReduce::Sum: return scatter_reduce_typed<scalar_t, ScatterReduce::Sum>(dst, values, idx, size, stride);
      case ScatterReduce::Prod: return scatter_reduce_typed<scalar_t, ScatterReduce::Prod>(dst, values, idx, size, stride);
      case ScatterReduce::Amax: return scatter_reduce_typed<scalar_t, ScatterReduce::Amax>(dst, values, idx, size, stride);
      case ScatterReduce::Amin: return scatter_reduce_typed<scalar_t, ScatterReduce::Amin>(dst, values, idx, size, stride);
    }
  });
}

void masked_fill_kernel(const Tensor& out, const Tensor& mask, Scalar value) {
  GC_DISPATCH_ALL(out.dtype, "masked_fill", [&] {
    const scalar_t v = scalar_as<scalar_t>(value);
    for_each<2>(out.shape, {&out, &mask}, [v](char* const* p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        if (*reinterpret_cast<const bool*>(p[1] + i * s[1])) *reinterpret_cast<scalar_t*>(p[0] + i * s[0]) = v;
    });
  });
}

int64_t nonzero_count(const Tensor& x) {
  return GC_DISPATCH_ALL(x.dtype, "nonzero", [&] {
    const scalar_t* p = x.data_as<scalar_t>();
    int64_t n = x.numel(), count = 0;
    for (int64_t i = 0; i < n; ++i) count += p[i] != scalar_t(0);
    return count;
  });
}

void nonzero_kernel(const Tensor& out, const Tensor& x) {
  // Row by row over the last dim: a branch-free compaction of the row's non-zero columns (a
  // store per element, the cursor advancing only on non-zeros), then one output row per hit
  // with the outer coordinates carried as an odometer.
  const int64_t nd = x.dim();
  if (nd == 0 || x.numel() == 0) return;  // 0-dim: the [count, 0] result holds no numbers
  const int64_t inner = x.shape[nd - 1], outer = x.numel() / inner;
  int64_t* o = out.data_as<int64_t>();
  std::vector<int64_t> cols(static_cast<size_t>(inner));
  DimVector coord(nd - 1, 0);
  GC_DISPATCH_ALL(x.dtype, "nonzero", [&] {
    const scalar_t* p = x.data_as<scalar_t>();
    int64_t* c = cols.data();
    for (int64_t r = 0; r < outer; ++r, p += inner) {
      int64_t k = 0;
      for (int64_t j = 0; j < inner; ++j) {
        c[k] = j;
        k += p[j] != scalar_t(0);
      }
      for (int64_t q = 0; q < k; ++q) {
        for (int64_t d = 0; d < nd - 1; ++d) *o++ = coord[d];
        *o++ = c[q];
      }
      for (int64_t d = nd - 2; d >= 0; --d) {
        if (++coord[d] < x.shape[d]) break;
        coord[d] = 0;
      }
    }
  });
}

}  // namespace gc::cpu
