// Scalar types and devices: the two tags every tensor carries.
#pragma once
#include <cstdint>
#include <string>
#include "core/error.h"
#include "core/half.h"

namespace gc {

// BFloat16 and Float16 are storage types: copy and fill read and write them (GC_DISPATCH_STORAGE);
// the compute kernels see them through GC_KERNEL's float32 twins (ops/dispatch.h), and a kernel
// reached another way refuses them with narrow_unsupported()'s message. The narrow integers
// (UInt8, Int8, Int16, Int32) are storage types the same way, with int64 twins: arithmetic wraps
// around when the int64 result is narrowed back, as PyTorch's integer arithmetic does.
enum class DType : uint8_t {
  Bool = 0, Int64 = 1, Float32 = 2, Float64 = 3, BFloat16 = 4, Float16 = 5, UInt8 = 6, Int8 = 7, Int16 = 8, Int32 = 9
};

inline size_t itemsize(DType t) {
  switch (t) {
    case DType::Bool: return 1;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::BFloat16:
    case DType::Float16: return 2;
    case DType::UInt8:
    case DType::Int8: return 1;
    case DType::Int16: return 2;
    case DType::Int32: return 4;
  }
  return 0;
}
inline bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::BFloat16 || t == DType::Float16;
}
inline bool is_half(DType t) { return t == DType::BFloat16 || t == DType::Float16; }
inline bool is_narrow_int(DType t) {
  return t == DType::UInt8 || t == DType::Int8 || t == DType::Int16 || t == DType::Int32;
}
// An integer dtype other than bool (PyTorch's isIntegralType(t, includeBool=false)).
inline bool is_integral(DType t) { return t == DType::Int64 || is_narrow_int(t); }
// The storage-only dtypes and the dtype their compute twins have (GC_KERNEL's widening).
inline bool is_narrow(DType t) { return is_half(t) || is_narrow_int(t); }
inline DType wide_dtype(DType t) { return is_half(t) ? DType::Float32 : is_narrow_int(t) ? DType::Int64 : t; }
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::BFloat16: return "bfloat16";
    case DType::Float16: return "float16";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
  }
  return "?";
}
// Promotion within tensors of one priority class, PyTorch's table: bool < {uint8, int8} < int16 <
// int32 < int64 < {bfloat16, float16} < float32 < float64, where each pair in braces meets in the
// next type up (uint8 with int8 gives int16, bfloat16 with float16 float32: neither holds the other).
inline int promotion_rank(DType t) {
  switch (t) {
    case DType::Bool: return 0;
    case DType::UInt8:
    case DType::Int8: return 1;
    case DType::Int16: return 2;
    case DType::Int32: return 3;
    case DType::Int64: return 4;
    case DType::BFloat16:
    case DType::Float16: return 5;
    case DType::Float32: return 6;
    case DType::Float64: return 7;
  }
  return 0;
}
inline DType promote(DType a, DType b) {
  if (a == b) return a;
  if (is_half(a) && is_half(b)) return DType::Float32;
  if ((a == DType::UInt8 && b == DType::Int8) || (a == DType::Int8 && b == DType::UInt8)) return DType::Int16;
  return promotion_rank(a) >= promotion_rank(b) ? a : b;
}
// Category: 0 bool, 1 integer, 2 floating.
inline int dtype_category(DType t) { return t == DType::Bool ? 0 : (is_integral(t) ? 1 : 2); }

DType default_dtype();
void set_default_dtype(DType t);

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = -1;  // -1: "current" (cpu has none)
  bool operator==(const Device& o) const { return type == o.type && norm_index() == o.norm_index(); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  int norm_index() const { return type == DeviceType::CPU ? -1 : (index < 0 ? 0 : index); }
  bool is_cpu() const { return type == DeviceType::CPU; }
  std::string str() const {
    if (type == DeviceType::CPU) return "cpu";
    return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
  }
};

// The error of a compute kernel given a storage-only tensor (a 16-bit float or a narrow integer)
// that did not come through GC_KERNEL's widening.
inline std::string narrow_unsupported(const char* op, DType t) {
  if (is_narrow_int(t))
    return std::string(op) + ": not implemented for " + dtype_name(t) + " tensors here (gradcore stores " +
           dtype_name(t) + " but computes integers in int64). Hint: convert with .long() first.";
  return std::string(op) + ": not implemented for " + dtype_name(t) + " tensors yet (gradcore stores " +
         dtype_name(t) + " but computes in float32 and float64 only). Hint: convert with .float() first.";
}

// Dispatch a block over the tensor's scalar type: `scalar_t` names the C++ type inside.
#define GC_DISPATCH_CASE(enum_v, ctype, ...) \
  case ::gc::DType::enum_v: {               \
    using scalar_t = ctype;                 \
    return __VA_ARGS__();                   \
  }
// The four dtypes every compute kernel is instantiated for.
#define GC_DISPATCH_CASES_COMPUTE(...)               \
  GC_DISPATCH_CASE(Float32, float, __VA_ARGS__)      \
  GC_DISPATCH_CASE(Float64, double, __VA_ARGS__)     \
  GC_DISPATCH_CASE(Int64, int64_t, __VA_ARGS__)      \
  GC_DISPATCH_CASE(Bool, bool, __VA_ARGS__)
#define GC_DISPATCH_CASES_HALF(...)                              \
  GC_DISPATCH_CASE(BFloat16, ::gc::BFloat16, __VA_ARGS__)        \
  GC_DISPATCH_CASE(Float16, ::gc::Half, __VA_ARGS__)
#define GC_DISPATCH_CASES_NARROW_INT(...)         \
  GC_DISPATCH_CASE(UInt8, uint8_t, __VA_ARGS__)   \
  GC_DISPATCH_CASE(Int8, int8_t, __VA_ARGS__)     \
  GC_DISPATCH_CASE(Int16, int16_t, __VA_ARGS__)   \
  GC_DISPATCH_CASE(Int32, int32_t, __VA_ARGS__)
// The storage-only dtypes, refused by a compute kernel.
#define GC_DISPATCH_REFUSE_NARROW(dtype, opname) \
  case ::gc::DType::BFloat16:                    \
  case ::gc::DType::Float16:                     \
  case ::gc::DType::UInt8:                       \
  case ::gc::DType::Int8:                        \
  case ::gc::DType::Int16:                       \
  case ::gc::DType::Int32:                       \
    throw ::gc::Error(::gc::ErrorKind::NotImplemented, ::gc::narrow_unsupported(opname, dtype));
#define GC_DISPATCH_ALL(dtype, opname, ...)                                            \
  [&] {                                                                                \
    switch (dtype) {                                                                   \
      GC_DISPATCH_CASES_COMPUTE(__VA_ARGS__)                                           \
      GC_DISPATCH_REFUSE_NARROW(dtype, opname)                                         \
    }                                                                                  \
    throw ::gc::Error(::gc::ErrorKind::Type, std::string(opname) + ": unsupported dtype"); \
  }()
// The compute dtypes and the 16-bit floats (kernels that read and write those themselves and get
// the narrow integers as int64 twins).
#define GC_DISPATCH_FLOAT16(dtype, opname, ...)                                        \
  [&] {                                                                                \
    switch (dtype) {                                                                   \
      GC_DISPATCH_CASES_COMPUTE(__VA_ARGS__)                                           \
      GC_DISPATCH_CASES_HALF(__VA_ARGS__)                                              \
      case ::gc::DType::UInt8:                                                         \
      case ::gc::DType::Int8:                                                          \
      case ::gc::DType::Int16:                                                         \
      case ::gc::DType::Int32:                                                         \
        throw ::gc::Error(::gc::ErrorKind::NotImplemented, ::gc::narrow_unsupported(opname, dtype)); \
    }                                                                                  \
    throw ::gc::Error(::gc::ErrorKind::Type, std::string(opname) + ": unsupported dtype"); \
  }()
// The storage ops (copy, fill): every dtype, the 16-bit floats and narrow integers included.
#define GC_DISPATCH_STORAGE(dtype, opname, ...)                                        \
  [&] {                                                                                \
    switch (dtype) {                                                                   \
      GC_DISPATCH_CASES_COMPUTE(__VA_ARGS__)                                           \
      GC_DISPATCH_CASES_HALF(__VA_ARGS__)                                              \
      GC_DISPATCH_CASES_NARROW_INT(__VA_ARGS__)                                        \
    }                                                                                  \
    throw ::gc::Error(::gc::ErrorKind::Type, std::string(opname) + ": unsupported dtype"); \
  }()
#define GC_DISPATCH_NUMERIC(dtype, opname, ...)                                         \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      GC_DISPATCH_CASE(Float32, float, __VA_ARGS__)                                     \
      GC_DISPATCH_CASE(Float64, double, __VA_ARGS__)                                    \
      GC_DISPATCH_CASE(Int64, int64_t, __VA_ARGS__)                                     \
      case ::gc::DType::Bool: break;                                                    \
      GC_DISPATCH_REFUSE_NARROW(dtype, opname)                                          \
    }                                                                                   \
    throw ::gc::Error(::gc::ErrorKind::Runtime, std::string(opname) +                   \
                      ": not implemented for dtype " + ::gc::dtype_name(dtype));        \
  }()
#define GC_DISPATCH_FLOAT(dtype, opname, ...)                                           \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      GC_DISPATCH_CASE(Float32, float, __VA_ARGS__)                                     \
      GC_DISPATCH_CASE(Float64, double, __VA_ARGS__)                                    \
      case ::gc::DType::Int64:                                                          \
      case ::gc::DType::Bool: break;                                                    \
      GC_DISPATCH_REFUSE_NARROW(dtype, opname)                                          \
    }                                                                                   \
    throw ::gc::Error(::gc::ErrorKind::Runtime, std::string(opname) +                   \
                      ": expected a floating-point tensor (float32 or float64) but got " + \
                      ::gc::dtype_name(dtype) + "; convert it first with .float()");   \
  }()

// The dtype sets a kernel is instantiated for (the op tables of kernels/ map each rule to one):
// body(T{}) runs for the tensor's scalar type T, and other dtypes raise the macros' errors.
enum class DtypeSet : uint8_t { Float, Numeric, All };
template <DtypeSet S, typename Body>
void dispatch_dtype_set(DType dtype, const char* name, Body&& body) {
  if constexpr (S == DtypeSet::Float) GC_DISPATCH_FLOAT(dtype, name, [&] { body(scalar_t{}); });
  else if constexpr (S == DtypeSet::Numeric) GC_DISPATCH_NUMERIC(dtype, name, [&] { body(scalar_t{}); });
  else GC_DISPATCH_ALL(dtype, name, [&] { body(scalar_t{}); });
}

}  // namespace gc
