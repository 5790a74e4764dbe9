// AVX512-BF16 GEMM: 12 rows x 32 columns of f32 accumulators, vdpbf16ps on A pairs (rounded to
// bf16 and packed per tile) against the pre-packed bf16 weight block.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include "common/dtype.h"
#include "kernels/gemm_bf16.h"

namespace qtune {
namespace {

constexpr int kMR = 12;
constexpr int64_t kMinFlopsPerTask = 1 << 19;

// [k_padded/2][kMR] pairs of bf16 (one dword per row and pair).
void pack_a_panel(const float* a, int64_t lda, int64_t m0, int rows, int64_t K, int64_t k_padded,
                  uint32_t* panel) {
  const int64_t pairs = k_padded / 2;
  for (int r = 0; r < kMR; ++r) {
    for (int64_t q = 0; q < pairs; ++q) {
      uint32_t v = 0;
      if (r < rows) {
        const float* row = a + (m0 + r) * lda;
        const uint32_t lo = f32_to_bf16(row[2 * q]);
        const uint32_t hi = 2 * q + 1 < K ? f32_to_bf16(row[2 * q + 1]) : 0;
        v = lo | (hi << 16);
      }
      panel[q * kMR + r] = v;
    }
  }
}

template <int MR>
void micro_tile(const uint32_t* panel, const uint16_t* bblk, int64_t pairs, __m512 (&acc)[kMR][2]) {
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t q = 0; q < pairs; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(bblk + q * kBf16GemmNR * 2);
    const __m512bh b1 = (__m512bh)_mm512_load_si512(bblk + q * kBf16GemmNR * 2 + 32);
    const uint32_t* ap = panel + q * kMR;
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
}

using MicroFn = void (*)(const uint32_t*, const uint16_t*, int64_t, __m512 (&)[kMR][2]);
constexpr MicroFn kMicro[kMR + 1] = {nullptr,         micro_tile<1>,  micro_tile<2>,
                                     micro_tile<3>,   micro_tile<4>,  micro_tile<5>,
                                     micro_tile<6>,   micro_tile<7>,  micro_tile<8>,
                                     micro_tile<9>,   micro_tile<10>, micro_tile<11>,
                                     micro_tile<12>};

}  // namespace

void bf16_gemm_12x32__avx512bf16(const Bf16GemmParams& p, const float* a, int64_t lda,
                                 const PackedWeightsBF16& b, float* c, int64_t ldc) {
  if (p.M <= 0 || b.N <= 0) return;
  const int64_t m_tiles = (p.M + kMR - 1) / kMR;
  const int64_t n_blocks = b.n_padded / kBf16GemmNR;
  const int64_t pairs = b.k_padded / 2;
  const int64_t flops_per_tile = 2 * kMR * kBf16GemmNR * std::max<int64_t>(b.k_padded, 1);
  const int64_t tiles_per_task = std::max<int64_t>(1, kMinFlopsPerTask / flops_per_tile);
  const int64_t m_grain = std::max<int64_t>(1, std::min(m_tiles, tiles_per_task));
  const int64_t n_grain = std::max<int64_t>(1, tiles_per_task / m_grain);
  const __m512 lo = _mm512_set1_ps(p.clamp_min), hi = _mm512_set1_ps(p.clamp_max);

  auto body = [&](const tbb::blocked_range2d<int64_t>& range) {
    std::vector<uint32_t> panel(static_cast<size_t>(pairs * kMR) + 16);
    for (int64_t mt = range.rows().begin(); mt < range.rows().end(); ++mt) {
      const int64_t m0 = mt * kMR;
      const int rows = static_cast<int>(std::min<int64_t>(kMR, p.M - m0));
      pack_a_panel(a, lda, m0, rows, b.K, b.k_padded, panel.data());
      for (int64_t nb = range.cols().begin(); nb < range.cols().end(); ++nb) {
        __m512 acc[kMR][2];
        kMicro[rows](panel.data(), b.block(nb), pairs, acc);
        for (int half = 0; half < 2; ++half) {
          const int64_t n0 = nb * kBf16GemmNR + half * 16;
          const int64_t valid = std::min<int64_t>(16, b.N - n0);
          if (valid <= 0) break;
          const __mmask16 mask = valid >= 16 ? 0xffff : static_cast<__mmask16>((1u << valid) - 1);
          const __m512 bias = p.bias ? _mm512_maskz_loadu_ps(mask, p.bias + n0) : _mm512_setzero_ps();
          for (int r = 0; r < rows; ++r) {
            __m512 y = acc[r][half];
            if (p.bias) y = _mm512_add_ps(y, bias);
            y = _mm512_min_ps(_mm512_max_ps(y, lo), hi);
            _mm512_mask_storeu_ps(c + (m0 + r) * ldc + n0, mask, y);
          }
        }
      }
    }
  };
  const tbb::blocked_range2d<int64_t> all(0, m_tiles, m_grain, 0, n_blocks, n_grain);
  if (m_tiles * n_blocks <= tiles_per_task) {
    body(all);
  } else {
    tbb::parallel_for(all, body);
  }
}

}  // namespace qtune
