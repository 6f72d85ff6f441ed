// Reductions on CUDA, the twins of csrc/cpu/reduce.cpp: sum/mean, var/std, prod, amax/amin,
// arg-max/min (with values), vector norms, any/all, and the backward kernels of prod and of
// max/min along a dim. Same accumulators as the CPU: double for floats, int64 (wrapping) for
// integer and bool sums and products, Welford for var, NaN flags for max/min, first index among
// ties (and the first NaN) for arg-max/min. Output m is element m of a contiguous `out`.
//
// The trick: one generic kernel folds a ReducePlan with a 2-D block. threadIdx.x walks bx
// consecutive outputs, threadIdx.y splits each output's K elements (stride by), and the by
// partial accumulators of an output are merged by a tree in shared memory. The host picks
// (bx, by) from the layout: when the innermost kept dim is the unit-stride one (sum over the
// batch of [N, C]), neighbouring threads take neighbouring outputs; otherwise they take
// neighbouring elements of one output (by up to the whole block, i.e. one block per output,
// or one thread per output when K is tiny). When there are too few output blocks to fill the GPU
// and K is large, K is also split across blockIdx.y: each slice stores its partial accumulator
// in a scratch buffer, and a second launch of the same kernel merges the partials per output.
// Merges are deterministic (fixed tree, fixed order), and the arg accumulators break ties by
// index, so the result does not depend on the split.
#include "cuda/reduce.h"
#include <cuda_runtime.h>
#include <cmath>
#include <limits>
#include <type_traits>
#include "cuda/loops.cuh"
#include "cuda/runtime.h"

namespace gc::cuda {

namespace {

// ---- the plan on the device ----

struct DevPlan {
  int nk = 0, nr = 0;  // kept dims, reduced dims
  int64_t M = 1, K = 1;
  int64_t kshape[kMaxDims], kstride[kMaxDims];  // element strides of x
  int64_t rshape[kMaxDims], rstride[kMaxDims];

  // Offset of output m's first reduced element (kernels::kept_offset).
  __device__ __forceinline__ int64_t kept_off(int64_t m) const {
    if (nk == 1) return m * kstride[0];
    int64_t off = 0;
    for (int d = nk - 1; d >= 0; --d) {
      off += (m % kshape[d]) * kstride[d];
      m /= kshape[d];
    }
    return off;
  }
  // Offset of reduced element k (row-major over the reduced dims) from its output's base.
  __device__ __forceinline__ int64_t red_off(int64_t k) const {
    if (nr == 1) return k * rstride[0];
    int64_t off = 0;
    for (int d = nr - 1; d >= 0; --d) {
      off += (k % rshape[d]) * rstride[d];
      k /= rshape[d];
    }
    return off;
  }
};

// The CPU plan by value. Kept dims are merged where contiguous (as make_reduce_plan merges the
// reduced ones), which keeps the row-major order of m and saves divisions.
DevPlan device_plan(const ReducePlan& p, const char* op) {
  DevPlan d;
  d.M = p.M;
  d.K = p.K;
  for (size_t i = 0; i < p.kept_shape.size(); ++i) {
    const int64_t s = p.kept_shape[i], st = p.kept_strides[i];
    if (d.nk > 0 && d.kstride[d.nk - 1] == st * s) {
      d.kshape[d.nk - 1] *= s;
      d.kstride[d.nk - 1] = st;
      continue;
    }
    if (d.nk == kMaxDims)
      fail(ErrorKind::Runtime, op, "CUDA reductions take at most ", kMaxDims,
           " non-contiguous kept dims. Hint: call .contiguous() first.");
    d.kshape[d.nk] = s;
    d.kstride[d.nk] = st;
    ++d.nk;
  }
  if (p.red_shape.size() > static_cast<size_t>(kMaxDims))
    fail(ErrorKind::Runtime, op, "CUDA reductions take at most ", kMaxDims, " non-contiguous reduced dims, got ",
         p.red_shape.size(), ". Hint: call .contiguous() first.");
  d.nr = static_cast<int>(p.red_shape.size());
  for (int i = 0; i < d.nr; ++i) {
    d.rshape[i] = p.red_shape[i];
    d.rstride[i] = p.red_strides[i];
  }
  return d;
}

template <typename T>
__device__ __forceinline__ T quiet_nan() {
  if constexpr (std::is_same_v<T, float>) return __int_as_float(0x7fc00000);
  else return __longlong_as_double(0x7ff8000000000000LL);
}

template <typename T>
__device__ __forceinline__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// ---- accumulators (the CPU's, on the device; initial values are set on the host) ----

template <typename A>
struct SumAcc {
  A s;
  template <typename V>
  __device__ void add(V v, int64_t) {
    if constexpr (std::is_floating_point_v<A>) s += static_cast<A>(v);
    else s = static_cast<A>(static_cast<uint64_t>(s) + static_cast<uint64_t>(static_cast<A>(v)));
  }
  __device__ void merge(const SumAcc& o) { add(o.s, 0); }
};

using kernels::WelfordAcc;  // shared with the CPU backend (kernels/reduce.h)

template <typename A>
struct ProdAcc {
  A s;
  template <typename V>
  __device__ void add(V v, int64_t) {
    if constexpr (std::is_floating_point_v<A>) s *= static_cast<A>(v);
    else s = static_cast<A>(static_cast<uint64_t>(s) * static_cast<uint64_t>(static_cast<A>(v)));
  }
  __device__ void merge(const ProdAcc& o) { add(o.s, 0); }
};

template <typename T, bool IsMax>
struct MinMaxAcc {
  T v;  // starts at -inf / the lowest value for max, +inf / the highest for min
  bool nan;
  __device__ void add(T x, int64_t) {
    v = (IsMax ? x > v : x < v) ? x : v;
    if constexpr (std::is_floating_point_v<T>) nan |= x != x;
  }
  __device__ void merge(const MinMaxAcc& o) {
    add(o.v, 0);
    nan |= o.nan;
  }
};

template <typename T, bool IsMax>
struct ArgAcc {
  T v;
  int64_t i;  // -1: nothing seen
  __device__ void add(T x, int64_t k) {
    if (i < 0 || better(x, k)) {
      v = x;
      i = k;
    }
  }
  __device__ bool better(T x, int64_t k) const {
    bool xn = is_nan(x), vn = is_nan(v);
    if (xn || vn) return xn && (!vn || k < i);
    if (x == v) return k < i;
    return IsMax ? x > v : x < v;
  }
  __device__ void merge(const ArgAcc& o) {
    if (o.i >= 0) add(o.v, o.i);
  }
};

// Kind 0 counts non-zeros, 1 sums |x|, 2 sums x^2, 3 max|x|, 4 min|x|, 5 sums |x|^p.
template <int Kind>
struct NormAcc {
  double s, p;
  bool nan;
  template <typename V>
  __device__ void add(V v, int64_t) {
    double a = ::fabs(static_cast<double>(v));
    if constexpr (Kind == 0) s += a != 0;
    else if constexpr (Kind == 1) s += a;
    else if constexpr (Kind == 2) s += a * a;
    else if constexpr (Kind == 3) { s = a > s ? a : s; nan |= a != a; }
    else if constexpr (Kind == 4) { s = a < s ? a : s; nan |= a != a; }
    else s += ::pow(a, p);
  }
  __device__ void merge(const NormAcc& o) {
    if constexpr (Kind == 3 || Kind == 4) {
      add(o.s, 0);
      nan |= o.nan;
    } else {
      s += o.s;
    }
  }
};

template <bool IsAll>
struct AnyAllAcc {
  bool r;
  template <typename V>
  __device__ void add(V v, int64_t) {
    if constexpr (IsAll) r = r && v != V(0);
    else r = r || v != V(0);
  }
  __device__ void merge(const AnyAllAcc& o) { add(o.r, 0); }
};

// prod backward: how many zeros, and the product of the other elements.
struct ZeroProdAcc {
  int64_t zeros;
  double rest;
  template <typename V>
  __device__ void add(V v, int64_t) {
    if (v == V(0)) ++zeros;
    else rest *= static_cast<double>(v);
  }
  __device__ void merge(const ZeroProdAcc& o) {
    zeros += o.zeros;
    rest *= o.rest;
  }
};

// ---- loaders (fold one element into an accumulator) and writers (store output m) ----

template <typename T>
struct ElemLoad {
  const T* x;
  template <typename Acc>
  __device__ __forceinline__ void operator()(Acc& a, int64_t off, int64_t k) const { a.add(x[off], k); }
};

template <typename Acc>
struct PartialLoad {
  const Acc* part;
  __device__ __forceinline__ void operator()(Acc& a, int64_t off, int64_t) const { a.merge(part[off]); }
};

// Slice blockIdx.y of output m's reduced elements goes to part[m * slices + slice].
template <typename Acc>
struct PartialWrite {
  Acc* part;
  __device__ __forceinline__ void operator()(int64_t m, const Acc& a) const {
    part[m * gridDim.y + blockIdx.y] = a;
  }
};

template <typename Acc>
struct StoreWrite {
  Acc* dst;
  __device__ __forceinline__ void operator()(int64_t m, const Acc& a) const { dst[m] = a; }
};

template <typename O, typename A>
struct SumWrite {
  O* o;
  double scale;
  __device__ void operator()(int64_t m, const SumAcc<A>& a) const {
    if constexpr (std::is_same_v<O, bool>) o[m] = a.s != 0;
    else if (scale == 1.0) o[m] = static_cast<O>(a.s);
    else o[m] = static_cast<O>(static_cast<double>(a.s) * scale);
  }
};

template <typename T>
struct VarWrite {
  T* o;
  double correction;
  bool take_sqrt;
  __device__ void operator()(int64_t m, const WelfordAcc& a) const {
    // PyTorch divides by max(0, N - correction): 0/0 gives NaN, M2/0 gives inf.
    const double d = static_cast<double>(a.n) - correction;
    const double v = a.m2 / (0.0 < d ? d : 0.0);
    o[m] = static_cast<T>(take_sqrt ? ::sqrt(v) : v);
  }
};

template <typename O, typename A>
struct ProdWrite {
  O* o;
  __device__ void operator()(int64_t m, const ProdAcc<A>& a) const { o[m] = static_cast<O>(a.s); }
};

template <typename T, bool IsMax>
struct MinMaxWrite {
  T* o;
  __device__ void operator()(int64_t m, const MinMaxAcc<T, IsMax>& a) const {
    if constexpr (std::is_floating_point_v<T>) o[m] = a.nan ? quiet_nan<T>() : a.v;
    else o[m] = a.v;
  }
};

template <typename T, bool IsMax>
struct ArgWrite {
  T* vo;  // may be null
  int64_t* io;
  __device__ void operator()(int64_t m, const ArgAcc<T, IsMax>& a) const {
    io[m] = a.i;
    if (vo) vo[m] = a.v;
  }
};

template <typename T, int Kind>
struct NormWrite {
  T* o;
  double ord;
  __device__ void operator()(int64_t m, const NormAcc<Kind>& a) const {
    double v = a.nan ? quiet_nan<double>() : a.s;
    if constexpr (Kind == 2) v = ::sqrt(v);
    else if constexpr (Kind == 5) v = ::pow(v, 1.0 / ord);
    o[m] = static_cast<T>(v);
  }
};

template <bool IsAll>
struct AnyAllWrite {
  bool* o;
  __device__ void operator()(int64_t m, const AnyAllAcc<IsAll>& a) const { o[m] = a.r; }
};

// ---- the generic fold ----

// Block (bx, by): thread (tx, ty) folds elements k0 + ty, k0 + ty + by, ... (< k1) of output
// mb + tx, where [k0, k1) is slice blockIdx.y (of kchunk elements); the by partials of each
// output are merged by a tree in shared memory (by a power of two) and thread ty == 0 writes.
// The loop over output groups is uniform across the block, so the barriers are too.
template <typename Acc, typename Load, typename Write>
__global__ void __launch_bounds__(kBlock) reduce_kernel(DevPlan p, Acc init, int64_t kchunk, Load ld, Write wr) {
  extern __shared__ __align__(16) unsigned char reduce_smem[];
  Acc* sh = reinterpret_cast<Acc*>(reduce_smem);
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t k0 = static_cast<int64_t>(blockIdx.y) * kchunk;
  const int64_t k1 = kchunk < p.K - k0 ? k0 + kchunk : p.K;
  for (int64_t mb = static_cast<int64_t>(blockIdx.x) * bx; mb < p.M; mb += static_cast<int64_t>(gridDim.x) * bx) {
    const int64_t m = mb + tx;
    Acc acc = init;
    if (m < p.M) {
      const int64_t base = p.kept_off(m);
      for (int64_t k = k0 + ty; k < k1; k += by) ld(acc, base + p.red_off(k), k);
    }
    if (by > 1) {
      Acc* mine = sh + ty * bx + tx;
      *mine = acc;
      __syncthreads();
      for (int s = by >> 1; s > 0; s >>= 1) {
        if (ty < s) {
          acc.merge(mine[s * bx]);
          *mine = acc;
        }
        __syncthreads();
      }
    }
    if (ty == 0 && m < p.M) wr(m, acc);
  }
}

constexpr int64_t kMaxGridX = 65535LL * 8;
constexpr int64_t kMinPerThread = 16;  // elements per thread below which K is not split further
constexpr int64_t kMaxSlices = 1024;

template <typename Acc, typename Load, typename Write>
void launch_fold(const DevPlan& p, const Acc& init, const Load& ld, const Write& wr, int bx, int by, int64_t slices,
                 int64_t kchunk, const char* op) {
  const int64_t mblocks = (p.M + bx - 1) / bx;
  const dim3 grid(static_cast<unsigned>(mblocks < kMaxGridX ? mblocks : kMaxGridX), static_cast<unsigned>(slices));
  const size_t smem = by > 1 ? sizeof(Acc) * static_cast<size_t>(bx) * static_cast<size_t>(by) : 0;
  reduce_kernel<Acc, Load, Write><<<grid, dim3(bx, by), smem>>>(p, init, kchunk, ld, wr);
  check_launch(op);
}

// Folds every output of `p` from `init` with `ld` and stores it with `wr`.
template <typename Acc, typename Load, typename Write>
void run_reduce(const DevPlan& p, const Acc& init, const Load& ld, const Write& wr, const char* op) {
  static_assert(std::is_trivially_copyable_v<Acc>, "accumulators live in shared and global memory");
  if (p.M == 0) return;
  const bool inner_kept = p.nk > 0 && p.kstride[p.nk - 1] == 1;
  const bool inner_red = p.nr > 0 && p.rstride[p.nr - 1] == 1;
  int bx, by;
  if (inner_kept && !inner_red) {  // neighbouring outputs are neighbours in memory
    bx = pow2_cap(p.M, 32);
    by = pow2_cap(p.K, kBlock / bx);
    bx = pow2_cap(p.M, kBlock / by);
  } else {  // neighbouring reduced elements are (or nothing is)
    by = pow2_cap(p.K, kBlock);
    bx = pow2_cap(p.M, kBlock / by);
  }
  const int64_t mblocks = (p.M + bx - 1) / bx, target = 8LL * sm_count();
  int64_t slices = 1;
  if (mblocks < target) {
    slices = (target + mblocks - 1) / mblocks;
    const int64_t by_work = p.K / (static_cast<int64_t>(by) * kMinPerThread);
    if (by_work < slices) slices = by_work;
    if (slices > kMaxSlices) slices = kMaxSlices;
    if (slices < 1) slices = 1;
  }
  if (slices == 1) return launch_fold(p, init, ld, wr, bx, by, 1, p.K, op);

  int64_t kchunk = (p.K + slices - 1) / slices;
  slices = (p.K + kchunk - 1) / kchunk;  // no empty slice
  DeviceBuffer buf(sizeof(Acc) * static_cast<size_t>(p.M) * static_cast<size_t>(slices));
  Acc* part = static_cast<Acc*>(buf.ptr);
  launch_fold(p, init, ld, PartialWrite<Acc>{part}, bx, by, slices, kchunk, op);
  // Merge the partials: M outputs of `slices` contiguous accumulators each.
  DevPlan q;
  q.M = p.M;
  q.K = slices;
  q.nk = q.nr = 1;
  q.kshape[0] = p.M;
  q.kstride[0] = slices;
  q.rshape[0] = slices;
  q.rstride[0] = 1;
  const int qby = pow2_cap(slices, kBlock), qbx = pow2_cap(p.M, kBlock / qby);
  launch_fold(q, init, PartialLoad<Acc>{part}, wr, qbx, qby, 1, slices, op);
}

// ---- backward kernels ----

// gx[off] = g[m] * d prod / d x[off] from the per-output zero count and product of the rest.
// Linear index i walks m fastest when neighbouring outputs are neighbours in memory.
template <typename T>
__global__ void prod_backward_apply(DevPlan p, const ZeroProdAcc* st, const T* g, const T* x, T* out, bool m_fast) {
  const int64_t n = p.M * p.K;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t m, k;
    if (m_fast) {
      k = i / p.M;
      m = i - k * p.M;
    } else {
      m = i / p.K;
      k = i - m * p.K;
    }
    const int64_t off = p.kept_off(m) + p.red_off(k);
    const ZeroProdAcc a = st[m];
    const double gm = static_cast<double>(g[m]);
    const T xv = x[off];
    double v = 0;
    if (a.zeros == 0) v = gm * a.rest / static_cast<double>(xv);
    else if (a.zeros == 1 && xv == T(0)) v = gm * a.rest;
    out[off] = static_cast<T>(v);
  }
}

template <typename T>
__global__ void index_backward_apply(DevPlan p, const T* g, const int64_t* idx, T* out) {
  for (int64_t m = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; m < p.M;
       m += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t k = idx[m];
    if (k < 0 || k >= p.K) continue;  // indices come from the forward; never write out of range
    out[p.kept_off(m) + p.red_off(k)] = g[m];
  }
}

template <typename T, int Kind>
void run_norm(const Tensor& out, const Tensor& x, const DevPlan& dp, double ord, double init_s) {
  NormAcc<Kind> init{init_s, ord, false};
  run_reduce(dp, init, ElemLoad<T>{x.data_as<T>()}, NormWrite<T, Kind>{out.data_as<T>(), ord}, "norm");
}

}  // namespace

void sum_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double scale) {
  const DevPlan dp = device_plan(p, "sum");
  GC_DISPATCH_ALL(x.dtype, "sum", [&] {
    using T = scalar_t;
    using A = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    GC_DISPATCH_ALL(out.dtype, "sum", [&] {
      using O = scalar_t;
      run_reduce(dp, SumAcc<A>{A(0)}, ElemLoad<T>{x.data_as<T>()}, SumWrite<O, A>{out.data_as<O>(), scale}, "sum");
    });
  });
}

void var_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double correction, bool take_sqrt) {
  const DevPlan dp = device_plan(p, "var");
  GC_DISPATCH_FLOAT(x.dtype, "var", [&] {
    using T = scalar_t;
    run_reduce(dp, WelfordAcc{0, 0.0, 0.0}, ElemLoad<T>{x.data_as<T>()},
               VarWrite<T>{out.data_as<T>(), correction, take_sqrt}, "var");
  });
}

void prod_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p) {
  const DevPlan dp = device_plan(p, "prod");
  GC_DISPATCH_ALL(x.dtype, "prod", [&] {
    using T = scalar_t;
    using A = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    using O = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;
    run_reduce(dp, ProdAcc<A>{A(1)}, ElemLoad<T>{x.data_as<T>()}, ProdWrite<O, A>{out.data_as<O>()}, "prod");
  });
}

void minmax_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_max) {
  const char* op = is_max ? "amax" : "amin";
  const DevPlan dp = device_plan(p, op);
  GC_DISPATCH_ALL(x.dtype, op, [&] {
    using T = scalar_t;
    using L = std::numeric_limits<T>;
    constexpr bool fp = std::is_floating_point_v<T>;
    const T lowest = fp ? -L::infinity() : L::lowest(), highest = fp ? L::infinity() : L::max();
    if (is_max)
      run_reduce(dp, MinMaxAcc<T, true>{lowest, false}, ElemLoad<T>{x.data_as<T>()},
                 MinMaxWrite<T, true>{out.data_as<T>()}, op);
    else
      run_reduce(dp, MinMaxAcc<T, false>{highest, false}, ElemLoad<T>{x.data_as<T>()},
                 MinMaxWrite<T, false>{out.data_as<T>()}, op);
  });
}

void arg_minmax_kernel(const Tensor* values, const Tensor& indices, const Tensor& x, const ReducePlan& p, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  const DevPlan dp = device_plan(p, op);
  GC_DISPATCH_ALL(x.dtype, op, [&] {
    using T = scalar_t;
    T* vo = values ? values->data_as<T>() : nullptr;
    int64_t* io = indices.data_as<int64_t>();
    if (is_max)
      run_reduce(dp, ArgAcc<T, true>{T{}, -1}, ElemLoad<T>{x.data_as<T>()}, ArgWrite<T, true>{vo, io}, op);
    else
      run_reduce(dp, ArgAcc<T, false>{T{}, -1}, ElemLoad<T>{x.data_as<T>()}, ArgWrite<T, false>{vo, io}, op);
  });
}

void norm_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, double ord) {
  const DevPlan dp = device_plan(p, "norm");
  GC_DISPATCH_FLOAT(x.dtype, "norm", [&] {
    using T = scalar_t;
    if (ord == 0) run_norm<T, 0>(out, x, dp, ord, 0.0);
    else if (ord == 1) run_norm<T, 1>(out, x, dp, ord, 0.0);
    else if (ord == 2) run_norm<T, 2>(out, x, dp, ord, 0.0);
    else if (std::isinf(ord) && ord > 0) run_norm<T, 3>(out, x, dp, ord, 0.0);
    else if (std::isinf(ord)) run_norm<T, 4>(out, x, dp, ord, std::numeric_limits<double>::infinity());
    else run_norm<T, 5>(out, x, dp, ord, 0.0);
  });
}

void any_all_kernel(const Tensor& out, const Tensor& x, const ReducePlan& p, bool is_all) {
  const char* op = is_all ? "all" : "any";
  const DevPlan dp = device_plan(p, op);
  GC_DISPATCH_ALL(x.dtype, op, [&] {
    using T = scalar_t;
    if (is_all)
      run_reduce(dp, AnyAllAcc<true>{true}, ElemLoad<T>{x.data_as<T>()}, AnyAllWrite<true>{out.data_as<bool>()}, op);
    else
      run_reduce(dp, AnyAllAcc<false>{false}, ElemLoad<T>{x.data_as<T>()}, AnyAllWrite<false>{out.data_as<bool>()},
                 op);
  });
}

void prod_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& x, const ReducePlan& p) {
  const char* op = "prod backward";
  const DevPlan dp = device_plan(p, op);
  if (dp.M == 0) return;
  GC_DISPATCH_FLOAT(x.dtype, op, [&] {
    using T = scalar_t;
    // Pass 1: per output, the number of zeros and the product of the other elements (in double).
    DeviceBuffer stats(sizeof(ZeroProdAcc) * static_cast<size_t>(dp.M));
    ZeroProdAcc* st = static_cast<ZeroProdAcc*>(stats.ptr);
    run_reduce(dp, ZeroProdAcc{0, 1.0}, ElemLoad<T>{x.data_as<T>()}, StoreWrite<ZeroProdAcc>{st}, op);
    // Pass 2: d prod / d x_k is the product of the others: prod / x_k without zeros; with one
    // zero only that element gets the product of the rest; with two or more every one is 0.
    const int64_t n = dp.M * dp.K;
    if (n == 0) return;
    const bool m_fast = dp.nk > 0 && dp.kstride[dp.nk - 1] == 1 && !(dp.nr > 0 && dp.rstride[dp.nr - 1] == 1);
    prod_backward_apply<T><<<grid_for(n), kBlock>>>(dp, st, g.data_as<T>(), x.data_as<T>(), gx.data_as<T>(), m_fast);
    check_launch(op);
  });
}

void index_backward_kernel(const Tensor& gx, const Tensor& g, const Tensor& indices, const ReducePlan& p) {
  const char* op = "max/min backward";
  const DevPlan dp = device_plan(p, op);
  GC_DISPATCH_FLOAT(gx.dtype, op, [&] {
    using T = scalar_t;
    if (dp.M == 0) return;
    index_backward_apply<T><<<grid_for(dp.M), kBlock>>>(dp, g.data_as<T>(), indices.data_as<int64_t>(),
                                                          gx.data_as<T>());
    check_launch(op);
  });
}

}  // namespace gc::cuda
