// AVX-512 VNNI int8 convolution on NHWC tensors as an implicit GEMM: a tile is R output pixels x
// up to 64 output channels of s32 accumulators; each step broadcasts 4 input channels of a pixel
// (its row pointer plus the tap's offset) against 4 x 16 packed weights per 16-channel block.
// Row pointers go straight into the image (or its padded copy), so no im2col buffer exists for
// kTaps; kDense gathers each tile's few-channel taps into a small buffer first. On small maps at
// larger batches a tile's rows are one output pixel of several images (image_lanes_pay).
// Depthwise layers go to their own kernel (qconv_nhwc_depthwise_avx512vnni.cpp).
#include <immintrin.h>
#include <tbb/blocked_range.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>
#include <vector>

#include "kernels/qconv_nhwc.h"
#include "kernels/qconv_nhwc_detail_avx512vnni.h"
#include "kernels/transpose16x16_avx512.h"

namespace qtune {
namespace {

using qconv_nhwc_detail::Epilogue;
using qconv_nhwc_detail::ImageLayout;

constexpr int kMaxRows = qconv_nhwc_tile_rows(1);
constexpr int kMaxAcc = 24;  // accumulators of the largest tile
// Work per parallel unit: enough multiply-adds that its set-up stays cheap, and enough units to
// keep every thread busy (unit_macs).
constexpr int64_t kMinMacsPerUnit = int64_t{1} << 18, kMaxMacsPerUnit = int64_t{1} << 21;
// A group's packed weights up to this size stay in L1 while a tile of pixels runs all panels.
constexpr int64_t kL1WeightBytes = int64_t{32} << 10;
// Bytes the dense gather may write past a run and read past the padded image.
constexpr int64_t kSlack = 64;

// The epilogue of the common case run on the accumulators where they are: 8-bit output with
// nothing between the product and the requantization but the scale (no graph Q -> DQ, f32 bias
// or fused Add). The same results as qconv_nhwc_detail::store_block.
struct DirectOut {
  __m512 scale[kQConvMaxPanelBlocks];
  __mmask16 mask[kQConvMaxPanelBlocks];  // the blocks' real channels (0: none)
  __mmask64 bytes;                       // all blocks' real channels, a bit a byte
  bool full;                             // every channel of every block real
  qconv_nhwc_detail::PackedQuant q;
  uint8_t* y;     // the panel's first channel of output pixel 0
  int64_t pixel;  // bytes per output pixel
};

// Finishes one pixel's NB (2..4) blocks as bytes (qconv_nhwc_detail::pack_bytes4).
template <int NB, bool S8>
inline void store_pixel_packed(const DirectOut& d, const __m512i* acc, const __m512* scale,
                               __m512 inv, __m512i zp16, __m512i lo8, __m512i hi8, uint8_t* dst) {
  using qconv_nhwc_detail::requant_round;
  const __m512i q0 = requant_round(acc[0], scale[0], inv);
  const __m512i q1 = requant_round(acc[1], scale[1], inv);
  const __m512i q2 = NB > 2 ? requant_round(acc[2], scale[2], inv) : q1;
  const __m512i q3 = NB > 3 ? requant_round(acc[3], scale[3], inv) : q2;
  const __m512i b = qconv_nhwc_detail::pack_bytes4<S8>(q0, q1, q2, q3, zp16, lo8, hi8);
  if (!d.full) {
    _mm512_mask_storeu_epi8(dst, d.bytes, b);
  } else if (NB == 4) {
    _mm512_storeu_si512(dst, b);
  } else {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_castsi512_si256(b));
    if (NB == 3) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 32), _mm512_extracti32x4_epi32(b, 2));
    }
  }
}

// R pixel rows x NB blocks of 16 channels, started at init[j]. For each tap t row r's bytes sit
// at rows[r] + tap_off[t] + 4k (k-step k) and the weights at w + tap_idx[t] * w_tap, advancing
// NB x 64 bytes a k-step. With `direct`, the results go straight to output pixels pix[r];
// otherwise the accumulators to out[r * NB + j].
template <int R, int NB>
void micro(const uint8_t* const* rows, const int64_t* tap_off, const int32_t* tap_idx,
           int64_t taps, int64_t k4, const int8_t* w, int64_t w_tap, const __m512i* init,
           const DirectOut* direct, const int64_t* pix, __m512i* out) {
  __m512i acc[R][NB];
  const uint8_t* r[R];
#pragma GCC unroll 32
  for (int m = 0; m < R; ++m) {
    r[m] = rows[m];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) acc[m][j] = init[j];
  }
  // One running byte offset addresses every row (base + index): a tap changes only the offset,
  // not R row pointers, which matters where a tap has few k-steps (RGB stems, 1x1 on few channels).
  for (int64_t t = 0; t < taps; ++t) {
    const int8_t* wt = w + tap_idx[t] * w_tap;
    for (int64_t o = tap_off[t], end = o + 4 * k4; o < end; o += 4) {
      __m512i b[NB];
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) b[j] = _mm512_load_si512(wt + j * 64);
      wt += NB * 64;
#pragma GCC unroll 32
      for (int m = 0; m < R; ++m) {
        int32_t word;
        std::memcpy(&word, r[m] + o, 4);
        const __m512i a = _mm512_set1_epi32(word);
#pragma GCC unroll 4
        for (int j = 0; j < NB; ++j) acc[m][j] = _mm512_dpbusd_epi32(acc[m][j], a, b[j]);
      }
    }
  }
  if (direct) {
    // Locals: the byte stores may alias anything behind a pointer.
    int64_t at[R];
#pragma GCC unroll 32
    for (int m = 0; m < R; ++m) at[m] = pix[m] * direct->pixel;
    uint8_t* const y = direct->y;
    const __m512 inv = direct->q.inv;
    const __m512i zp16 = direct->q.zp16, lo8 = direct->q.lo8, hi8 = direct->q.hi8;
    if constexpr (NB >= 2) {
      __m512 scale[NB];
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) scale[j] = direct->scale[j];
      if (direct->q.s8) {
#pragma GCC unroll 32
        for (int m = 0; m < R; ++m) {
          store_pixel_packed<NB, true>(*direct, acc[m], scale, inv, zp16, lo8, hi8, y + at[m]);
        }
      } else {
#pragma GCC unroll 32
        for (int m = 0; m < R; ++m) {
          store_pixel_packed<NB, false>(*direct, acc[m], scale, inv, zp16, lo8, hi8, y + at[m]);
        }
      }
      return;
    }
    // One block: four pixels' rows packed together, stored whole when they are consecutive
    // pixels of exactly 16 channels, else a 16-byte piece each.
    const __m512 scale = direct->scale[0];
    const __mmask16 mask = direct->mask[0];
    const bool s8 = direct->q.s8, whole = mask == 0xffff && direct->pixel == 16;
#pragma GCC unroll 8
    for (int m0 = 0; m0 < R; m0 += 4) {
      const int n = R - m0 < 4 ? R - m0 : 4;
      __m512i q[4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        q[i] = qconv_nhwc_detail::requant_round(acc[i < n ? m0 + i : m0][0], scale, inv);
      }
      const __m512i b = s8 ? qconv_nhwc_detail::pack_bytes4<true>(q[0], q[1], q[2], q[3], zp16, lo8, hi8)
                           : qconv_nhwc_detail::pack_bytes4<false>(q[0], q[1], q[2], q[3], zp16, lo8, hi8);
      if (whole && n == 4 && pix[m0 + 3] == pix[m0] + 3) {
        _mm512_storeu_si512(y + at[m0], b);
        continue;
      }
      uint8_t* dst[4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) dst[i] = y + at[i < n ? m0 + i : m0];
      qconv_nhwc_detail::store_pieces(b, dst, n, mask);
    }
    return;
  }
#pragma GCC unroll 32
  for (int m = 0; m < R; ++m) {
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) out[m * NB + j] = acc[m][j];
  }
}

using MicroFn = void (*)(const uint8_t* const*, const int64_t*, const int32_t*, int64_t, int64_t,
                         const int8_t*, int64_t, const __m512i*, const DirectOut*, const int64_t*,
                         __m512i*);

// The DirectOut of output channels n0.. (those below n_end real), or null when the epilogue
// needs more than it does.
const DirectOut* direct_out(const Epilogue& e, int blocks, int64_t n0, int64_t n_end, void* y,
                            DirectOut* d) {
  if (!e.plain_8bit()) return nullptr;
  for (int j = 0; j < blocks; ++j) {
    const int64_t valid = std::max<int64_t>(0, n_end - n0 - j * 16);
    d->mask[j] = qconv_nhwc_detail::lane_mask(valid);
    d->scale[j] = e.per_channel ? _mm512_maskz_loadu_ps(d->mask[j], e.scale + n0 + j * 16)
                                : _mm512_set1_ps(e.scale[0]);
  }
  d->bytes = 0;
  for (int j = 0; j < blocks; ++j) d->bytes |= static_cast<__mmask64>(d->mask[j]) << (16 * j);
  d->full = d->bytes == (blocks == 4 ? ~__mmask64{0} : (__mmask64{1} << (16 * blocks)) - 1);
  d->q = qconv_nhwc_detail::PackedQuant(e);
  d->y = static_cast<uint8_t*>(y) + n0;
  d->pixel = e.channels;
  return d;
}

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

// Epilogue of one tile: rows pixels pix[] (over the batch) x the panel's blocks.
void store_tile(const Epilogue& e, const __m512i* acc, int rows, int blocks, const int64_t* pix,
                int64_t n0, int64_t n_end, void* y, const void* r) {
  for (int j = 0; j < blocks && n0 + j * 16 < n_end; ++j) {
    qconv_nhwc_detail::store_block(e, acc + j, blocks, rows, pix, n0 + j * 16,
                                   n_end - n0 - j * 16, y, r);
  }
}

// Panels of few output channels (at most kLaneChannels real ones): the tile turns around, 16
// output pixels in the lanes and one accumulator an output channel. A k-step is then NC vpdpbusd
// whose weight operand is an embedded broadcast from the packed panel, and the inputs are
// transposed in registers, 4 x 4 dwords a 16-byte chunk of 4 pixels, where the standard tile
// broadcasts 4 bytes a pixel a k-step: with few output channels those broadcasts are what it
// spends its time on (a vpbroadcastd costs a vector slot, as a vpdpbusd does).
// Lane 4l + a holds pixel 4a + l of the tile, so both transposes read or write four consecutive
// pixels a vector.
constexpr int kLaneChannels = kQConvLaneChannels;
constexpr int kLanePixels = kQConvLanePixels;

// acc + the dot products of a's u8 quads with the s8 quad at w in every lane, w read as the
// instruction's embedded broadcast: compilers emit a separate vpbroadcastd for the intrinsic.
inline __m512i dpbusd_broadcast(__m512i acc, __m512i a, const int8_t* w) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(a), "m"(*reinterpret_cast<const int32_t*>(w)));
  return acc;
}

// Bytes [0, 16) (the first `dwords` dwords, the rest zero) of pixels 0..3, pixel l in lane l.
inline __m512i load_pixels4(const uint8_t* p, int64_t cs, __mmask8 dwords) {
  if (dwords == 0xf) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + cs)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * cs)), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 3 * cs)), 3);
  }
  __m512i v = _mm512_castsi128_si512(_mm_maskz_loadu_epi32(dwords, p));
  v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi32(dwords, p + cs), 1);
  v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi32(dwords, p + 2 * cs), 2);
  return _mm512_inserti32x4(v, _mm_maskz_loadu_epi32(dwords, p + 3 * cs), 3);
}

// The 4 x 4 dword transpose within each 128-bit lane: out[d] lane 4l + a = in[a] lane l dword d.
inline void transpose4x4_dwords(const __m512i in[4], __m512i out[4]) {
  const __m512i t0 = _mm512_unpacklo_epi32(in[0], in[1]), t1 = _mm512_unpackhi_epi32(in[0], in[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(in[2], in[3]), t3 = _mm512_unpackhi_epi32(in[2], in[3]);
  out[0] = _mm512_unpacklo_epi64(t0, t2);
  out[1] = _mm512_unpackhi_epi64(t0, t2);
  out[2] = _mm512_unpacklo_epi64(t1, t3);
  out[3] = _mm512_unpackhi_epi64(t1, t3);
}

// Writes 4 pixels x `bytes` (1..16) from v (pixel l in 128-bit lane l) to p + l * pixel.
void store_pixels4(__m512i v, uint8_t* p, int64_t pixel, int bytes) {
  const __m128i part[4] = {_mm512_castsi512_si128(v), _mm512_extracti32x4_epi32(v, 1),
                           _mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)};
  const __mmask16 mask = qconv_nhwc_detail::lane_mask(bytes);
  for (int l = 0; l < 4; ++l) {
    uint8_t* dst = p + l * pixel;
    if (bytes == 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), part[l]);
    } else if (bytes == 8) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), part[l]);
    } else {
      _mm_mask_storeu_epi8(dst, mask, part[l]);
    }
  }
}

// Requantizes a lane tile's NC channels (scale[n] each) to bytes at y + pixel m * `pixel`, the
// first `real` channels of each.
template <int NC, bool S8>
inline void lane_store_bytes(const __m512i* acc, const float* scale, const qconv_nhwc_detail::PackedQuant& q,
                             uint8_t* y, int64_t pixel, int real) {
  // Within each dword of a 128-bit lane: byte 4c + i (channel c, lane i) -> 4i + c.
  const __m512i to_pixels = _mm512_broadcast_i32x4(
      _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
#pragma GCC unroll 2
  for (int g0 = 0; g0 < NC; g0 += 16) {
    __m512i b[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const int n = g0 + 4 * j;
      if (n >= NC) {
        b[j] = _mm512_setzero_si512();
        continue;
      }
      __m512i qv[4];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        qv[c] = qconv_nhwc_detail::requant_round(acc[n + c], _mm512_set1_ps(scale[n + c]), q.inv);
      }
      // Lane l, dword i: lane 4l + i's 4 channels n..n+3.
      b[j] = _mm512_shuffle_epi8(
          qconv_nhwc_detail::pack_lanes4<S8>(qv[0], qv[1], qv[2], qv[3], q.zp16, q.lo8, q.hi8), to_pixels);
    }
    __m512i px[4];  // px[a] lane l: pixel 4a + l's channels g0..g0+15
    transpose4x4_dwords(b, px);
    const int bytes = std::min(16, real - g0);
    if (bytes <= 0) break;
    if (bytes == 16 && pixel == 16) {  // 16 channels, consecutive pixels: whole vectors
#pragma GCC unroll 4
      for (int a = 0; a < 4; ++a) _mm512_storeu_si512(y + g0 + 64 * a, px[a]);
      continue;
    }
#pragma GCC unroll 4
    for (int a = 0; a < 4; ++a) store_pixels4(px[a], y + 4 * a * pixel + g0, pixel, bytes);
  }
}

// 16 output pixels (pixel m's bytes at base + m * cs + tap offsets) x NC output channels of one
// panel (weights of channel n at k-step k: w[tap] + k * w_step + 4n), started at init[n]. With
// `direct` the results go to output pixels pix0.., else out[m * blocks + j] holds pixel m's
// channels 16j.. as the standard tile leaves them.
template <int NC>
void lane_micro(const uint8_t* base, int64_t cs, const int64_t* tap_off, const int32_t* tap_idx,
                int64_t taps, int64_t k4, const int8_t* w, int64_t w_tap, int64_t w_step,
                const int32_t* init, const float* scale, const DirectOut* direct, int real,
                int64_t pix0, __m512i* out) {
  __m512i acc[NC];
#pragma GCC unroll 24
  for (int n = 0; n < NC; ++n) acc[n] = _mm512_set1_epi32(init[n]);
  const int64_t full = k4 / 4 * 4;
  const int tail = static_cast<int>(k4 - full);
  const __mmask8 tail_dwords = static_cast<__mmask8>((1u << tail) - 1);
  // One 16-byte chunk of the tile's pixels (its first `steps` k-steps, the dwords past them
  // neither read nor multiplied).
  auto chunk = [&](const uint8_t* p, const int8_t* wt, __mmask8 dwords, int steps) {
    __m512i z[4], v[4];
#pragma GCC unroll 4
    for (int a = 0; a < 4; ++a) z[a] = load_pixels4(p + 4 * a * cs, cs, dwords);
    transpose4x4_dwords(z, v);
#pragma GCC unroll 4
    for (int d = 0; d < steps; ++d) {
#pragma GCC unroll 24
      for (int n = 0; n < NC; ++n) acc[n] = dpbusd_broadcast(acc[n], v[d], wt + d * w_step + 4 * n);
    }
  };
  for (int64_t t = 0; t < taps; ++t) {
    const uint8_t* p = base + tap_off[t];
    const int8_t* wt = w + tap_idx[t] * w_tap;
    for (int64_t k = 0; k < full; k += 4, p += 16, wt += 4 * w_step) chunk(p, wt, 0xf, 4);
    if (tail) chunk(p, wt, tail_dwords, tail);
  }
  if (direct) {
    uint8_t* const y = direct->y + pix0 * direct->pixel;
    if (direct->q.s8) {
      lane_store_bytes<NC, true>(acc, scale, direct->q, y, direct->pixel, real);
    } else {
      lane_store_bytes<NC, false>(acc, scale, direct->q, y, direct->pixel, real);
    }
    return;
  }
  // Back to one vector a pixel: lane 4l + a of column block j is pixel 4a + l.
  constexpr int kBlocks = (NC + 15) / 16;
#pragma GCC unroll 2
  for (int j = 0; j < kBlocks; ++j) {
    __m512 r[16];
#pragma GCC unroll 16
    for (int n = 0; n < 16; ++n) {
      r[n] = 16 * j + n < NC ? _mm512_castsi512_ps(acc[16 * j + n]) : _mm512_setzero_ps();
    }
    transpose16x16(r);
#pragma GCC unroll 16
    for (int lane = 0; lane < 16; ++lane) {
      out[((lane % 4) * 4 + lane / 4) * kBlocks + j] = _mm512_castps_si512(r[lane]);
    }
  }
}

// A run of tiles: pixels [i0, i1) of one region in raster order, for one panel of one group.
struct TileRun {
  int64_t i0, i1;
  int64_t x0, x1, ox, oy;     // the region's columns; output position of pixel i0
  const uint8_t* row0;        // input of column x0 at output row oy (its first valid tap)
  int64_t row_step, col_step; // input bytes between output rows / columns
  int64_t pix_row0;           // output pixel (over the batch) of column 0 at row oy
  int64_t ow;
  const int64_t* tap_off;
  const int32_t* tap_idx;
  int64_t taps, k4;
  const int8_t* w;
  int64_t w_tap;
  const __m512i* init;
  const DirectOut* direct;  // or null: the generic epilogue below
  const Epilogue* e;
  // Lane tiles (run_lane_tiles): the panel's real channels, their starting values and scales.
  int real;
  const int32_t* lane_init;
  const float* lane_scale;
  int64_t n0, n_end;
  void* y;
  const void* r;
};

// The next n pixels of a run one at a time, across row ends: their input pointers and output
// pixels; (ox, pix_row, row0) is where the run stands and moves past them.
inline void walk_pixels(const TileRun& t, int n, int64_t& ox, int64_t& pix_row, const uint8_t*& row0,
                        const uint8_t** rowp, int64_t* pix) {
  for (int m = 0; m < n; ++m) {
    rowp[m] = row0 + (ox - t.x0) * t.col_step;
    pix[m] = pix_row + ox;
    if (++ox == t.x1) {
      ox = t.x0;
      pix_row += t.ow;
      row0 += t.row_step;
    }
  }
}

// The panel over a run of tiles of R pixels; its constants are set up once per run, not per tile.
template <int R, int NB>
void run_tiles(const TileRun& t) {
  alignas(64) __m512i acc[kMaxAcc];
  const uint8_t* rowp[R];
  int64_t pix[R];
  int64_t ox = t.ox, pix_row = t.pix_row0;
  const uint8_t* row0 = t.row0;
  for (int64_t i = t.i0; i < t.i1; i += R) {
    const int rows = static_cast<int>(std::min<int64_t>(R, t.i1 - i));
    if (rows == R && ox + R <= t.x1) {
      // Within one output row (most tiles of a wide map): evenly spaced, one wrap test.
      const uint8_t* p = row0 + (ox - t.x0) * t.col_step;
#pragma GCC unroll 12
      for (int m = 0; m < R; ++m) {
        rowp[m] = p + m * t.col_step;
        pix[m] = pix_row + ox + m;
      }
      ox += R;
      if (ox == t.x1) {
        ox = t.x0;
        pix_row += t.ow;
        row0 += t.row_step;
      }
    } else {
      walk_pixels(t, rows, ox, pix_row, row0, rowp, pix);
    }
    if (rows == R) {
      micro<R, NB>(rowp, t.tap_off, t.tap_idx, t.taps, t.k4, t.w, t.w_tap, t.init, t.direct, pix, acc);
    } else {
      micro_fn(NB, rows)(rowp, t.tap_off, t.tap_idx, t.taps, t.k4, t.w, t.w_tap, t.init, t.direct,
                         pix, acc);
    }
    if (!t.direct) store_tile(*t.e, acc, rows, NB, pix, t.n0, t.n_end, t.y, t.r);
  }
}

using RunFn = void (*)(const TileRun&);
RunFn run_fn(int blocks) {
  switch (blocks) {
    case 1: return run_tiles<qconv_nhwc_tile_rows(1), 1>;
    case 2: return run_tiles<qconv_nhwc_tile_rows(2), 2>;
    case 3: return run_tiles<qconv_nhwc_tile_rows(3), 3>;
    default: return run_tiles<qconv_nhwc_tile_rows(4), 4>;
  }
}

// The panel over a run of lane tiles where 16 pixels of the run are evenly spaced in the input
// (within one output row, or across rows where the region is whole rows read as one run), and
// standard tiles of R pixels elsewhere.
template <int NC>
void run_lane_tiles(const TileRun& t) {
  constexpr int NB = (NC + 15) / 16;
  constexpr int R = qconv_nhwc_tile_rows(NB);
  alignas(64) __m512i acc[NB * kLanePixels];
  const uint8_t* rowp[R];
  int64_t pix[kLanePixels];
  const int64_t width = t.x1 - t.x0;
  const bool contiguous = t.x0 == 0 && width == t.ow && t.row_step == width * t.col_step;
  if (!contiguous && width < kLanePixels) {  // no lane tile fits: standard tiles across rows
    run_tiles<R, NB>(t);
    return;
  }
  int64_t ox = t.ox, pix_row = t.pix_row0;
  const uint8_t* row0 = t.row0;
  for (int64_t i = t.i0; i < t.i1;) {
    const int64_t left = t.i1 - i;
    if (left >= kLanePixels && (contiguous || ox + kLanePixels <= t.x1)) {
      const int64_t pix0 = pix_row + ox;
      lane_micro<NC>(row0 + (ox - t.x0) * t.col_step, t.col_step, t.tap_off, t.tap_idx, t.taps,
                     t.k4, t.w, t.w_tap, NB * 64, t.lane_init, t.lane_scale, t.direct, t.real,
                     pix0, acc);
      if (!t.direct) {
        for (int m = 0; m < kLanePixels; ++m) pix[m] = pix0 + m;
        store_tile(*t.e, acc, kLanePixels, NB, pix, t.n0, t.n_end, t.y, t.r);
      }
      i += kLanePixels;
      for (ox += kLanePixels; ox >= t.x1; ox -= width) {
        pix_row += t.ow;
        row0 += t.row_step;
      }
      continue;
    }
    const int rows = static_cast<int>(std::min<int64_t>(R, contiguous ? left : std::min(left, t.x1 - ox)));
    walk_pixels(t, rows, ox, pix_row, row0, rowp, pix);
    micro_fn(NB, rows)(rowp, t.tap_off, t.tap_idx, t.taps, t.k4, t.w, t.w_tap, t.init, t.direct,
                       pix, acc);
    if (!t.direct) store_tile(*t.e, acc, rows, NB, pix, t.n0, t.n_end, t.y, t.r);
    i += rows;
  }
}

RunFn lane_run_fn(int nc) {
  switch (nc) {
    case 4: return run_lane_tiles<4>;
    case 8: return run_lane_tiles<8>;
    case 12: return run_lane_tiles<12>;
    case 16: return run_lane_tiles<16>;
    case 20: return run_lane_tiles<20>;
    default: return run_lane_tiles<24>;
  }
}

// Multiply-adds per work unit for a convolution of `macs`: at least 4 units a thread.
int64_t unit_macs(int64_t macs) {
  const int64_t threads = tbb::this_task_arena::max_concurrency();
  return std::clamp(macs / (4 * threads), kMinMacsPerUnit, kMaxMacsPerUnit);
}

// Pixels per work unit: whole tiles, about `target` multiply-adds, and inputs (k bytes a pixel)
// that stay in L1 while the unit's panels run over them.
int64_t unit_pixels(int64_t target, int64_t k, int64_t lanes, int rows, int64_t pixels) {
  const int64_t by_macs = target / std::max<int64_t>(1, k * lanes);
  const int64_t by_bytes = (int64_t{32} << 10) / std::max<int64_t>(1, k);
  const int64_t tiles = std::max<int64_t>(1, std::min(by_macs, by_bytes) / rows);
  return std::min(pixels, tiles * rows);
}

// Each region's taps: offsets from its pixels' first valid tap in an image laid out as L, and
// weight tap indices (kernel rows with row_taps); region i's are [begin[i], begin[i + 1]).
struct RegionTaps {
  std::vector<int64_t> off;
  std::vector<int32_t> idx;
  std::vector<size_t> begin;
};
RegionTaps region_taps(const QConvShape& s, const std::vector<qconv_nhwc_detail::Region>& regs,
                       bool row_taps, const ImageLayout& L) {
  RegionTaps t;
  for (const auto& rg : regs) {
    t.begin.push_back(t.off.size());
    for (int64_t ky = rg.ky0; ky < rg.ky1; ++ky) {
      if (row_taps) {
        t.off.push_back((ky - rg.ky0) * s.dilation_h * L.cols * L.stride);
        t.idx.push_back(static_cast<int32_t>(ky));
        continue;
      }
      for (int64_t kx = rg.kx0; kx < rg.kx1; ++kx) {
        t.off.push_back(((ky - rg.ky0) * s.dilation_h * L.cols + (kx - rg.kx0) * s.dilation_w) *
                        L.stride);
        t.idx.push_back(static_cast<int32_t>(ky * s.kernel_w + kx));
      }
    }
  }
  t.begin.push_back(t.off.size());
  return t;
}

// Whether a convolution's padded borders are better multiplied (zero-point padding in a copy)
// than split off into regions: maps at most 16 outputs across, where the border regions hold a
// quarter of the pixels or more, with at most 128 input channels a group, where a tile's fixed
// costs outweigh its multiply-adds (`qtune bench kernels`: the bundled resnet's 4x4, 7x7 and
// 14x14 layers gain at batch 1, the zoo's resnet18 7x7x512 loses).
bool padded_copy_pays(const QConvShape& s) {
  const bool padded = s.pad_top || s.pad_left || s.pad_bottom || s.pad_right;
  return padded && s.out_w() <= 16 && s.out_h() <= 16 && s.in_channels / s.group <= 128;
}

// kTaps: row pointers into the image at each pixel's first valid tap; the image is x itself for
// u8 with groups on 4-byte boundaries, else a copy with s8 shifted and channels padded to 4.
// kRowTaps: a tap is a kernel row, read as one run (over-reading into bytes whose weights are
// zero) from a copy that carries the column padding at the zero point.
void conv_taps(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
               const PackedConvNhwcS8& w, void* y, const Epilogue& e) {
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = oh * ow;
  const bool row_taps = w.layout == QConvNhwcLayout::kRowTaps;
  ImageLayout L;
  if (row_taps) {
    // In place only when no column is padding and a row's run ends on its last real byte.
    L.in_place = p.a_type == DType::kU8 && s.pad_left == 0 && s.pad_right == 0 &&
                 w.k_tap == s.kernel_w * w.cg;
    L.group_stride = w.cg;
    L.stride = s.in_channels;
    L.cols = s.in_w + (L.in_place ? 0 : s.pad_left + s.pad_right);
    L.pad_left = L.in_place ? 0 : s.pad_left;
  } else {
    L.in_place = p.a_type == DType::kU8 && w.cg % 4 == 0;
    L.group_stride = L.in_place ? w.cg : w.k_tap;
    L.stride = L.group_stride * s.group;
    L.cols = s.in_w;
  }
  L.rows = s.in_h;
  // On small maps the padding splits the pixels into regions of one or two (corners, edges)
  // whose tiles cost more than multiplying the padding: then a copy padded at the zero point on
  // every side is read as one region of every pixel and every tap.
  const bool pad_copy = !row_taps && padded_copy_pays(s);
  if (pad_copy) {
    L.in_place = false;
    L.group_stride = w.k_tap;
    L.stride = L.group_stride * s.group;
    L.pad_top = s.pad_top;
    L.pad_left = s.pad_left;
    L.rows = s.pad_top + s.in_h + s.pad_bottom;
    L.cols = s.pad_left + s.in_w + s.pad_right;
  }
  const std::vector<qconv_nhwc_detail::Region> regs =
      pad_copy ? std::vector<qconv_nhwc_detail::Region>{{0, oh, 0, ow, 0, s.kernel_h, 0, s.kernel_w}}
               : qconv_nhwc_detail::regions(s, row_taps);
  const RegionTaps rt = region_taps(s, regs, row_taps, L);
  const std::vector<int64_t>& tap_off = rt.off;
  const std::vector<int32_t>& tap_idx = rt.idx;
  const std::vector<size_t>& tap_begin = rt.begin;
  // Units: (group, panels, region, pixel range), each panel running over the unit's pixels in
  // turn (a unit's inputs stay in L1 between panels). A group's weights that fit L1 go all
  // panels per unit; larger ones one panel per unit.
  const bool all_panels = w.group_bytes <= kL1WeightBytes;
  struct Unit {
    int64_t g;
    size_t panel0, panel1;
    size_t region;
    int64_t i0, i1;
  };
  std::vector<Unit> units;
  const int64_t macs = s.batch * pixels * s.out_channels * s.k_per_group();
  const int64_t target = unit_macs(macs);
  for (int64_t g = 0; g < s.group; ++g) {
    for (size_t pi = 0; pi < w.panels.size(); pi = all_panels ? w.panels.size() : pi + 1) {
      const size_t pe = all_panels ? w.panels.size() : pi + 1;
      // Units of whole tiles of every panel they run.
      int rows = 1;
      int64_t lanes = 0;
      for (size_t k = pi; k < pe; ++k) {
        const PackedConvNhwcS8::Panel& pan = w.panels[k];
        lanes += pan.blocks * 16;
        rows = std::lcm(rows, qconv_nhwc_lane_channels(w.ocg - pan.oc0, pan.blocks, w.k_tap) ? kLanePixels
                                                                   : qconv_nhwc_tile_rows(pan.blocks));
      }
      for (size_t ri = 0; ri < regs.size(); ++ri) {
        const int64_t n = regs[ri].pixels();
        const int64_t step = unit_pixels(target, w.k_padded, lanes, rows, n);
        for (int64_t i0 = 0; i0 < n; i0 += step) {
          units.push_back({g, pi, pe, ri, i0, std::min(n, i0 + step)});
        }
      }
    }
  }
  const int64_t k4 = w.k_tap / 4;
  const void* r = sum ? sum->r : nullptr;
  const std::vector<int32_t> inits = qconv_nhwc_detail::region_inits(e, w, regs);
  qconv_nhwc_detail::for_images(
      s, L, x, p.a_type, p.a_zero_point, static_cast<int64_t>(units.size()), kSlack, macs,
      [&](int64_t b, const uint8_t* img, int64_t u0, int64_t u1) {
        for (int64_t u = u0; u < u1; ++u) {
          const Unit& un = units[static_cast<size_t>(u)];
          const qconv_nhwc_detail::Region& rg = regs[un.region];
          const uint8_t* img_g = img + un.g * L.group_stride;
          const int32_t* region_init = inits.data() + un.region * static_cast<size_t>(s.out_channels);
          const int64_t n_end = (un.g + 1) * w.ocg;
          const size_t t0 = tap_begin[un.region];
          const int64_t width = rg.width();
          TileRun run{};
          run.i0 = un.i0;
          run.i1 = un.i1;
          run.x0 = rg.x0;
          run.x1 = rg.x1;
          run.oy = rg.y0 + un.i0 / width;
          run.ox = rg.x0 + un.i0 % width;
          run.row_step = s.stride_h * L.cols * L.stride;
          run.col_step = s.stride_w * L.stride;
          // The first valid tap's column, in x or in a copy that starts with the left padding.
          run.row0 = img_g + ((run.oy * s.stride_h - s.pad_top + rg.ky0 * s.dilation_h + L.pad_top) *
                                  L.cols +
                              (rg.x0 * s.stride_w - s.pad_left + rg.kx0 * s.dilation_w + L.pad_left)) *
                                 L.stride;
          run.pix_row0 = b * pixels + run.oy * ow;
          run.ow = ow;
          run.tap_off = tap_off.data() + t0;
          run.tap_idx = tap_idx.data() + t0;
          run.taps = static_cast<int64_t>(tap_begin[un.region + 1] - t0);
          run.k4 = k4;
          run.e = &e;
          run.n_end = n_end;
          run.y = y;
          run.r = r;
          for (size_t pi = un.panel0; pi < un.panel1; ++pi) {
            const PackedConvNhwcS8::Panel& pan = w.panels[pi];
            const int64_t n0 = un.g * w.ocg + pan.oc0;
            alignas(64) __m512i init[kQConvMaxPanelBlocks];
            for (int j = 0; j < pan.blocks; ++j) {
              init[j] = _mm512_maskz_loadu_epi32(
                  qconv_nhwc_detail::lane_mask(std::max<int64_t>(0, n_end - n0 - j * 16)),
                  region_init + n0 + j * 16);
            }
            alignas(64) DirectOut dout;
            run.direct = direct_out(e, pan.blocks, n0, n_end, y, &dout);
            run.init = init;
            run.w = w.panel_data(un.g, pan);
            run.w_tap = k4 * pan.blocks * 64;
            run.n0 = n0;
            const int nc = qconv_nhwc_lane_channels(n_end - n0, pan.blocks, w.k_tap);
            if (nc == 0) {
              run_fn(pan.blocks)(run);
              continue;
            }
            alignas(64) float lane_scale[kLaneChannels] = {};
            for (int64_t n = 0; run.direct && n < std::min<int64_t>(nc, n_end - n0); ++n) {
              lane_scale[n] = e.per_channel ? e.scale[n0 + n] : e.scale[0];
            }
            run.real = static_cast<int>(std::min<int64_t>(nc, n_end - n0));
            run.lane_init = region_init + n0;
            run.lane_scale = lane_scale;
            lane_run_fn(nc)(run);
          }
        }
      });
}

// Small maps at larger batches, read in place (u8, groups on 4-byte boundaries, kTaps): a tile
// is one output pixel of up to a tile's rows of images instead of pixels of one image, so every
// tile is full and only the taps inside the image multiply, however few pixels share a region.
// `qtune bench kernels`, batch 100, ratio to oneDNN: the bundled resnet's 7x7 and 4x4 layers
// 0.91-1.18 -> 1.20-1.52, its padded 14x14 layers 1.09 -> 1.17; unpadded 14x14 (a 1x1 with
// whole-image tiles and 64-byte stores already) 0.90 -> 0.84, so only padded maps go past 64
// pixels.
bool image_lanes_pay(const QConvShape& s, const QGemmParams& p, const PackedConvNhwcS8& w) {
  const bool padded = s.pad_top || s.pad_left || s.pad_bottom || s.pad_right;
  const int64_t pixels = s.out_h() * s.out_w();
  return w.layout == QConvNhwcLayout::kTaps && p.a_type == DType::kU8 && w.cg % 4 == 0 &&
         (pixels <= 64 || (padded && pixels <= 256)) &&
         s.batch >= qconv_nhwc_tile_rows(w.panels[0].blocks);
}

void conv_taps_image_lanes(const QConvShape& s, const QConvSum* sum, const void* x,
                           const PackedConvNhwcS8& w, void* y, const Epilogue& e) {
  const int64_t ow = s.out_w(), pixels = s.out_h() * ow;
  const int64_t img_in = s.in_h * s.in_w * s.in_channels;
  ImageLayout L;
  L.in_place = true;
  L.group_stride = w.cg;
  L.stride = s.in_channels;
  L.rows = s.in_h;
  L.cols = s.in_w;
  const std::vector<qconv_nhwc_detail::Region> regs = qconv_nhwc_detail::regions(s);
  const RegionTaps rt = region_taps(s, regs, false, L);
  const std::vector<int32_t> inits = qconv_nhwc_detail::region_inits(e, w, regs);
  // Units: (group, panels, images); 12 images fill whole tiles of 12 and 6 rows.
  constexpr int64_t kImagesPerUnit = 12;
  const bool all_panels = w.group_bytes <= kL1WeightBytes;
  struct Unit {
    int64_t g;
    size_t panel0, panel1;
    int64_t b0, b1;
  };
  std::vector<Unit> units;
  for (int64_t g = 0; g < s.group; ++g) {
    for (size_t pi = 0; pi < w.panels.size(); pi = all_panels ? w.panels.size() : pi + 1) {
      for (int64_t b = 0; b < s.batch; b += kImagesPerUnit) {
        units.push_back({g, pi, all_panels ? w.panels.size() : pi + 1, b,
                         std::min(s.batch, b + kImagesPerUnit)});
      }
    }
  }
  const int64_t k4 = w.k_tap / 4;
  const void* r = sum ? sum->r : nullptr;
  const auto* xb = static_cast<const uint8_t*>(x);
  auto run = [&](const Unit& un) {
    alignas(64) __m512i acc[kMaxAcc];
    const uint8_t* rowp[kMaxRows];
    int64_t pix[kMaxRows];
    const int64_t n_end = (un.g + 1) * w.ocg;
    for (size_t pi = un.panel0; pi < un.panel1; ++pi) {
      const PackedConvNhwcS8::Panel& pan = w.panels[pi];
      const int tile = qconv_nhwc_tile_rows(pan.blocks);
      const int64_t n0 = un.g * w.ocg + pan.oc0;
      const int8_t* wp = w.panel_data(un.g, pan);
      alignas(64) DirectOut dout;
      const DirectOut* direct = direct_out(e, pan.blocks, n0, n_end, y, &dout);
      for (size_t ri = 0; ri < regs.size(); ++ri) {
        const qconv_nhwc_detail::Region& rg = regs[ri];
        const int32_t* region_init = inits.data() + ri * static_cast<size_t>(s.out_channels);
        alignas(64) __m512i init[kQConvMaxPanelBlocks];
        for (int j = 0; j < pan.blocks; ++j) {
          init[j] = _mm512_maskz_loadu_epi32(
              qconv_nhwc_detail::lane_mask(std::max<int64_t>(0, n_end - n0 - j * 16)),
              region_init + n0 + j * 16);
        }
        const size_t t0 = rt.begin[ri];
        const int64_t taps = static_cast<int64_t>(rt.begin[ri + 1] - t0);
        for (int64_t oy = rg.y0; oy < rg.y1; ++oy) {
          for (int64_t ox = rg.x0; ox < rg.x1; ++ox) {
            // The pixel's first valid tap in image 0 of the group.
            const int64_t first =
                ((oy * s.stride_h - s.pad_top + rg.ky0 * s.dilation_h) * s.in_w +
                 (ox * s.stride_w - s.pad_left + rg.kx0 * s.dilation_w)) * s.in_channels +
                un.g * w.cg;
            for (int64_t b = un.b0; b < un.b1; b += tile) {
              const int rows = static_cast<int>(std::min<int64_t>(tile, un.b1 - b));
              for (int m = 0; m < rows; ++m) {
                rowp[m] = xb + (b + m) * img_in + first;
                pix[m] = (b + m) * pixels + oy * ow + ox;
              }
              micro_fn(pan.blocks, rows)(rowp, rt.off.data() + t0, rt.idx.data() + t0, taps, k4,
                                         wp, k4 * pan.blocks * 64, init, direct, pix, acc);
              if (!direct) store_tile(e, acc, rows, pan.blocks, pix, n0, n_end, y, r);
            }
          }
        }
      }
    }
  };
  const int64_t macs = s.batch * pixels * s.out_channels * s.k_per_group();
  if (tbb::this_task_arena::max_concurrency() == 1 || macs < qconv_nhwc_detail::kSerialMacs) {
    for (const Unit& un : units) run(un);
    return;
  }
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_for(size_t{0}, units.size(), [&](size_t u) { run(units[u]); });
  });
}

// Copies n bytes in 16-byte moves: may write up to 15 bytes past dst + n and read past src + n.
inline void copy_run(const uint8_t* src, int64_t n, uint8_t* dst) {
  for (int64_t i = 0; i < n; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
  }
}

// kDense: each tile's taps gathered from a padded copy of the image (pads at the zero point).
void conv_dense(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
                const PackedConvNhwcS8& w, void* y, const Epilogue& e) {
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = oh * ow;
  ImageLayout L;
  L.group_stride = w.cg;
  L.stride = s.in_channels;
  L.rows = s.in_h + s.pad_top + s.pad_bottom;
  L.cols = s.in_w + s.pad_left + s.pad_right;
  L.pad_top = s.pad_top;
  L.pad_left = s.pad_left;
  std::vector<int64_t> tap_off;
  for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
    for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
      tap_off.push_back((ky * s.dilation_h * L.cols + kx * s.dilation_w) * L.stride);
    }
  }
  // Units: (group, pixel range); a unit gathers each tile of kMaxRows pixels once for all panels.
  const int64_t kd = w.taps() * w.cg, ld = w.k_padded + kSlack;
  const int64_t macs = s.batch * pixels * s.out_channels * s.k_per_group();
  const int64_t step = unit_pixels(unit_macs(macs), w.k_padded, w.ocg, kMaxRows, pixels);
  const int64_t ranges = (pixels + step - 1) / step;
  // Taps of one kernel row are one run when undilated and the pixel holds only this group.
  const bool row_runs = s.dilation_w == 1 && L.stride == w.cg;
  const void* r = sum ? sum->r : nullptr;
  const int64_t zero_tap = 0;
  const int32_t tap0 = 0;
  qconv_nhwc_detail::for_images(
      s, L, x, p.a_type, p.a_zero_point, s.group * ranges, kSlack, macs,
      [&](int64_t b, const uint8_t* img, int64_t u0, int64_t u1) {
        thread_local std::vector<uint8_t> buf;
        if (buf.size() < static_cast<size_t>(kMaxRows * ld)) buf.resize(static_cast<size_t>(kMaxRows * ld));
        alignas(64) __m512i acc[kMaxAcc];
        const uint8_t* rowp[kMaxRows];
        int64_t pix[kMaxRows];
        for (int64_t u = u0; u < u1; ++u) {
          const int64_t g = u / ranges, pr0 = (u % ranges) * step;
          const int64_t pr1 = std::min(pixels, pr0 + step);
          const uint8_t* img_g = img + g * L.group_stride;
          int64_t oy = pr0 / ow, ox = pr0 % ow;  // stepped without divisions
          for (int64_t q = pr0; q < pr1; q += kMaxRows) {
            const int n = static_cast<int>(std::min<int64_t>(kMaxRows, pr1 - q));
            for (int m = 0; m < n; ++m) {
              uint8_t* dst = buf.data() + m * ld;
              const uint8_t* px = img_g + (oy * s.stride_h * L.cols + ox * s.stride_w) * L.stride;
              if (++ox == ow) {
                ox = 0;
                ++oy;
              }
              if (row_runs) {
                for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
                  copy_run(px + tap_off[static_cast<size_t>(ky * s.kernel_w)], s.kernel_w * w.cg,
                           dst + ky * s.kernel_w * w.cg);
                }
              } else {
                for (int64_t t = 0; t < w.taps(); ++t) {
                  copy_run(px + tap_off[static_cast<size_t>(t)], w.cg, dst + t * w.cg);
                }
              }
              std::memset(dst + kd, 0, static_cast<size_t>(w.k_padded - kd));
            }
            for (const auto& pan : w.panels) {
              const int tile = qconv_nhwc_tile_rows(pan.blocks);
              const int8_t* wp = w.panel_data(g, pan);
              const int64_t n0 = g * w.ocg + pan.oc0, n_end = (g + 1) * w.ocg;
              alignas(64) __m512i init[kQConvMaxPanelBlocks];
              for (int j = 0; j < pan.blocks; ++j) {
                init[j] = qconv_nhwc_detail::initial_acc(e, n0 + j * 16,
                                                         std::max<int64_t>(0, n_end - n0 - j * 16));
              }
              for (int m0 = 0; m0 < n; m0 += tile) {
                const int rows = std::min(tile, n - m0);
                for (int m = 0; m < rows; ++m) {
                  rowp[m] = buf.data() + (m0 + m) * ld;
                  pix[m] = b * pixels + q + m0 + m;
                }
                alignas(64) DirectOut dout;
                const DirectOut* direct = direct_out(e, pan.blocks, n0, n_end, y, &dout);
                micro_fn(pan.blocks, rows)(rowp, &zero_tap, &tap0, 1, w.k_padded / 4, wp, 0, init,
                                           direct, pix, acc);
                if (!direct) store_tile(e, acc, rows, pan.blocks, pix, n0, n_end, y, r);
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
  if (w.layout == QConvNhwcLayout::kDense) {
    conv_dense(s, p, sum, x, w, y, e);
  } else if (image_lanes_pay(s, p, w)) {
    conv_taps_image_lanes(s, sum, x, w, y, e);
  } else {
    conv_taps(s, p, sum, x, w, y, e);
  }
}

}  // namespace qtune
