// The element conversion of copy and fill, written once for both backends. Bool is x != 0; a
// floating value goes into a narrow integer (uint8, int8, int16, int32) through int64, as
// PyTorch's casts do (-1.0 to uint8 is 255, not undefined behaviour); integers into narrower
// integers wrap around (two's complement).
#pragma once
#include <cstdint>
#include <type_traits>
#include "core/host_device.h"

namespace gc::kernels {

template <typename To, typename From>
GC_HOST_DEVICE inline To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return v != From(0);
  else if constexpr (std::is_integral_v<To> && sizeof(To) < sizeof(int64_t) && !std::is_integral_v<From>)
    return static_cast<To>(static_cast<int64_t>(v));
  else return static_cast<To>(v);
}

}  // namespace gc::kernels
