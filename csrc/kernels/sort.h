// The order of sort, argsort and topk, and the scans cumsum/cumprod row by row, shared by both
// backends (the formulas exist once; cpu/sort.cpp, cpu/scan.cpp and their CUDA twins call them).
#pragma once
#include <cstdint>
#include <type_traits>
#include "core/host_device.h"

namespace gc::kernels {

template <typename T>
GC_HOST_DEVICE inline bool sort_is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// A strict total order on (value, input position): ascending puts NaN after every number (NaN
// is the largest value, as in PyTorch), descending puts it first; equal values (NaNs included)
// keep their input order, so every sort is stable and the result does not depend on the
// algorithm (std::sort, nth_element, a bitonic network).
template <typename T>
struct SortOrder {
  bool descending = false;
  GC_HOST_DEVICE bool before(T a, int64_t ia, T b, int64_t ib) const {
    const bool an = sort_is_nan(a), bn = sort_is_nan(b);
    if (an || bn) return an && bn ? ia < ib : (descending ? an : bn);
    if (a == b) return ia < ib;
    return descending ? a > b : a < b;
  }
};

// ---- scans ----
enum class ScanOp : uint8_t { Sum, Prod };

// Floats accumulate in double; integers in uint64, so overflow wraps around (as PyTorch's int64
// scans do) instead of being undefined.
template <typename T>
using scan_acc_t = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

template <typename T>
GC_HOST_DEVICE inline scan_acc_t<T> scan_widen(T v) {
  if constexpr (std::is_floating_point_v<T>) return static_cast<double>(v);
  else return static_cast<uint64_t>(static_cast<int64_t>(v));
}

// out[c] = x[0] op ... op x[c] along one row of C elements `stride` apart (from the end when
// reverse: out[c] = x[c] op ... op x[C-1]).
template <typename T>
GC_HOST_DEVICE inline void scan_row(T* out, const T* x, int64_t C, int64_t stride, ScanOp op, bool reverse) {
  scan_acc_t<T> acc = op == ScanOp::Sum ? 0 : 1;
  for (int64_t j = 0; j < C; ++j) {
    const int64_t c = (reverse ? C - 1 - j : j) * stride;
    acc = op == ScanOp::Sum ? acc + scan_widen(x[c]) : acc * scan_widen(x[c]);
    out[c] = static_cast<T>(acc);
  }
}

// The gradient of out = cumprod(x) along one row, exact when x holds zeros and with no division:
//   gx[i] = sum_{j>=i} g[j] prod_{m<=j, m!=i} x[m] = P[i] * S[i], where
//   P[i] = prod_{m<i} x[m] (= out[i-1], 1 for i = 0) and S[i] = g[i] + x[i+1] S[i+1], S[C-1] = g[C-1].
template <typename T>
GC_HOST_DEVICE inline void cumprod_backward_row(T* gx, const T* g, const T* x, const T* out, int64_t C,
                                                int64_t stride) {
  double s = 0;
  for (int64_t i = C - 1; i >= 0; --i) {
    s = static_cast<double>(g[i * stride]) + (i + 1 < C ? static_cast<double>(x[(i + 1) * stride]) * s : 0.0);
    const double p = i == 0 ? 1.0 : static_cast<double>(out[(i - 1) * stride]);
    gx[i * stride] = static_cast<T>(p * s);
  }
}

}  // namespace gc::kernels
