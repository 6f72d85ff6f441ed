#include "cpu/reduce.h"
#include <cmath>
#include <limits>

namespace gc::cpu {

namespace {
template <typename O, typename A>
O scaled_sum(A s, double scale) {
  if constexpr (std::is_same_v<O, bool>) return s != 0;
  else if (scale == 1.0) return static_cast<O>(s);
  else return static_cast<O>(static_cast<double>(s) * scale);
}
}  // namespace

// Reads and writes 16-bit floats itself (GC_DISPATCH_FLOAT16): they accumulate in double, as
// float32 does, and the result is rounded once as it is stored.
void sum_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double scale) {
  GC_DISPATCH_FLOAT16(x.dtype, "sum", [&] {
    using T = scalar_t;
    constexpr bool floating = std::is_floating_point_v<T> || is_half_v<T>;
    using A = std::conditional_t<floating, double, int64_t>;
    GC_DISPATCH_FLOAT16(out.dtype, "sum", [&] {
      using O = scalar_t;
      O* o = out.data_as<O>();
      reduce_loop<T>(x, p, SumAcc<A>{}, [&](int64_t m, const SumAcc<A>& acc) {
        o[m] = scaled_sum<O>(acc.s, scale);
      });
    });
  });
}

namespace {

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// Integer products wrap around on overflow (as PyTorch's do) instead of being undefined.
template <typename A>
struct ProdAcc {
  A s = 1;
  template <typename V>
  void add(V v, int64_t) {
    if constexpr (std::is_floating_point_v<A>) s *= static_cast<A>(v);
    else s = static_cast<A>(static_cast<uint64_t>(s) * static_cast<uint64_t>(static_cast<A>(v)));
  }
  void merge(const ProdAcc& o) { add(o.s, 0); }
};

// Running max (min), branch-free so the lanes vectorise: v starts at the identity (-inf, or
// the lowest integer) and a NaN is remembered in a flag (it would lose every comparison).
template <typename T, bool IsMax>
struct MinMaxAcc {
  T v = IsMax ? lowest() : highest();
  bool nan = false;
  static constexpr T lowest() {
    if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::lowest();
  }
  static constexpr T highest() {
    if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::max();
  }
  void add(T x, int64_t) {
    v = (IsMax ? x > v : x < v) ? x : v;
    if constexpr (std::is_floating_point_v<T>) nan |= x != x;
  }
  void merge(const MinMaxAcc& o) {
    add(o.v, 0);
    nan |= o.nan;
  }
  template <typename Q>
  bool add_run(const Q* q, int64_t n, int64_t) {
    if constexpr (std::is_same_v<Q, T> && run_float_v<T>) {
      if (!run_vectorised<T>(n)) return false;
      bool seen = nan;
      v = call_widest([&] { return lanes_extreme<IsMax>(q, n, v, [](T x) { return x; }, &seen); });
      nan = seen;
      return true;
    }
    return false;
  }
  T value() const {
    if constexpr (std::is_floating_point_v<T>) return nan ? std::numeric_limits<T>::quiet_NaN() : v;
    else return v;
  }
};

// Running arg-max (min): the best value wins, a NaN beats any number, and among equals (NaNs
// included) the smaller index wins, which makes merging partial folds order-independent and
// gives PyTorch's first index among ties.
template <typename T, bool IsMax>
struct ArgAcc {
  T v{};
  int64_t i = -1;
  void add(T x, int64_t k) {
    if (i < 0 || better(x, k)) {
      v = x;
      i = k;
    }
  }
  bool better(T x, int64_t k) const {
    bool xn = is_nan(x), vn = is_nan(v);
    if (xn || vn) return xn && (!vn || k < i);
    if (x == v) return k < i;
    return IsMax ? x > v : x < v;
  }
  void merge(const ArgAcc& o) {
    if (o.i >= 0) add(o.v, o.i);
  }
  // A float run: its extreme (vector lanes), then the first index holding it (or the first NaN).
  template <typename Q>
  bool add_run(const Q* q, int64_t n, int64_t k) {
    if constexpr (std::is_same_v<Q, T> && run_float_v<T>) {
      if (!run_vectorised<T>(n)) return false;
      bool nan = false;
      const T start = IsMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
      const T best = call_widest([&] { return lanes_extreme<IsMax>(q, n, start, [](T x) { return x; }, &nan); });
      const int64_t at = call_widest([&] { return lanes_find(q, n, best, nan); });
      if (at >= n) return false;  // not reached (best is one of the values); never read past the run
      add(q[at], k + at);
      return true;
    }
    return false;
  }
};

// Vector norms: Kind 0 counts non-zeros, 1 sums |x|, 2 sums x^2, 3 is max|x|, 4 min|x|, 5 sums
// |x|^p. The root (sqrt, ^(1/p)) is taken once at the end; NaN is flagged as in MinMaxAcc.
template <int Kind>
struct NormAcc {
  double s = Kind == 4 ? std::numeric_limits<double>::infinity() : 0.0;
  double p = 0;
  bool nan = false;
  template <typename V>
  void add(V v, int64_t) {
    double a = std::abs(static_cast<double>(v));
    if constexpr (Kind == 0) s += a != 0;
    else if constexpr (Kind == 1) s += a;
    else if constexpr (Kind == 2) s += a * a;
    else if constexpr (Kind == 3) { s = a > s ? a : s; nan |= a != a; }
    else if constexpr (Kind == 4) { s = a < s ? a : s; nan |= a != a; }
    else s += std::pow(a, p);
  }
  // Kinds 1, 2 (sums of |x|, x^2) and 3 (max |x|) of float32 / float64 runs, vectorised.
  template <typename Q>
  bool add_run(const Q* q, int64_t n, int64_t) {
    if constexpr (run_float_v<Q> && (Kind == 1 || Kind == 2 || Kind == 3)) {
      if (!run_vectorised<Q>(n)) return false;
      if constexpr (Kind == 3) {
        bool seen = nan;
        const double m = call_widest([&] {
          return lanes_extreme<true>(q, n, Q(0), [](Q x) { return x < Q(0) ? -x : x; }, &seen);
        });
        s = m > s ? m : s;
        nan = seen;
      } else {
        s += call_widest([=] {
          return lanes_sum(q, n, [](Q v) {
            if constexpr (Kind == 1) return v < Q(0) ? -v : v;
            else return v * v;
          });
        });
      }
      return true;
    }
    return false;
  }
  void merge(const NormAcc& o) {
    if constexpr (Kind == 3 || Kind == 4) {
      add(o.s, 0);
      nan |= o.nan;
    } else {
      s += o.s;
    }
  }
  double value() const { return nan ? std::numeric_limits<double>::quiet_NaN() : s; }
};

template <bool IsAll>
struct AnyAllAcc {
  bool r = IsAll;
  template <typename V>
  void add(V v, int64_t) {
    if constexpr (IsAll) r = r && v != V(0);
    else r = r || v != V(0);
  }
  void merge(const AnyAllAcc& o) { add(o.r, 0); }
};

// 16-bit inputs fold as the float32 kernels fold their widened values: the loops read storage S
// (reduce_loop<S>), every value becomes float as it meets the accumulator (whose type is the
// float32 kernel's), and each 16-bit result is the float32 result rounded once.

}  // namespace

void var_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double correction, bool take_sqrt) {
  dispatch_float_opmath(x.dtype, "var", [&](auto t, auto s) {
    using T = decltype(t);
    using S = decltype(s);
    S* o = out.data_as<S>();
    reduce_loop<S>(x, p, WelfordAcc{}, [&](int64_t m, const WelfordAcc& a) {
      // PyTorch divides by max(0, N - correction): 0/0 gives NaN, M2/0 gives inf.
      double v = a.m2 / std::max(0.0, static_cast<double>(a.n) - correction);
      o[m] = static_cast<S>(static_cast<T>(take_sqrt ? std::sqrt(v) : v));
    });
  });
}

void prod_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p) {
  if (is_half(x.dtype)) {
    return dispatch_half(x.dtype, [&](auto s) {
      using S = decltype(s);
      S* o = out.data_as<S>();
      reduce_loop<S>(x, p, ProdAcc<double>{}, [&](int64_t m, const ProdAcc<double>& a) {
        o[m] = static_cast<S>(static_cast<float>(a.s));
      });
    });
  }
  GC_DISPATCH_ALL(x.dtype, "prod", [&] {
    using T = scalar_t;
    using A = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    using O = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;
    O* o = out.data_as<O>();
    reduce_loop<T>(x, p, ProdAcc<A>{}, [&](int64_t m, const ProdAcc<A>& a) { o[m] = static_cast<O>(a.s); });
  });
}

void minmax_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_max) {
  if (is_half(x.dtype)) {
    return dispatch_half(x.dtype, [&](auto s) {
      using S = decltype(s);
      S* o = out.data_as<S>();
      auto run = [&](auto init) {
        reduce_loop<S>(x, p, init, [&](int64_t m, const decltype(init)& a) { o[m] = static_cast<S>(a.value()); });
      };
      if (is_max) run(MinMaxAcc<float, true>{});
      else run(MinMaxAcc<float, false>{});
    });
  }
  GC_DISPATCH_ALL(x.dtype, is_max ? "amax" : "amin", [&] {
    using T = scalar_t;
    T* o = out.data_as<T>();
    auto run = [&](auto init) {
      reduce_loop<T>(x, p, init, [&](int64_t m, const decltype(init)& a) { o[m] = a.value(); });
    };
    if (is_max) run(MinMaxAcc<T, true>{});
    else run(MinMaxAcc<T, false>{});
  });
}

void arg_minmax_kernel(const Tensor* values, const Tensor& indices, const Tensor& x, const ReducePlan& p, bool is_max) {
  if (is_half(x.dtype)) {
    return dispatch_half(x.dtype, [&](auto s) {
      using S = decltype(s);
      S* vo = values ? values->data_as<S>() : nullptr;
      int64_t* io = indices.data_as<int64_t>();
      auto run = [&](auto init) {
        reduce_loop<S>(x, p, init, [&](int64_t m, const decltype(init)& a) {
          io[m] = a.i;
          if (vo) vo[m] = static_cast<S>(a.v);
        });
      };
      if (is_max) run(ArgAcc<float, true>{});
      else run(ArgAcc<float, false>{});
    });
  }
  GC_DISPATCH_ALL(x.dtype, is_max ? "argmax" : "argmin", [&] {
    using T = scalar_t;
    T* vo = values ? values->data_as<T>() : nullptr;
    int64_t* io = indices.data_as<int64_t>();
    auto run = [&](auto init) {
      reduce_loop<T>(x, p, init, [&](int64_t m, const decltype(init)& a) {
        io[m] = a.i;
        if (vo) vo[m] = a.v;
      });
    };
    if (is_max) run(ArgAcc<T, true>{});
    else run(ArgAcc<T, false>{});
  });
}

void norm_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double ord) {
  dispatch_float_opmath(x.dtype, "norm", [&](auto t, auto s) {
    using T = decltype(t);
    using S = decltype(s);
    S* o = out.data_as<S>();
    auto run = [&](auto init, auto root) {
      init.p = ord;
      reduce_loop<S>(x, p, init, [&](int64_t m, const decltype(init)& a) {
        o[m] = static_cast<S>(static_cast<T>(root(a.value())));
      });
    };
    auto same = [](double s) { return s; };
    if (ord == 0) run(NormAcc<0>{}, same);
    else if (ord == 1) run(NormAcc<1>{}, same);
    else if (ord == 2) run(NormAcc<2>{}, [](double s) { return std::sqrt(s); });
    else if (std::isinf(ord)) (ord > 0) ? run(NormAcc<3>{}, same) : run(NormAcc<4>{}, same);
    else run(NormAcc<5>{}, [ord](double s) { return std::pow(s, 1.0 / ord); });
  });
}

void any_all_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_all) {
  GC_DISPATCH_FLOAT16(x.dtype, is_all ? "all" : "any", [&] {
    using T = scalar_t;
    bool* o = out.data_as<bool>();
    if (is_all) reduce_loop<T>(x, p, AnyAllAcc<true>{}, [&](int64_t m, const AnyAllAcc<true>& a) { o[m] = a.r; });
    else reduce_loop<T>(x, p, AnyAllAcc<false>{}, [&](int64_t m, const AnyAllAcc<false>& a) { o[m] = a.r; });
  });
}

void prod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const ReducePlan& p) {
  dispatch_float_opmath(x.dtype, "prod backward", [&](auto t, auto s) {
    using T = decltype(t);
    using S = decltype(s);
    const S* xs = x.data_as<S>();
    const S* gd = g.data_as<S>();
    S* out = gx.data_as<S>();
    auto xd = [xs](int64_t k) { return static_cast<T>(xs[k]); };
    // d prod / d x_k is the product of the others: prod / x_k without zeros; with one zero only
    // that element gets the product of the rest; with two or more every derivative is 0.
    for_each_output(p, [&](int64_t m, int64_t base) {
      int64_t zeros = 0;
      double rest = 1;
      for_reduced(p, base, 0, p.K, [&](int64_t off, int64_t) {
        if (xd(off) == T(0)) ++zeros;
        else rest *= static_cast<double>(xd(off));
      });
      double gm = static_cast<double>(static_cast<T>(gd[m]));
      for_reduced(p, base, 0, p.K, [&](int64_t off, int64_t) {
        double v = 0;
        if (zeros == 0) v = gm * rest / static_cast<double>(xd(off));
        else if (zeros == 1 && xd(off) == T(0)) v = gm * rest;
        out[off] = static_cast<S>(static_cast<T>(v));
      });
    });
  });
}

// 16-bit gradients are copied as they are (a copy rounds nothing).
void index_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& indices, const ReducePlan& p) {
  dispatch_float_opmath(gx.dtype, "max/min backward", [&](auto, auto s) {
    using T = decltype(s);
    const T* gd = g.data_as<T>();
    const int64_t* id = indices.data_as<int64_t>();
    T* out = gx.data_as<T>();
    for_each_output(p, [&](int64_t m, int64_t base) {
      int64_t k = id[m];
      if (k < 0 || k >= p.K) return;  // indices come from the forward; never write out of range
      for_reduced(p, base, k, k + 1, [&](int64_t off, int64_t) { out[off] = gd[m]; });
    });
  });
}

}  // namespace gc::cpu
