// Cache-blocked CPU GEMM (the Goto/BLIS scheme): C = alpha * A @ B + beta * C (+ bias, ReLU),
// batched, over any strides.
//
// The math: C[i,j] = alpha * sum_k A[i,k] * B[k,j] + beta * C[i,j] (+ bias[j], then max(., 0)).
//
// The loops, for one thread's rectangle of C:
//   for jc in N step NC:                      B block: KC x NC, packed once, stays in L2
//     for pc in K step KC:
//       pack B[pc:pc+KC, jc:jc+NC] into NR-wide column panels
//       for ic in M step MC:
//         pack A[ic:ic+MC, pc:pc+KC] into MR-tall row panels
//         for ir in MC step MR:              one MR x KC panel of A stays in L1 ...
//           for jr in NC step NR:            ... while the B panels stream past it from L2
//             micro-kernel: C[ir:+MR, jr:+NR] (+)= A panel @ B panel
// Packing makes every layout (transposed, sliced, expanded) look the same to the micro-kernel:
// contiguous, in the order it is read, zero-padded at the edges. The micro-kernel keeps an
// MR x NR block of C in vector registers and does MR * NR / width FMAs per k step for NR / width
// vector loads and MR broadcasts. The first K slice scales C by beta; the last one adds the bias
// and applies ReLU as it stores, so the epilogue costs no extra pass over C.
//
// This file is the driver: blocking, threads, and which path a product takes. The kernels (micro-
// kernels, packing, the sparse and direct tiles) are one translation unit per instruction set,
// each compiled with its own flags (cpu/matmul/kernel.h is their contract):
//   avx512   cpu/matmul/avx512.cpp: AVX-512F intrinsics, float 12 x 32, double 12 x 16
//   avx2     cpu/matmul/avx2.cpp: AVX2+FMA intrinsics, float 6 x 16, double 6 x 8
//   baseline cpu/matmul/baseline.cpp: portable C++ that GCC vectorises (SSE2 on x86-64): 6 x 8 / 6 x 4
// kernel<T>() takes the one cpu_isa() names (cpu/isa.h), once per process: the best the CPU runs,
// or GRADCORE_CPU_ISA=avx512|avx2|baseline (falling back to what the CPU has). Packing routines
// for the common layouts (row-major A and transposed B are transposes into the panel layout) use
// 8x8 / 4x4 AVX register transposes on the avx2 and avx512 paths.
//
// Threads: each thread owns one rectangle of C (a tm x tn grid, tm * tn = threads, whichever
// costs its busiest thread least in padded FMAs plus packing: with 2 threads, split N when M is
// small as in x @ W^T at batch 64, M when N is) and runs the loops above on it, so no packed
// block is shared and no barrier is needed; batches with at least as many matrices as threads
// split by matrix. The result never depends on the thread count: rectangles are cut on MR/NR
// boundaries, so every element sums its K slices in the same order through the same code.
//
// Blocking (KC, MC, NC), chosen by measurement on Zen 4 (32 KiB L1d, 1 MiB L2 per core): avx512
// float KC = 384, MC = 144, NC = 512: the 12 x 384 A panel (18 KiB) stays in L1 and the
// 384 x 512 B block (768 KiB) in L2 (timings were flat within noise over KC 256..512 and NC
// 256..1024 at the benchmark shapes); double KC = 256, NC = 512 (24 KiB A panel).
//
// Vector shapes (M or N == 1) skip packing: they are memory bound, so a streaming dot/axpy does
// them at load speed. int64 takes a plain loop.
//
// x @ W^T at small batch (cpu/matmul/direct.h, AVX-512 and AVX2): packing would copy all of W
// (N x K) for only M rows of output, a tenth of the product at batch 64; the direct path computes
// C^T = W @ x^T instead, broadcasting W's rows from where they lie and packing only x^T. It sums K
// in the packed path's slices in the same order, so its results are the packed path's bit for bit.
// Taken where it measured faster (see gemm_direct); GRADCORE_GEMM_DIRECT=0 turns it off, =1 forces
// it wherever the layouts allow (tests).
//
// Sparse A (cpu/matmul/sparse.h, AVX-512 and AVX2): when A has many exact zeros, as the
// ReLU-masked gradient g in dW = g^T @ x (about half zeros), the zero terms are skipped: bit masks
// of each row's nonzeros drive a row of C held in registers over a packed, L1-sized slice of B.
// Every element is then the packed path's FMA chain without its zero terms (x + 0 * b == x for
// finite b; a B holding inf or NaN takes the packed path, since 0 * inf is NaN), so within one K
// slice the two paths agree bit for bit. It is taken when A's measured density is below what the
// timings of both paths say pays (sparse_density_limit); GRADCORE_GEMM_SPARSE=0 turns it off,
// =1 forces it wherever the layouts allow (tests).
#include "cpu/matmul.h"
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>
#include "cpu/isa.h"
#include "cpu/loops.h"
#include "cpu/matmul/kernel.h"
#ifdef GRADCORE_OPENMP
#include <omp.h>
#endif

namespace gc::cpu {
namespace gemm {

void* scratch_bytes(int slot, int64_t bytes) {
  thread_local std::vector<char> bufs[3];
  auto& v = bufs[slot];
  if (static_cast<int64_t>(v.size()) < bytes + 64) v.resize(bytes + 64);
  const auto addr = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + (64 - addr % 64) % 64;
}

}  // namespace gemm

namespace {
using namespace gemm;

// Below this many flops a thread costs more to wake than it saves.
constexpr int64_t kFlopsPerThread = int64_t(1) << 18;

// Matrix n of a batch: element (i, j) at data[n*bs + i*rs + j*cs].
template <typename T>
struct Mat {
  T* data;
  int64_t bs, rs, cs;
};

// C = A @ B with A and B of type S (T, or 16-bit floats accumulated in float).
template <typename T, typename S = T>
struct Problem {
  int64_t batch, M, N, K;
  Mat<const S> A, B;
  Mat<T> C;
  Epilogue<T> epi;  // bias indexed from C's element (0, 0)
  // 16-bit products: where C's final values go, rounded, block by block as the last K slice
  // leaves them in cache (null: C is the result).
  Mat<S> out16{nullptr, 0, 0, 0};
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


// ---- kernel choice ----

// Debug/tuning override of the blocking: GRADCORE_GEMM_BLOCKING="kc,mc,nc".
template <typename KN>
void apply_blocking_override(KN& k) {
  const char* s = std::getenv("GRADCORE_GEMM_BLOCKING");
  long kc = 0, mc = 0, nc = 0;
  if (s && std::sscanf(s, "%ld,%ld,%ld", &kc, &mc, &nc) == 3 && kc > 0 && mc > 0 && nc > 0) {
    k.kc = round_up(kc, k.kstep);
    k.mc = round_up(mc, k.mr);
    k.nc = round_up(nc, k.nr);
  }
}

template <typename T>
const Kernel<T>& kernel() {
  static const Kernel<T> k = [] {
    Kernel<T> r = kernel_baseline<T>();
#ifdef GRADCORE_X86_KERNELS
    switch (cpu_isa()) {
      case Isa::avx512_bf16:  // the float and double kernels are avx512's
      case Isa::avx512: r = kernel_avx512<T>(); break;
      case Isa::avx2: r = kernel_avx2<T>(); break;
      case Isa::baseline: break;
    }
#endif
    apply_blocking_override(r);
    return r;
  }();
  return k;
}

// ---- the packed path (float32, float64) ----

// Rows [i0, i1) x columns [j0, j1) of matrix n of the batch, all of K, on the calling thread.
// C[i0:i1, j0:j1] of matrix n, final, rounded into pr.out16.
template <typename T, typename S>
void round_block(const Problem<T, S>& pr, int64_t n, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  if constexpr (!std::is_same_v<T, S>) {
    const Mat<S>& o = pr.out16;
    for (int64_t i = i0; i < i1; ++i) {
      const T* c = pr.C.data + n * pr.C.bs + i * pr.C.rs + j0 * pr.C.cs;
      S* d = o.data + n * o.bs + i * o.rs + j0 * o.cs;
      const int64_t w = j1 - j0, ccs = pr.C.cs, ocs = o.cs;
      if (ccs == 1) narrow_run(d, c, w, ocs);
      else for (int64_t j = 0; j < w; ++j) d[j * ocs] = S(c[j * ccs]);
    }
  }
}

// (A kernel with kstep 2 packs pairs of k: a kc-deep slice is ceil(kc / 2) packed steps.)
template <typename T, typename S, typename P>
void gemm_rect(const Problem<T, S>& pr, const Kernel<T, S, P>& kn, int64_t n, int64_t i0, int64_t i1, int64_t j0,
               int64_t j1) {
  const S* A = pr.A.data + n * pr.A.bs;
  const S* B = pr.B.data + n * pr.B.bs;
  T* C = pr.C.data + n * pr.C.bs;
  const int64_t MR = kn.mr, NR = kn.nr;
  const int64_t kcmax = ceil_div(std::min(kn.kc, pr.K), kn.kstep);
  P* ap = scratch<P>(0, round_up(std::min(kn.mc, i1 - i0), MR) * kcmax);
  P* bp = scratch<P>(1, round_up(std::min(kn.nc, j1 - j0), NR) * kcmax);
  const Epilogue<T>& pe = pr.epi;
  for (int64_t jc = j0; jc < j1; jc += kn.nc) {
    const int64_t nc = std::min(kn.nc, j1 - jc);
    for (int64_t pc = 0; pc < pr.K; pc += kn.kc) {
      const int64_t kc = std::min(kn.kc, pr.K - pc), kcp = ceil_div(kc, kn.kstep);
      kn.pack_b(kc, nc, B + pc * pr.B.rs + jc * pr.B.cs, pr.B.rs, pr.B.cs, bp);
      // The first K slice scales C by beta; later ones accumulate onto it; the last adds the bias
      // and applies ReLU.
      const bool last = pc + kc == pr.K;
      Epilogue<T> e{pe.alpha, pc == 0 ? pe.beta : T(1), nullptr, pe.brs, pe.bcs, last && pe.relu};
      for (int64_t ic = i0; ic < i1; ic += kn.mc) {
        const int64_t mc = std::min(kn.mc, i1 - ic);
        kn.pack_a(mc, kc, A + ic * pr.A.rs + pc * pr.A.cs, pr.A.rs, pr.A.cs, ap);
        for (int64_t ir = 0; ir < mc; ir += MR) {
          const int mr = static_cast<int>(std::min(MR, mc - ir));
          MicroFn<T, P> micro = kn.micro;
          for (int s = 1; s >= 0; --s)
            if (mr < MR && mr <= kn.shorter[s].rows) micro = kn.shorter[s].fn;
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int64_t i = ic + ir, j = jc + jr;
            if (last && pe.bias) e.bias = pe.bias + i * pe.brs + j * pe.bcs;
            micro(kcp, ap + ir * kcp, bp + jr * kcp, C + i * pr.C.rs + j * pr.C.cs, pr.C.rs, pr.C.cs, mr,
                     static_cast<int>(std::min(NR, nc - jr)), e);
          }
        }
        if (last && pr.out16.data) round_block(pr, n, ic, ic + mc, jc, jc + nc);
      }
    }
  }
}

// C^T = B^T A^T: the same product with rows and columns swapped.
template <typename T, typename S>
Problem<T, S> transposed(const Problem<T, S>& pr) {
  Problem<T, S> t = pr;
  std::swap(t.M, t.N);
  t.A = {pr.B.data, pr.B.bs, pr.B.cs, pr.B.rs};
  t.B = {pr.A.data, pr.A.bs, pr.A.cs, pr.A.rs};
  t.C = {pr.C.data, pr.C.bs, pr.C.cs, pr.C.rs};
  t.out16 = {pr.out16.data, pr.out16.bs, pr.out16.cs, pr.out16.rs};
  std::swap(t.epi.brs, t.epi.bcs);
  return t;
}

// Fraction of the computed (padded) tiles that is real output.
double tile_use(int64_t M, int64_t N, int64_t MR, int64_t NR) {
  return static_cast<double>(M) * N / (static_cast<double>(round_up(M, MR)) * round_up(N, NR));
}

template <typename T, typename S, typename P>
void gemm_packed(const Problem<T, S>& pr0, const Kernel<T, S, P>& kn) {
  // Work on whichever of C and C^T the kernel suits better: the vector store path wants rows of
  // C contiguous, and a narrow N wastes most of every NR-wide panel.
  const bool col_major_c = pr0.C.cs != 1 && pr0.C.rs == 1;
  const bool row_major_c = pr0.C.cs == 1;
  bool flip = col_major_c || (!row_major_c && pr0.M < pr0.N);
  if (!col_major_c && tile_use(pr0.N, pr0.M, kn.mr, kn.nr) > 1.3 * tile_use(pr0.M, pr0.N, kn.mr, kn.nr)) flip = true;
  const Problem<T, S> pr = flip ? transposed(pr0) : pr0;

  const int nt = threads_for(2.0 * pr.batch * pr.M * pr.N * pr.K);
  if (nt == 1 || pr.batch >= nt) {
    parallel_tasks(pr.batch, nt, [&](int64_t n) { gemm_rect(pr, kn, n, 0, pr.M, 0, pr.N); });
    return;
  }
  // One rectangle of C per thread, cut on MR/NR boundaries (so every element takes the same code
  // path whatever the thread count). Of the tm x tn grids with tm * tn = nt, take the one with
  // the least work on its busiest thread: padded multiply-adds plus packing (B once per thread,
  // A once per NC block of the thread's columns), weighted by a rough cost per packed element.
  const int64_t mpan = ceil_div(pr.M, kn.mr), npan = ceil_div(pr.N, kn.nr);
  int64_t best_tm = 1;
  double best_cost = 0;
  for (int64_t tm = 1; tm <= nt; ++tm) {
    if (nt % tm) continue;
    const int64_t tn = nt / tm;
    if (tm > mpan || tn > npan) continue;
    const int64_t mt = ceil_div(mpan, tm) * kn.mr, ntc = ceil_div(npan, tn) * kn.nr;
    const double cost = static_cast<double>(mt) * ntc * pr.K / 16.0 +
                        static_cast<double>(pr.K) * (ntc + mt * ceil_div(ntc, kn.nc));
    if (best_cost == 0 || cost < best_cost) best_cost = cost, best_tm = tm;
  }
  const int64_t tm = best_tm, tn = nt / tm;
  const int64_t mstep = ceil_div(mpan, tm) * kn.mr, nstep = ceil_div(npan, tn) * kn.nr;
  parallel_tasks(pr.batch * tm * tn, nt, [&](int64_t t) {
    const int64_t n = t / (tm * tn), r = t % (tm * tn), i0 = r / tn * mstep, j0 = r % tn * nstep;
    if (i0 < pr.M && j0 < pr.N) gemm_rect(pr, kn, n, i0, std::min(pr.M, i0 + mstep), j0, std::min(pr.N, j0 + nstep));
  });
}

// The switch of an optional path (sparse A, direct): its environment variable =0 never takes it,
// =1 takes it whenever the layouts allow (tests); unset, the path decides from the shapes.
enum class PathMode { off, always, auto_ };

PathMode path_mode(const char* env) {
  const char* s = std::getenv(env);
  if (s && std::strcmp(s, "0") == 0) return PathMode::off;
  if (s && std::strcmp(s, "1") == 0) return PathMode::always;
  return PathMode::auto_;
}

// ---- sparse A (the kernels are in cpu/matmul/sparse.h) ----
// GRADCORE_GEMM_SPARSE=1 takes the path at any density; unset, it is taken when A's density is
// below sparse_density_limit.
std::atomic<int64_t> sparse_calls{0};

// The density of A below which the sparse path beats the packed one, from timings of both on
// Zen 4 (AVX-512 and AVX2 kernels, float32 and float64, 1 and 2 threads). When K fits one 64-deep
// slice (dW = g^T @ x at batch 64, where the packed path's short K is its weak case) the sparse
// path takes 1.0-1.4x the packed path's time at density 1 and 0.55-0.8x at density 0.5. Deeper,
// each slice adds a round trip of C's rows and it takes 1.5-1.7x at density 1: at density 0.5 it
// was 0.86x the packed time with float32 on 1 thread but 1.04x on 2 and up to 1.7x with float64,
// so it waits for sparser A there.
inline double sparse_density_limit(int64_t K) { return K <= 64 ? 0.7 : 0.35; }

// The product through the sparse-A kernel, when A is sparse enough and the shapes fit: one
// matrix, beta == 0, B and C contiguous along j, the bias (if any) a row vector. Returns false
// (having written nothing) otherwise. A term skipped for A[i, k] == 0 would add 0 * B[k, j] to a
// chain: nothing when B[k, j] is finite, so B must be; then the result is the dense FMA chain's.
template <typename T>
bool gemm_sparse_a(const Problem<T>& pr) {
  const Kernel<T>& kn = kernel<T>();
  static const PathMode mode = path_mode("GRADCORE_GEMM_SPARSE");
  if (!kn.sparse.rows || mode == PathMode::off) return false;
  const int64_t M = pr.M, N = pr.N, K = pr.K;
  if (pr.batch != 1 || pr.epi.beta != T(0) || pr.B.cs != 1 || pr.C.cs != 1 || (pr.epi.bias && pr.epi.brs != 0))
    return false;
  // (Narrower products gain little, and the density count below would cost them a few per cent.)
  if (mode == PathMode::auto_ && (M < 8 || N < 64 || K < 8 || 2.0 * M * N * K < double(1 << 20))) return false;
  // The density first, read in memory order, so that a dense A costs one cheap pass and no copy.
  // The pass stops once A has more nonzeros than the path allows: a dense A is read only up to the
  // limit's fraction of it (a third for K > 64; the LSTM backward's dW GEMMs read 8 MiB of A each).
  const double most = mode == PathMode::auto_ ? sparse_density_limit(K) * static_cast<double>(M * K)
                                              : static_cast<double>(M * K);
  int64_t nnz = 0;
  {
    const bool k_inner = pr.A.cs <= pr.A.rs;
    const int64_t n_out = k_inner ? M : K, n_in = k_inner ? K : M;
    const int64_t s_out = k_inner ? pr.A.rs : pr.A.cs, s_in = k_inner ? pr.A.cs : pr.A.rs;
    for (int64_t o = 0; o < n_out; ++o) {
      const T* p = pr.A.data + o * s_out;
      if (s_in == 1) {
        nnz += kn.sparse.count(p, n_in);
      } else {
        for (int64_t j = 0; j < n_in; ++j) nnz += p[j * s_in] != T(0);
      }
      if (static_cast<double>(nnz) > most) return false;
    }
  }
  if (!kn.sparse.finite(pr.B.data, pr.B.rs, K, N)) return false;
  const int64_t words = ceil_div(K, 64);
  thread_local std::vector<uint64_t> mask_buf;
  if (static_cast<int64_t>(mask_buf.size()) < M * words) mask_buf.resize(M * words);
  uint64_t* mask = mask_buf.data();
  const T* a = pr.A.data;
  int64_t ars = pr.A.rs;
  if (pr.A.cs != 1) {
    // Copied row-major, since the kernel reads a row of A at a time (a column-major A's stride,
    // often a multiple of 1 KiB, would also thrash L1's sets).
    T* at = scratch<T>(1, M * K);
    if (pr.A.rs == 1) {
      kn.sparse.transpose(a, pr.A.cs, K, M, at, K);
    } else {
      for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < K; ++k) at[i * K + k] = a[i * pr.A.rs + k * pr.A.cs];
    }
    a = at, ars = K;
  }
  kn.sparse.masks(a, ars, M, K, words, mask);
  const SparseA<T> s{K, N, a, ars, mask, words, pr.B.data, pr.B.rs, pr.C.data, pr.C.rs, pr.epi};
  // Rows split evenly over threads (each row is the same code whatever the split).
  const int nt = threads_for(2.0 * static_cast<double>(nnz) * N);
  const int64_t chunks = std::min<int64_t>(nt, M), len = ceil_div(M, chunks);
  parallel_tasks(chunks, nt, [&](int64_t t) {
    const int64_t i0 = t * len, i1 = std::min(M, i0 + len);
    if (i0 < i1) kn.sparse.rows(s, i0, i1);
  });
  sparse_calls.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// ---- x @ W^T at small batch: W read in place (the tiles are in cpu/matmul/direct.h) ----
// For C = A @ B with B = W^T (W row-major, so B is column-major) the packed path packs all of W,
// N x K values, for M rows of output: at a batch of 64 that packing is a tenth of the product.
// Here the product is C^T = W @ A^T: W's rows are broadcast from where they lie and only A^T,
// M x K values, is packed (once, shared by the threads, which split W's rows). GRADCORE_GEMM_DIRECT=0
// turns it off, =1 takes it wherever the layouts allow (tests).
std::atomic<int64_t> direct_calls{0};

template <typename T>
bool gemm_direct(const Problem<T>& pr0) {
  const Kernel<T>& kn = kernel<T>();
  const DirectKernel<T>& dk = kn.direct;
  static const PathMode mode = path_mode("GRADCORE_GEMM_DIRECT");
  if (!dk.tile[0] || mode == PathMode::off) return false;
  if (pr0.batch != 1 || pr0.epi.beta != T(0) || pr0.B.rs != 1 || pr0.B.cs == 1 || pr0.C.cs != 1) return false;
  if (mode == PathMode::auto_) {
    // Where it measured faster (Zen 4, AVX-512 and AVX2, 1 and 2 threads): the packed x^T, M x K,
    // within a third of L2 (every tile of W's rows streams all of it; 2 threads sharing L3
    // bandwidth lost half their speed past that), K deep enough that the transposed scalar stores
    // of C (one per output) are small beside the K / W FMAs per output, and little of the batch
    // padded to whole vectors (M = 100: 112 columns computed, the packed path was faster).
    const int64_t batch = pr0.M, depth = pr0.K, bytes = batch * depth * static_cast<int64_t>(sizeof(T));
    const int64_t padded = round_up(batch, dk.width);
    if (pr0.N < 64 || depth < 512 || bytes > (int64_t(384) << 10) || (padded - batch) * 16 > batch) return false;
  }
  const Problem<T> pr = transposed(pr0);  // M = W's rows, N = the batch; A = W, C stored transposed
  const int64_t M = pr.M, N = pr.N, K = pr.K, MR = dk.mr, NR = dk.nr;
  const int64_t panels = ceil_div(N, NR);
  T* bp = scratch<T>(1, panels * NR * K);
  dk.pack(K, N, pr.B.data, pr.B.rs, pr.B.cs, bp);
  const int nt = threads_for(2.0 * M * N * K);
  const int64_t tiles = ceil_div(M, MR), chunks = std::min<int64_t>(nt, tiles), per = ceil_div(tiles, chunks);
  parallel_tasks(chunks, nt, [&](int64_t t) {
    for (int64_t r = t * per; r < std::min(tiles, (t + 1) * per); ++r) {
      const int64_t i = r * MR;
      const int mr = static_cast<int>(std::min(MR, M - i));
      for (int64_t jp = 0; jp < panels; ++jp) {
        const int64_t j = jp * NR;
        const int nr = static_cast<int>(std::min(NR, N - j));
        Epilogue<T> e = pr.epi;
        if (e.bias) e.bias += i * e.brs + j * e.bcs;
        dk.tile[ceil_div(nr, dk.width) - 1](K, kn.kc, pr.A.data + i * pr.A.rs, pr.A.rs, mr, bp + jp * NR * K,
                                            pr.C.data + i * pr.C.rs + j * pr.C.cs, pr.C.rs, pr.C.cs, nr, e);
      }
    }
  });
  direct_calls.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// ---- vector shapes: y = alpha * A x + beta * y (+ bias, ReLU) for rows [i0, i1) ----
// e indexes the bias by the row of y.
template <typename T>
void gemv_rows(int64_t i0, int64_t i1, int64_t K, const T* A, int64_t rs, int64_t cs, const T* x, int64_t incx, T* y,
               int64_t incy, const Epilogue<T>& e) {
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
      store(y + i * incy, s, e, i, 0);
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
    for (int64_t i = i0; i < i1; ++i) store(y + i * incy, acc[i - i0], e, i, 0);
  } else {
    for (int64_t i = i0; i < i1; ++i) {
      T s = 0;
      for (int64_t k = 0; k < K; ++k) s += A[i * rs + k * cs] * x[k * incx];
      store(y + i * incy, s, e, i, 0);
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
  Epilogue<T> e = pr.epi;
  e.brs = row ? pr.epi.bcs : pr.epi.brs;
  e.bcs = 0;
  const int nt = threads_for(2.0 * pr.batch * rows * pr.K);
  const int64_t chunks = nt > 1 ? std::min<int64_t>(rows, 4 * nt) : 1, len = ceil_div(rows, chunks);
  parallel_tasks(pr.batch * chunks, nt, [&](int64_t t) {
    const int64_t n = t / chunks, i0 = t % chunks * len, i1 = std::min(rows, i0 + len);
    if (i0 >= i1) return;
    gemv_rows(i0, i1, pr.K, mat.data + n * mat.bs, mat.rs, mat.cs, vec.data + n * vec.bs, incx,
              pr.C.data + n * pr.C.bs, incy, e);
  });
}

// K == 0: the product is empty, C = beta * C (+ bias, ReLU).
template <typename T>
void scale_c(const Problem<T>& pr) {
  for (int64_t n = 0; n < pr.batch; ++n)
    for (int64_t i = 0; i < pr.M; ++i)
      for (int64_t j = 0; j < pr.N; ++j) store(pr.C.data + n * pr.C.bs + i * pr.C.rs + j * pr.C.cs, T(0), pr.epi, i, j);
}

// int64: row i of C accumulates rows of B scaled by A[i, k]. Unsigned arithmetic wraps on
// overflow as PyTorch's int64 matmul does in practice, without signed-overflow UB.
void gemm_int64(const Problem<int64_t>& pr) {
  if (pr.K == 0) return scale_c(pr);
  const Epilogue<int64_t>& e = pr.epi;
  const auto alpha = static_cast<uint64_t>(e.alpha), beta = static_cast<uint64_t>(e.beta);
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
      if (e.bias) v += static_cast<uint64_t>(e.bias[i * e.brs + j * e.bcs]);
      const auto s = static_cast<int64_t>(v);
      c[j * pr.C.cs] = e.relu && s < 0 ? 0 : s;
    }
  });
}

template <typename T>
void product(const Problem<T>& pr) {
  if (pr.batch == 0 || pr.M == 0 || pr.N == 0) return;
  if constexpr (std::is_same_v<T, int64_t>) {
    gemm_int64(pr);
  } else if (pr.K == 0) {
    scale_c(pr);
  } else if (pr.M == 1 || pr.N == 1) {
    gemm_vector(pr);
  } else if (!gemm_sparse_a(pr) && !gemm_direct(pr)) {
    gemm_packed(pr, kernel<T>());
  }
}

template <typename T, typename P>
Mat<P> mat_of(const Tensor& t) {
  const int64_t d = t.dim();
  const int64_t bs = d == 3 && t.shape[0] != 1 ? t.strides[0] : 0;  // a batch of 1 broadcasts
  return {reinterpret_cast<P*>(t.data_as<T>()), bs, t.strides[d - 2], t.strides[d - 1]};
}

// ---- 16-bit operands: bfloat16 and float16 ----
// A and B are read as they are; C is accumulated in a float32 buffer through the float epilogue
// (alpha, beta, bias, ReLU), and rounded to 16 bits once, as PyTorch's 16-bit matmuls do. Two
// kernels do the product (GRADCORE_GEMM_16=dot|widen forces one, where the CPU has it):
//   dot    bfloat16 on avx512_bf16 CPUs: pairs of k by vdpbf16ps (cpu/matmul/avx512_bf16.cpp);
//   widen  any CPU, both dtypes: the float kernel, whose packing routines first widen each block
//          to float (in a per-thread buffer, so the operands are never widened whole).
// Vector shapes and K == 0 widen A and B whole and take the float path: they are memory bound.

// A rows x cols block (element (r, c) at src[r * rs + c * cs]) widened into scratch slot 2,
// column-major when the source's columns are contiguous, else row-major; *rs2, *cs2 its strides.
template <typename S>
const float* widen_block(const S* src, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t* rs2, int64_t* cs2) {
  float* t = scratch<float>(2, rows * cols);
  if (rs == 1 && cs != 1) {
    for (int64_t c = 0; c < cols; ++c) widen_run(t + c * rows, src + c * cs, rows);
    *rs2 = 1, *cs2 = rows;
  } else {
    for (int64_t r = 0; r < rows; ++r) widen_run(t + r * cols, src + r * rs, cols, cs);
    *rs2 = cols, *cs2 = 1;
  }
  return t;
}

template <typename S>
void pack_a_widen(int64_t m, int64_t kc, const S* a, int64_t rs, int64_t cs, float* dst) {
  int64_t rs2, cs2;
  const float* t = widen_block(a, m, kc, rs, cs, &rs2, &cs2);
  kernel<float>().pack_a(m, kc, t, rs2, cs2, dst);
}

template <typename S>
void pack_b_widen(int64_t kc, int64_t n, const S* b, int64_t rs, int64_t cs, float* dst) {
  int64_t rs2, cs2;
  const float* t = widen_block(b, kc, n, rs, cs, &rs2, &cs2);
  kernel<float>().pack_b(kc, n, t, rs2, cs2, dst);
}

// The float kernel over 16-bit sources: its micro-kernels and blocking, packs that widen.
template <typename S>
const Kernel<float, S, float>& widening_kernel() {
  static const Kernel<float, S, float> k = [] {
    const Kernel<float>& f = kernel<float>();
    Kernel<float, S, float> r{f.mr, f.nr, f.kc, f.mc, f.nc, f.micro, &pack_a_widen<S>, &pack_b_widen<S>, {}, {}, {}, 1};
    for (int s = 0; s < 2; ++s) r.shorter[s] = {f.shorter[s].rows, f.shorter[s].fn};
    return r;
  }();
  return k;
}

#ifdef GRADCORE_X86_KERNELS
const Kernel<float, BFloat16, uint32_t>& dot_kernel() {
  static const Kernel<float, BFloat16, uint32_t> k = [] {
    Kernel<float, BFloat16, uint32_t> r = kernel_avx512_bf16();
    apply_blocking_override(r);
    return r;
  }();
  return k;
}
#endif

// Whether bfloat16 products take the dot kernel: the CPU has avx512_bf16 (cpu_isa(), so
// GRADCORE_CPU_ISA caps it) and GRADCORE_GEMM_16 is not "widen".
bool use_bf16_dot() {
  static const bool yes = [] {
#ifdef GRADCORE_X86_KERNELS
    const char* s = std::getenv("GRADCORE_GEMM_16");
    return cpu_isa() >= Isa::avx512_bf16 && !(s && std::strcmp(s, "widen") == 0);
#else
    return false;
#endif
  }();
  return yes;
}

// The product by the dot kernel, when S is bfloat16 and use_bf16_dot(); false (nothing done) otherwise.
template <typename S>
bool gemm_bf16_dot(const Problem<float, S>& pr) {
#ifdef GRADCORE_X86_KERNELS
  if constexpr (std::is_same_v<S, BFloat16>) {
    if (use_bf16_dot()) {
      gemm_packed(pr, dot_kernel());
      return true;
    }
  }
#endif
  (void)pr;
  return false;
}

// Matrix m of 16-bit values as a contiguous float copy in buf ([nb, rows, cols]; nb = 1 when m
// broadcasts its batch).
template <typename S>
Mat<const float> widen_mat(const Mat<const S>& m, int64_t nb, int64_t rows, int64_t cols, std::vector<float>& buf) {
  if (m.bs == 0) nb = 1;
  buf.resize(static_cast<size_t>(nb * rows * cols));
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t r = 0; r < rows; ++r)
      widen_run(buf.data() + (n * rows + r) * cols, m.data + n * m.bs + r * m.rs, cols, m.cs);
  return {buf.data(), m.bs == 0 ? 0 : rows * cols, cols, 1};
}

template <typename S>
void gemm_16(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta, const Tensor* bias,
             bool relu) {
  const int64_t d = out.dim(), batch = d == 3 ? out.shape[0] : 1;
  const int64_t M = out.shape[d - 2], N = out.shape[d - 1], K = a.shape[d - 1];
  if (batch == 0 || M == 0 || N == 0) return;
  const Mat<S> o = mat_of<S, S>(out);
  // The float C: [batch, M, N], holding out's values when beta reads them.
  thread_local std::vector<float> cbuf;
  cbuf.resize(static_cast<size_t>(batch * M * N));
  float* c = cbuf.data();
  const int rows_nt = threads_for(8.0 * batch * M * N);
  auto each_row = [&](auto&& f) {  // f(n, i) over the rows of C, spread over threads when large
    parallel_tasks(batch * M, rows_nt, [&](int64_t r) { f(r / M, r % M); });
  };
  if (beta != 0)
    each_row([&](int64_t n, int64_t i) { widen_run(c + (n * M + i) * N, o.data + n * o.bs + i * o.rs, N, o.cs); });
  std::vector<float> bias32;
  if (bias) {
    bias32.resize(static_cast<size_t>(N));
    widen_run(bias32.data(), bias->data_as<S>(), N);
  }
  const Epilogue<float> epi{static_cast<float>(alpha), static_cast<float>(beta), bias ? bias32.data() : nullptr, 0, 1,
                            relu};
  Problem<float, S> pr{batch, M, N, K, mat_of<S, const S>(a), mat_of<S, const S>(b), {c, M * N, N, 1}, epi};
  pr.out16 = o;
  if (K != 0 && M != 1 && N != 1) {
    // The packed paths round C block by block as they finish it (round_block).
    if (!gemm_bf16_dot(pr)) gemm_packed(pr, widening_kernel<S>());
    return;
  }
  std::vector<float> abuf, bbuf;
  const int64_t na = d == 3 ? a.shape[0] : 1, nb = d == 3 ? b.shape[0] : 1;
  product(Problem<float>{batch, M, N, K, widen_mat(pr.A, na, M, K, abuf), widen_mat(pr.B, nb, K, N, bbuf), pr.C, epi});
  each_row([&](int64_t n, int64_t i) { round_block(pr, n, i, i + 1, 0, N); });
}

}  // namespace

int64_t gemm_sparse_calls() { return sparse_calls.load(std::memory_order_relaxed); }
int64_t gemm_direct_calls() { return direct_calls.load(std::memory_order_relaxed); }
const char* gemm_16_kernel(DType dtype) { return dtype == DType::BFloat16 && use_bf16_dot() ? "dot" : "widen"; }

void gemm_kernel(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta, const Tensor* bias,
                 bool relu) {
  if (out.dtype == DType::BFloat16) return gemm_16<BFloat16>(out, a, b, alpha, beta, bias, relu);
  if (out.dtype == DType::Float16) return gemm_16<Half>(out, a, b, alpha, beta, bias, relu);
  const int64_t d = out.dim();
  GC_DISPATCH_NUMERIC(out.dtype, "gemm", [&] {
    // The bias is a row vector added to every row of C: bias[i * 0 + j * 1].
    Epilogue<scalar_t> epi{static_cast<scalar_t>(alpha), static_cast<scalar_t>(beta),
                           bias ? bias->data_as<scalar_t>() : nullptr, 0, 1, relu};
    Problem<scalar_t> pr{d == 3 ? out.shape[0] : 1,
                         out.shape[d - 2],
                         out.shape[d - 1],
                         a.shape[d - 1],
                         mat_of<scalar_t, const scalar_t>(a),
                         mat_of<scalar_t, const scalar_t>(b),
                         mat_of<scalar_t, scalar_t>(out),
                         epi};
    product(pr);
  });
}

}  // namespace gc::cpu
