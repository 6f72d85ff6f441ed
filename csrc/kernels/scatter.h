// The reductions of scatter_reduce and scatter_(reduce=), shared by both backends: how a
// scattered value combines with the element already at its target. Sum is scatter_add's; mean
// is a Sum followed by a division by the count (ops/scatter.cpp), so kernels never see it.
// amax / amin propagate NaN, as PyTorch's do; on bool, sum and amax are `or`, prod and amin `and`.
#pragma once
#include <cstdint>
#include <type_traits>
#include "core/host_device.h"
#include "kernels/math.h"

namespace gc::kernels {

enum class ScatterReduce : uint8_t { Sum, Prod, Amax, Amin };

template <ScatterReduce R, typename T>
GC_HOST_DEVICE inline T scatter_combine(T cur, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    if constexpr (R == ScatterReduce::Sum || R == ScatterReduce::Amax) return cur || v;
    else return cur && v;
  } else if constexpr (R == ScatterReduce::Sum) {
    return static_cast<T>(cur + v);
  } else if constexpr (R == ScatterReduce::Prod) {
    return math::wrapping_mul(cur, v);
  } else if constexpr (R == ScatterReduce::Amax) {
    return (math::isnan(v) || v > cur) ? v : cur;
  } else {
    return (math::isnan(v) || v < cur) ? v : cur;
  }
}

}  // namespace gc::kernels
