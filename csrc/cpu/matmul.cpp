// Cache-blocked CPU GEMM (the Goto/BLIS scheme): C = alpha * A @ B + beta * C, batched, over any
// strides.
//
// The math: C[i,j] = alpha * sum_k A[i,k] * B[k,j] + beta * C[i,j].
// The trick: C is cut into MC x NC tiles, the unit of OpenMP work. For each KC-deep slice of K a
// tile packs its KC x NC block of B into NR-wide column panels and its MC x KC block of A into
// MR-tall row panels, zero-padded at the edges. Packing makes every layout (transposed, sliced,
// expanded) look the same to the inner loops: contiguous, in the order they are read. It also
// sets the working set: one KC x NR panel of B (16 KiB) stays in L1 while it meets every
// MR x KC panel of the A block held in L2. The micro-kernel keeps an MR x NR block of C in
// registers (a small local array that GCC fully unrolls and vectorises along NR) and does
// MR*NR multiply-adds per k step for MR + NR loads from L1.
//
// The packed loops are compiled twice: for the baseline x86-64 ISA (SSE2) and, chosen at run
// time, for AVX2+FMA with wider panels. Vector shapes (M or N == 1) skip packing: they are
// memory bound, so a streaming dot/axpy does them at load speed. int64 takes a plain loop.
#include "cpu/matmul.h"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>
#ifdef GRADCORE_OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define GC_GEMM_AVX2 1
#endif
#define GC_ALWAYS_INLINE inline __attribute__((always_inline))

namespace gc::cpu {
namespace {

// Below this many flops a thread costs more to wake than it saves.
constexpr int64_t kFlopsPerThread = int64_t(1) << 18;
constexpr int64_t kKC = 256;  // depth of a packed slice: a KC x NR panel of B fills ~16 KiB of L1
constexpr int64_t kMC = 144;  // rows of the packed A block (~150-300 KiB, in L2); a multiple of MR
constexpr int64_t kNCBytes = 2048;  // NC * sizeof(T): the KC x NC block of B is 512 KiB, so it fits
                                    // a 1 MiB L2 beside the A block

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Matrix n of a batch: element (i, j) at data[n*bs + i*rs + j*cs].
template <typename T>
struct Mat {
  T* data;
  int64_t bs, rs, cs;
};

template <typename T>
struct Problem {
  int64_t batch, M, N, K;
  T alpha, beta;
  Mat<const T> A, B;
  Mat<T> C;
};

int threads_for(double flops) {
  int64_t nt = std::min<int64_t>(get_num_threads(), static_cast<int64_t>(flops / kFlopsPerThread));
  return static_cast<int>(std::max<int64_t>(nt, 1));
}

// f(t) for t in [0, n), spread over nt threads.
template <typename F>
void parallel_tasks(int64_t n, int nt, const F& f) {
#ifdef GRADCORE_OPENMP
  if (nt > 1 && n > 1) {
    nt = static_cast<int>(std::min<int64_t>(nt, n));
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t t = 0; t < n; ++t) f(t);
    return;
  }
#endif
  for (int64_t t = 0; t < n; ++t) f(t);
}

// Per-thread buffers, kept across calls so a training loop's steady state allocates nothing;
// 64-byte aligned so packed panels start on a cache line and vector loads never split one.
template <typename T>
T* scratch(int slot, int64_t n) {
  constexpr int64_t kPad = 64 / sizeof(T);
  thread_local std::vector<T> bufs[2];
  auto& v = bufs[slot];
  if (static_cast<int64_t>(v.size()) < n + kPad) v.resize(n + kPad);
  auto addr = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + (64 - addr % 64) % 64 / sizeof(T);
}

template <typename T>
GC_ALWAYS_INLINE void store(T* c, T acc, T alpha, T beta) {
  *c = beta == T(0) ? alpha * acc : alpha * acc + beta * *c;
}

// ---- the packed path (float32, float64) ----

// dst[panel][p][i] = a[i0 + i, p], MR rows per panel, rows past mc zero.
template <typename T, int MR>
GC_ALWAYS_INLINE void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rs, int64_t cs, T* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int m = static_cast<int>(std::min<int64_t>(MR, mc - i0));
    const T* src = a + i0 * rs;
    if (m == MR && rs == 1) {  // column-major A: each k step reads MR contiguous values
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[p * cs + i];
      continue;
    }
    for (int i = 0; i < m; ++i)
      for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = src[i * rs + p * cs];
    for (int i = m; i < MR; ++i)
      for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = T(0);
  }
}

// dst[panel][p][j] = b[p, j0 + j], NR columns per panel, columns past nc zero.
template <typename T, int NR>
GC_ALWAYS_INLINE void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rs, int64_t cs, T* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int n = static_cast<int>(std::min<int64_t>(NR, nc - j0));
    const T* src = b + j0 * cs;
    if (n == NR && cs == 1) {  // row-major B: each k step copies NR contiguous values
      for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) dst[p * NR + j] = src[p * rs + j];
      continue;
    }
    for (int j = 0; j < n; ++j)
      for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = src[j * cs + p * rs];
    for (int j = n; j < NR; ++j)
      for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = T(0);
  }
}

// C[0:mr, 0:nr] = alpha * Ap @ Bp + beta * C over kc packed steps. k is the outer loop so the
// MR x NR accumulators stay in registers; each step is MR broadcasts times NR/width vector
// multiply-adds (contracted to FMA where the target has it). `unroll 1` stops GCC from fully
// unrolling the j loop before the vectoriser sees it: unrolled first, SLP spills the block to
// the stack; left as a loop, it becomes exactly NR/width vector operations per row.
template <typename T, int MR, int NR>
GC_ALWAYS_INLINE void micro_kernel(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* c, int64_t rsc,
                                   int64_t csc, int mr, int nr, T alpha, T beta) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      const T ai = ap[p * MR + i];
#pragma GCC unroll 1
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * bp[p * NR + j];
    }
  }
  if (mr == MR && nr == NR && csc == 1) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) store(c + i * rsc + j, acc[i][j], alpha, beta);
    return;
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) store(c + i * rsc + j * csc, acc[i][j], alpha, beta);
}

struct Blocking {
  int64_t mc, nc, kc, mtiles, ntiles;
};

// One MC x NC tile of C (tile index over batch, tile row, tile column), all of K.
template <typename T, int MR, int NR>
GC_ALWAYS_INLINE void run_tile(const Problem<T>& pr, const Blocking& bl, int64_t tile) {
  const int64_t per_batch = bl.mtiles * bl.ntiles;
  const int64_t n = tile / per_batch, ti = tile % per_batch / bl.ntiles, tj = tile % bl.ntiles;
  const int64_t i0 = ti * bl.mc, j0 = tj * bl.nc;
  const int64_t mc = std::min(bl.mc, pr.M - i0), nc = std::min(bl.nc, pr.N - j0);
  const T* A = pr.A.data + n * pr.A.bs + i0 * pr.A.rs;
  const T* B = pr.B.data + n * pr.B.bs + j0 * pr.B.cs;
  T* C = pr.C.data + n * pr.C.bs + i0 * pr.C.rs + j0 * pr.C.cs;
  T* ap = scratch<T>(0, round_up(mc, MR) * bl.kc);
  T* bp = scratch<T>(1, round_up(nc, NR) * bl.kc);
  for (int64_t pc = 0; pc < pr.K; pc += bl.kc) {
    const int64_t kc = std::min(bl.kc, pr.K - pc);
    pack_b<T, NR>(kc, nc, B + pc * pr.B.rs, pr.B.rs, pr.B.cs, bp);
    pack_a<T, MR>(mc, kc, A + pc * pr.A.cs, pr.A.rs, pr.A.cs, ap);
    const T beta = pc == 0 ? pr.beta : T(1);  // later K slices accumulate onto the first
    for (int64_t jr = 0; jr < nc; jr += NR)
      for (int64_t ir = 0; ir < mc; ir += MR)
        micro_kernel<T, MR, NR>(kc, ap + ir * kc, bp + jr * kc, C + ir * pr.C.rs + jr * pr.C.cs, pr.C.rs,
                                      pr.C.cs, static_cast<int>(std::min<int64_t>(MR, mc - ir)),
                                      static_cast<int>(std::min<int64_t>(NR, nc - jr)), pr.alpha, beta);
  }
}

template <typename T>
using TileFn = void (*)(const Problem<T>&, const Blocking&, int64_t);

// Baseline ISA: two 16-byte vectors per accumulator row (6x8 float, 6x4 double).
template <typename T>
void tile_baseline(const Problem<T>& pr, const Blocking& bl, int64_t t) {
  run_tile<T, 6, 32 / sizeof(T)>(pr, bl, t);
}
#ifdef GC_GEMM_AVX2
// AVX2+FMA: two 32-byte vectors per row (6x16 float, 6x8 double), 12 accumulator registers.
template <typename T>
__attribute__((target("avx2,fma"))) void tile_avx2(const Problem<T>& pr, const Blocking& bl, int64_t t) {
  run_tile<T, 6, 64 / sizeof(T)>(pr, bl, t);
}
// GRADCORE_GEMM_BASELINE=1 forces the baseline kernel, so tests can check it on AVX2 machines.
bool use_avx2() {
  static const bool yes = [] {
    const char* force = std::getenv("GRADCORE_GEMM_BASELINE");
    if (force && *force && std::strcmp(force, "0") != 0) return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes;
}
#endif

template <typename T>
void gemm_packed(const Problem<T>& pr) {
  TileFn<T> fn = &tile_baseline<T>;
  int64_t mr = 6, nr = 32 / sizeof(T);
#ifdef GC_GEMM_AVX2
  if (use_avx2()) {
    fn = &tile_avx2<T>;
    nr = 64 / sizeof(T);
  }
#endif
  Blocking bl;
  bl.kc = std::min(kKC, pr.K);
  bl.mc = std::min(kMC, round_up(pr.M, mr));
  bl.nc = std::min(round_up(pr.N, nr), round_up(kNCBytes / static_cast<int64_t>(sizeof(T)), nr));
  bl.mtiles = ceil_div(pr.M, bl.mc);
  bl.ntiles = ceil_div(pr.N, bl.nc);
  const int nt = threads_for(2.0 * pr.batch * pr.M * pr.N * pr.K);
  // Give every thread about two tiles so dynamic scheduling can balance ragged edges: split
  // columns first (splitting rows re-packs more of B), then rows.
  const int64_t want = 2 * static_cast<int64_t>(nt);
  if (nt > 1 && pr.batch * bl.mtiles * bl.ntiles < want) {
    int64_t nt_cols = std::min(ceil_div(pr.N, nr), ceil_div(want, pr.batch * bl.mtiles));
    bl.nc = round_up(ceil_div(pr.N, nt_cols), nr);
    bl.ntiles = ceil_div(pr.N, bl.nc);
    if (pr.batch * bl.mtiles * bl.ntiles < want) {
      int64_t nt_rows = std::min(ceil_div(pr.M, mr), ceil_div(want, pr.batch * bl.ntiles));
      bl.mc = round_up(ceil_div(pr.M, nt_rows), mr);
      bl.mtiles = ceil_div(pr.M, bl.mc);
    }
  }
  parallel_tasks(pr.batch * bl.mtiles * bl.ntiles, nt, [&](int64_t t) { fn(pr, bl, t); });
}

// ---- vector shapes: y = alpha * A x + beta * y for rows [i0, i1) ----
template <typename T>
void gemv_rows(int64_t i0, int64_t i1, int64_t K, T alpha, const T* A, int64_t rs, int64_t cs, const T* x,
               int64_t incx, T beta, T* y, int64_t incy) {
  if (cs == 1 && incx == 1) {
    // Row dot products with L independent partial sums: vectorises without reassociating.
    constexpr int L = 64 / sizeof(T);
    for (int64_t i = i0; i < i1; ++i) {
      const T* a = A + i * rs;
      T part[L] = {};
      int64_t k = 0;
      for (; k + L <= K; k += L)
        for (int l = 0; l < L; ++l) part[l] += a[k + l] * x[k + l];
      T s = 0;
      for (int l = 0; l < L; ++l) s += part[l];
      for (; k < K; ++k) s += a[k] * x[k];
      store(y + i * incy, s, alpha, beta);
    }
  } else if (rs == 1) {
    // Column-major A: add whole columns (axpy), vectorised along i.
    T* acc = scratch<T>(0, i1 - i0);
    std::fill(acc, acc + (i1 - i0), T(0));
    for (int64_t k = 0; k < K; ++k) {
      const T xk = x[k * incx];
      const T* col = A + k * cs;
      for (int64_t i = i0; i < i1; ++i) acc[i - i0] += col[i] * xk;
    }
    for (int64_t i = i0; i < i1; ++i) store(y + i * incy, acc[i - i0], alpha, beta);
  } else {
    for (int64_t i = i0; i < i1; ++i) {
      T s = 0;
      for (int64_t k = 0; k < K; ++k) s += A[i * rs + k * cs] * x[k * incx];
      store(y + i * incy, s, alpha, beta);
    }
  }
}

// M == 1 or N == 1. A 1 x N result is the transposed problem: C^T = B^T A^T.
template <typename T>
void gemm_vector(const Problem<T>& pr) {
  const bool row = pr.M == 1;
  const int64_t rows = row ? pr.N : pr.M;
  const Mat<const T> mat = row ? Mat<const T>{pr.B.data, pr.B.bs, pr.B.cs, pr.B.rs} : pr.A;
  const Mat<const T> vec = row ? pr.A : pr.B;
  const int64_t incx = row ? pr.A.cs : pr.B.rs, incy = row ? pr.C.cs : pr.C.rs;
  const int nt = threads_for(2.0 * pr.batch * rows * pr.K);
  const int64_t chunks = nt > 1 ? std::min<int64_t>(rows, 4 * nt) : 1, len = ceil_div(rows, chunks);
  parallel_tasks(pr.batch * chunks, nt, [&](int64_t t) {
    const int64_t n = t / chunks, i0 = t % chunks * len, i1 = std::min(rows, i0 + len);
    if (i0 >= i1) return;
    gemv_rows(i0, i1, pr.K, pr.alpha, mat.data + n * mat.bs, mat.rs, mat.cs, vec.data + n * vec.bs, incx,
              pr.beta, pr.C.data + n * pr.C.bs, incy);
  });
}

// K == 0: the product is empty, C = beta * C.
template <typename T>
void scale_c(const Problem<T>& pr) {
  for (int64_t n = 0; n < pr.batch; ++n)
    for (int64_t i = 0; i < pr.M; ++i)
      for (int64_t j = 0; j < pr.N; ++j) store(pr.C.data + n * pr.C.bs + i * pr.C.rs + j * pr.C.cs, T(0), T(1), pr.beta);
}


// int64: row i of C accumulates rows of B scaled by A[i, k]. Unsigned arithmetic wraps on
// overflow as PyTorch's int64 matmul does in practice, without signed-overflow UB.
void gemm_int64(const Problem<int64_t>& pr) {
  if (pr.K == 0) return scale_c(pr);
  const auto alpha = static_cast<uint64_t>(pr.alpha), beta = static_cast<uint64_t>(pr.beta);
  const int nt = threads_for(2.0 * pr.batch * pr.M * pr.N * pr.K);
  parallel_tasks(pr.batch * pr.M, nt, [&](int64_t t) {
    const int64_t n = t / pr.M, i = t % pr.M;
    const int64_t* a = pr.A.data + n * pr.A.bs + i * pr.A.rs;
    const int64_t* b = pr.B.data + n * pr.B.bs;
    int64_t* c = pr.C.data + n * pr.C.bs + i * pr.C.rs;
    auto* acc = reinterpret_cast<uint64_t*>(scratch<int64_t>(0, pr.N));
    std::fill(acc, acc + pr.N, uint64_t(0));
    for (int64_t k = 0; k < pr.K; ++k) {
      const auto aik = static_cast<uint64_t>(a[k * pr.A.cs]);
      const int64_t* bk = b + k * pr.B.rs;
      for (int64_t j = 0; j < pr.N; ++j) acc[j] += aik * static_cast<uint64_t>(bk[j * pr.B.cs]);
    }
    for (int64_t j = 0; j < pr.N; ++j) {
      uint64_t v = alpha * acc[j];
      if (beta != 0) v += beta * static_cast<uint64_t>(c[j * pr.C.cs]);
      c[j * pr.C.cs] = static_cast<int64_t>(v);
    }
  });
}

template <typename T>
void gemm(const Problem<T>& pr) {
  if (pr.batch == 0 || pr.M == 0 || pr.N == 0) return;
  if constexpr (std::is_same_v<T, int64_t>) {
    gemm_int64(pr);
  } else if (pr.K == 0) {
    scale_c(pr);
  } else if (pr.M == 1 || pr.N == 1) {
    gemm_vector(pr);
  } else {
    gemm_packed(pr);
  }
}

template <typename T, typename P>
Mat<P> mat_of(const Tensor& t) {
  const int64_t d = t.dim();
  const int64_t bs = d == 3 && t.shape[0] != 1 ? t.strides[0] : 0;  // a batch of 1 broadcasts
  return {reinterpret_cast<P*>(t.data_as<T>()), bs, t.strides[d - 2], t.strides[d - 1]};
}

}  // namespace

void gemm_kernel(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta) {
  const int64_t d = out.dim();
  GC_DISPATCH_NUMERIC(out.dtype, "gemm", [&] {
    Problem<scalar_t> pr{d == 3 ? out.shape[0] : 1, out.shape[d - 2], out.shape[d - 1], a.shape[d - 1],
                         static_cast<scalar_t>(alpha), static_cast<scalar_t>(beta),
                         mat_of<scalar_t, const scalar_t>(a), mat_of<scalar_t, const scalar_t>(b),
                         mat_of<scalar_t, scalar_t>(out)};
    gemm(pr);
  });
}

}  // namespace gc::cpu
