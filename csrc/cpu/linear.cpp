// Linear's backward helpers. Sums run down the rows with one accumulator per column, so rows are
// read in order and the inner loop over columns vectorises. Accumulators are double (a per-thread
// scratch row), so a float32 bias gradient over a large batch loses nothing to rounding; unit-stride
// float32 rows go through cpu/reduce.h's ColumnSumsF32 (float partials flushed into double).
#include "cpu/linear.h"
#include "cpu/loops.h"
#include "cpu/reduce.h"
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

// g where y > 0, else 0: a select the compiler vectorises. For 16-bit floats it works on the bits
// (a struct select does not vectorise): y > 0 exactly when y's bits, as an unsigned integer, lie
// in (0, +inf] (negative values have the sign bit set; NaNs lie above +inf).
template <typename T>
inline __attribute__((always_inline)) T where_positive(T y, T g) {
  if constexpr (is_half_v<T>) {
    constexpr uint16_t inf = std::is_same_v<T, BFloat16> ? 0x7f80 : 0x7c00;
    const uint16_t b = y.bits;
    return T::from_bits(static_cast<uint16_t>(b - 1u) < inf ? g.bits : uint16_t(0));
  } else {
    return y > T(0) ? g : T(0);
  }
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
      for (int64_t j = 0; j < N; ++j) out[j] = where_positive(yr[j], gr[j]);
    } else if (gcs == 0 && ycs == 1) {  // an expanded gradient (e.g. from a mean): one value per row
      const T v = gr[0];
      for (int64_t j = 0; j < N; ++j) out[j] = where_positive(yr[j], v);
    } else {
      for (int64_t j = 0; j < N; ++j) out[j] = where_positive(yr[j * ycs], gr[j * gcs]);
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

namespace {

template <typename T>
void column_sum_typed(const Tensor& g, const Tensor& db) {
  const T* gp = g.data_as<T>();
  const int64_t M = g.shape[0], N = g.shape[1], rs = g.strides[0];
  if constexpr (std::is_same_v<T, float>) {
    if (g.strides[1] == 1 && M >= 2 * ColumnSumsF32::kFlushRows) {  // float rows, 16 lanes wide
      for (int64_t c0 = 0; c0 < N; c0 += kOuterBlock) {
        const int64_t cb = std::min(kOuterBlock, N - c0);
        double sums[kOuterBlock] = {};
        ColumnSumsF32 col(sums, cb);
        for (int64_t i = 0; i < M; ++i) col.add(gp + i * rs + c0);
        col.flush();
        for (int64_t c = 0; c < cb; ++c) db.data_as<T>()[c0 + c] = static_cast<float>(sums[c]);
      }
      return;
    }
  }
#if defined(__x86_64__) && defined(__GNUC__)
  if (use_avx2()) return column_sum_avx2(gp, M, N, rs, g.strides[1], db.data_as<T>());
#endif
  column_sum_impl(gp, M, N, rs, g.strides[1], db.data_as<T>());
}

template <typename T>
void relu_mask_column_sum_typed(const Tensor& g, const Tensor& y, const Tensor& gm, const Tensor* db) {
  const T* gp = g.data_as<T>();
  const T* yp = y.data_as<T>();
  T* out = gm.data_as<T>();
  T* dbp = db ? db->data_as<T>() : nullptr;
#if defined(__x86_64__) && defined(__GNUC__)
  if (use_avx2())
    return relu_mask_avx2(gp, g.strides[0], g.strides[1], yp, y.strides[0], y.strides[1], g.shape[0], g.shape[1], out,
                          dbp);
#endif
  relu_mask_impl(gp, g.strides[0], g.strides[1], yp, y.strides[0], y.strides[1], g.shape[0], g.shape[1], out, dbp);
}

}  // namespace

// Both read and write 16-bit floats themselves (sums in double, as for float32; one rounding).
void column_sum(const Tensor& g, const Tensor& db) {
  dispatch_float_opmath(g.dtype, "linear_backward", [&](auto, auto s) { column_sum_typed<decltype(s)>(g, db); });
}

void relu_mask_column_sum(const Tensor& g, const Tensor& y, const Tensor& gm, const Tensor* db) {
  dispatch_float_opmath(g.dtype, "linear_relu_backward",
                        [&](auto, auto s) { relu_mask_column_sum_typed<decltype(s)>(g, y, gm, db); });
}

}  // namespace gc::cpu
