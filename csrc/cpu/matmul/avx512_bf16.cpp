// The GEMM's bfloat16 kernel (see cpu/matmul/kernel.h), compiled with -mavx512f -mavx512bw
// -mavx512vl -mavx512bf16: A and B are bfloat16, C and the accumulators float32.
//
// vdpbf16ps (AVX512_BF16) multiplies 16 pairs of bfloat16 by 16 pairs and adds both products of
// each pair to a float lane: acc[j] += a[2j] * b[2j] + a[2j + 1] * b[2j + 1]. So the panels hold
// pairs of consecutive k values in one 32-bit word (the lower k in the low half):
//   A panel: word [p][i] = (A[i, 2p], A[i, 2p + 1]), 12 rows per panel;
//   B panel: word [p][j] = (B[2p, j], B[2p + 1, j]), 32 columns per panel;
// and the float kernel's 12 x 32 register tile runs over them unchanged (micro_simd in
// cpu/matmul/x86.h): each step broadcasts one word of A and issues 2 vdpbf16ps per row, twice the
// multiply-adds of an FMA step. An odd K ends with a pair whose high half is zero.
//
// The instruction rounds each product and sum to nearest even and flushes bfloat16 denormal inputs
// and float denormal results to zero (as oneDNN's kernels, which PyTorch's bf16 matmul runs, do on
// the same CPUs); results differ from float32 FMAs on the same values by float rounding only.
#include "cpu/matmul/kernel.h"
#if defined(GRADCORE_X86_KERNELS)
#if !defined(__AVX512BF16__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "cpu/matmul/avx512_bf16.cpp must be compiled with -mavx512f -mavx512bw -mavx512vl -mavx512bf16 (CMakeLists.txt)"
#endif
#include <cstring>
#include "cpu/matmul/avx512.h"

namespace gc::cpu::gemm {
namespace {

// The float traits (epilogue and stores) with the pair step.
struct Bf16Dot : Avx512F {
  using P = uint32_t;  // two bfloat16 of consecutive k
  static GC_ALWAYS_INLINE __m512 bcast(const P* a) {
    uint32_t w;
    std::memcpy(&w, a, sizeof w);  // packs write these words as float or integer: no aliasing assumptions
    return _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(w)));
  }
  static GC_ALWAYS_INLINE __m512 loadb(const P* b) { return _mm512_castsi512_ps(_mm512_load_si512(b)); }
  static GC_ALWAYS_INLINE __m512 madd(__m512 a, __m512 b, __m512 c) {
    return _mm512_dpbf16_ps(c, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
  }
};

GC_ALWAYS_INLINE uint32_t pair(uint16_t lo, uint16_t hi) { return uint32_t(lo) | uint32_t(hi) << 16; }

// One W-wide panel of pairs: dst[p * W + i] = (src[i * ld_i + 2p * ld_p], src[i * ld_i + (2p + 1) * ld_p])
// for i < w and 2p < kc; zero past w, and in the high half of the last pair when kc is odd.
template <int W>
void pack_pairs(int w, int64_t kc, const BFloat16* src, int64_t ld_i, int64_t ld_p, uint32_t* dst) {
  const auto* s = reinterpret_cast<const uint16_t*>(src);
  const int64_t kp = kc / 2;  // whole pairs
  if (ld_p == 1 && ld_i % 2 == 0 && reinterpret_cast<uintptr_t>(src) % 4 == 0) {
    // k contiguous (row-major A, transposed B such as W in x @ W^T): each pair is one aligned
    // 32-bit word of its row, so the panel is a transpose of 32-bit words (bits copied as floats).
    pack_panel_t<W>(w, kp, reinterpret_cast<const float*>(src), ld_i / 2, reinterpret_cast<float*>(dst));
  } else if (ld_i == 1 && w == 32 && W == 32) {
    // i contiguous, a whole 32-wide panel: k rows 2p and 2p + 1 interleaved by unpacking (pairs in
    // 128-bit lane order), then the lanes put back in column order.
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (int64_t p = 0; p < kp; ++p) {
      const __m512i r0 = _mm512_loadu_si512(s + 2 * p * ld_p), r1 = _mm512_loadu_si512(s + (2 * p + 1) * ld_p);
      const __m512i lo = _mm512_unpacklo_epi16(r0, r1), hi = _mm512_unpackhi_epi16(r0, r1);
      _mm512_storeu_si512(dst + p * W, _mm512_permutex2var_epi64(lo, first, hi));
      _mm512_storeu_si512(dst + p * W + 16, _mm512_permutex2var_epi64(lo, second, hi));
    }
  } else if (ld_i == 1) {
    // i contiguous (row-major B, transposed A): k rows 2p and 2p + 1 interleaved, 16 words a step.
    for (int64_t p = 0; p < kp; ++p) {
      const uint16_t* r0 = s + 2 * p * ld_p;
      const uint16_t* r1 = r0 + ld_p;
      for (int i0 = 0; i0 < W; i0 += 16) {
        const int n = std::max(0, std::min(16, w - i0));
        const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
        // The maskz forms (all lanes on) instead of the plain ones: GCC 12 warns that the plain
        // ones' _mm512_undefined source "may be used uninitialized".
        const __mmask16 all = 0xFFFF;
        const __m512i lo = _mm512_maskz_cvtepu16_epi32(all, _mm256_maskz_loadu_epi16(m, r0 + i0));
        const __m512i hi = _mm512_maskz_cvtepu16_epi32(all, _mm256_maskz_loadu_epi16(m, r1 + i0));
        const __mmask16 out = static_cast<__mmask16>((1u << std::min(16, W - i0)) - 1);
        _mm512_mask_storeu_epi32(dst + p * W + i0, out, _mm512_or_si512(lo, _mm512_maskz_slli_epi32(all, hi, 16)));
      }
    }
  } else {
    for (int64_t p = 0; p < kp; ++p) {
      for (int i = 0; i < w; ++i) dst[p * W + i] = pair(s[i * ld_i + 2 * p * ld_p], s[i * ld_i + (2 * p + 1) * ld_p]);
      for (int i = w; i < W; ++i) dst[p * W + i] = 0;
    }
  }
  if (kc % 2) {
    for (int i = 0; i < w; ++i) dst[kp * W + i] = pair(s[i * ld_i + (kc - 1) * ld_p], 0);
    for (int i = w; i < W; ++i) dst[kp * W + i] = 0;
  }
}

// Panels of W rows of A (ld_i = A's row stride) or W columns of B (ld_i = B's column stride),
// ceil(kc / 2) words deep.
template <int W>
void pack_pair_panels(int64_t count, int64_t kc, const BFloat16* src, int64_t ld_i, int64_t ld_p, uint32_t* dst) {
  const int64_t depth = ceil_div(kc, 2);
  for (int64_t i0 = 0; i0 < count; i0 += W, dst += W * depth)
    pack_pairs<W>(static_cast<int>(std::min<int64_t>(W, count - i0)), kc, src + i0 * ld_i, ld_i, ld_p, dst);
}

template <int MR>
void pack_a_pairs(int64_t m, int64_t kc, const BFloat16* a, int64_t rs, int64_t cs, uint32_t* dst) {
  pack_pair_panels<MR>(m, kc, a, rs, cs, dst);
}

template <int NR>
void pack_b_pairs(int64_t kc, int64_t n, const BFloat16* b, int64_t rs, int64_t cs, uint32_t* dst) {
  pack_pair_panels<NR>(n, kc, b, cs, rs, dst);
}

}  // namespace

Kernel<float, BFloat16, uint32_t> kernel_avx512_bf16() {
  constexpr int MR = 12, NV = 2, NR = NV * Bf16Dot::W;
  // 768-deep slices (384 pairs): the 12-row A panel is 18 KiB as in the float kernel, and a
  // 768 x 512 B block 768 KiB of L2.
  Kernel<float, BFloat16, uint32_t> k{MR, NR, 768, 144, 512, &micro_simd<Bf16Dot, MR, MR, NV>,
                                      &pack_a_pairs<MR>, &pack_b_pairs<NR>,
                                      {{4, &micro_simd<Bf16Dot, MR, 4, NV>}, {8, &micro_simd<Bf16Dot, MR, 8, NV>}},
                                      {}, {}, 2};
  return k;
}

}  // namespace gc::cpu::gemm
#endif  // GRADCORE_X86_KERNELS
