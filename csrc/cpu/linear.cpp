// Linear's backward helpers. Sums run down the rows with one accumulator per column, so rows are
// read in order and the inner loop over columns vectorises. Accumulators are double (a per-thread
// scratch row), so a float32 bias gradient over a large batch loses nothing to rounding.
#include "cpu/linear.h"
#include "cpu/loops.h"
#include <algorithm>
#include <vector>

namespace gc::cpu {

namespace {

double* accumulators(int64_t n) {
  thread_local std::vector<double> acc;
  acc.assign(static_cast<size_t>(n), 0.0);
  return acc.data();
}

template <typename T>
inline __attribute__((always_inline)) void column_sum_impl(const T* g, int64_t M, int64_t N, int64_t rs, int64_t cs, T* db) {
  double* acc = accumulators(N);
  for (int64_t i = 0; i < M; ++i) {
    const T* row = g + i * rs;
    if (cs == 1) {
      for (int64_t j = 0; j < N; ++j) acc[j] += row[j];
    } else {
      for (int64_t j = 0; j < N; ++j) acc[j] += row[j * cs];
    }
  }
  for (int64_t j = 0; j < N; ++j) db[j] = static_cast<T>(acc[j]);
}

template <typename T>
inline __attribute__((always_inline)) void relu_mask_impl(const T* __restrict g, int64_t grs, int64_t gcs, const T* __restrict y, int64_t yrs, int64_t ycs, int64_t M,
                    int64_t N, T* __restrict gm, T* db) {
  double* acc = db ? accumulators(N) : nullptr;
  for (int64_t i = 0; i < M; ++i) {
    const T* gr = g + i * grs;
    const T* yr = y + i * yrs;
    T* out = gm + i * N;
    // Both operands are loaded unconditionally, so the selects vectorise.
    if (gcs == 1 && ycs == 1) {
      for (int64_t j = 0; j < N; ++j) {
        const T gv = gr[j], yv = yr[j];
        out[j] = yv > T(0) ? gv : T(0);
      }
    } else if (gcs == 0 && ycs == 1) {  // an expanded gradient (e.g. from a mean): one value per row
      const T v = gr[0];
      for (int64_t j = 0; j < N; ++j) {
        const T yv = yr[j];
        out[j] = yv > T(0) ? v : T(0);
      }
    } else {
      for (int64_t j = 0; j < N; ++j) {
        const T gv = gr[j * gcs], yv = yr[j * ycs];
        out[j] = yv > T(0) ? gv : T(0);
      }
    }
    if (acc)
      for (int64_t j = 0; j < N; ++j) acc[j] += out[j];
  }
  if (db)
    for (int64_t j = 0; j < N; ++j) db[j] = static_cast<T>(acc[j]);
}

// The same loops compiled for AVX2 where the CPU has it (twice SSE2's width; no FMA, so every
// value rounds as in the baseline loops).
#if defined(__x86_64__) && defined(__GNUC__)
template <typename T>
__attribute__((target("avx2"))) void column_sum_avx2(const T* g, int64_t M, int64_t N, int64_t rs, int64_t cs, T* db) {
  column_sum_impl(g, M, N, rs, cs, db);
}
template <typename T>
__attribute__((target("avx2"))) void relu_mask_avx2(const T* __restrict g, int64_t grs, int64_t gcs,
                                                    const T* __restrict y, int64_t yrs, int64_t ycs, int64_t M,
                                                    int64_t N, T* __restrict gm, T* db) {
  relu_mask_impl(g, grs, gcs, y, yrs, ycs, M, N, gm, db);
}
#endif

}  // namespace

void column_sum(const Tensor& g, const Tensor& db) {
  GC_DISPATCH_FLOAT(g.dtype, "linear_backward", [&] {
    const scalar_t* gp = g.data_as<scalar_t>();
#if defined(__x86_64__) && defined(__GNUC__)
    if (use_avx2())
      return column_sum_avx2(gp, g.shape[0], g.shape[1], g.strides[0], g.strides[1], db.data_as<scalar_t>());
#endif
    column_sum_impl(gp, g.shape[0], g.shape[1], g.strides[0], g.strides[1], db.data_as<scalar_t>());
  });
}

void relu_mask_column_sum(const Tensor& g, const Tensor& y, const Tensor& gm, const Tensor* db) {
  GC_DISPATCH_FLOAT(g.dtype, "linear_relu_backward", [&] {
    const scalar_t* gp = g.data_as<scalar_t>();
    const scalar_t* yp = y.data_as<scalar_t>();
    scalar_t* out = gm.data_as<scalar_t>();
    scalar_t* dbp = db ? db->data_as<scalar_t>() : nullptr;
#if defined(__x86_64__) && defined(__GNUC__)
    if (use_avx2())
      return relu_mask_avx2(gp, g.strides[0], g.strides[1], yp, y.strides[0], y.strides[1], g.shape[0], g.shape[1], out,
                            dbp);
#endif
    relu_mask_impl(gp, g.strides[0], g.strides[1], yp, y.strides[0], y.strides[1], g.shape[0], g.shape[1], out, dbp);
  });
}

}  // namespace gc::cpu
