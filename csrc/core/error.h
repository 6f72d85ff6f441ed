// Errors: a few C++ exception kinds, mapped to PyTorch's Python exception types in one place
// (bind/module.cpp). Every message names the op and, through the helpers below, shapes and dtypes.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <cstdint>

namespace gc {

// Assertion: only where PyTorch raises AssertionError (a CUDA device asked of a build without CUDA).
enum class ErrorKind { Runtime, Value, Index, Type, NotImplemented, Assertion };

struct Error : std::runtime_error {
  ErrorKind kind;
  Error(ErrorKind k, const std::string& msg) : std::runtime_error(msg), kind(k) {}
};

template <typename T>
std::string shape_str(const T& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

// "(a, b)": a pair of a 2-D op's arguments (stride, padding, ...) as PyTorch prints them.
inline std::string pair_str(const int64_t* v) { return "(" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ")"; }

namespace detail {
inline void cat_to(std::ostringstream&) {}
template <typename A, typename... R>
void cat_to(std::ostringstream& s, const A& a, const R&... r) {
  s << a;
  cat_to(s, r...);
}
}  // namespace detail

// fail(kind, op, parts...): throw "op: parts...". Hints go in the parts, after the facts.
template <typename... P>
[[noreturn]] void fail(ErrorKind kind, const char* op, const P&... parts) {
  std::ostringstream s;
  s << op << ": ";
  detail::cat_to(s, parts...);
  throw Error(kind, s.str());
}

#define GC_CHECK(cond, kind, op, ...) \
  do {                                \
    if (!(cond)) ::gc::fail(kind, op, __VA_ARGS__); \
  } while (0)

}  // namespace gc
