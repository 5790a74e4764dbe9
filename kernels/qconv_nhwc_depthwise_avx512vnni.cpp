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
  const uint8_t* row;        // the tile's first pixel at tap (0, 0), channel block's bytes
  int64_t pixel_step;        // bytes between consecutive output pixels' inputs
  const int64_t* tap_off;    // bytes from `row` to each tap
  int64_t taps;
  const int32_t* w;          // the channel block's tap 0 weights; taps are w_step apart
  int64_t w_step;
};

template <int N>
void dw_tile(const DwArgs& a, __m512i init, __m512i* out) {
  __m512i acc[N];
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) acc[j] = init;
  for (int64_t t = 0; t < a.taps; ++t) {
    const __m512i wv = _mm512_load_si512(a.w + t * a.w_step);
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
  ImageLayout L;
  L.stride = cpad;
  L.group_stride = 1;
  L.rows = s.in_h + s.pad_top + s.pad_bottom;
  L.cols = s.in_w + s.pad_left + s.pad_right;
  L.pad_top = s.pad_top;
  L.pad_left = s.pad_left;
  std::vector<int64_t> tap_off;
  for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
    for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
      tap_off.push_back((ky * s.dilation_h * L.cols + kx * s.dilation_w) * cpad);
    }
  }
  const auto* wd = reinterpret_cast<const int32_t*>(w.data.get());
  const void* r = sum ? sum->r : nullptr;
  // Units: output rows.
  for_images(s, L, x, p.a_type, p.a_zero_point, oh, 64, s.batch * pixels * c * w.taps(),
             [&](int64_t b, const uint8_t* img, int64_t u0, int64_t u1) {
               alignas(64) __m512i acc[kMaxPixels];
               for (int64_t oy = u0; oy < u1; ++oy) {
                 const uint8_t* row = img + oy * s.stride_h * L.cols * cpad;
                 for (int64_t c0 = 0; c0 < c; c0 += 16) {
                   const __m512i init = initial_acc(e, c0, c - c0);
                   DwArgs a{nullptr, s.stride_w * cpad, tap_off.data(), w.taps(), wd + c0, cpad};
                   for (int64_t ox = 0; ox < ow; ox += kMaxPixels) {
                     const int n = static_cast<int>(std::min<int64_t>(kMaxPixels, ow - ox));
                     a.row = row + ox * s.stride_w * cpad + c0;
                     kTiles[static_cast<size_t>(n)](a, init, acc);
                     store_block(e, acc, 1, n, b * pixels + oy * ow + ox, c0, c - c0, y, r);
                   }
                 }
               }
             });
}

}  // namespace qtune::qconv_nhwc_detail
