#include "cpu/isa.h"
#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace gc::cpu {
namespace {

Isa best_supported() {
  Isa best = Isa::baseline;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::avx2;
  if (best == Isa::avx2 && __builtin_cpu_supports("avx512f")) best = Isa::avx512;
  if (best == Isa::avx512 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bf16"))
    best = Isa::avx512_bf16;
#endif
  return best;
}

Isa detect() {
  const Isa best = best_supported();
  Isa want = best;
  if (const char* s = std::getenv("GRADCORE_CPU_ISA")) {
    for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512, Isa::avx512_bf16})
      if (std::strcmp(s, isa_name(isa)) == 0) want = isa;
  }
  return std::min(want, best);  // never a kernel the CPU cannot run
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::baseline: return "baseline";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512_bf16: return "avx512_bf16";
  }
  return "?";
}

Isa cpu_isa() {
  static const Isa isa = detect();
  return isa;
}

}  // namespace gc::cpu
