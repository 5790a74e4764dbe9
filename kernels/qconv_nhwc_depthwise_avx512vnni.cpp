// AVX-512 VNNI depthwise int8 convolution on NHWC tensors: 16 channels per vector, up to 8
// output pixels of a row per tile. An input pixel is widened from 16 bytes to 32-bit lanes and
// multiplied with a tap's weights (s32 lanes, the high half of each 16-bit pair zero on the input
// side) by one vpdpwssd. Kernel rows in the padding are skipped (regions); for undilated kernels
// of width 3, 5 or 7 each widened pixel serves every output of the tile whose window holds it,
// and columns outside the image read as the zero point (compensated like every tap); other
// kernels run per tap on regions that also skip padded columns.
#include <immintrin.h>

#include <algorithm>

#include "kernels/qconv_nhwc.h"
#include "kernels/qconv_nhwc_detail_avx512vnni.h"

namespace qtune::qconv_nhwc_detail {
namespace {

constexpr int kMaxPixels = 8;

inline __m512i widen(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Per tap: any kernel, on regions whose taps all lie inside the image.
struct DwArgs {
  const uint8_t* row;       // the tile's first pixel at its first valid tap, channel block's bytes
  int64_t pixel_step;       // bytes between consecutive output pixels' inputs
  const int64_t* tap_off;   // bytes from `row` to each valid tap
  const int32_t* tap_idx;   // each valid tap's index in the kernel
  int64_t taps;
  const int32_t* w;         // the channel block's weights of tap 0; tap t at w + t * w_step
  int64_t w_step;
};

template <int N>
void dw_tile(const DwArgs& a, __m512i init, __m512i* out) {
  __m512i acc[N];
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) acc[j] = init;
  for (int64_t t = 0; t < a.taps; ++t) {
    const __m512i wv = _mm512_load_si512(a.w + a.tap_idx[t] * a.w_step);
    const uint8_t* src = a.row + a.tap_off[t];
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) acc[j] = _mm512_dpwssd_epi32(acc[j], widen(src + j * a.pixel_step), wv);
  }
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) out[j] = acc[j];
}

using TileFn = void (*)(const DwArgs&, __m512i, __m512i*);
constexpr TileFn kTiles[kMaxPixels + 1] = {nullptr,    dw_tile<1>, dw_tile<2>, dw_tile<3>, dw_tile<4>,
                                           dw_tile<5>, dw_tile<6>, dw_tile<7>, dw_tile<8>};

// Whole kernel rows of width KW at column stride SW, undilated.
struct DwRowArgs {
  const uint8_t* row;   // input column 0 of the first valid kernel row, the channel block's bytes
  int64_t ix0;          // input column under the tile's first output and kernel column 0
  int64_t in_w;
  int64_t pixel_bytes;  // between consecutive input pixels
  int64_t row_bytes;    // between consecutive kernel rows in the image
  int64_t rows;         // valid kernel rows
  const int32_t* w;     // the channel block's weights at the first valid kernel row, column 0
  int64_t w_step;       // between consecutive taps' weights
  __m512i zp;           // the activation zero point in every lane
};

template <int N, int KW, int SW>
void dw_row_tile(const DwRowArgs& a, __m512i init, __m512i* out) {
  constexpr int kPositions = (N - 1) * SW + KW;
  __m512i acc[N];
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) acc[j] = init;
  for (int64_t r = 0; r < a.rows; ++r) {
    const uint8_t* src = a.row + r * a.row_bytes;
    const int32_t* wr = a.w + r * KW * a.w_step;
    __m512i wk[KW];
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; ++kx) wk[kx] = _mm512_load_si512(wr + kx * a.w_step);
#pragma GCC unroll 32
    for (int p = 0; p < kPositions; ++p) {
      const int64_t ix = a.ix0 + p;
      const __m512i xv = ix < 0 || ix >= a.in_w ? a.zp : widen(src + ix * a.pixel_bytes);
#pragma GCC unroll 8
      for (int kx = 0; kx < KW; ++kx) {
        const int d = p - kx;
        if (d >= 0 && d % SW == 0 && d / SW < N) {
          acc[d / SW] = _mm512_dpwssd_epi32(acc[d / SW], xv, wk[kx]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) out[j] = acc[j];
}

using RowTileFn = void (*)(const DwRowArgs&, __m512i, __m512i*);
template <int KW, int SW>
constexpr RowTileFn kRowTiles[kMaxPixels + 1] = {
    nullptr,                dw_row_tile<1, KW, SW>, dw_row_tile<2, KW, SW>,
    dw_row_tile<3, KW, SW>, dw_row_tile<4, KW, SW>, dw_row_tile<5, KW, SW>,
    dw_row_tile<6, KW, SW>, dw_row_tile<7, KW, SW>, dw_row_tile<8, KW, SW>};

// The row kernels for this shape, or null (the per-tap kernel runs).
const RowTileFn* row_tiles(const QConvShape& s) {
  if (s.dilation_w != 1) return nullptr;
  const int64_t kw = s.kernel_w, sw = s.stride_w;
  if (kw == 3 && sw == 1) return kRowTiles<3, 1>;
  if (kw == 3 && sw == 2) return kRowTiles<3, 2>;
  if (kw == 5 && sw == 1) return kRowTiles<5, 1>;
  if (kw == 5 && sw == 2) return kRowTiles<5, 2>;
  if (kw == 7 && sw == 1) return kRowTiles<7, 1>;
  if (kw == 7 && sw == 2) return kRowTiles<7, 2>;
  return nullptr;
}

}  // namespace

void depthwise_nhwc(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
                    const PackedConvNhwcS8& w, void* y) {
  const int64_t c = s.out_channels, cpad = (c + 15) / 16 * 16;
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = oh * ow;
  const Epilogue e(p, sum, w.col_sum, c);
  const RowTileFn* row_fns = row_tiles(s);
  // u8 with whole 16-channel blocks is read in place, anything else from a copy with 16-channel
  // pixels and s8 shifted to u8.
  ImageLayout L;
  L.in_place = p.a_type == DType::kU8 && c % 16 == 0;
  L.stride = L.in_place ? c : cpad;
  L.group_stride = 1;
  L.rows = s.in_h;
  L.cols = s.in_w;
  // The row kernels take regions of whole rows (their padded columns read as the zero point).
  const std::vector<Region> regs = regions(s, row_fns != nullptr);
  const std::vector<int32_t> inits = region_inits(e, w, regs);
  std::vector<int64_t> tap_off;
  std::vector<int32_t> tap_idx;
  std::vector<size_t> tap_begin;
  // Units: (region, output row).
  std::vector<std::pair<size_t, int64_t>> units;
  for (size_t ri = 0; ri < regs.size(); ++ri) {
    const Region& rg = regs[ri];
    tap_begin.push_back(tap_off.size());
    for (int64_t ky = rg.ky0; ky < rg.ky1; ++ky) {
      for (int64_t kx = rg.kx0; kx < rg.kx1; ++kx) {
        tap_off.push_back(((ky - rg.ky0) * s.dilation_h * L.cols + (kx - rg.kx0) * s.dilation_w) *
                          L.stride);
        tap_idx.push_back(static_cast<int32_t>(ky * s.kernel_w + kx));
      }
    }
    for (int64_t oy = rg.y0; oy < rg.y1; ++oy) units.emplace_back(ri, oy);
  }
  tap_begin.push_back(tap_off.size());
  const auto* wd = reinterpret_cast<const int32_t*>(w.data.get());
  const void* r = sum ? sum->r : nullptr;
  const __m512i zp = _mm512_set1_epi32(e.zp);
  for_images(s, L, x, p.a_type, p.a_zero_point, static_cast<int64_t>(units.size()), 0,
             s.batch * pixels * c * w.taps(),
             [&](int64_t b, const uint8_t* img, int64_t u0, int64_t u1) {
               alignas(64) __m512i acc[kMaxPixels];
               int64_t pix[kMaxPixels];
               for (int64_t u = u0; u < u1; ++u) {
                 const auto [ri, oy] = units[static_cast<size_t>(u)];
                 const Region& rg = regs[ri];
                 const size_t t0 = tap_begin[ri];
                 DwArgs a{nullptr, s.stride_w * L.stride, tap_off.data() + t0, tap_idx.data() + t0,
                          static_cast<int64_t>(tap_begin[ri + 1] - t0), nullptr, cpad};
                 const int64_t iy = oy * s.stride_h - s.pad_top + rg.ky0 * s.dilation_h;
                 for (int64_t c0 = 0; c0 < c; c0 += 16) {
                   const __m512i init = _mm512_maskz_loadu_epi32(
                       lane_mask(c - c0), inits.data() + ri * static_cast<size_t>(c) + c0);
                   for (int64_t ox = rg.x0; ox < rg.x1; ox += kMaxPixels) {
                     const int n = static_cast<int>(std::min<int64_t>(kMaxPixels, rg.x1 - ox));
                     const int64_t ix = ox * s.stride_w - s.pad_left + rg.kx0 * s.dilation_w;
                     if (row_fns) {
                       const DwRowArgs ra{img + iy * L.cols * L.stride + c0,
                                          ix,
                                          s.in_w,
                                          L.stride,
                                          s.dilation_h * L.cols * L.stride,
                                          rg.ky1 - rg.ky0,
                                          wd + rg.ky0 * s.kernel_w * cpad + c0,
                                          cpad,
                                          zp};
                       row_fns[n](ra, init, acc);
                     } else {
                       a.row = img + (iy * L.cols + ix) * L.stride + c0;
                       a.w = wd + c0;
                       kTiles[n](a, init, acc);
                     }
                     for (int j = 0; j < n; ++j) pix[j] = b * pixels + oy * ow + ox + j;
                     store_block(e, acc, 1, n, pix, c0, c - c0, y, r);
                   }
                 }
               }
             });
}

}  // namespace qtune::qconv_nhwc_detail
