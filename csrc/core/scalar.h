// A Python number passed to an op: kept exact as int64 or double until the op picks the dtype.
#pragma once
#include <cstdint>
#include "core/dtype.h"

namespace gc {

struct Scalar {
  enum Kind : uint8_t { Bool, Int, Float } kind = Float;
  double d = 0;
  int64_t i = 0;
  Scalar() = default;
  static Scalar from_double(double v) {
    Scalar s;
    s.kind = Float;
    s.d = v;
    s.i = fits_int64(v) ? static_cast<int64_t>(v) : 0;  // the cast is undefined outside int64's range
    return s;
  }
  // Whether a double converts to int64 without overflow (NaN and infinities do not).
  static bool fits_int64(double v) { return v >= -9223372036854775808.0 && v < 9223372036854775808.0; }
  static Scalar from_int(int64_t v) { Scalar s; s.kind = Int; s.i = v; s.d = static_cast<double>(v); return s; }
  static Scalar from_bool(bool v) { Scalar s; s.kind = Bool; s.i = v; s.d = v; return s; }
  DType natural_dtype() const { return kind == Float ? default_dtype() : (kind == Int ? DType::Int64 : DType::Bool); }
};

}  // namespace gc
