// The one run-time choice of instruction set for the CPU backend. Kernels that exist in more
// than one build (the GEMM's per-ISA translation units, loops compiled a second time under
// target("avx2")) pick their copy from cpu_isa(), never from the compiler's flags, so one binary
// runs the best code each machine has and nothing the machine lacks.
#pragma once

namespace gc::cpu {

enum class Isa { baseline, avx2, avx512, avx512_bf16 };  // ordered: each includes the ones before it

// The best ISA this CPU runs (avx2 means AVX2 and FMA; avx512 means AVX-512F as well; avx512_bf16
// adds AVX512_BF16 with AVX512BW/VL, whose vdpbf16ps multiplies bfloat16 pairs into float), capped
// by GRADCORE_CPU_ISA=baseline|avx2|avx512|avx512_bf16 when set, so tests can force every path. Decided once per
// process; a value the CPU cannot run falls back to what it can.
Isa cpu_isa();
const char* isa_name(Isa isa);

// cpu_isa() >= Isa::avx2, cached where it is read inside loops.
inline bool use_avx2() {
  static const bool yes = cpu_isa() >= Isa::avx2;
  return yes;
}

}  // namespace gc::cpu
