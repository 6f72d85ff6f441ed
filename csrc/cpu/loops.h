// The elementwise engine of the CPU backend. N operands (output first) are walked over one
// broadcast shape with per-operand byte strides (0 on broadcast dims). Dims that are contiguous
// for every operand are merged first, so most calls become a single flat inner loop that the
// compiler vectorises; the work is split across OpenMP threads by linear index when large.
#pragma once
#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include "core/half.h"
#include "core/tensor.h"
#include "cpu/isa.h"
#include "kernels/geom.h"
#ifdef GRADCORE_OPENMP
#include <omp.h>
#endif

#define GC_ALWAYS_INLINE_LOOP inline __attribute__((always_inline))

namespace gc::cpu {

using kernels::LoopGeom;
using kernels::make_geom;

constexpr int64_t kParallelGrain = 32768;  // elements below which threads cost more than they save

// fn(char* const* ptrs, const int64_t* inner_strides, int64_t n) over [begin, end) of the
// linear index space.
template <size_t N, typename F>
void loop_range(const LoopGeom<N>& g, int64_t begin, int64_t end, F& fn) {
  std::array<char*, N> p = g.base;
  if (g.ndim == 0) {
    std::array<int64_t, N> zero{};
    if (begin < end) fn(p.data(), zero.data(), int64_t(1));
    return;
  }
  const int64_t nd = g.ndim, last = nd - 1;
  DimVector idx(nd);
  int64_t rem = begin;
  for (int64_t d = last; d >= 0; --d) {
    idx[d] = rem % g.shape[d];
    rem /= g.shape[d];
    for (size_t k = 0; k < N; ++k) p[k] += idx[d] * g.strides[k][d];
  }
  std::array<int64_t, N> inner;
  for (size_t k = 0; k < N; ++k) inner[k] = g.strides[k][last];
  int64_t i = begin;
  while (i < end) {
    int64_t n = std::min(g.shape[last] - idx[last], end - i);
    fn(p.data(), inner.data(), n);
    i += n;
    idx[last] += n;
    for (size_t k = 0; k < N; ++k) p[k] += n * inner[k];
    if (idx[last] < g.shape[last]) continue;
    for (int64_t d = last; d >= 0; --d) {
      if (idx[d] < g.shape[d]) break;
      for (size_t k = 0; k < N; ++k) p[k] -= idx[d] * g.strides[k][d];
      idx[d] = 0;
      if (d > 0) {
        idx[d - 1]++;
        for (size_t k = 0; k < N; ++k) p[k] += g.strides[k][d - 1];
      }
    }
  }
}

// f(p) for p in [0, n) independent pieces (image planes), in parallel when `work` (elements
// touched in all) pays for the threads. Each p runs whole on one thread, in order.
template <typename F>
void for_planes(int64_t n, int64_t work, const F& f) {
#ifdef GRADCORE_OPENMP
  const int nt = static_cast<int>(std::min<int64_t>(get_num_threads(), n));
  if (nt > 1 && work >= 2 * kParallelGrain) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t p = 0; p < n; ++p) f(p);
    return;
  }
#endif
  for (int64_t p = 0; p < n; ++p) f(p);
}

// The common case without the walk: every operand either contiguous at `shape` (stride one
// element) or a single element (stride 0: a scalar, a 0-dim tensor). Fills base pointers and
// byte strides and returns true when so.
template <size_t N>
bool flat_operands(const DimVector& shape, const std::array<const Tensor*, N>& ts, std::array<char*, N>& p,
                   std::array<int64_t, N>& s) {
  for (size_t k = 0; k < N; ++k) {
    const Tensor& t = *ts[k];
    if (t.numel() == 1)  // one element: stride 0 serves whether it broadcasts or not
      s[k] = 0;
    else if (t.shape == shape && t.is_contiguous())
      s[k] = static_cast<int64_t>(t.itemsize());
    else
      return false;
    p[k] = t.data();
  }
  return true;
}

// Splits [0, numel) across threads (when large) and runs loop_range on each part.
template <size_t N, typename F>
void for_each(const DimVector& shape, const std::array<const Tensor*, N>& ts, F fn) {
  int64_t numel = 1;
  for (auto s : shape) numel *= s;
  if (numel == 0) return;
  std::array<char*, N> p;
  std::array<int64_t, N> s;
  if (numel < kParallelGrain && flat_operands<N>(shape, ts, p, s)) {
    fn(p.data(), s.data(), numel);  // one flat inner loop, no geometry to build
    return;
  }
  LoopGeom<N> g = make_geom<N>(shape, ts);
#ifdef GRADCORE_OPENMP
  int nt = get_num_threads();
  if (nt > 1 && numel >= kParallelGrain) {
    nt = static_cast<int>(std::min<int64_t>(nt, numel / (kParallelGrain / 4)));
#pragma omp parallel num_threads(nt)
    {
      int t = omp_get_thread_num(), T = omp_get_num_threads();
      int64_t chunk = (numel + T - 1) / T;
      int64_t b = std::min(numel, chunk * t), e = std::min(numel, b + chunk);
      F local = fn;
      loop_range<N>(g, b, e, local);
    }
    return;
  }
#endif
  loop_range<N>(g, 0, numel, fn);
}

// for (i < n) body(i), compiled for the widest vectors the CPU has: AVX-512 (F, BW), AVX2, or
// the baseline's SSE2. The body is inlined into each copy and vectorised at that copy's width. No
// copy enables FMA, so every element rounds exactly as in the baseline loop; only the speed
// changes. For the loops whose baseline code is slow: 16-bit conversions, whose narrowing and
// unsigned compares SSE2 lacks (a float -> bfloat16 cast runs 3x faster with AVX-512).
// kDisjoint: the caller promises that body(i) writes no memory that another i reads or writes
// (#pragma GCC ivdep). Without it the compiler proves that at run time, pointer pair by pointer
// pair, and gives up past 10 pairs: a fused kernel reading and writing a dozen rows (the LSTM
// gates) would stay scalar.
template <bool kDisjoint = false, typename F>
GC_ALWAYS_INLINE_LOOP void index_loop(const F& body, int64_t n) {
  const F local = body;  // a local copy: its captures become registers, not loads through the closure
  if constexpr (kDisjoint) {
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) local(i);
  } else {
    for (int64_t i = 0; i < n; ++i) local(i);
  }
}
#if defined(__x86_64__) && defined(__GNUC__)
// `flatten` inlines the whole body, however deep: in a unit that instantiates many kernels GCC's
// inlining budget runs out, and a formula left as a call (GELU's erf form was) runs scalar.
template <bool kDisjoint = false, typename F>
__attribute__((target("avx2"), flatten)) void index_loop_avx2(const F& body, int64_t n) {
  index_loop<kDisjoint>(body, n);
}
template <bool kDisjoint = false, typename F>
__attribute__((target("avx512f,avx512bw"), flatten)) void index_loop_avx512(const F& body, int64_t n) {
  index_loop<kDisjoint>(body, n);
}
// The baseline copy out of line like the others: inlined into its caller, a large body (the LSTM
// gates) was left scalar by GCC.
template <bool kDisjoint = false, typename F>
__attribute__((noinline, flatten)) void index_loop_baseline(const F& body, int64_t n) {
  index_loop<kDisjoint>(body, n);
}
template <bool kDisjoint = false, typename F>
void index_loop_widest(const F& body, int64_t n) {
  static const Isa isa = cpu_isa();
  if (isa >= Isa::avx512) index_loop_avx512<kDisjoint>(body, n);
  else if (isa >= Isa::avx2) index_loop_avx2<kDisjoint>(body, n);
  else index_loop_baseline<kDisjoint>(body, n);
}
#else
template <bool kDisjoint = false, typename F>
void index_loop_widest(const F& body, int64_t n) {
  index_loop<kDisjoint>(body, n);
}
#endif

// f() compiled for the widest vectors the CPU has, as index_loop_widest compiles a loop body:
// for a fold whose vector lanes are written out in f (the reductions' unit-stride runs).
#if defined(__x86_64__) && defined(__GNUC__)
template <typename F>
__attribute__((target("avx2"), flatten)) auto call_avx2(const F& f) {
  return f();
}
template <typename F>
__attribute__((target("avx512f,avx512bw"), flatten)) auto call_avx512(const F& f) {
  return f();
}
template <typename F>
__attribute__((noinline, flatten)) auto call_baseline(const F& f) {
  return f();
}
template <typename F>
auto call_widest(const F& f) {
  static const Isa isa = cpu_isa();
  if (isa >= Isa::avx512) return call_avx512(f);
  if (isa >= Isa::avx2) return call_avx2(f);
  return call_baseline(f);
}
#else
template <typename F>
auto call_widest(const F& f) {
  return f();
}
#endif

// The element types whose contiguous elementwise loops run through index_loop_widest: the 16-bit
// floats (their conversions need it) and float32 (its exp/log/tanh/erf are call-free on the host,
// kernels/fast_math.h, so GELU, tanh and sigmoid vectorise 16 lanes wide).
template <typename T>
inline constexpr bool widest_loop_v = is_half_v<T> || std::is_same_v<T, float>;

// 16-bit floats in the elementwise kernels, as PyTorch computes them ("opmath"): each value is
// read as float, the functor's float instance computes, and a float result is rounded once as it
// is stored (a bool result, from a comparison, is stored as it is). body(S{}) with S the storage
// type of dtype (BFloat16 or Half).
template <typename Body>
void dispatch_half(DType dtype, Body&& body) {
  if (dtype == DType::BFloat16) body(BFloat16{});
  else body(Half{});
}

// F called on float values of any storage type: F's float instance, for the 16-bit loops.
template <typename F>
struct Opmath {
  F f;
  template <typename... S>
  GC_ALWAYS_INLINE_LOOP auto operator()(S... v) const {
    return f(static_cast<float>(v)...);
  }
};

// A 16-bit op's storage type for a result R of the float instance: S for float, R otherwise (bool).
template <typename R, typename S>
using Store16 = std::conditional_t<std::is_same_v<R, float>, S, R>;

// Kernels whose 16-bit path is their float32 body run with float opmath: body(T{}, S{}) with T the
// compute type and S the storage type, T = S = scalar_t for float32 and float64, T = float with
// S = BFloat16 or Half for the 16-bit floats. Other dtypes fail as GC_DISPATCH_FLOAT fails.
template <typename Body>
decltype(auto) dispatch_float_opmath(DType dtype, const char* opname, Body&& body) {
  if (dtype == DType::BFloat16) return body(float{}, BFloat16{});
  if (dtype == DType::Float16) return body(float{}, Half{});
  return GC_DISPATCH_FLOAT(dtype, opname, [&] { return body(scalar_t{}, scalar_t{}); });
}

// dst[i] = src[i * stride] as float (exact), for i < n: a 16-bit run widened into float scratch.
template <typename S>
void widen_run(float* dst, const S* src, int64_t n, int64_t stride = 1) {
  if (stride == 1) index_loop_widest([=](int64_t i) { dst[i] = static_cast<float>(src[i]); }, n);
  else for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i * stride]);
}

// dst[i * stride] = src[i] rounded once to S, for i < n.
template <typename S>
void narrow_run(S* dst, const float* src, int64_t n, int64_t stride = 1) {
  if (stride == 1) index_loop_widest([=](int64_t i) { dst[i] = S(src[i]); }, n);
  else for (int64_t i = 0; i < n; ++i) dst[i * stride] = S(src[i]);
}

// out[i] = op(in[i]) with out and in of possibly different scalar types.
template <typename out_t, typename in_t, typename Op>
void unary_loop(const Tensor& out, const Tensor& in, Op op) {
  for_each<2>(out.shape, {&out, &in}, [op](char* const* p, const int64_t* s, int64_t n) {
    auto* o = reinterpret_cast<out_t*>(p[0]);
    auto* a = reinterpret_cast<const in_t*>(p[1]);
    if (s[0] == sizeof(out_t) && s[1] == sizeof(in_t)) {
      if constexpr (widest_loop_v<out_t> || widest_loop_v<in_t>) index_loop_widest([&](int64_t i) { o[i] = op(a[i]); }, n);
      else for (int64_t i = 0; i < n; ++i) o[i] = op(a[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<out_t*>(p[0] + i * s[0]) = op(*reinterpret_cast<const in_t*>(p[1] + i * s[1]));
    }
  });
}

// out[i] = op(a[i], b[i]); a and b broadcast to out's shape.
template <typename out_t, typename a_t, typename b_t, typename Op>
void binary_loop(const Tensor& out, const Tensor& a, const Tensor& b, Op op) {
  for_each<3>(out.shape, {&out, &a, &b}, [op](char* const* p, const int64_t* s, int64_t n) {
    auto* o = reinterpret_cast<out_t*>(p[0]);
    auto* x = reinterpret_cast<const a_t*>(p[1]);
    auto* y = reinterpret_cast<const b_t*>(p[2]);
    constexpr bool wide = widest_loop_v<a_t>;
    if (s[0] == sizeof(out_t) && s[1] == sizeof(a_t) && s[2] == sizeof(b_t)) {
      if constexpr (wide) index_loop_widest([&](int64_t i) { o[i] = op(x[i], y[i]); }, n);
      else for (int64_t i = 0; i < n; ++i) o[i] = op(x[i], y[i]);
    } else if (s[0] == sizeof(out_t) && s[1] == sizeof(a_t) && s[2] == 0) {
      const b_t yv = *y;
      if constexpr (wide) index_loop_widest([&](int64_t i) { o[i] = op(x[i], yv); }, n);
      else for (int64_t i = 0; i < n; ++i) o[i] = op(x[i], yv);
    } else if (s[0] == sizeof(out_t) && s[1] == 0 && s[2] == sizeof(b_t)) {
      const a_t xv = *x;
      if constexpr (wide) index_loop_widest([&](int64_t i) { o[i] = op(xv, y[i]); }, n);
      else for (int64_t i = 0; i < n; ++i) o[i] = op(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<out_t*>(p[0] + i * s[0]) = op(*reinterpret_cast<const a_t*>(p[1] + i * s[1]),
                                                        *reinterpret_cast<const b_t*>(p[2] + i * s[2]));
    }
  });
}

// out[i] = op(a[i], b[i], c[i]).
template <typename out_t, typename a_t, typename b_t, typename c_t, typename Op>
void ternary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, Op op) {
  for_each<4>(out.shape, {&out, &a, &b, &c}, [op](char* const* p, const int64_t* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<out_t*>(p[0] + i * s[0]) =
          op(*reinterpret_cast<const a_t*>(p[1] + i * s[1]), *reinterpret_cast<const b_t*>(p[2] + i * s[2]),
             *reinterpret_cast<const c_t*>(p[3] + i * s[3]));
  });
}

// out[i] = op(a[i], b[i], c[i], d[i]) for operands of one type T (the fused binary backward).
template <typename T, typename Op>
void quaternary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& d, Op op) {
  for_each<5>(out.shape, {&out, &a, &b, &c, &d}, [op](char* const* p, const int64_t* s, int64_t n) {
    constexpr int64_t z = sizeof(T);
    if (s[0] == z && s[1] == z && s[2] == z && s[3] == z && s[4] == z) {
      auto* o = reinterpret_cast<T*>(p[0]);
      const T *x = reinterpret_cast<const T*>(p[1]), *y = reinterpret_cast<const T*>(p[2]),
              *u = reinterpret_cast<const T*>(p[3]), *v = reinterpret_cast<const T*>(p[4]);
      if constexpr (widest_loop_v<T>) index_loop_widest([&](int64_t i) { o[i] = op(x[i], y[i], u[i], v[i]); }, n);
      else for (int64_t i = 0; i < n; ++i) o[i] = op(x[i], y[i], u[i], v[i]);
      return;
    }
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<T*>(p[0] + i * s[0]) =
          op(*reinterpret_cast<const T*>(p[1] + i * s[1]), *reinterpret_cast<const T*>(p[2] + i * s[2]),
             *reinterpret_cast<const T*>(p[3] + i * s[3]), *reinterpret_cast<const T*>(p[4] + i * s[4]));
  });
}

}  // namespace gc::cpu
