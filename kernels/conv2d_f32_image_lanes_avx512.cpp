// f32_conv2d_image_lanes__avx512: the fp32 convolution for small maps at larger batches.
//
// A tile is one output pixel of L images by one packed block of V vectors of output channels:
// each step loads V weight vectors and broadcasts the pixel's input from each of the L images.
// All L images share the pixel's window, so only the taps inside the image run (no padded copy,
// no multiplying of padding) and a 4x4 map fills a tile as well as a 56x56 one; row tiles of
// the direct kernel are one short row there. x is read in place (NCHW); accumulators collect per
// image in [pixel][channel] order and go out through the direct kernel's transposing store.
// Compiled with AVX-512 flags (the file name says so); only called after a run-time check.
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

// Weights of one chunk of taps: the chunk stays in L1 while every tile of a task runs it.
constexpr int64_t kWeightChunkBytes = 24 << 10;
// Below this many multiply-add vectors a call runs on the calling thread.
constexpr int64_t kSerialWork = int64_t{1} << 13;

// tile + l * image_floats + 16v (+)= sum over taps t and channels c of
//   base[l * image + in_off[t] + c * plane] * w[(tap[t] * cg + c) * 16V + 16v]
// for images l < L; `accumulate` adds to what the tile holds (a later chunk of taps).
template <int L, int V>
void image_tile(int64_t taps, int64_t cg, const int64_t* in_off, const int32_t* tap,
                int64_t plane, const float* base, int64_t image, const float* w,
                float* tile, int64_t image_floats, bool accumulate) {
  __m512 acc[L][V];
  conv_f32_detail::start_tile(acc, tile, image_floats, accumulate);
  for (int64_t t = 0; t < taps; ++t) {
    conv_f32_detail::fma_channels(acc, base + in_off[t], image, plane, w + tap[t] * cg * 16 * V, cg);
  }
  conv_f32_detail::finish_tile(acc, tile, image_floats);
}

using TileFn = void (*)(int64_t, int64_t, const int64_t*, const int32_t*, int64_t, const float*,
                        int64_t, const float*, float*, int64_t, bool);

// Images per tile for 1..4 vectors of channels: L x V accumulators and V weight vectors fit the
// 32 vector registers, and the L image pointers the general ones.
constexpr int kMaxImages[5] = {0, 12, 12, 8, 6};

template <int V, size_t... Ls>
constexpr std::array<TileFn, sizeof...(Ls) + 1> tiles_for(std::index_sequence<Ls...>) {
  return {nullptr, image_tile<static_cast<int>(Ls) + 1, V>...};
}
template <int V>
constexpr auto kTiles = tiles_for<V>(std::make_index_sequence<kMaxImages[V]>{});

TileFn tile_fn(int64_t v, int l) {
  switch (v) {
    case 1: return kTiles<1>[l];
    case 2: return kTiles<2>[l];
    case 3: return kTiles<3>[l];
    default: return kTiles<4>[l];
  }
}

// The taps inside the image of every output pixel: for pixel p, entries [first[p], first[p+1])
// of in_off (offset of the tap's input in a channel plane) and tap (its index in the kernel),
// in kernel order.
struct PixelTaps {
  std::vector<int64_t> first, in_off;
  std::vector<int32_t> tap;
};

PixelTaps pixel_taps(const QConvShape& s) {
  PixelTaps pt;
  for (int64_t oh = 0; oh < s.out_h(); ++oh) {
    for (int64_t ow = 0; ow < s.out_w(); ++ow) {
      pt.first.push_back(static_cast<int64_t>(pt.in_off.size()));
      for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
        if (ih < 0 || ih >= s.in_h) continue;
        for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
          const int64_t iw = ow * s.stride_w - s.pad_left + kw * s.dilation_w;
          if (iw < 0 || iw >= s.in_w) continue;
          pt.in_off.push_back(ih * s.in_w + iw);
          pt.tap.push_back(static_cast<int32_t>(kh * s.kernel_w + kw));
        }
      }
    }
  }
  pt.first.push_back(static_cast<int64_t>(pt.in_off.size()));
  return pt;
}

// Group gi of images [n0, n1): every tile runs one chunk of taps (its weights then stay in L1)
// before the next chunk, accumulating in memory.
void run_task(const QConvShape& s, const PixelTaps& pt, int64_t chunk, const float* x,
              const PackedConvWeightsF32& w, const ConvF32Epilogue& e, float* y, int64_t gi,
              int64_t n0, int64_t n1) {
  const int64_t cg = s.in_channels / s.group, mg = s.out_channels / s.group;
  const int64_t hw = s.in_h * s.in_w, ohw = s.out_h() * s.out_w(), vecs = w.block / 16;
  const int64_t taps = s.kernel_h * s.kernel_w, image = s.in_channels * hw;
  const int64_t images = n1 - n0, image_floats = ohw * w.block;
  const int lanes = kMaxImages[vecs];
  thread_local std::vector<float> acc_buf;
  // Plus the 16 pixels store_tile may read past the last one.
  const size_t need = static_cast<size_t>((images * ohw + 16) * w.block);
  if (acc_buf.size() < need) acc_buf.resize(need, 0.0f);
  const float* x0 = x + (n0 * s.in_channels + gi * cg) * hw;
  for (int64_t b = 0; b < w.blocks_per_group; ++b) {
    const float* wb = w.block_data(gi, b);
    for (int64_t t0 = 0; t0 < taps; t0 += chunk) {
      for (int64_t p = 0; p < ohw; ++p) {
        const int64_t* first = pt.first.data() + p;
        int64_t lo = first[0], hi = first[1];
        while (lo < hi && pt.tap[static_cast<size_t>(lo)] < t0) ++lo;
        const int64_t begin = lo;
        while (hi > lo && pt.tap[static_cast<size_t>(hi - 1)] >= t0 + chunk) --hi;
        if (lo >= hi) continue;
        for (int64_t i = 0; i < images; i += lanes) {
          const int l = static_cast<int>(std::min<int64_t>(lanes, images - i));
          tile_fn(vecs, l)(hi - lo, cg, pt.in_off.data() + lo, pt.tap.data() + lo, hw,
                           x0 + i * image, image, wb,
                           acc_buf.data() + i * image_floats + p * w.block, image_floats,
                           begin > first[0]);
        }
      }
    }
    const int64_t oc0 = gi * mg + b * w.block;
    for (int64_t p = 0; p < ohw; ++p) {
      if (pt.first[static_cast<size_t>(p)] < pt.first[static_cast<size_t>(p + 1)]) continue;
      for (int64_t i = 0; i < images; ++i) {  // the whole window is padding
        std::fill_n(acc_buf.data() + i * image_floats + p * w.block, w.block, 0.0f);
      }
    }
    for (int64_t i = 0; i < images; ++i) {
      const int64_t at = ((n0 + i) * s.out_channels + oc0) * ohw;
      conv_f32_detail::store_tile(acc_buf.data() + i * image_floats, vecs, static_cast<int>(ohw),
                                  std::min(w.block, mg - b * w.block), oc0, e, ohw, y + at,
                                  e.sum ? e.sum + at : nullptr);
    }
  }
}

}  // namespace

// Measured with `qtune bench kernels` and `qtune bench model` (batch 100, 1 thread): on the
// bundled resnet's 7x7 and 4x4 layers (padded 3x3, 1x1 stride 2) 0.64-0.78x oneDNN -> 0.93-1.16x;
// on 14x14 even; on 28x28 and up slower, the accumulators of a task's images then outgrowing L2.
// Unpadded stride-1 windows (lenet's conv2) stay with the direct kernel's kernel-row tiles, which
// reuse each input load across the window: 0.99 there against 0.91 here.
bool conv2d_f32_image_lanes_pays(const QConvShape& s, const PackedConvWeightsF32& w) {
  if (w.block % 16 != 0 || w.block > 64) return false;
  const bool padded = s.pad_top || s.pad_left || s.pad_bottom || s.pad_right;
  if (!padded && s.stride_w == 1 && s.kernel_w > 1) return false;
  return s.batch >= 4 && s.out_h() * s.out_w() <= 64;
}

void f32_conv2d_image_lanes__avx512(const QConvShape& s, const float* x,
                                    const PackedConvWeightsF32& w, const ConvF32Epilogue& e,
                                    float* y) {
  if (s.batch <= 0 || s.out_channels <= 0 || s.out_h() <= 0 || s.out_w() <= 0) return;
  const PixelTaps pt = pixel_taps(s);
  const int64_t cg = s.in_channels / s.group;
  const int64_t chunk = std::max<int64_t>(1, kWeightChunkBytes / (cg * w.block * 4));
  const int64_t lanes = kMaxImages[w.block / 16];
  const int64_t image_work = static_cast<int64_t>(pt.in_off.size()) * cg * (w.block / 16) *
                             w.blocks_per_group;
  const int64_t threads = std::max(1, tbb::this_task_arena::max_concurrency());
  if (threads == 1 || s.batch * s.group * image_work < kSerialWork) {
    for (int64_t gi = 0; gi < s.group; ++gi) {
      for (int64_t n = 0; n < s.batch; n += lanes) {
        run_task(s, pt, chunk, x, w, e, y, gi, n, std::min(s.batch, n + lanes));
      }
    }
    return;
  }
  const int64_t chunks = (s.batch + lanes - 1) / lanes;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, s.group * chunks),
                    [&](const tbb::blocked_range<int64_t>& range) {
                      for (int64_t task = range.begin(); task != range.end(); ++task) {
                        const int64_t gi = task / chunks, c = task % chunks;
                        run_task(s, pt, chunk, x, w, e, y, gi, c * lanes,
                                 std::min(s.batch, (c + 1) * lanes));
                      }
                    });
}

}  // namespace qtune
