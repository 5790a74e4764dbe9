// AVX-512 VNNI int8 convolution on NHWC tensors as an implicit GEMM: a tile is R output pixels x
// up to 64 output channels of s32 accumulators; each step broadcasts 4 input channels of a pixel
// (its row pointer plus the tap's offset) against 4 x 16 packed weights per 16-channel block.
// Row pointers go straight into the image (or its padded copy), so no im2col buffer exists for
// kTaps; kDense gathers each tile's few-channel taps into a small buffer first. Depthwise layers
// go to their own kernel (qconv_nhwc_depthwise_avx512vnni.cpp).
#include <immintrin.h>
#include <tbb/blocked_range.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/qconv_nhwc.h"
#include "kernels/qconv_nhwc_detail_avx512vnni.h"

namespace qtune {
namespace {

using qconv_nhwc_detail::Epilogue;
using qconv_nhwc_detail::ImageLayout;

constexpr int kMaxRows = qconv_nhwc_tile_rows(1);
// Work per parallel unit: enough multiply-adds that scheduling stays cheap.
constexpr int64_t kMacsPerUnit = int64_t{1} << 18;
// Bytes the dense gather may write past a run and read past the padded image.
constexpr int64_t kSlack = 64;

// R pixel rows x NB blocks of 16 channels, started at init[j]; acc[r * NB + j]. Row r's bytes for
// tap t, k-step k sit at rows[r] + tap_off[t] + 4k; the weights advance by NB x 64 bytes a step.
template <int R, int NB>
void micro(const uint8_t* const* rows, const int64_t* tap_off, int64_t taps, int64_t k4,
           const int8_t* w, const __m512i* init, __m512i* out) {
  __m512i acc[R][NB];
  const uint8_t* r[R];
#pragma GCC unroll 32
  for (int m = 0; m < R; ++m) {
    r[m] = rows[m];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) acc[m][j] = init[j];
  }
  for (int64_t t = 0; t < taps; ++t) {
    const int64_t off = tap_off[t];
    for (int64_t k = 0; k < k4; ++k) {
      __m512i b[NB];
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) b[j] = _mm512_load_si512(w + j * 64);
      w += NB * 64;
#pragma GCC unroll 32
      for (int m = 0; m < R; ++m) {
        int32_t word;
        std::memcpy(&word, r[m] + off + k * 4, 4);
        const __m512i a = _mm512_set1_epi32(word);
#pragma GCC unroll 4
        for (int j = 0; j < NB; ++j) acc[m][j] = _mm512_dpbusd_epi32(acc[m][j], a, b[j]);
      }
    }
  }
#pragma GCC unroll 32
  for (int m = 0; m < R; ++m) {
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) out[m * NB + j] = acc[m][j];
  }
}

using MicroFn = void (*)(const uint8_t* const*, const int64_t*, int64_t, int64_t, const int8_t*,
                         const __m512i*, __m512i*);

// MicroTable<NB>::fn[rows] for rows in 1..qconv_nhwc_tile_rows(NB).
template <int NB, typename Rows>
struct MicroRows;
template <int NB, size_t... R>
struct MicroRows<NB, std::index_sequence<R...>> {
  static constexpr MicroFn fn[] = {nullptr, &micro<static_cast<int>(R) + 1, NB>...};
};
template <int NB>
using MicroTable =
    MicroRows<NB, std::make_index_sequence<static_cast<size_t>(qconv_nhwc_tile_rows(NB))>>;

MicroFn micro_fn(int blocks, int rows) {
  switch (blocks) {
    case 1: return MicroTable<1>::fn[rows];
    case 2: return MicroTable<2>::fn[rows];
    case 3: return MicroTable<3>::fn[rows];
    default: return MicroTable<4>::fn[rows];
  }
}

// The starting accumulators of a panel's blocks (output channels n0.., those below n_end real).
void panel_init(const Epilogue& e, int blocks, int64_t n0, int64_t n_end, __m512i* init) {
  for (int j = 0; j < blocks; ++j) {
    init[j] = qconv_nhwc_detail::initial_acc(e, n0 + j * 16, std::max<int64_t>(0, n_end - n0 - j * 16));
  }
}

// Epilogue of one tile: rows pixels from `pixel` (over the batch) x the panel's blocks.
void store_tile(const Epilogue& e, const __m512i* acc, int rows, int blocks, int64_t pixel,
                int64_t n0, int64_t n_end, void* y, const void* r) {
  for (int j = 0; j < blocks && n0 + j * 16 < n_end; ++j) {
    qconv_nhwc_detail::store_block(e, acc + j, blocks, rows, pixel, n0 + j * 16,
                                   n_end - n0 - j * 16, y, r);
  }
}

struct Geometry {
  int64_t oh, ow, pixels;
  ImageLayout L;
  std::vector<int64_t> tap_off;  // bytes from a pixel's row pointer to each tap's input pixel
  // The top-left input pixel of output pixel p (within the image) in the image the kernel reads.
  int64_t base(int64_t p) const {
    const int64_t oy = p / ow, ox = p % ow;
    return (oy * stride_h * L.cols + ox * stride_w) * L.stride;
  }
  int64_t stride_h, stride_w;
  int64_t macs;  // of the whole convolution
};

Geometry geometry(const QConvShape& s, const PackedConvNhwcS8& w, DType a_type) {
  Geometry G;
  G.oh = s.out_h();
  G.ow = s.out_w();
  G.pixels = G.oh * G.ow;
  G.stride_h = s.stride_h;
  G.stride_w = s.stride_w;
  G.macs = s.batch * G.pixels * s.out_channels * s.k_per_group();
  const bool no_pad = s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0;
  ImageLayout& L = G.L;
  // In place: u8 pixels whose groups start on 4-byte boundaries, nothing to pad.
  L.in_place = w.layout == QConvNhwcLayout::kTaps && a_type == DType::kU8 && no_pad && w.cg % 4 == 0;
  L.group_stride = L.in_place ? w.cg : w.k_tap;
  L.stride = L.group_stride * s.group;
  L.rows = s.in_h + (L.in_place ? 0 : s.pad_top + s.pad_bottom);
  L.cols = s.in_w + (L.in_place ? 0 : s.pad_left + s.pad_right);
  L.pad_top = L.in_place ? 0 : s.pad_top;
  L.pad_left = L.in_place ? 0 : s.pad_left;
  for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
    for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
      G.tap_off.push_back((ky * s.dilation_h * L.cols + kx * s.dilation_w) * L.stride);
    }
  }
  return G;
}

// Pixels per work unit: whole tiles, about kMacsPerUnit multiply-adds.
int64_t unit_pixels(int64_t macs_per_pixel, int rows, int64_t pixels) {
  const int64_t tiles = std::max<int64_t>(1, kMacsPerUnit / std::max<int64_t>(1, macs_per_pixel * rows));
  return std::min(pixels, tiles * rows);
}

void conv_taps(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
               const PackedConvNhwcS8& w, void* y, const Epilogue& e, const Geometry& G) {
  // Units: (group, panel, pixel range), panel-major so a unit reuses one weight panel.
  struct Unit {
    int64_t g;
    const PackedConvNhwcS8::Panel* panel;
    int64_t p0, p1;
  };
  std::vector<Unit> units;
  for (int64_t g = 0; g < s.group; ++g) {
    for (const auto& pan : w.panels) {
      const int rows = qconv_nhwc_tile_rows(pan.blocks);
      const int64_t step = unit_pixels(w.k_padded * pan.blocks * 16, rows, G.pixels);
      for (int64_t p0 = 0; p0 < G.pixels; p0 += step) {
        units.push_back({g, &pan, p0, std::min(G.pixels, p0 + step)});
      }
    }
  }
  const int64_t k4 = w.k_tap / 4, taps = w.taps();
  const void* r = sum ? sum->r : nullptr;
  qconv_nhwc_detail::for_images(
      s, G.L, x, p.a_type, p.a_zero_point, static_cast<int64_t>(units.size()), kSlack, G.macs,
      [&](int64_t b, const uint8_t* img, int64_t u0, int64_t u1) {
        alignas(64) __m512i acc[kMaxRows];
        const uint8_t* rowp[kMaxRows];
        for (int64_t u = u0; u < u1; ++u) {
          const Unit& un = units[static_cast<size_t>(u)];
          const int blocks = un.panel->blocks, tile = qconv_nhwc_tile_rows(blocks);
          const int8_t* wp = w.panel_data(un.g, *un.panel);
          const uint8_t* img_g = img + un.g * G.L.group_stride;
          const int64_t n0 = un.g * w.ocg + un.panel->oc0, n_end = (un.g + 1) * w.ocg;
          alignas(64) __m512i init[kQConvMaxPanelBlocks];
          panel_init(e, blocks, n0, n_end, init);
          for (int64_t q = un.p0; q < un.p1; q += tile) {
            const int rows = static_cast<int>(std::min<int64_t>(tile, un.p1 - q));
            for (int m = 0; m < rows; ++m) rowp[m] = img_g + G.base(q + m);
            micro_fn(blocks, rows)(rowp, G.tap_off.data(), taps, k4, wp, init, acc);
            store_tile(e, acc, rows, blocks, b * G.pixels + q, n0, n_end, y, r);
          }
        }
      });
}

// Copies n bytes in 16-byte moves: may write up to 15 bytes past dst + n and read past src + n.
inline void copy_run(const uint8_t* src, int64_t n, uint8_t* dst) {
  for (int64_t i = 0; i < n; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
  }
}

void conv_dense(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
                const PackedConvNhwcS8& w, void* y, const Epilogue& e, const Geometry& G) {
  // Units: (group, pixel range); a unit gathers each tile of kMaxRows pixels once for all panels.
  const int64_t kd = w.taps() * w.cg, ld = w.k_padded + kSlack;
  const int64_t step = unit_pixels(w.k_padded * w.ocg, kMaxRows, G.pixels);
  const int64_t ranges = (G.pixels + step - 1) / step;
  // Taps of one kernel row are one run when undilated and the pixel holds only this group.
  const bool row_runs = s.dilation_w == 1 && G.L.stride == w.cg;
  const void* r = sum ? sum->r : nullptr;
  const int64_t zero_tap = 0;
  qconv_nhwc_detail::for_images(
      s, G.L, x, p.a_type, p.a_zero_point, s.group * ranges, kSlack, G.macs,
      [&](int64_t b, const uint8_t* img, int64_t u0, int64_t u1) {
        thread_local std::vector<uint8_t> buf;
        if (buf.size() < static_cast<size_t>(kMaxRows * ld)) buf.resize(static_cast<size_t>(kMaxRows * ld));
        alignas(64) __m512i acc[kMaxRows];
        const uint8_t* rowp[kMaxRows];
        for (int64_t u = u0; u < u1; ++u) {
          const int64_t g = u / ranges, pr0 = (u % ranges) * step;
          const int64_t pr1 = std::min(G.pixels, pr0 + step);
          const uint8_t* img_g = img + g * G.L.group_stride;
          for (int64_t q = pr0; q < pr1; q += kMaxRows) {
            const int n = static_cast<int>(std::min<int64_t>(kMaxRows, pr1 - q));
            for (int m = 0; m < n; ++m) {
              uint8_t* dst = buf.data() + m * ld;
              const uint8_t* px = img_g + G.base(q + m);
              if (row_runs) {
                for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
                  copy_run(px + G.tap_off[static_cast<size_t>(ky * s.kernel_w)], s.kernel_w * w.cg,
                           dst + ky * s.kernel_w * w.cg);
                }
              } else {
                for (int64_t t = 0; t < w.taps(); ++t) {
                  copy_run(px + G.tap_off[static_cast<size_t>(t)], w.cg, dst + t * w.cg);
                }
              }
              std::memset(dst + kd, 0, static_cast<size_t>(w.k_padded - kd));
            }
            for (const auto& pan : w.panels) {
              const int tile = qconv_nhwc_tile_rows(pan.blocks);
              const int8_t* wp = w.panel_data(g, pan);
              const int64_t n0 = g * w.ocg + pan.oc0, n_end = (g + 1) * w.ocg;
              alignas(64) __m512i init[kQConvMaxPanelBlocks];
              panel_init(e, pan.blocks, n0, n_end, init);
              for (int m0 = 0; m0 < n; m0 += tile) {
                const int rows = std::min(tile, n - m0);
                for (int m = 0; m < rows; ++m) rowp[m] = buf.data() + (m0 + m) * ld;
                micro_fn(pan.blocks, rows)(rowp, &zero_tap, 1, w.k_padded / 4, wp, init, acc);
                store_tile(e, acc, rows, pan.blocks, b * G.pixels + q + m0, n0, n_end, y, r);
              }
            }
          }
        }
      });
}

}  // namespace

void qconv_nhwc_u8s8__avx512vnni(const QConvShape& s, const QGemmParams& p, const QConvSum* sum,
                                 const void* x, const PackedConvNhwcS8& w, void* y) {
  if (s.batch <= 0 || s.out_h() <= 0 || s.out_w() <= 0 || s.out_channels <= 0) return;
  if (w.layout == QConvNhwcLayout::kDepthwise) {
    qconv_nhwc_detail::depthwise_nhwc(s, p, sum, x, w, y);
    return;
  }
  const Epilogue e(p, sum, w.col_sum, s.out_channels);
  const Geometry G = geometry(s, w, p.a_type);
  if (w.layout == QConvNhwcLayout::kDense) {
    conv_dense(s, p, sum, x, w, y, e, G);
  } else {
    conv_taps(s, p, sum, x, w, y, e, G);
  }
}

}  // namespace qtune
