// AVX-512 VNNI depthwise int8 convolution on NHWC tensors: 16 channels per vector, up to 8
// output pixels of a row per tile.
// Undilated kernels of width 3, 5 or 7: one vector holds, for each of 16 channels, one input
// column's bytes from four consecutive kernel rows, so one vpdpbusd against those four rows'
// weights does four taps; each such column vector serves every output of the tile whose window
// holds it. Tiles take 64 channels (four vectors, whose rows are interleaved by unpacks in a
// lane-transposed channel order) or 32 (two vectors) where there are that many. Rows and columns
// outside the image read as the zero point (compensated like every tap), so every pixel runs
// the same code. Output rows run one after another, each row's column tiles over all channels,
// so a row's inputs are read from L1.
// Other kernels run per tap, an input pixel widened to 32-bit lanes and multiplied by one
// vpdpwssd, on regions that skip taps in the padding.
#include <immintrin.h>

#include <algorithm>
#include <utility>

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

// Whole kernel rows of width KW at column stride SW, undilated, four rows to a vpdpbusd.
struct DwRowsArgs {
  const uint8_t* const* rows;  // per kernel row: input column 0 at the channel block (or a row
                               // of zero points), ceil(kernel_h / 4) x 4 of them
  int64_t groups;              // ceil(kernel_h / 4)
  int64_t kernel_h;
  int64_t ix0;                 // input column under the tile's first output and kernel column 0
  int64_t in_w;
  int64_t pixel_bytes;         // between consecutive input pixels
  const int8_t* w;             // the channel block's weights: group g, column kx at w + (g * KW + kx) * w_step
  int64_t w_step;
  __m512i zp8;                 // the activation zero point in every byte
};

// Column ix of up to four rows (ROWS of them real) as vpdpbusd's operand: byte 4c + j is row j's
// channel c. Bytes of the missing rows are whatever the register held: their weights are zero.
template <int ROWS>
inline __m512i rows4(const uint8_t* const* r, int64_t off) {
  __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[0] + off)));
  if (ROWS > 1) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[1] + off)), 1);
  if (ROWS > 2) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[2] + off)), 2);
  if (ROWS > 3) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[3] + off)), 3);
  // Dwords: 128-bit lane l gets dword l of each row, then each lane's 4x4 bytes are transposed.
  v = _mm512_permutexvar_epi32(_mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), v);
  const __m512i t = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  return _mm512_shuffle_epi8(v, t);
}

// One group of ROWS kernel rows over the tile's columns.
template <int N, int KW, int SW, int ROWS>
inline void dw_rows_group(const DwRowsArgs& a, const uint8_t* const* r, const int8_t* wg, __m512i* acc) {
  constexpr int kPositions = (N - 1) * SW + KW;
  __m512i wk[KW];
#pragma GCC unroll 8
  for (int kx = 0; kx < KW; ++kx) wk[kx] = _mm512_load_si512(wg + kx * a.w_step);
#pragma GCC unroll 32
  for (int p = 0; p < kPositions; ++p) {
    const int64_t ix = a.ix0 + p;
    const __m512i xv = ix < 0 || ix >= a.in_w ? a.zp8 : rows4<ROWS>(r, ix * a.pixel_bytes);
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; ++kx) {
      const int d = p - kx;
      if (d >= 0 && d % SW == 0 && d / SW < N) {
        acc[d / SW] = _mm512_dpbusd_epi32(acc[d / SW], xv, wk[kx]);
      }
    }
  }
}

template <int N, int KW, int SW>
void dw_rows_tile(const DwRowsArgs& a, __m512i init, __m512i* out) {
  __m512i acc[N];
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) acc[j] = init;
  for (int64_t g = 0; g < a.groups; ++g) {
    const uint8_t* const* r = a.rows + 4 * g;
    const int8_t* wg = a.w + g * KW * a.w_step;
    switch (std::min<int64_t>(4, a.kernel_h - 4 * g)) {
      case 1: dw_rows_group<N, KW, SW, 1>(a, r, wg, acc); break;
      case 2: dw_rows_group<N, KW, SW, 2>(a, r, wg, acc); break;
      case 3: dw_rows_group<N, KW, SW, 3>(a, r, wg, acc); break;
      default: dw_rows_group<N, KW, SW, 4>(a, r, wg, acc); break;
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) out[j] = acc[j];
}

// Two channel blocks (32 channels) of a column at once: each row's 32 bytes are one load, and one
// two-source dword permute per block gathers the four rows (then the same in-lane transpose), so
// a block's operand costs half the shuffles of rows4.
template <int ROWS>
inline void rows4_pair(const uint8_t* const* r, int64_t off, __m512i* lo, __m512i* hi) {
  auto load = [&](int j) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[j] + off)); };
  __m512i a = _mm512_castsi256_si512(load(0));
  if (ROWS > 1) a = _mm512_inserti64x4(a, load(1), 1);
  __m512i b = a;
  if (ROWS > 2) b = _mm512_castsi256_si512(load(2));
  if (ROWS > 3) b = _mm512_inserti64x4(b, load(3), 1);
  // Dword 4l + j of block h is row j's dword 4h + l: a holds rows 0-1, b rows 2-3 (index + 16).
  const __m512i idx_lo = _mm512_set_epi32(27, 19, 11, 3, 26, 18, 10, 2, 25, 17, 9, 1, 24, 16, 8, 0);
  const __m512i idx_hi = _mm512_set_epi32(31, 23, 15, 7, 30, 22, 14, 6, 29, 21, 13, 5, 28, 20, 12, 4);
  const __m512i t = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  *lo = _mm512_shuffle_epi8(_mm512_permutex2var_epi32(a, idx_lo, b), t);
  *hi = _mm512_shuffle_epi8(_mm512_permutex2var_epi32(a, idx_hi, b), t);
}

template <int N, int KW, int SW, int ROWS>
inline void dw_pair_group(const DwRowsArgs& a, const uint8_t* const* r, const int8_t* wg,
                          __m512i* acc0, __m512i* acc1) {
  constexpr int kPositions = (N - 1) * SW + KW;
  __m512i w0[KW], w1[KW];
#pragma GCC unroll 8
  for (int kx = 0; kx < KW; ++kx) {
    w0[kx] = _mm512_load_si512(wg + kx * a.w_step);
    w1[kx] = _mm512_load_si512(wg + kx * a.w_step + 64);
  }
#pragma GCC unroll 32
  for (int p = 0; p < kPositions; ++p) {
    const int64_t ix = a.ix0 + p;
    __m512i lo = a.zp8, hi = a.zp8;
    if (ix >= 0 && ix < a.in_w) rows4_pair<ROWS>(r, ix * a.pixel_bytes, &lo, &hi);
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; ++kx) {
      const int d = p - kx;
      if (d >= 0 && d % SW == 0 && d / SW < N) {
        acc0[d / SW] = _mm512_dpbusd_epi32(acc0[d / SW], lo, w0[kx]);
        acc1[d / SW] = _mm512_dpbusd_epi32(acc1[d / SW], hi, w1[kx]);
      }
    }
  }
}

// N pixels x 32 channels: out[0..N) the first block, out[N..2N) the second.
template <int N, int KW, int SW>
void dw_pair_tile(const DwRowsArgs& a, const __m512i* init, __m512i* out) {
  __m512i acc0[N], acc1[N];
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) {
    acc0[j] = init[0];
    acc1[j] = init[1];
  }
  for (int64_t g = 0; g < a.groups; ++g) {
    const uint8_t* const* r = a.rows + 4 * g;
    const int8_t* wg = a.w + g * KW * a.w_step;
    switch (std::min<int64_t>(4, a.kernel_h - 4 * g)) {
      case 1: dw_pair_group<N, KW, SW, 1>(a, r, wg, acc0, acc1); break;
      case 2: dw_pair_group<N, KW, SW, 2>(a, r, wg, acc0, acc1); break;
      case 3: dw_pair_group<N, KW, SW, 3>(a, r, wg, acc0, acc1); break;
      default: dw_pair_group<N, KW, SW, 4>(a, r, wg, acc0, acc1); break;
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) {
    out[j] = acc0[j];
    out[N + j] = acc1[j];
  }
}

using PairTileFn = void (*)(const DwRowsArgs&, const __m512i*, __m512i*);
// Pixels a 32-channel tile takes for a kernel width: its accumulators (2 a pixel) and weights
// (2 a kernel column) fit the vector registers beside the operands.
constexpr int pair_pixels(int kw) { return kw <= 3 ? 8 : kw <= 5 ? 6 : 4; }
template <int KW, int SW, typename Seq>
struct PairRows;
template <int KW, int SW, size_t... N>
struct PairRows<KW, SW, std::index_sequence<N...>> {
  static constexpr PairTileFn fn[] = {nullptr, &dw_pair_tile<static_cast<int>(N) + 1, KW, SW>...};
};
template <int KW, int SW>
using PairTable = PairRows<KW, SW, std::make_index_sequence<static_cast<size_t>(pair_pixels(KW))>>;

// Four vectors of 128-bit lanes transposed: vector v's lane l <-> vector l's lane v. Its own
// inverse; takes the depthwise quad kernel's channel order (dw_lane_transposed) to the natural one
// and back.
inline void transpose_lanes(const __m512i* in, __m512i* out) {
  const __m512i t0 = _mm512_shuffle_i64x2(in[0], in[1], 0x44), t1 = _mm512_shuffle_i64x2(in[0], in[1], 0xee);
  const __m512i t2 = _mm512_shuffle_i64x2(in[2], in[3], 0x44), t3 = _mm512_shuffle_i64x2(in[2], in[3], 0xee);
  out[0] = _mm512_shuffle_i64x2(t0, t2, 0x88);
  out[1] = _mm512_shuffle_i64x2(t0, t2, 0xdd);
  out[2] = _mm512_shuffle_i64x2(t1, t3, 0x88);
  out[3] = _mm512_shuffle_i64x2(t1, t3, 0xdd);
}

// Four channel blocks (64 channels) of a column: each row's 64 bytes are one load, and byte then
// word unpacks within 128-bit lanes put four rows side by side per channel: two shuffles a
// vector. They leave the channels lane-transposed (dw_lane_transposed), the order of the packed
// weights of whole 64-channel blocks; the epilogue's packs restore the natural order.
template <int ROWS>
inline void rows4_quad(const uint8_t* const* r, int64_t off, __m512i* v) {
  auto load = [&](int j) { return _mm512_loadu_si512(r[j] + off); };
  const __m512i r0 = load(0);
  const __m512i r1 = ROWS > 1 ? load(1) : r0;  // missing rows: any bytes, their weights are zero
  const __m512i r2 = ROWS > 2 ? load(2) : r0;
  const __m512i r3 = ROWS > 3 ? load(3) : r0;
  const __m512i lo01 = _mm512_unpacklo_epi8(r0, r1), hi01 = _mm512_unpackhi_epi8(r0, r1);
  const __m512i lo23 = _mm512_unpacklo_epi8(r2, r3), hi23 = _mm512_unpackhi_epi8(r2, r3);
  v[0] = _mm512_unpacklo_epi16(lo01, lo23);
  v[1] = _mm512_unpackhi_epi16(lo01, lo23);
  v[2] = _mm512_unpacklo_epi16(hi01, hi23);
  v[3] = _mm512_unpackhi_epi16(hi01, hi23);
}

// Where a 64-channel tile's results go: with q, quantized and stored in place; without, as
// accumulators for the caller.
struct QuadOut {
  const PackedQuant* q = nullptr;
  const __m512* scale = nullptr;  // four vectors, lane-transposed
  uint8_t* y = nullptr;           // the tile's first pixel at the block's first channel
  int64_t pixel_bytes = 0;        // between output pixels
};

template <int N, int KW, int SW, int ROWS>
inline void dw_quad_group(const DwRowsArgs& a, const uint8_t* const* r, const int8_t* wg, __m512i (*acc)[4]) {
  constexpr int kPositions = (N - 1) * SW + KW;
#pragma GCC unroll 32
  for (int p = 0; p < kPositions; ++p) {
    const int64_t ix = a.ix0 + p;
    __m512i v[4] = {a.zp8, a.zp8, a.zp8, a.zp8};
    if (ix >= 0 && ix < a.in_w) rows4_quad<ROWS>(r, ix * a.pixel_bytes, v);
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; ++kx) {
      const int d = p - kx;
      if (d >= 0 && d % SW == 0 && d / SW < N) {
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
          acc[d / SW][q] = _mm512_dpbusd_epi32(acc[d / SW][q], v[q], _mm512_load_si512(wg + kx * a.w_step + 64 * q));
        }
      }
    }
  }
}

// N pixels x 64 channels; out (when o.q is null): pixel j's four vectors at out[4j..4j+3],
// lane-transposed.
template <int N, int KW, int SW>
void dw_quad_tile(const DwRowsArgs& a, const __m512i* init, const QuadOut& o, __m512i* out) {
  __m512i acc[N][4];
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) {
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) acc[j][q] = init[q];
  }
  for (int64_t g = 0; g < a.groups; ++g) {
    const uint8_t* const* r = a.rows + 4 * g;
    const int8_t* wg = a.w + g * KW * a.w_step;
    switch (std::min<int64_t>(4, a.kernel_h - 4 * g)) {
      case 1: dw_quad_group<N, KW, SW, 1>(a, r, wg, acc); break;
      case 2: dw_quad_group<N, KW, SW, 2>(a, r, wg, acc); break;
      case 3: dw_quad_group<N, KW, SW, 3>(a, r, wg, acc); break;
      default: dw_quad_group<N, KW, SW, 4>(a, r, wg, acc); break;
    }
  }
  if (!o.q) {
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) {
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) out[4 * j + q] = acc[j][q];
    }
    return;
  }
  const PackedQuant& pq = *o.q;
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) {
    __m512i qv[4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) qv[q] = requant_round(acc[j][q], o.scale[q], pq.inv);
    // The packs interleave by 128-bit lane, which puts the lane-transposed channels in order.
    const __m512i b = pq.s8 ? pack_lanes4<true>(qv[0], qv[1], qv[2], qv[3], pq.zp16, pq.lo8, pq.hi8)
                            : pack_lanes4<false>(qv[0], qv[1], qv[2], qv[3], pq.zp16, pq.lo8, pq.hi8);
    _mm512_storeu_si512(o.y + j * o.pixel_bytes, b);
  }
}

using QuadTileFn = void (*)(const DwRowsArgs&, const __m512i*, const QuadOut&, __m512i*);
// Pixels a 64-channel tile takes: four accumulators a pixel (fewer at stride 2, whose columns
// serve fewer outputs each).
constexpr int quad_pixels(int kw, int sw) { return kw <= 3 && sw == 1 ? 6 : 4; }
template <int KW, int SW, typename Seq>
struct QuadRows;
template <int KW, int SW, size_t... N>
struct QuadRows<KW, SW, std::index_sequence<N...>> {
  static constexpr QuadTileFn fn[] = {nullptr, &dw_quad_tile<static_cast<int>(N) + 1, KW, SW>...};
};
template <int KW, int SW>
using QuadTable = QuadRows<KW, SW, std::make_index_sequence<static_cast<size_t>(quad_pixels(KW, SW))>>;

using RowsTileFn = void (*)(const DwRowsArgs&, __m512i, __m512i*);
template <int KW, int SW>
constexpr RowsTileFn kRowsTiles[kMaxPixels + 1] = {
    nullptr,                 dw_rows_tile<1, KW, SW>, dw_rows_tile<2, KW, SW>,
    dw_rows_tile<3, KW, SW>, dw_rows_tile<4, KW, SW>, dw_rows_tile<5, KW, SW>,
    dw_rows_tile<6, KW, SW>, dw_rows_tile<7, KW, SW>, dw_rows_tile<8, KW, SW>};

template <int KW, int SW>
struct RowsTable {
  static constexpr const RowsTileFn* fn = kRowsTiles<KW, SW>;
};

// Table<KW, SW>::fn for this shape's undilated kernel width (3, 5 or 7) and column stride (1 or
// 2), or null: the row kernels (RowsTable, else the per-tap kernel runs), their 32-channel
// (PairTable) and 64-channel (QuadTable) tiles.
template <typename Fn, template <int, int> class Table>
const Fn* tiles_for(const QConvShape& s) {
  if (s.dilation_w != 1) return nullptr;
  const int64_t kw = s.kernel_w, sw = s.stride_w;
  if (kw == 3 && sw == 1) return Table<3, 1>::fn;
  if (kw == 3 && sw == 2) return Table<3, 2>::fn;
  if (kw == 5 && sw == 1) return Table<5, 1>::fn;
  if (kw == 5 && sw == 2) return Table<5, 2>::fn;
  if (kw == 7 && sw == 1) return Table<7, 1>::fn;
  if (kw == 7 && sw == 2) return Table<7, 2>::fn;
  return nullptr;
}

// The packed requantization's constants for channels c0.. (valid of them real).
struct PackedOut {
  const PackedQuant* q = nullptr;  // the call's constants
  __mmask16 mask = 0;
  bool whole = false;  // 64-byte stores of four pixels (16 channels, all real)
  __m512 scale;
  int64_t channels = 0;
  PackedOut() = default;
  PackedOut(const Epilogue& e, const PackedQuant& pq, int64_t c0, int64_t valid)
      : q(&pq), mask(lane_mask(valid)), whole(mask == 0xffff && e.channels == 16),
        channels(e.channels) {
    scale = e.per_channel ? _mm512_maskz_loadu_ps(mask, e.scale + c0) : _mm512_set1_ps(e.scale[0]);
  }
};

// Four pixels' vectors (the last repeated where fewer than four are real) as bytes.
inline __m512i packed4(const PackedOut& o, __m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  const PackedQuant& q = *o.q;
  const __m512i q0 = requant_round(a0, o.scale, q.inv);
  const __m512i q1 = requant_round(a1, o.scale, q.inv);
  const __m512i q2 = requant_round(a2, o.scale, q.inv);
  const __m512i q3 = requant_round(a3, o.scale, q.inv);
  return q.s8 ? pack_bytes4<true>(q0, q1, q2, q3, q.zp16, q.lo8, q.hi8)
              : pack_bytes4<false>(q0, q1, q2, q3, q.zp16, q.lo8, q.hi8);
}

// Finishes n (<= kMaxPixels) consecutive output pixels whose first channel c0 is at y0.
void store_packed(const PackedOut& o, const __m512i* acc, int n, uint8_t* y0) {
  const int64_t ch = o.channels;
  int m = 0;
  for (; m + 4 <= n; m += 4) {
    const __m512i b = packed4(o, acc[m], acc[m + 1], acc[m + 2], acc[m + 3]);
    uint8_t* d = y0 + m * ch;
    if (o.whole) {
      _mm512_storeu_si512(d, b);
      continue;
    }
    uint8_t* dst[4] = {d, d + ch, d + 2 * ch, d + 3 * ch};
    store_pieces(b, dst, 4, o.mask);
  }
  if (m < n) {
    const int k = n - m;
    const __m512i b = packed4(o, acc[m], acc[m + (k > 1)], acc[m + (k > 2 ? 2 : k - 1)], acc[m + k - 1]);
    uint8_t* dst[4] = {y0 + m * ch, y0 + (m + 1) * ch, y0 + (m + 2) * ch, y0 + (m + 3) * ch};
    store_pieces(b, dst, k, o.mask);
  }
}

// A 64-channel tile's accumulators (pixel j's four lane-transposed vectors at acc[4j..4j+3]) in
// the natural channel order of the other tiles: block h's pixel j at acc[h * n + j]. Out of line:
// only epilogues other than the packed one take it.
[[gnu::noinline]] void natural_order(__m512i* acc, int n) {
  alignas(64) __m512i nat[4 * kMaxPixels];
  for (int j = 0; j < n; ++j) {
    __m512i v[4];
    transpose_lanes(acc + 4 * j, v);
    for (int h = 0; h < 4; ++h) nat[h * n + j] = v[h];
  }
  std::copy(nat, nat + 4 * n, acc);
}

// Finishes n consecutive output pixels of a 32-channel tile (all channels real; block 0's
// vectors at acc[0..n), block 1's at acc[n..2n)) whose first channel is at y0: two pixels' 32
// bytes a pack.
void store_pair_packed(const PackedOut* o, const __m512i* acc, int n, uint8_t* y0) {
  const PackedQuant& q = *o[0].q;
  const int64_t ch = o[0].channels;
  for (int j = 0; j < n; j += 2) {
    const int j1 = j + 1 < n ? j + 1 : j;
    const __m512i q0 = requant_round(acc[j], o[0].scale, q.inv);
    const __m512i q1 = requant_round(acc[n + j], o[1].scale, q.inv);
    const __m512i q2 = requant_round(acc[j1], o[0].scale, q.inv);
    const __m512i q3 = requant_round(acc[n + j1], o[1].scale, q.inv);
    const __m512i b = q.s8 ? pack_bytes4<true>(q0, q1, q2, q3, q.zp16, q.lo8, q.hi8)
                           : pack_bytes4<false>(q0, q1, q2, q3, q.zp16, q.lo8, q.hi8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y0 + j * ch), _mm512_castsi512_si256(b));
    if (j1 != j) _mm256_storeu_si256(reinterpret_cast<__m256i*>(y0 + j1 * ch), _mm512_extracti64x4_epi64(b, 1));
  }
}

// The image as both kernels read it: u8 with whole 16-channel blocks in place, anything else
// from a copy with 16-channel pixels and s8 shifted to u8.
ImageLayout image_layout(const QConvShape& s, DType a_type) {
  const int64_t c = s.out_channels;
  ImageLayout L;
  L.in_place = a_type == DType::kU8 && c % 16 == 0;
  L.stride = L.in_place ? c : (c + 15) / 16 * 16;
  L.group_stride = 1;
  L.rows = s.in_h;
  L.cols = s.in_w;
  return L;
}

// The whole-row kernels over every output row: units are output rows, tiles up to kMaxPixels
// outputs of a row x 16 channels.
void depthwise_rows(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
                    const PackedConvNhwcS8& w, void* y, const Epilogue& e, const RowsTileFn* fns) {
  const int64_t c = s.out_channels, cpad = (c + 15) / 16 * 16;
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = oh * ow;
  const ImageLayout L = image_layout(s, p.a_type);
  const int64_t groups = (s.kernel_h + 3) / 4;
  // Rows in the padding read from a row of zero points.
  const std::vector<uint8_t> zp_row(static_cast<size_t>(s.in_w * L.stride + 64),
                                    static_cast<uint8_t>(e.zp));
  const __m512i zp8 = _mm512_set1_epi8(static_cast<char>(e.zp));
  // Plain 8-bit outputs: the tile's pixels finished four at a time by the packed requantization.
  const bool packed = e.plain_8bit();
  const PackedQuant quant = packed ? PackedQuant(e) : PackedQuant();
  const PairTileFn* pairs = tiles_for<PairTileFn, PairTable>(s);
  const QuadTileFn* quads = tiles_for<QuadTileFn, QuadTable>(s);
  // Channel blocks: whole 64s (lane-transposed, dw_lane_transposed), then 32 where a pair kernel
  // exists, then 16; their constants set up once.
  struct Block {
    int64_t c0, step;
    __m512i init[4];
    PackedOut out[2];
    __m512 scale[4];  // 64-channel blocks' output scales, lane-transposed
  };
  std::vector<Block> blocks;
  for (int64_t c0 = 0; c0 < c;) {
    Block& k = blocks.emplace_back();
    k.c0 = c0;
    k.step = quads && c - c0 >= 64 ? 64 : pairs && c - c0 >= 32 ? 32 : 16;
    __m512i init[4];
    __m512 scale[4];
    for (int h = 0; h < k.step / 16; ++h) {
      init[h] = initial_acc(e, c0 + 16 * h, c - c0 - 16 * h);
      if (packed && k.step < 64) k.out[h] = PackedOut(e, quant, c0 + 16 * h, c - c0 - 16 * h);
      if (packed) scale[h] = e.per_channel ? _mm512_maskz_loadu_ps(lane_mask(c - c0 - 16 * h), e.scale + c0 + 16 * h)
                                           : _mm512_set1_ps(e.scale[0]);
    }
    if (k.step == 64) {
      transpose_lanes(init, k.init);
      if (packed) transpose_lanes(reinterpret_cast<const __m512i*>(scale), reinterpret_cast<__m512i*>(k.scale));
    } else {
      std::copy(init, init + k.step / 16, k.init);
    }
    c0 += k.step;
  }
  // A row's outputs in the fewest tiles the kernels take, as even as they go (7 = 4 + 3, not
  // 6 + 1: a one-pixel tile reads three columns for one output).
  const int kw = static_cast<int>(s.kernel_w);
  const int64_t max_tile = quads && c >= 64 ? quad_pixels(kw, static_cast<int>(s.stride_w)) : pairs ? pair_pixels(kw) : kMaxPixels;
  const int64_t row_tiles = (ow + max_tile - 1) / max_tile;
  const void* r = sum ? sum->r : nullptr;
  for_images(s, L, x, p.a_type, p.a_zero_point, oh, 0, s.batch * pixels * c * w.taps(),
             [&](int64_t b, const uint8_t* img, int64_t u0, int64_t u1) {
               alignas(64) __m512i acc[4 * kMaxPixels];
               int64_t pix[kMaxPixels];
               // Per channel block, per kernel row (ceil(kernel_h / 4) x 4 of them): the input
               // row at the block's first channel; on the stack unless the kernel is very tall or
               // the channels very many.
               const int64_t rows_per_block = groups * 4;
               const size_t block_rows_n = blocks.size() * static_cast<size_t>(rows_per_block);
               const uint8_t* block_stack[256];
               std::vector<const uint8_t*> block_heap;
               const uint8_t** block_rows = block_stack;
               if (block_rows_n > 256) {
                 block_heap.resize(block_rows_n);
                 block_rows = block_heap.data();
               }
               // Output rows outermost: a row's input rows stay in cache for all its channels.
               for (int64_t oy = u0; oy < u1; ++oy) {
                 for (int64_t ky = 0; ky < rows_per_block; ++ky) {
                   const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
                   const uint8_t* row = ky < s.kernel_h && iy >= 0 && iy < s.in_h ? img + iy * L.cols * L.stride
                                                                                   : zp_row.data();
                   for (size_t bi = 0; bi < blocks.size(); ++bi) {
                     block_rows[bi * rows_per_block + ky] = row + blocks[bi].c0;
                   }
                 }
                 // The rows the next output row adds (stride_h of them) are fetched while this
                 // row computes: several channel blocks reread the same rows, which hides them
                 // from the hardware's stream prefetch.
                 for (int64_t ky = std::max<int64_t>(0, s.kernel_h - s.stride_h); blocks.size() > 1 && ky < s.kernel_h; ++ky) {
                   const int64_t iy = (oy + 1) * s.stride_h - s.pad_top + ky * s.dilation_h;
                   if (oy + 1 >= u1 || iy < 0 || iy >= s.in_h) continue;
                   const uint8_t* src = img + iy * L.cols * L.stride;
                   for (int64_t off = 0; off < s.in_w * L.stride; off += 64) _mm_prefetch(reinterpret_cast<const char*>(src + off), _MM_HINT_T0);
                 }
                 // Column tiles outside the channel blocks: a tile's whole pixels (every channel)
                 // are written together and its inputs are read while they are in L1.
                 for (int64_t t = 0, ox = 0; t < row_tiles; ++t) {
                   const int n = static_cast<int>(ow / row_tiles + (t < ow % row_tiles ? 1 : 0));
                   const int64_t first = b * pixels + oy * ow + ox;
                   for (size_t bi = 0; bi < blocks.size(); ++bi) {
                     const Block& k = blocks[bi];
                     const bool pair = k.step == 32;
                     const DwRowsArgs a{block_rows + bi * rows_per_block,
                                        groups,
                                        s.kernel_h,
                                        ox * s.stride_w - s.pad_left,
                                        s.in_w,
                                        L.stride,
                                        w.dw_rows.get() + k.c0 * 4,
                                        cpad * 4,
                                        zp8};
                     if (k.step == 64) {
                       QuadOut o;
                       if (packed) o = {&quant, k.scale, static_cast<uint8_t*>(y) + first * c + k.c0, c};
                       quads[n](a, k.init, o, acc);
                       if (packed) continue;
                       natural_order(acc, n);
                     } else if (pair) {
                       pairs[n](a, k.init, acc);
                     } else {
                       fns[n](a, k.init[0], acc);
                     }
                     if (packed && pair) {
                       store_pair_packed(k.out, acc, n, static_cast<uint8_t*>(y) + first * c + k.c0);
                       continue;
                     }
                     for (int h = 0; h < k.step / 16; ++h) {
                       const __m512i* block = acc + h * n;
                       const int64_t ch = k.c0 + 16 * h;
                       if (packed) {
                         store_packed(k.out[h], block, n, static_cast<uint8_t*>(y) + first * c + ch);
                       } else {
                         for (int j = 0; j < n; ++j) pix[j] = first + j;
                         store_block(e, block, 1, n, pix, ch, c - ch, y, r);
                       }
                     }
                   }
                   ox += n;
                 }
               }
             });
}

}  // namespace

void depthwise_nhwc(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
                    const PackedConvNhwcS8& w, void* y) {
  const int64_t c = s.out_channels, cpad = (c + 15) / 16 * 16;
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = oh * ow;
  const Epilogue e(p, sum, w.col_sum, c);
  if (const RowsTileFn* fns = tiles_for<RowsTileFn, RowsTable>(s)) {
    depthwise_rows(s, p, sum, x, w, y, e, fns);
    return;
  }
  const ImageLayout L = image_layout(s, p.a_type);
  const std::vector<Region> regs = regions(s);
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
                     a.row = img + (iy * L.cols + ix) * L.stride + c0;
                     a.w = wd + c0;
                     kTiles[n](a, init, acc);
                     for (int j = 0; j < n; ++j) pix[j] = b * pixels + oy * ow + ox + j;
                     store_block(e, acc, 1, n, pix, c0, c - c0, y, r);
                   }
                 }
               }
             });
}

}  // namespace qtune::qconv_nhwc_detail
