// f32_conv2d_direct__avx512: the direct convolution of kernels/conv2d_f32.h.
//
// A padded image is read in place; otherwise each image (of one group) is first copied once
// into a zero-padded buffer. A tile is L consecutive output pixels of one row by one packed
// block of V vectors of output channels: L x V accumulators, each step loading V weight vectors
// and broadcasting L input values at fixed offsets (stride 1 or 2, a template parameter) from one
// pointer per kernel tap. Other strides split the buffer into column phases (phase b holds
// padded columns j*sw + b), so their taps read consecutive columns too. Kernel rows that fall
// into the padding are skipped. The finished tile is transposed (pixels into lanes) and stored
// into the NCHW output row with the epilogue. Compiled with AVX-512 flags (the file name says
// so); only called after a run-time check.
#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "kernels/conv2d_f32.h"
#include "kernels/conv2d_f32_detail_avx512.h"

namespace qtune {
namespace {

using conv_f32_detail::phase_fill;
using conv_f32_detail::fma_channels;
using conv_f32_detail::finish_tile;
using conv_f32_detail::RowFill;
using conv_f32_detail::start_tile;
using conv_f32_detail::store_tile;

// Below this many multiply-add vectors a call runs on the calling thread: handing work to TBB
// costs more than it saves.
constexpr int64_t kSerialWork = int64_t{1} << 13;
// Work per task (multiply-add vectors).
constexpr int64_t kTaskWork = int64_t{1} << 15;
// Weights of one chunk of taps: the chunk stays in L1 while every tile of a task runs it.
constexpr int64_t kWeightChunkBytes = 24 << 10;
// Pixels per tile for 1..4 vectors of channels: L x V accumulators, V weight vectors and one
// broadcast fit the 32 vector registers.
constexpr int kMaxPixels[5] = {0, 24, 12, 8, 6};

// tile[l * 16V + 16v] (+)= sum over taps t and channels c of
//   base[tap_off[t] + c * plane + l * SW] * w[(t * cg + c) * 16V + 16v];
// `accumulate` adds to what the tile holds (a later chunk of taps).
template <int L, int V, int SW>
void row_tile(int64_t taps, int64_t cg, const int64_t* tap_off, int64_t plane,
              const float* base, const float* w, float* tile, bool accumulate) {
  __m512 acc[L][V];
  start_tile(acc, tile, 16 * V, accumulate);
  for (int64_t t = 0; t < taps; ++t) {
    fma_channels(acc, base + tap_off[t], SW, plane, w + t * cg * 16 * V, cg);
  }
  finish_tile(acc, tile, 16 * V);
}

using TileFn = void (*)(int64_t, int64_t, const int64_t*, int64_t, const float*, const float*,
                        float*, bool);

template <int V, int SW, size_t... Ls>
constexpr std::array<TileFn, sizeof...(Ls) + 1> tiles_for(std::index_sequence<Ls...>) {
  return {nullptr, row_tile<static_cast<int>(Ls) + 1, V, SW>...};
}
// kTiles<V, SW>[L]: the kernel for L pixels by V vectors at input stride SW.
template <int V, int SW>
constexpr auto kTiles = tiles_for<V, SW>(std::make_index_sequence<kMaxPixels[V]>{});

template <int SW>
TileFn tile_fn_sw(int64_t v, int l) {
  switch (v) {
    case 1: return kTiles<1, SW>[l];
    case 2: return kTiles<2, SW>[l];
    case 3: return kTiles<3, SW>[l];
    default: return kTiles<4, SW>[l];
  }
}
TileFn tile_fn(int64_t v, int64_t sw, int l) {
  return sw == 2 ? tile_fn_sw<2>(v, l) : tile_fn_sw<1>(v, l);
}

// Stride 1 across, undilated columns, 1-2 vectors of channels: KW taps of a kernel row at once.
// Each input value broadcast then feeds the up to KW output pixels that read it (KW x V weight
// vectors held in registers) instead of one: about a third of the loads per multiply-add for a
// 3-wide kernel. tile[l * 16V + 16v] (+)= sum over kernel rows r < krows, channels c and kw of
//   base[tap_off[r * KW] + c * plane + l + kw] * w[((r * KW + kw) * cg + c) * 16V + 16v].
template <int L, int V, int KW>
void row_tile_kw(int64_t krows, int64_t cg, const int64_t* tap_off, int64_t plane,
                 const float* base, const float* w, float* tile, bool accumulate) {
  __m512 acc[L][V];
  start_tile(acc, tile, 16 * V, accumulate);
  for (int64_t r = 0; r < krows; ++r) {
    const float* b = base + tap_off[r * KW];
    const float* wr = w + r * KW * cg * 16 * V;
    for (int64_t c = 0; c < cg; ++c, b += plane) {
      __m512 wv[KW][V];
#pragma GCC unroll 5
      for (int k = 0; k < KW; ++k) {
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) wv[k][v] = _mm512_load_ps(wr + ((k * cg + c) * V + v) * 16);
      }
#pragma GCC unroll 28
      for (int i = 0; i < L + KW - 1; ++i) {
        const __m512 a = _mm512_set1_ps(b[i]);
#pragma GCC unroll 5
        for (int k = 0; k < KW; ++k) {
          const int l = i - k;
          if (l < 0 || l >= L) continue;
#pragma GCC unroll 2
          for (int v = 0; v < V; ++v) acc[l][v] = _mm512_fmadd_ps(a, wv[k][v], acc[l][v]);
        }
      }
    }
  }
  finish_tile(acc, tile, 16 * V);
}

// Pixels per kernel-row tile for V = 1, 2 vectors and KW = 3, 5: L x V accumulators, KW x V
// weight vectors and one broadcast fit the 32 registers.
constexpr int kw_max_pixels(int v, int kw) { return v == 1 ? 24 : (31 - kw * v) / v; }
template <int V, int KW, size_t... Ls>
constexpr std::array<TileFn, sizeof...(Ls) + 1> kw_tiles_for(std::index_sequence<Ls...>) {
  return {nullptr, row_tile_kw<static_cast<int>(Ls) + 1, V, KW>...};
}
template <int V, int KW>
constexpr auto kKwTiles = kw_tiles_for<V, KW>(std::make_index_sequence<kw_max_pixels(V, KW)>{});

TileFn kw_tile_fn(int64_t v, int64_t kw, int l) {
  if (kw == 3) return v == 1 ? kKwTiles<1, 3>[l] : kKwTiles<2, 3>[l];
  return v == 1 ? kKwTiles<1, 5>[l] : kKwTiles<2, 5>[l];
}

// Everything about the call that does not depend on the image.
struct Plan {
  int64_t cg, mg, hw, oh_n, ow_n, ohw;
  int64_t sw_t;           // the kernels' input stride: 1 or 2, or 1 within column phases
  int64_t hq, wq, plane;  // buffer rows, columns (of a phase) and size per channel
  int64_t row_step;       // buffer elements from one output row's inputs to the next's
  bool in_place;          // read x itself: no padding, no phases
  std::vector<int64_t> phases;   // column phase of each phase buffer ({0} without phases)
  std::vector<RowFill> fills;    // per phase
  std::vector<int64_t> tap_off;  // per tap: offset of its first input in the buffer
  // Per output row: the taps [first, second) whose kernel row lies inside the image.
  std::vector<std::pair<int64_t, int64_t>> row_taps;
  int64_t vecs;
  int seg_len, segs;             // a row is `segs` tiles of seg_len pixels, the last one shorter
  int64_t chunk;                 // taps per chunk: their weights stay in L1 over the task's tiles
  bool kw_tiles;                 // whole kernel rows per tile call (row_tile_kw)
};

Plan make_plan(const QConvShape& s, const PackedConvWeightsF32& w) {
  Plan p;
  p.cg = s.in_channels / s.group;
  p.mg = s.out_channels / s.group;
  p.hw = s.in_h * s.in_w;
  p.oh_n = s.out_h();
  p.ow_n = s.out_w();
  p.ohw = p.oh_n * p.ow_n;
  const int64_t sh = s.stride_h, sw = s.stride_w, dh = s.dilation_h, dw = s.dilation_w;
  const bool col_phases = sw > 2;
  p.sw_t = col_phases ? 1 : sw;
  const bool padded = s.pad_top || s.pad_left || s.pad_bottom || s.pad_right;
  p.in_place = !padded && !col_phases;
  if (p.in_place) {
    p.hq = s.in_h;
    p.wq = s.in_w;
  } else {
    // Extent of the padded image the windows touch.
    p.hq = (p.oh_n - 1) * sh + (s.kernel_h - 1) * dh + 1;
    const int64_t wp = (p.ow_n - 1) * sw + (s.kernel_w - 1) * dw + 1;
    p.wq = col_phases ? (wp + sw - 1) / sw : wp;
  }
  p.plane = p.hq * p.wq;
  p.row_step = sh * p.wq;
  std::vector<int64_t> phase_of(static_cast<size_t>(col_phases ? sw : 1), -1);
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const int64_t b = col_phases ? kw * dw % sw : 0;
      int64_t& ph = phase_of[static_cast<size_t>(b)];
      if (ph < 0) {
        ph = static_cast<int64_t>(p.phases.size());
        p.phases.push_back(b);
      }
      const int64_t col = col_phases ? kw * dw / sw : kw * dw;
      p.tap_off.push_back(ph * p.cg * p.plane + kh * dh * p.wq + col);
    }
  }
  const int64_t fs = col_phases ? sw : 1;
  for (int64_t b : p.phases) p.fills.push_back(phase_fill(fs, b, s.pad_left, s.in_w, p.wq));
  for (int64_t oh = 0; oh < p.oh_n; ++oh) {
    int64_t lo = s.kernel_h, hi = 0;
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
      const int64_t ih = oh * sh - s.pad_top + kh * dh;
      if (ih >= 0 && ih < s.in_h) {
        lo = std::min(lo, kh);
        hi = kh + 1;
      }
    }
    p.row_taps.emplace_back(lo < hi ? lo * s.kernel_w : 0, lo < hi ? hi * s.kernel_w : 0);
  }
  p.vecs = w.block / 16;
  p.chunk = std::max<int64_t>(1, kWeightChunkBytes / (p.cg * w.block * 4));
  // Kernel rows at once where a chunk holds whole rows of a 3- or 5-wide kernel.
  const int64_t kw = s.kernel_w;
  p.kw_tiles = p.sw_t == 1 && !col_phases && s.dilation_w == 1 && (kw == 3 || kw == 5) &&
               p.vecs <= 2 && p.chunk >= kw;
  if (p.kw_tiles) p.chunk = p.chunk / kw * kw;
  const int max_l = p.kw_tiles ? kw_max_pixels(static_cast<int>(p.vecs), static_cast<int>(kw))
                               : kMaxPixels[p.vecs];
  p.segs = static_cast<int>((p.ow_n + max_l - 1) / max_l);
  p.seg_len = static_cast<int>((p.ow_n + p.segs - 1) / p.segs);
  return p;
}

// Copies rows [r0, r1) of the zero-padded buffer of one group of one image (xg: its first
// channel) into place.
void fill_buffer(const QConvShape& s, const Plan& p, const float* xg, float* buf, int64_t r0,
                 int64_t r1) {
  for (size_t ph = 0; ph < p.phases.size(); ++ph) {
    const RowFill& fill = p.fills[ph];
    for (int64_t c = 0; c < p.cg; ++c) {
      const float* xc = xg + c * p.hw;
      float* dst = buf + (static_cast<int64_t>(ph) * p.cg + c) * p.plane;
      for (int64_t i = r0; i < r1; ++i) {
        const int64_t h = i - s.pad_top;
        float* row = dst + i * p.wq;
        if (h < 0 || h >= s.in_h) {
          std::fill(row, row + p.wq, 0.0f);
        } else {
          fill(row, xc + h * s.in_w);
        }
      }
    }
  }
}

// Group gi of images [n0, n1), output rows [oh0, oh1) of each: every tile of the task runs one
// chunk of taps (its weights then stay in L1) before the next chunk, accumulating in memory.
void run_task(const QConvShape& s, const Plan& p, const float* x, const PackedConvWeightsF32& w,
              const ConvF32Epilogue& e, float* y, int64_t gi, int64_t n0, int64_t n1,
              int64_t oh0, int64_t oh1) {
  const int64_t images = n1 - n0, rows = oh1 - oh0;
  const int64_t image_floats = static_cast<int64_t>(p.phases.size()) * p.cg * p.plane;
  thread_local std::vector<float> phase_buf, acc_buf;
  if (!p.in_place) {
    if (phase_buf.size() < static_cast<size_t>(images * image_floats)) {
      phase_buf.resize(static_cast<size_t>(images * image_floats));
    }
    // The buffer rows these output rows read.
    const int64_t r0 = oh0 * s.stride_h;
    const int64_t r1 = std::min(p.hq, (oh1 - 1) * s.stride_h + (s.kernel_h - 1) * s.dilation_h + 1);
    for (int64_t i = 0; i < images; ++i) {
      fill_buffer(s, p, x + ((n0 + i) * s.in_channels + gi * p.cg) * p.hw,
                  phase_buf.data() + i * image_floats, r0, r1);
    }
  }
  // The next task (most likely the next images) writes its output into lines that are in no
  // cache yet: ask for them now, so its stores do not wait for memory while nothing computes.
  if (n1 < s.batch && oh0 == 0 && oh1 == p.oh_n) {
    const char* next = reinterpret_cast<const char*>(y + (n1 * s.out_channels + gi * p.mg) * p.ohw);
    const int64_t bytes = images * p.mg * p.ohw * static_cast<int64_t>(sizeof(float));
    for (int64_t off = 0; off < bytes; off += 64) _mm_prefetch(next + off, _MM_HINT_T1);
    // Likewise its input, which the previous layer left in a farther cache.
    const int64_t in_bytes = p.cg * p.hw * static_cast<int64_t>(sizeof(float));
    for (int64_t n = n1; n < std::min(s.batch, n1 + images); ++n) {
      const char* in = reinterpret_cast<const char*>(x + (n * s.in_channels + gi * p.cg) * p.hw);
      for (int64_t off = 0; off < in_bytes; off += 64) _mm_prefetch(in + off, _MM_HINT_T1);
    }
  }
  auto image = [&](int64_t i) {
    return p.in_place ? x + ((n0 + i) * s.in_channels + gi * p.cg) * p.hw
                      : phase_buf.data() + i * image_floats;
  };
  // Tile t: image t / (rows * segs), row and segment from the rest; seg_len pixels of room each,
  // plus the 16 rows store_tile may read past the last one.
  const int64_t tiles = images * rows * p.segs;
  const int64_t tile_floats = p.seg_len * w.block;
  const size_t acc_need = static_cast<size_t>(tiles * tile_floats + 16 * w.block);
  if (acc_buf.size() < acc_need) acc_buf.resize(acc_need, 0.0f);
  const int64_t taps = s.kernel_h * s.kernel_w;
  const int64_t chunk = p.chunk;
  for (int64_t b = 0; b < w.blocks_per_group; ++b) {
    const float* wb = w.block_data(gi, b);
    for (int64_t t0 = 0; t0 < taps; t0 += chunk) {
      const int64_t tn = std::min(chunk, taps - t0);
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t i = t / (rows * p.segs), oh = oh0 + t / p.segs % rows;
        // Taps whose kernel row falls into the padding add nothing: skipped.
        const int64_t lo = std::max(p.row_taps[oh].first, t0);
        const int64_t hi = std::min(p.row_taps[oh].second, t0 + tn);
        if (lo >= hi) continue;
        const int64_t ow0 = t % p.segs * p.seg_len;
        const int len = static_cast<int>(std::min<int64_t>(p.seg_len, p.ow_n - ow0));
        // Chunks and the valid taps of a row are whole kernel rows with kw_tiles.
        const TileFn fn = p.kw_tiles ? kw_tile_fn(p.vecs, s.kernel_w, len)
                                     : tile_fn(p.vecs, p.sw_t, len);
        fn(p.kw_tiles ? (hi - lo) / s.kernel_w : hi - lo, p.cg, p.tap_off.data() + lo, p.plane,
           image(i) + oh * p.row_step + ow0 * p.sw_t, wb + lo * p.cg * w.block,
           acc_buf.data() + t * tile_floats, lo > p.row_taps[oh].first);
      }
    }
    const int64_t oc0 = gi * p.mg + b * w.block;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t i = t / (rows * p.segs), oh = oh0 + t / p.segs % rows;
      const int64_t ow0 = t % p.segs * p.seg_len;
      const int len = static_cast<int>(std::min<int64_t>(p.seg_len, p.ow_n - ow0));
      const int64_t at = ((n0 + i) * s.out_channels + oc0) * p.ohw + oh * p.ow_n + ow0;
      if (p.row_taps[oh].first >= p.row_taps[oh].second) {  // the whole window is padding
        std::fill_n(acc_buf.data() + t * tile_floats, len * w.block, 0.0f);
      }
      store_tile(acc_buf.data() + t * tile_floats, p.vecs, len,
                 std::min(w.block, p.mg - b * w.block), oc0, e, p.ohw, y + at,
                 e.sum ? e.sum + at : nullptr);
    }
  }
}

}  // namespace

void f32_conv2d_direct__avx512(const QConvShape& s, const float* x, const PackedConvWeightsF32& w,
                               const ConvF32Epilogue& e, float* y) {
  if (s.batch <= 0 || s.out_channels <= 0 || s.out_h() <= 0 || s.out_w() <= 0) return;
  if (w.block == 1) {  // packed for the pixel-lane kernel
    f32_conv2d_pixel_lanes__avx512(s, x, w, e, y);
    return;
  }
  if (conv2d_f32_image_lanes_pays(s, w)) {
    f32_conv2d_image_lanes__avx512(s, x, w, e, y);
    return;
  }
  const Plan p = make_plan(s, w);
  // Multiply-add vectors per output row of one group.
  const int64_t row_work = p.ow_n * p.vecs * s.kernel_h * s.kernel_w * p.cg * w.blocks_per_group;
  const int64_t image_work = p.oh_n * row_work;
  // Images per task: enough work to amortise a task, few enough to stay in cache.
  const int64_t per_image = std::max<int64_t>(1, kTaskWork / std::max<int64_t>(1, image_work));
  // Little work, or one thread: tasks in order on this thread (a split of rows would only fill
  // buffers twice).
  const int64_t threads = std::max(1, tbb::this_task_arena::max_concurrency());
  if (threads == 1 || s.batch * s.group * image_work < kSerialWork) {
    for (int64_t gi = 0; gi < s.group; ++gi) {
      for (int64_t n = 0; n < s.batch; n += per_image) {
        run_task(s, p, x, w, e, y, gi, n, std::min(s.batch, n + per_image), 0, p.oh_n);
      }
    }
    return;
  }
  // Tasks of whole images while there are enough for every thread to get several; else of rows.
  const int64_t want = 4 * threads;
  const int64_t per_task = std::min(per_image, (s.batch * s.group + want - 1) / want);
  if (s.batch * s.group >= want || per_task > 1) {
    const int64_t chunks = (s.batch + per_task - 1) / per_task;
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, s.group * chunks),
                      [&](const tbb::blocked_range<int64_t>& range) {
                        for (int64_t task = range.begin(); task != range.end(); ++task) {
                          const int64_t gi = task / chunks, c = task % chunks;
                          run_task(s, p, x, w, e, y, gi, c * per_task,
                                   std::min(s.batch, (c + 1) * per_task), 0, p.oh_n);
                        }
                      });
    return;
  }
  const int64_t images = s.batch * s.group;
  int64_t rows = std::max<int64_t>(1, kTaskWork / std::max<int64_t>(1, row_work));
  rows = std::max<int64_t>(1, std::min(rows, (p.oh_n * images + want - 1) / want));
  const int64_t chunks = (p.oh_n + rows - 1) / rows;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, images * chunks),
                    [&](const tbb::blocked_range<int64_t>& range) {
                      for (int64_t task = range.begin(); task != range.end(); ++task) {
                        const int64_t img = task / chunks, c = task % chunks;
                        const int64_t n = img / s.group;
                        run_task(s, p, x, w, e, y, img % s.group, n, n + 1, c * rows,
                                 std::min(p.oh_n, (c + 1) * rows));
                      }
                    });
}

}  // namespace qtune
