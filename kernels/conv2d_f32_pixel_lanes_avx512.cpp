// f32_conv2d_pixel_lanes__avx512: conv2d_f32 (kernels/conv2d_f32.h) for convolutions where every
// output channel reads one input channel (depthwise with any channel multiplier, or a
// single-channel image), whose weights pack with block 1: [out_channels][kernel_h * kernel_w].
// With channels in the lanes each input value would feed one multiply-add per vector of outputs.
//
// Output pixels are the vector lanes, and rows run on into each other so small maps fill the
// lanes too. Each input plane is copied once into zero-padded phase planes (phase (a, b) holds
// padded rows i*sh + a and columns j*sw + b, all Wd = ceil(padded width / sw) wide). Then for any
// stride and dilation, kernel tap (kh, kw) reads the phase plane of (kh*dh % sh, kw*dw % sw) at
// one fixed offset from the output's own index in a "wide" output of Wd columns per row: one
// long run of contiguous loads per tap. Output channels that read the same input plane are
// computed together (up to 4), so each input vector loaded feeds several multiply-adds. The wide
// output is then compacted to the real width with the residual sum and the clamp, and pooled
// (2x2 maxima of each pair of its rows) on the way when the epilogue asks for it. Compiled with
// AVX-512 flags (the file name says so); only called after a run-time check.
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
#include "kernels/maxpool_f32_detail_avx512.h"

namespace qtune {
namespace {

// wide[o][i0 + 16v ..] = bias[o] + sum over taps t of wt[o * taps + t] * buf[tap_off[t] + i0 + 16v ..]
// for O output channels and V vectors of pixels: each input vector loaded feeds O multiply-adds.
template <int O, int V>
void wide_chunk(const float* buf, const int64_t* tap_off, int64_t taps, const float* wt,
                const float* bias, float* wide, int64_t wide_floats, int64_t i0) {
  __m512 acc[O][V];
#pragma GCC unroll 4
  for (int o = 0; o < O; ++o) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[o][v] = _mm512_set1_ps(bias[o]);
  }
  for (int64_t t = 0; t < taps; ++t) {
    const float* src = buf + tap_off[t] + i0;
    __m512 wv[O];
#pragma GCC unroll 4
    for (int o = 0; o < O; ++o) wv[o] = _mm512_set1_ps(wt[o * taps + t]);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      const __m512 xv = _mm512_loadu_ps(src + 16 * v);
#pragma GCC unroll 4
      for (int o = 0; o < O; ++o) acc[o][v] = _mm512_fmadd_ps(wv[o], xv, acc[o][v]);
    }
  }
#pragma GCC unroll 4
  for (int o = 0; o < O; ++o) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(wide + o * wide_floats + i0 + 16 * v, acc[o][v]);
  }
}

using ChunkFn = void (*)(const float*, const int64_t*, int64_t, const float*, const float*,
                         float*, int64_t, int64_t);
// Vectors of pixels per chunk for 1, 2 and 4 output channels: O x V accumulators, O weight
// broadcasts and one input vector fit the 32 registers.
constexpr int kVecs[5] = {0, 8, 8, 0, 6};

template <int O, size_t... Vs>
constexpr std::array<ChunkFn, sizeof...(Vs) + 1> chunks_for(std::index_sequence<Vs...>) {
  return {nullptr, wide_chunk<O, static_cast<int>(Vs) + 1>...};
}
// kChunks<O>[V]: the kernel for O output channels by V vectors.
template <int O>
constexpr auto kChunks = chunks_for<O>(std::make_index_sequence<kVecs[O]>{});

ChunkFn chunk_fn(int o, int64_t v) {
  switch (o) {
    case 4: return kChunks<4>[v];
    case 2: return kChunks<2>[v];
    default: return kChunks<1>[v];
  }
}

}  // namespace

void f32_conv2d_pixel_lanes__avx512(const QConvShape& s, const float* x,
                                  const PackedConvWeightsF32& w, const ConvF32Epilogue& e,
                                  float* y) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w();
  if (s.batch <= 0 || s.out_channels <= 0 || oh_n <= 0 || ow_n <= 0) return;
  const int64_t mg = s.out_channels / s.group;  // outputs per input channel
  // Output channels computed together: they share every input vector.
  const int oc_block = mg % 4 == 0 ? 4 : mg % 2 == 0 ? 2 : 1;
  const int64_t chunk_vecs = kVecs[oc_block];
  const int64_t taps = s.kernel_h * s.kernel_w;
  const int64_t sh = s.stride_h, sw = s.stride_w;
  const int64_t padded_h = s.pad_top + s.in_h + s.pad_bottom;
  const int64_t padded_w = s.pad_left + s.in_w + s.pad_right;
  const int64_t hd = (padded_h + sh - 1) / sh, wd = (padded_w + sw - 1) / sw;
  const int64_t phase = hd * wd;
  const int64_t planes_floats = sh * sw * phase;
  // Loads run past the last phase plane by at most one row and one vector.
  const int64_t buf_floats = planes_floats + wd + 16;
  const int64_t wide_n = oh_n * wd;
  const int64_t wide_floats = (wide_n + 15) / 16 * 16;
  // Chunks of equal size rather than full ones and a short last one: a chunk of few vectors
  // loads a weight for few multiply-adds.
  const int64_t wide_vecs = wide_floats / 16;
  const int64_t chunk_step = (wide_vecs + (wide_vecs + chunk_vecs - 1) / chunk_vecs - 1) /
                             ((wide_vecs + chunk_vecs - 1) / chunk_vecs);
  std::vector<int64_t> tap_off(static_cast<size_t>(taps));
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const int64_t r = kh * s.dilation_h, c = kw * s.dilation_w;
      tap_off[static_cast<size_t>(kh * s.kernel_w + kw)] =
          ((r % sh) * sw + c % sw) * phase + (r / sh) * wd + c / sw;
    }
  }
  // How each column phase's rows are built from an input row.
  std::vector<conv_f32_detail::RowFill> fills;
  for (int64_t b = 0; b < sw; ++b) {
    fills.push_back(conv_f32_detail::phase_fill(sw, b, s.pad_left, s.in_w, wd));
  }
  // A unit: oc_block output channels of one input plane of one image.
  const int64_t blocks_per_plane = mg / oc_block;
  const int64_t units = s.batch * s.in_channels * blocks_per_plane;
  const int64_t work = taps * wide_floats / 16 * oc_block;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(work, 1));

  auto run = [&](int64_t u0, int64_t u1) {
    // Per thread, kept between calls. Every row of the planes is written before it is read; the
    // slack past the last one (read only for outputs that are dropped) is zeroed so that no
    // stale denormal slows the arithmetic.
    thread_local std::vector<float> buf, wide;
    if (buf.size() < static_cast<size_t>(buf_floats)) buf.resize(static_cast<size_t>(buf_floats));
    std::fill(buf.begin() + planes_floats, buf.begin() + buf_floats, 0.0f);
    if (wide.size() < static_cast<size_t>(wide_floats * oc_block)) {
      wide.resize(static_cast<size_t>(wide_floats * oc_block));
    }
    int64_t loaded = -1;  // the (image, input channel) plane in buf
    const int64_t plane_count = s.batch * s.in_channels, in_plane = s.in_h * s.in_w;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t plane = u / blocks_per_plane;  // n * in_channels + ic
      const int64_t n = plane / s.in_channels, ic = plane % s.in_channels;
      const int64_t oc0 = ic * mg + u % blocks_per_plane * oc_block;
      if (plane != loaded) {
        const float* src = x + plane * in_plane;
        for (int64_t a = 0; a < sh; ++a) {
          for (int64_t b = 0; b < sw; ++b) {
            const conv_f32_detail::RowFill& fill = fills[static_cast<size_t>(b)];
            float* ph = buf.data() + (a * sw + b) * phase;
            for (int64_t i = 0; i < hd; ++i) {
              float* row = ph + i * wd;
              const int64_t ih = i * sh + a - s.pad_top;
              if (ih < 0 || ih >= s.in_h) {
                std::fill(row, row + wd, 0.0f);
              } else {
                fill(row, src + ih * s.in_w);
              }
            }
          }
        }
        loaded = plane;
        // The next plane is most likely next: start reading it from the farther cache the
        // previous layer left it in while this one is computed.
        if (plane + 1 < plane_count) {
          const char* next = reinterpret_cast<const char*>(src + in_plane);
          const int64_t bytes = in_plane * static_cast<int64_t>(sizeof(float));
          for (int64_t off = 0; off < bytes; off += 64) _mm_prefetch(next + off, _MM_HINT_T1);
        }
      }
      const float* wt = w.data.get() + oc0 * taps;
      float bias[4];
      for (int o = 0; o < oc_block; ++o) bias[o] = e.bias ? e.bias[oc0 + o] : 0.0f;
      for (int64_t i0 = 0; i0 < wide_n; i0 += chunk_step * 16) {
        const int64_t vecs = std::min(chunk_step, (wide_n - i0 + 15) / 16);
        chunk_fn(oc_block, vecs)(buf.data(), tap_off.data(), taps, wt, bias, wide.data(),
                                 wide_floats, i0);
      }
      // Compact Wd-wide rows to the output's width, adding the sum and clamping.
      const __m512 lo = _mm512_set1_ps(e.clamp_min), hi = _mm512_set1_ps(e.clamp_max);
      const int64_t ohw = oh_n * ow_n, row_w = ow_n, wide_w = wd;
      const __mmask16 tail = static_cast<__mmask16>((1u << ((ow_n - 1) % 16 + 1)) - 1u);
      if (e.max_pool_2x2) {
        // The epilogue on each pair of wide rows as the pool reads them.
        const int64_t pool_h = oh_n / 2, pool_w = ow_n / 2;
        for (int o = 0; o < oc_block; ++o) {
          const int64_t p = n * s.out_channels + oc0 + o;
          const float* wo = wide.data() + o * wide_floats;
          float* yp = y + p * pool_h * pool_w;
          const float* sp = e.sum ? e.sum + p * ohw : nullptr;
          for (int64_t ph = 0; ph < pool_h; ++ph) {
            const float* rows = wo + 2 * ph * wide_w;
            const float* sums = sp ? sp + 2 * ph * row_w : nullptr;
            maxpool_detail::pool_row(
                [&](int64_t row, int64_t col, __mmask16 m) {
                  __m512 r = _mm512_maskz_loadu_ps(m, rows + row * wide_w + col);
                  if (sums) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, sums + row * row_w + col));
                  return _mm512_min_ps(_mm512_max_ps(r, lo), hi);
                },
                pool_w, yp + ph * pool_w);
          }
        }
        continue;
      }
      for (int o = 0; o < oc_block; ++o) {
        const int64_t p = n * s.out_channels + oc0 + o;
        const float* wo = wide.data() + o * wide_floats;
        float* yp = y + p * ohw;
        const float* sp = e.sum ? e.sum + p * ohw : nullptr;
        for (int64_t oh = 0; oh < oh_n; ++oh, wo += wide_w, yp += row_w) {
          for (int64_t ow = 0; ow < row_w; ow += 16) {
            const __mmask16 m = ow + 16 <= row_w ? static_cast<__mmask16>(0xFFFF) : tail;
            __m512 r = _mm512_maskz_loadu_ps(m, wo + ow);
            if (sp) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, sp + oh * row_w + ow));
            r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
            _mm512_mask_storeu_ps(yp + ow, m, r);
          }
        }
      }
    }
  };
  if (tbb::this_task_arena::max_concurrency() <= 1 || units * work < (int64_t{1} << 13)) {
    run(0, units);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, units, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { run(r.begin(), r.end()); });
}

}  // namespace qtune
