// AVX-512 VNNI depthwise int8 convolution on NHWC tensors: 16 channels per vector, up to 8
// output pixels of a row per tile. Each tap widens 16 input bytes to 32-bit lanes and adds their
// products with the tap's weights (s32 lanes, the high half of each 16-bit pair zero on the
// input side) in one vpdpwssd. Padding comes from a padded copy of the image whose pixels are
// rounded up to 16 channels, so no load needs a mask.
#include <immintrin.h>

#include <algorithm>

#include "kernels/qconv_nhwc.h"
#include "kernels/qconv_nhwc_detail_avx512vnni.h"

namespace qtune::qconv_nhwc_detail {
namespace {

constexpr int kMaxPixels = 8;

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
    for (int j = 0; j < N; ++j) {
      const __m512i xv = _mm512_cvtepu8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j * a.pixel_step)));
      acc[j] = _mm512_dpwssd_epi32(acc[j], xv, wv);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) out[j] = acc[j];
}

using TileFn = void (*)(const DwArgs&, __m512i, __m512i*);
constexpr TileFn kTiles[kMaxPixels + 1] = {nullptr,     dw_tile<1>, dw_tile<2>, dw_tile<3>, dw_tile<4>,
                                           dw_tile<5>, dw_tile<6>, dw_tile<7>, dw_tile<8>};

}  // namespace

void depthwise_nhwc(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
                    const PackedConvNhwcS8& w, void* y) {
  const int64_t c = s.out_channels, cpad = (c + 15) / 16 * 16;
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = oh * ow;
  const Epilogue e(p, sum, w.col_sum, c);
  // In place when every 16-channel load stays inside x's own pixels.
  ImageLayout L;
  L.in_place = p.a_type == DType::kU8 && c % 16 == 0;
  L.stride = L.in_place ? c : cpad;
  L.group_stride = 1;
  L.rows = s.in_h;
  L.cols = s.in_w;
  const std::vector<Region> regs = regions(s);
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
  for_images(s, L, x, p.a_type, p.a_zero_point, static_cast<int64_t>(units.size()), 64,
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
                   const __m512i init = initial_acc(e, w, rg, c0, c - c0);
                   a.w = wd + c0;
                   for (int64_t ox = rg.x0; ox < rg.x1; ox += kMaxPixels) {
                     const int n = static_cast<int>(std::min<int64_t>(kMaxPixels, rg.x1 - ox));
                     const int64_t ix = ox * s.stride_w - s.pad_left + rg.kx0 * s.dilation_w;
                     a.row = img + (iy * L.cols + ix) * L.stride + c0;
                     kTiles[static_cast<size_t>(n)](a, init, acc);
                     for (int j = 0; j < n; ++j) pix[j] = b * pixels + oy * ow + ox + j;
                     store_block(e, acc, 1, n, pix, c0, c - c0, y, r);
                   }
                 }
               }
             });
}

}  // namespace qtune::qconv_nhwc_detail
