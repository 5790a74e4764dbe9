// AVX-512 VNNI int8 GEMM: 12 rows x 32 columns of s32 accumulators per micro-tile, vpdpbusd on
// A packed per tile (4 bytes of k per row, broadcast) against the pre-packed weight block.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "kernels/qgemm.h"
#include "kernels/qgemm_epilogue.h"
#include "kernels/qconv_nhwc_detail_avx512vnni.h"  // the packed requantization

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

// Stores the 16 lanes (element size `bytes`) for row m, columns n0.., either contiguously or,
// for NCHW conv output, one column apart (ldc elements).
void store_lanes(bool transposed, const void* lanes, size_t bytes, int64_t m, int64_t n0,
                 int64_t n_valid, void* c, int64_t ldc) {
  auto* out = static_cast<uint8_t*>(c);
  const auto* in = static_cast<const uint8_t*>(lanes);
  if (!transposed) {
    std::memcpy(out + (m * ldc + n0) * static_cast<int64_t>(bytes), in,
                static_cast<size_t>(n_valid) * bytes);
    return;
  }
  for (int64_t j = 0; j < n_valid; ++j) {
    std::memcpy(out + ((n0 + j) * ldc + m) * static_cast<int64_t>(bytes), in + j * bytes, bytes);
  }
}

// Applies the epilogue to one 16-column half of a tile: rows m0..m0+rows-1, columns n0..n0+15,
// accumulators minus `comp` (zero point and s32 bias). Every constant is read from p into a
// local before the row loop: the stores to C may alias p, so field reads inside the loop would
// be reloaded after every store.
void store_half(const QGemmParams& p, const __m512i (&acc)[kMR][2], int half, int rows,
                int64_t m0, int64_t n0, int64_t n_valid, __m512i comp, void* c, int64_t ldc) {
  const __mmask16 mask = n_valid >= 16 ? 0xffff : static_cast<__mmask16>((1u << n_valid) - 1);
  const bool transposed = p.c_transposed;
  const QGemmOutput output = p.output;
  alignas(64) uint8_t lanes[64];
  if (output == QGemmOutput::kS32) {
    auto* c32 = static_cast<int32_t*>(c);
    for (int r = 0; r < rows; ++r) {
      const __m512i v = _mm512_sub_epi32(acc[r][half], comp);
      if (!transposed) {
        _mm512_mask_storeu_epi32(c32 + (m0 + r) * ldc + n0, mask, v);
      } else {
        _mm512_store_si512(lanes, v);
        store_lanes(true, lanes, 4, m0 + r, n0, n_valid, c, ldc);
      }
    }
    return;
  }
  const __m512 scale = p.per_channel_scale ? _mm512_maskz_loadu_ps(mask, p.scale + n0)
                                           : _mm512_set1_ps(p.scale[0]);
  const __m512 lim = _mm512_set1_ps(qgemm_detail::kQuotientLimit);
  const __m512 neg_lim = _mm512_sub_ps(_mm512_setzero_ps(), lim);
  // The graph's Q -> DQ before the bias Add.
  const bool mid = p.mid_scale > 0.0f;
  const __m512 mid_scale = _mm512_set1_ps(p.mid_scale);
  const __m512 mid_inv = _mm512_set1_ps(mid ? 1.0f / p.mid_scale : 0.0f);
  const __m512i mid_zp = _mm512_set1_epi32(p.mid_zero_point);
  const bool mid_u8 = p.mid_type == DType::kU8;
  const __m512i mid_lo = _mm512_set1_epi32(mid_u8 ? 0 : -128);
  const __m512i mid_hi = _mm512_set1_epi32(mid_u8 ? 255 : 127);
  const bool has_bias = p.bias_f32 != nullptr;
  const __m512 bias = has_bias ? _mm512_maskz_loadu_ps(mask, p.bias_f32 + n0) : _mm512_setzero_ps();
  const __m512 clamp_lo = _mm512_set1_ps(p.clamp_min);
  const __m512 clamp_hi = _mm512_set1_ps(p.clamp_max);
  const __m512 out_inv = _mm512_set1_ps(output == QGemmOutput::kF32 ? 0.0f : 1.0f / p.out_scale);
  const __m512i out_zp = _mm512_set1_epi32(p.out_zero_point);
  const bool out_u8 = output == QGemmOutput::kU8;
  const __m512i out_lo = _mm512_set1_epi32(out_u8 ? 0 : -128);
  const __m512i out_hi = _mm512_set1_epi32(out_u8 ? 255 : 127);
  for (int r = 0; r < rows; ++r) {
    const int64_t m = m0 + r;
    __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][half], comp)), scale);
    if (mid) {
      __m512 q = _mm512_mul_ps(y, mid_inv);
      q = _mm512_min_ps(_mm512_max_ps(q, neg_lim), lim);
      __m512i qi = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      qi = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(qi, mid_zp), mid_lo), mid_hi);
      y = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(qi, mid_zp)), mid_scale);
    }
    if (has_bias) y = _mm512_add_ps(y, bias);
    y = _mm512_min_ps(_mm512_max_ps(y, clamp_lo), clamp_hi);
    if (output == QGemmOutput::kF32) {
      if (!transposed) {
        _mm512_mask_storeu_ps(static_cast<float*>(c) + m * ldc + n0, mask, y);
      } else {
        _mm512_store_ps(reinterpret_cast<float*>(lanes), y);
        store_lanes(true, lanes, 4, m, n0, n_valid, c, ldc);
      }
      continue;
    }
    __m512 q = _mm512_mul_ps(y, out_inv);
    q = _mm512_min_ps(_mm512_max_ps(q, neg_lim), lim);
    __m512i qi = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    qi = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(qi, out_zp), out_lo), out_hi);
    if (!transposed) {
      _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(c) + m * ldc + n0, mask, qi);
    } else {
      _mm_store_si128(reinterpret_cast<__m128i*>(lanes), _mm512_cvtepi32_epi8(qi));
      store_lanes(true, lanes, 1, m, n0, n_valid, c, ldc);
    }
  }
}

// The epilogue's common case (Epilogue::plain_8bit), rows not transposed: both halves of a row go
// through the packed requantization of the NHWC convolution (qconv_nhwc_detail::pack_bytes4),
// the clamps as bounds on the quantized value. The same bytes as store_half.
void store_tile_packed(const QGemmParams& p, const qconv_nhwc_detail::PackedQuant& q,
                       const __m512i (&acc)[kMR][2], int rows, int64_t m0, int64_t n0,
                       int64_t n_valid, const __m512i* comp, void* c, int64_t ldc) {
  namespace d = qconv_nhwc_detail;
  const __mmask16 m0_mask = d::lane_mask(n_valid), m1_mask = d::lane_mask(std::max<int64_t>(0, n_valid - 16));
  const __mmask32 bytes = static_cast<__mmask32>(m0_mask) | (static_cast<__mmask32>(m1_mask) << 16);
  const __m512 s0 = p.per_channel_scale ? _mm512_maskz_loadu_ps(m0_mask, p.scale + n0) : _mm512_set1_ps(p.scale[0]);
  const __m512 s1 = p.per_channel_scale ? _mm512_maskz_loadu_ps(m1_mask, p.scale + n0 + 16) : s0;
  const __m512 inv = q.inv;
  const __m512i zp16 = q.zp16, lo8 = q.lo8, hi8 = q.hi8;
  const __m512i c0 = comp[0], c1 = comp[1];
  const bool s8 = q.s8, whole = bytes == 0xffffffffu;
  auto* out = static_cast<uint8_t*>(c) + m0 * ldc + n0;
  for (int i = 0; i < rows; ++i) {
    const __m512i q0 = d::requant_round(_mm512_sub_epi32(acc[i][0], c0), s0, inv);
    const __m512i q1 = d::requant_round(_mm512_sub_epi32(acc[i][1], c1), s1, inv);
    const __m512i b = s8 ? d::pack_bytes4<true>(q0, q1, q0, q1, zp16, lo8, hi8)
                         : d::pack_bytes4<false>(q0, q1, q0, q1, zp16, lo8, hi8);
    if (whole) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * ldc), _mm512_castsi512_si256(b));
    } else {
      _mm256_mask_storeu_epi8(out + i * ldc, bytes, _mm512_castsi512_si256(b));
    }
  }
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
  const qconv_nhwc_detail::Epilogue epilogue(p, nullptr, b.col_sum, b.N);
  const bool packed = epilogue.plain_8bit() && !p.c_transposed;
  const qconv_nhwc_detail::PackedQuant quant =
      packed ? qconv_nhwc_detail::PackedQuant(epilogue) : qconv_nhwc_detail::PackedQuant();
  // One 12x32 tile: products, then zero-point compensation, biases and the epilogue.
  auto tile = [&](int64_t m0, int rows, const uint8_t* a_tile, int64_t row_stride,
                  int64_t g_stride, int64_t nb) {
    __m512i acc[kMR][2];
    kMicro[rows](a_tile, row_stride, g_stride, b.block(nb), groups, acc);
    const int64_t n0 = nb * kQGemmNR;
    if (packed) {
      __m512i comp[2];
      for (int half = 0; half < 2; ++half) {
        const int64_t nh = n0 + half * 16;
        const __mmask16 mask = qconv_nhwc_detail::lane_mask(std::max<int64_t>(0, b.N - nh));
        comp[half] = _mm512_mullo_epi32(_mm512_set1_epi32(zp), _mm512_maskz_loadu_epi32(mask, b.col_sum.data() + nh));
        if (p.bias_s32) comp[half] = _mm512_sub_epi32(comp[half], _mm512_maskz_loadu_epi32(mask, p.bias_s32 + nh));
      }
      store_tile_packed(p, quant, acc, rows, m0, n0, std::min<int64_t>(kQGemmNR, b.N - n0), comp, c, ldc);
      return;
    }
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
      store_half(p, acc, half, rows, m0, nh, n_valid, comp, c, ldc);
    }
  };
  const auto* a8 = static_cast<const uint8_t*>(a);
  auto body = [&](const tbb::blocked_range2d<int64_t>& range) {
    if (direct) {
      // u8 rows whose K fills whole groups are read in place. Column blocks outermost: one
      // weight block (K x 32 bytes) then serves every row tile of the task from L1/L2.
      for (int64_t nb = range.cols().begin(); nb < range.cols().end(); ++nb) {
        for (int64_t mt = range.rows().begin(); mt < range.rows().end(); ++mt) {
          const int64_t m0 = mt * kMR;
          const int rows = static_cast<int>(std::min<int64_t>(kMR, p.M - m0));
          tile(m0, rows, a8 + m0 * lda, lda, 4, nb);
        }
      }
      return;
    }
    // s8 (shifted to u8) or a ragged K: each row tile is packed once per task.
    // Uninitialised: the packing writes every element.
    std::unique_ptr<uint32_t[]> panel(new uint32_t[static_cast<size_t>(groups * kMR)]);
    for (int64_t mt = range.rows().begin(); mt < range.rows().end(); ++mt) {
      const int64_t m0 = mt * kMR;
      const int rows = static_cast<int>(std::min<int64_t>(kMR, p.M - m0));
      pack_a_panel(p, a8, lda, m0, rows, b.K, b.k_padded, panel.get());
      for (int64_t nb = range.cols().begin(); nb < range.cols().end(); ++nb) {
        tile(m0, rows, reinterpret_cast<const uint8_t*>(panel.get()), 4, kMR * 4, nb);
      }
    }
  };
  const int64_t n_grain = whole_rows ? n_blocks : std::max<int64_t>(1, tiles_per_task / m_grain);
  const tbb::blocked_range2d<int64_t> all(0, m_tiles, m_grain, 0, n_blocks, n_grain);
  // One thread, or too little work to share: no scheduler in between (with one thread its
  // partitioning cost 9% of a K=64 GEMM's time).
  if (m_tiles * n_blocks <= tiles_per_task || tbb::this_task_arena::max_concurrency() == 1) {
    body(all);
  } else {
    tbb::parallel_for(all, body);
  }
}

}  // namespace qtune
