// AVX-512 VNNI int8 GEMM: 12 rows x 32 columns of s32 accumulators per micro-tile, vpdpbusd on
// A packed per tile (4 bytes of k per row, broadcast) against the pre-packed weight block.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include "kernels/qgemm.h"
#include "kernels/qgemm_epilogue.h"

namespace qtune {
namespace {

constexpr int kMR = 12;
// Tiles per task: enough work per task that scheduling stays cheap on tiny GEMMs.
constexpr int64_t kMinMacsPerTask = 1 << 18;

// Packs rows [m0, m0+rows) of A into [k_padded/4][kMR] dwords; s8 data is shifted to u8 by
// flipping the sign bit (a + 128), which the zero point absorbs.
void pack_a_panel(const QGemmParams& p, const uint8_t* a, int64_t lda, int64_t m0, int rows,
                  int64_t K, int64_t k_padded, uint32_t* panel) {
  const uint8_t flip = p.a_type == DType::kS8 ? 0x80 : 0x00;
  const int64_t groups = k_padded / 4;
  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = a + (m0 + r) * lda;
    int64_t g = 0;
    for (; g * 4 + 4 <= K; ++g) {
      uint32_t v;
      std::memcpy(&v, row + g * 4, 4);
      panel[g * kMR + r] = v ^ (flip * 0x01010101u);
    }
    if (g < groups) {
      uint8_t tail[4] = {0, 0, 0, 0};
      for (int64_t k = g * 4; k < K; ++k) tail[k - g * 4] = row[k] ^ flip;
      uint32_t v;
      std::memcpy(&v, tail, 4);
      panel[g * kMR + r] = v;
    }
  }
  for (int r = rows; r < kMR; ++r) {
    for (int64_t g2 = 0; g2 < groups; ++g2) panel[g2 * kMR + r] = 0;
  }
}

// One accumulator pair per row in named locals: GCC keeps an indexed array of vectors in memory
// and would store every accumulator on every k step.
#define QT_ROW_DECL(r) __m512i c##r##a = _mm512_setzero_si512(), c##r##b = _mm512_setzero_si512();
#define QT_ROW_STEP(r)                                                  \
  if constexpr (MR > r) {                                               \
    uint32_t word;                                                      \
    std::memcpy(&word, ap + r * row_stride, 4);                         \
    const __m512i av = _mm512_set1_epi32(static_cast<int>(word));       \
    c##r##a = _mm512_dpbusd_epi32(c##r##a, av, b0);                     \
    c##r##b = _mm512_dpbusd_epi32(c##r##b, av, b1);                     \
  }
#define QT_ROW_OUT(r)    \
  if constexpr (MR > r) { \
    out[r][0] = c##r##a; \
    out[r][1] = c##r##b; \
  }
#define QT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// A's 4 bytes of group g in row r sit at a + r * row_stride + g * g_stride: a packed panel, or
// A itself when its rows need no repacking.
template <int MR>
void micro_tile(const uint8_t* a, int64_t row_stride, int64_t g_stride, const int8_t* bblk,
                int64_t groups, __m512i (&out)[kMR][2]) {
  static_assert(MR >= 1 && MR <= kMR);
  QT_ROWS(QT_ROW_DECL)
  for (int64_t g = 0; g < groups; ++g) {
    const __m512i b0 = _mm512_load_si512(bblk + g * kQGemmNR * 4);
    const __m512i b1 = _mm512_load_si512(bblk + g * kQGemmNR * 4 + 64);
    const uint8_t* ap = a + g * g_stride;
    QT_ROWS(QT_ROW_STEP)
  }
  QT_ROWS(QT_ROW_OUT)
}

#undef QT_ROWS
#undef QT_ROW_OUT
#undef QT_ROW_STEP
#undef QT_ROW_DECL

using MicroFn = void (*)(const uint8_t*, int64_t, int64_t, const int8_t*, int64_t,
                        __m512i (&)[kMR][2]);
constexpr MicroFn kMicro[kMR + 1] = {nullptr,         micro_tile<1>,  micro_tile<2>,
                                     micro_tile<3>,   micro_tile<4>,  micro_tile<5>,
                                     micro_tile<6>,   micro_tile<7>,  micro_tile<8>,
                                     micro_tile<9>,   micro_tile<10>, micro_tile<11>,
                                     micro_tile<12>};

// Stores the 16 lanes of `v` (element size `bytes`) for row m, columns n0.., either contiguously
// or, for NCHW conv output, one column apart (ldc elements).
void store_lanes(const QGemmParams& p, const void* lanes, size_t bytes, int64_t m, int64_t n0,
                 int64_t n_valid, void* c, int64_t ldc) {
  auto* out = static_cast<uint8_t*>(c);
  const auto* in = static_cast<const uint8_t*>(lanes);
  if (!p.c_transposed) {
    std::memcpy(out + (m * ldc + n0) * static_cast<int64_t>(bytes), in,
                static_cast<size_t>(n_valid) * bytes);
    return;
  }
  for (int64_t j = 0; j < n_valid; ++j) {
    std::memcpy(out + ((n0 + j) * ldc + m) * static_cast<int64_t>(bytes), in + j * bytes, bytes);
  }
}

// Applies the epilogue to one 16-lane vector of accumulators for row m, columns n0..n0+15.
void store_vec(const QGemmParams& p, __m512i acc, int64_t m, int64_t n0, int64_t n_valid,
               void* c, int64_t ldc) {
  const __mmask16 mask = n_valid >= 16 ? 0xffff : static_cast<__mmask16>((1u << n_valid) - 1);
  alignas(64) uint8_t lanes[64];
  if (p.output == QGemmOutput::kS32) {
    if (!p.c_transposed) {
      _mm512_mask_storeu_epi32(static_cast<int32_t*>(c) + m * ldc + n0, mask, acc);
      return;
    }
    _mm512_store_si512(lanes, acc);
    store_lanes(p, lanes, 4, m, n0, n_valid, c, ldc);
    return;
  }
  const __m512 scale = p.per_channel_scale ? _mm512_maskz_loadu_ps(mask, p.scale + n0)
                                           : _mm512_set1_ps(p.scale[0]);
  __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  if (p.mid_scale > 0.0f) {  // the graph's Q -> DQ before the bias Add
    const __m512 ms = _mm512_set1_ps(p.mid_scale);
    const __m512 lim = _mm512_set1_ps(qgemm_detail::kQuotientLimit);
    __m512 q = _mm512_mul_ps(y, _mm512_set1_ps(1.0f / p.mid_scale));
    q = _mm512_min_ps(_mm512_max_ps(q, _mm512_sub_ps(_mm512_setzero_ps(), lim)), lim);
    __m512i r = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i zp = _mm512_set1_epi32(p.mid_zero_point);
    const bool u8 = p.mid_type == DType::kU8;
    r = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, zp), _mm512_set1_epi32(u8 ? 0 : -128)),
                         _mm512_set1_epi32(u8 ? 255 : 127));
    y = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(r, zp)), ms);
  }
  if (p.bias_f32) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, p.bias_f32 + n0));
  y = _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(p.clamp_min)), _mm512_set1_ps(p.clamp_max));
  if (p.output == QGemmOutput::kF32) {
    if (!p.c_transposed) {
      _mm512_mask_storeu_ps(static_cast<float*>(c) + m * ldc + n0, mask, y);
      return;
    }
    _mm512_store_ps(reinterpret_cast<float*>(lanes), y);
    store_lanes(p, lanes, 4, m, n0, n_valid, c, ldc);
    return;
  }
  const __m512 lim = _mm512_set1_ps(qgemm_detail::kQuotientLimit);
  __m512 q = _mm512_mul_ps(y, _mm512_set1_ps(1.0f / p.out_scale));
  q = _mm512_min_ps(_mm512_max_ps(q, _mm512_sub_ps(_mm512_setzero_ps(), lim)), lim);
  __m512i r = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_add_epi32(r, _mm512_set1_epi32(p.out_zero_point));
  const bool is_u8 = p.output == QGemmOutput::kU8;
  r = _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(is_u8 ? 0 : -128)),
                       _mm512_set1_epi32(is_u8 ? 255 : 127));
  if (!p.c_transposed) {
    _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(c) + m * ldc + n0, mask, r);
    return;
  }
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), _mm512_cvtepi32_epi8(r));
  store_lanes(p, lanes, 1, m, n0, n_valid, c, ldc);
}

}  // namespace

void qgemm_u8s8_12x32__avx512vnni(const QGemmParams& p, const void* a, int64_t lda,
                                  const PackedWeightsS8& b, void* c, int64_t ldc) {
  if (p.M <= 0 || b.N <= 0) return;
  const int64_t m_tiles = (p.M + kMR - 1) / kMR;
  const int64_t n_blocks = b.n_padded / kQGemmNR;
  const int64_t groups = b.k_padded / 4;
  // s8 activations were shifted by +128, so the zero point moves with them.
  const int32_t zp = p.a_zero_point + (p.a_type == DType::kS8 ? 128 : 0);
  const int64_t macs_per_tile = kMR * kQGemmNR * std::max<int64_t>(b.k_padded, 1);
  const int64_t tiles_per_task = std::max<int64_t>(1, kMinMacsPerTask / macs_per_tile);
  // Tasks take whole rows of tiles when there are enough rows: each A panel is then packed once,
  // not once per column block (packing costs about as much as a K=64 tile's products).
  const bool whole_rows = m_tiles >= 8;
  const int64_t m_grain = whole_rows
                              ? std::max<int64_t>(1, tiles_per_task / n_blocks)
                              : std::max<int64_t>(1, std::min(m_tiles, tiles_per_task));

  const bool direct = p.a_type == DType::kU8 && b.K == b.k_padded;
  auto body = [&](const tbb::blocked_range2d<int64_t>& range) {
    std::vector<uint32_t> panel_storage(static_cast<size_t>(groups * kMR) + 16);
    uint32_t* panel = panel_storage.data();
    for (int64_t mt = range.rows().begin(); mt < range.rows().end(); ++mt) {
      const int64_t m0 = mt * kMR;
      const int rows = static_cast<int>(std::min<int64_t>(kMR, p.M - m0));
      // u8 rows whose K fills whole groups are read in place; s8 (shifted to u8) or a ragged
      // K is packed first.
      const uint8_t* a_tile = static_cast<const uint8_t*>(a) + m0 * lda;
      int64_t row_stride = lda, g_stride = 4;
      if (!direct) {
        pack_a_panel(p, static_cast<const uint8_t*>(a), lda, m0, rows, b.K, b.k_padded, panel);
        a_tile = reinterpret_cast<const uint8_t*>(panel);
        row_stride = 4;
        g_stride = kMR * 4;
      }
      for (int64_t nb = range.cols().begin(); nb < range.cols().end(); ++nb) {
        __m512i acc[kMR][2];
        kMicro[rows](a_tile, row_stride, g_stride, b.block(nb), groups, acc);
        const int64_t n0 = nb * kQGemmNR;
        for (int half = 0; half < 2; ++half) {
          const int64_t nh = n0 + half * 16;
          const int64_t n_valid = std::min<int64_t>(16, b.N - nh);
          if (n_valid <= 0) break;
          __m512i comp = _mm512_mullo_epi32(_mm512_set1_epi32(zp),
                                            _mm512_loadu_si512(b.col_sum.data() + nh));
          if (p.bias_s32) {
            const __mmask16 mask =
                n_valid >= 16 ? 0xffff : static_cast<__mmask16>((1u << n_valid) - 1);
            comp = _mm512_sub_epi32(comp, _mm512_maskz_loadu_epi32(mask, p.bias_s32 + nh));
          }
          for (int r = 0; r < rows; ++r) {
            store_vec(p, _mm512_sub_epi32(acc[r][half], comp), m0 + r, nh, n_valid, c, ldc);
          }
        }
      }
    }
  };
  const int64_t n_grain = whole_rows ? n_blocks : std::max<int64_t>(1, tiles_per_task / m_grain);
  const tbb::blocked_range2d<int64_t> all(0, m_tiles, m_grain, 0, n_blocks, n_grain);
  if (m_tiles * n_blocks <= tiles_per_task) {
    body(all);
  } else {
    tbb::parallel_for(all, body);
  }
}

}  // namespace qtune
