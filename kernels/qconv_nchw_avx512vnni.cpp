// AVX-512 VNNI int8 convolution straight into NCHW: 16 output pixels per vector lane set, up to
// 12 output channels per tile, so a layer with 6 or 16 channels wastes no lanes (the GEMM tile
// is 32 channels wide) and each output row is a contiguous vector store (no transpose).
// The activation operand is a transposed im2col, [k/4][pixel][4 bytes]; the weight operand is
// read from the packed GEMM weights as 4 broadcast bytes per channel.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <tbb/parallel_for.h>

#include "kernels/qconv.h"
#include "kernels/qgemm_epilogue.h"

namespace qtune {
namespace {

constexpr int kRows = 12;  // output channels per tile: 24 accumulators + 2 operands in 32 zmm
constexpr int64_t kChunkMax = 256;  // pixels per task: bounds the transposed im2col buffer

// Fills row[0..n) with input values at tap (c, ky, kx) for output pixels p0..p0+n, `pad` where
// the tap falls outside the image or past the last pixel.
void tap_row(const QConvShape& s, const uint8_t* plane, int64_t ky, int64_t kx, int64_t p0,
             int64_t n, int64_t pixels, uint8_t pad, uint8_t* row) {
  const int64_t ow = s.out_w();
  int64_t p = p0;
  const int64_t end = std::min(p0 + n, pixels);
  while (p < end) {
    const int64_t oy = p / ow, ox0 = p % ow;
    const int64_t ox1 = std::min(ow, ox0 + (end - p));
    uint8_t* dst = row + (p - p0);
    const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
    if (iy < 0 || iy >= s.in_h) {
      std::memset(dst, pad, static_cast<size_t>(ox1 - ox0));
    } else {
      const uint8_t* src = plane + iy * s.in_w;
      const int64_t base = kx * s.dilation_w - s.pad_left;
      if (s.stride_w == 1) {
        // Columns [lo, hi) read inside the row.
        const int64_t lo = std::clamp<int64_t>(-base, ox0, ox1);
        const int64_t hi = std::clamp<int64_t>(s.in_w - base, lo, ox1);
        std::memset(dst, pad, static_cast<size_t>(lo - ox0));
        if (hi > lo) std::memcpy(dst + (lo - ox0), src + lo + base, static_cast<size_t>(hi - lo));
        std::memset(dst + (hi - ox0), pad, static_cast<size_t>(ox1 - hi));
      } else {
        for (int64_t ox = ox0; ox < ox1; ++ox) {
          const int64_t ix = ox * s.stride_w + base;
          dst[ox - ox0] = ix >= 0 && ix < s.in_w ? src[ix] : pad;
        }
      }
    }
    p += ox1 - ox0;
  }
  if (end - p0 < n) std::memset(row + (end - p0), pad, static_cast<size_t>(n - (end - p0)));
}

// out[i][0..3] = (a[i], b[i], c[i], d[i]) ^ flip for i < n (a multiple of 16).
inline void interleave4(const uint8_t* a, const uint8_t* b, const uint8_t* c, const uint8_t* d,
                        int64_t n, __m128i flip_v, uint8_t* out) {
  for (int64_t i = 0; i < n; i += 16) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const __m128i vc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i));
    const __m128i vd = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
    const __m128i ab_lo = _mm_unpacklo_epi8(va, vb), ab_hi = _mm_unpackhi_epi8(va, vb);
    const __m128i cd_lo = _mm_unpacklo_epi8(vc, vd), cd_hi = _mm_unpackhi_epi8(vc, vd);
    auto* o = reinterpret_cast<__m128i*>(out + i * 4);
    _mm_storeu_si128(o + 0, _mm_xor_si128(_mm_unpacklo_epi16(ab_lo, cd_lo), flip_v));
    _mm_storeu_si128(o + 1, _mm_xor_si128(_mm_unpackhi_epi16(ab_lo, cd_lo), flip_v));
    _mm_storeu_si128(o + 2, _mm_xor_si128(_mm_unpacklo_epi16(ab_hi, cd_hi), flip_v));
    _mm_storeu_si128(o + 3, _mm_xor_si128(_mm_unpackhi_epi16(ab_hi, cd_hi), flip_v));
  }
}

// col[gk][j][0..3] = taps 4gk..4gk+3 of pixel p0 + j for one group (n a multiple of 16), with
// s8 activations shifted to u8 (a + 128; the zero point moves with them).
void transposed_im2col(const QConvShape& s, const uint8_t* x_img, int64_t g, int64_t p0,
                       int64_t n, int64_t pixels, uint8_t pad, uint8_t flip, int64_t k_padded,
                       uint8_t* rows, uint8_t* col) {
  const int64_t cg = s.in_channels / s.group, kk = s.kernel_h * s.kernel_w;
  const int64_t kdim = s.k_per_group();
  const __m128i flip_v = _mm_set1_epi8(static_cast<char>(flip));
  for (int64_t gk = 0; gk < k_padded / 4; ++gk) {
    for (int j = 0; j < 4; ++j) {
      uint8_t* row = rows + j * n;
      const int64_t k = gk * 4 + j;
      if (k >= kdim) {  // padded k: its weights are zero
        std::memset(row, 0, static_cast<size_t>(n));
        continue;
      }
      const int64_t c = k / kk, ky = (k % kk) / s.kernel_w, kx = k % s.kernel_w;
      tap_row(s, x_img + (g * cg + c) * s.in_h * s.in_w, ky, kx, p0, n, pixels, pad, row);
    }
    interleave4(rows, rows + n, rows + 2 * n, rows + 3 * n, n, flip_v, col + gk * n * 4);
  }
}


// Stride 1: output pixels are numbered on the padded width wp (virtual columns ox >= out_w are
// computed and dropped), so tap (c, ky, kx) over pixels q0..q0+n is one contiguous run of the
// padded image at q0 + ky*dh*wp + kx*dw: no per-row copies, no branches.
// pad_buf receives the padded rows the chunk reads; col as in transposed_im2col.
void transposed_im2col_s1(const QConvShape& s, const uint8_t* x_img, int64_t g, int64_t q0,
                          int64_t n, int64_t wp, uint8_t pad, uint8_t flip, int64_t k_padded,
                          std::vector<uint8_t>& pad_buf, uint8_t* col) {
  const int64_t cg = s.in_channels / s.group, kk = s.kernel_h * s.kernel_w;
  const int64_t kdim = s.k_per_group();
  const int64_t r0 = q0 / wp, r1 = (q0 + n - 1) / wp + (s.kernel_h - 1) * s.dilation_h + 1;
  const int64_t plane = (r1 - r0) * wp + (s.kernel_w - 1) * s.dilation_w + 64;
  if (pad_buf.size() < static_cast<size_t>(plane * cg + 64)) pad_buf.resize(plane * cg + 64);
  std::memset(pad_buf.data(), pad, static_cast<size_t>(plane * cg + 64));
  for (int64_t c = 0; c < cg; ++c) {
    const uint8_t* src = x_img + (g * cg + c) * s.in_h * s.in_w;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t iy = r - s.pad_top;
      if (iy < 0 || iy >= s.in_h) continue;
      const int64_t x0 = std::max<int64_t>(0, -s.pad_left);
      const int64_t x1 = std::min<int64_t>(s.in_w, wp - s.pad_left);
      if (x1 > x0) {
        std::memcpy(pad_buf.data() + c * plane + (r - r0) * wp + x0 + s.pad_left,
                    src + iy * s.in_w + x0, static_cast<size_t>(x1 - x0));
      }
    }
  }
  static const uint8_t zeros[kChunkMax + 64] = {};
  const __m128i flip_v = _mm_set1_epi8(static_cast<char>(flip));
  const int64_t base = q0 - r0 * wp;
  for (int64_t gk = 0; gk < k_padded / 4; ++gk) {
    const uint8_t* tap[4];
    for (int j = 0; j < 4; ++j) {
      const int64_t k = gk * 4 + j;
      if (k >= kdim) {  // padded k: its weights are zero
        tap[j] = zeros;
        continue;
      }
      const int64_t c = k / kk, ky = (k % kk) / s.kernel_w, kx = k % s.kernel_w;
      tap[j] = pad_buf.data() + c * plane + base + ky * s.dilation_h * wp + kx * s.dilation_w;
    }
    interleave4(tap[0], tap[1], tap[2], tap[3], n, flip_v, col + gk * n * 4);
  }
}

// Named locals per channel row (see the GEMM kernel: GCC spills an indexed vector array).
#define QT_ROW_DECL(r) __m512i c##r##a = _mm512_setzero_si512(), c##r##b = _mm512_setzero_si512();
#define QT_ROW_STEP(r)                                                          \
  if constexpr (R > r) {                                                        \
    int32_t word;                                                               \
    std::memcpy(&word, wp + r * 4, 4);                                          \
    const __m512i wv = _mm512_set1_epi32(word);                                 \
    c##r##a = _mm512_dpbusd_epi32(c##r##a, x0, wv);                             \
    if constexpr (V == 2) c##r##b = _mm512_dpbusd_epi32(c##r##b, x1, wv);       \
  }
#define QT_ROW_OUT(r)    \
  if constexpr (R > r) { \
    out[r][0] = c##r##a; \
    out[r][1] = c##r##b; \
  }
#define QT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// R channels x V*16 pixels. col: this pixel block's first group (group stride col_stride);
// w: the channels' 4-byte words in the packed block (group stride kQGemmNR * 4).
template <int R, int V>
void micro(const uint8_t* col, int64_t col_stride, const int8_t* w, int64_t groups,
           __m512i (&out)[kRows][2]) {
  QT_ROWS(QT_ROW_DECL)
  for (int64_t gk = 0; gk < groups; ++gk) {
    const __m512i x0 = _mm512_loadu_si512(col + gk * col_stride);
    __m512i x1 = x0;
    if constexpr (V == 2) x1 = _mm512_loadu_si512(col + gk * col_stride + 64);
    const int8_t* wp = w + gk * kQGemmNR * 4;
    QT_ROWS(QT_ROW_STEP)
  }
  QT_ROWS(QT_ROW_OUT)
}

#undef QT_ROWS
#undef QT_ROW_OUT
#undef QT_ROW_STEP
#undef QT_ROW_DECL

using MicroFn = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, __m512i (&)[kRows][2]);
template <int V>
constexpr MicroFn kMicro[kRows + 1] = {nullptr,      micro<1, V>,  micro<2, V>,  micro<3, V>,
                                       micro<4, V>,  micro<5, V>,  micro<6, V>,  micro<7, V>,
                                       micro<8, V>,  micro<9, V>,  micro<10, V>, micro<11, V>,
                                       micro<12, V>};

// Where 16 lanes land in a channel's output plane: lane i of segment j goes to element
// offset[j] + i when bit i of mask[j] is set (runs of one output row).
struct LaneSegments {
  int count = 0;
  int64_t offset[16];
  __mmask16 mask[16];
};

// The epilogue of one channel n on 16 pixels (finished accumulators), stored by segments;
// the same operations in the same order as the GEMM's vector epilogue and the reference.
void store_row(const QGemmParams& p, __m512i acc, int64_t n, const LaneSegments& seg,
               uint8_t* plane) {
  if (p.output == QGemmOutput::kS32) {
    for (int j = 0; j < seg.count; ++j) {
      _mm512_mask_storeu_epi32(reinterpret_cast<int32_t*>(plane) + seg.offset[j], seg.mask[j], acc);
    }
    return;
  }
  __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc),
                           _mm512_set1_ps(p.scale[p.per_channel_scale ? n : 0]));
  const __m512 lim = _mm512_set1_ps(qgemm_detail::kQuotientLimit);
  const __m512 neg_lim = _mm512_sub_ps(_mm512_setzero_ps(), lim);
  if (p.mid_scale > 0.0f) {
    __m512 q = _mm512_mul_ps(y, _mm512_set1_ps(1.0f / p.mid_scale));
    q = _mm512_min_ps(_mm512_max_ps(q, neg_lim), lim);
    __m512i r = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i zp = _mm512_set1_epi32(p.mid_zero_point);
    const bool u8 = p.mid_type == DType::kU8;
    r = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, zp), _mm512_set1_epi32(u8 ? 0 : -128)),
                         _mm512_set1_epi32(u8 ? 255 : 127));
    y = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(r, zp)), _mm512_set1_ps(p.mid_scale));
  }
  if (p.bias_f32) y = _mm512_add_ps(y, _mm512_set1_ps(p.bias_f32[n]));
  y = _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(p.clamp_min)), _mm512_set1_ps(p.clamp_max));
  if (p.output == QGemmOutput::kF32) {
    for (int j = 0; j < seg.count; ++j) {
      _mm512_mask_storeu_ps(reinterpret_cast<float*>(plane) + seg.offset[j], seg.mask[j], y);
    }
    return;
  }
  __m512 q = _mm512_mul_ps(y, _mm512_set1_ps(1.0f / p.out_scale));
  q = _mm512_min_ps(_mm512_max_ps(q, neg_lim), lim);
  __m512i r = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_add_epi32(r, _mm512_set1_epi32(p.out_zero_point));
  const bool is_u8 = p.output == QGemmOutput::kU8;
  r = _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(is_u8 ? 0 : -128)),
                       _mm512_set1_epi32(is_u8 ? 255 : 127));
  for (int j = 0; j < seg.count; ++j) {
    _mm512_mask_cvtepi32_storeu_epi8(plane + seg.offset[j], seg.mask[j], r);
  }
}

size_t elem_size(QGemmOutput o) {
  return o == QGemmOutput::kS32 || o == QGemmOutput::kF32 ? 4 : 1;
}

}  // namespace

void qconv2d_nchw__avx512vnni(const QConvShape& s, const QGemmParams& p, const void* x,
                              const PackedConvWeightsS8& w, void* y) {
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = oh * ow;
  const int64_t ocg = w.out_channels_per_group;
  if (s.batch <= 0 || pixels <= 0 || ocg <= 0) return;
  const int64_t k_padded = w.per_group[0].k_padded, groups = k_padded / 4;
  const uint8_t flip = p.a_type == DType::kS8 ? 0x80 : 0x00;
  const int32_t zp = p.a_zero_point + (p.a_type == DType::kS8 ? 128 : 0);
  const uint8_t pad = static_cast<uint8_t>(p.a_zero_point);
  const size_t out_elem = elem_size(p.output);
  // Stride 1 numbers pixels on the padded width (see transposed_im2col_s1).
  const bool unit_stride = s.stride_h == 1 && s.stride_w == 1;
  const int64_t wp = unit_stride ? ow + (s.kernel_w - 1) * s.dilation_w : ow;
  const int64_t positions = unit_stride ? (oh - 1) * wp + ow : pixels;
  // Positions per task: about 2^17 multiply-adds each, whole 32-position blocks.
  const int64_t macs_per_pixel = std::max<int64_t>(1, k_padded * s.out_channels);
  const int64_t chunk = std::clamp<int64_t>(((int64_t{1} << 17) / macs_per_pixel + 31) / 32 * 32,
                                            32, kChunkMax);
  const int64_t chunks = (positions + chunk - 1) / chunk;

  auto task = [&](int64_t t) {
    const int64_t b = t / chunks, q0 = (t % chunks) * chunk;
    const int64_t n = std::min(chunk, positions - q0);
    const int64_t n16 = (n + 15) / 16 * 16;
    thread_local std::vector<uint8_t> rows_buf, col_buf, pad_buf;
    if (rows_buf.size() < static_cast<size_t>(4 * n16)) rows_buf.resize(4 * n16);
    if (col_buf.size() < static_cast<size_t>(k_padded * n16)) col_buf.resize(k_padded * n16);
    const uint8_t* x_img = static_cast<const uint8_t*>(x) + b * s.in_channels * s.in_h * s.in_w;
    // Output segments of each 16-position vector, shared by every channel and group.
    std::vector<LaneSegments> segs(static_cast<size_t>(n16 / 16));
    for (int64_t v = 0; v < n16 / 16; ++v) {
      LaneSegments& sg = segs[static_cast<size_t>(v)];
      const int64_t first = q0 + v * 16, valid = std::min<int64_t>(16, n - v * 16);
      for (int64_t lane = 0; lane < valid;) {
        const int64_t q = first + lane, oy = q / wp, ox = q % wp;
        if (ox >= ow) {
          lane += wp - ox;
          continue;
        }
        const int64_t len = std::min(ow - ox, valid - lane);
        sg.offset[sg.count] = oy * ow + ox - lane;
        sg.mask[sg.count] = static_cast<__mmask16>(((1u << len) - 1) << lane);
        ++sg.count;
        lane += len;
      }
    }
    for (int64_t g = 0; g < s.group; ++g) {
      const PackedWeightsS8& pw = w.per_group[static_cast<size_t>(g)];
      if (unit_stride) {
        transposed_im2col_s1(s, x_img, g, q0, n16, wp, pad, flip, k_padded, pad_buf,
                             col_buf.data());
      } else {
        transposed_im2col(s, x_img, g, q0, n16, pixels, pad, flip, k_padded, rows_buf.data(),
                          col_buf.data());
      }
      QGemmParams gp = p;
      const int64_t oc0 = g * ocg;
      if (gp.bias_s32) gp.bias_s32 += oc0;
      if (gp.bias_f32) gp.bias_f32 += oc0;
      if (gp.scale && gp.per_channel_scale) gp.scale += oc0;
      uint8_t* y_grp = static_cast<uint8_t*>(y) +
                       (b * s.out_channels + oc0) * pixels * static_cast<int64_t>(out_elem);
      for (int64_t j = 0; j < n; j += 32) {
        const int v = n - j > 16 ? 2 : 1;
        for (int64_t nb = 0; nb * kQGemmNR < ocg; ++nb) {
          const int64_t blk_end = std::min(ocg, (nb + 1) * kQGemmNR);
          for (int64_t c0 = nb * kQGemmNR; c0 < blk_end; c0 += kRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kRows, blk_end - c0));
            __m512i acc[kRows][2];
            const int8_t* wp8 = pw.block(nb) + (c0 % kQGemmNR) * 4;
            (v == 2 ? kMicro<2> : kMicro<1>)[rows](col_buf.data() + j * 4, n16 * 4, wp8, groups,
                                                   acc);
            for (int r = 0; r < rows; ++r) {
              const int64_t ch = c0 + r;
              // Modular, like the s32 accumulators of every path.
              const auto comp = static_cast<int32_t>(
                  static_cast<uint32_t>(zp) * static_cast<uint32_t>(pw.col_sum[static_cast<size_t>(ch)]) -
                  static_cast<uint32_t>(gp.bias_s32 ? gp.bias_s32[ch] : 0));
              uint8_t* plane = y_grp + ch * pixels * static_cast<int64_t>(out_elem);
              for (int h = 0; h < v; ++h) {
                store_row(gp, _mm512_sub_epi32(acc[r][h], _mm512_set1_epi32(comp)), ch,
                          segs[static_cast<size_t>(j / 16 + h)], plane);
              }
            }
          }
        }
      }
    }
  };
  const int64_t tasks = s.batch * chunks;
  if (tasks == 1) {
    task(0);
  } else {
    tbb::parallel_for(int64_t{0}, tasks, task);
  }
}

}  // namespace qtune
