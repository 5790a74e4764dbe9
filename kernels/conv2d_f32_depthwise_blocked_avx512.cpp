// f32_conv2d_depthwise_blocked__avx512: depthwise conv2d_f32 (kernels/conv2d_f32.h) with 16
// channels in the vector lanes, for one output channel per input channel (weights packed with
// block 1: [channels][kernel_h * kernel_w]).
//
// Per image and block of 16 channels: the 16 NCHW planes are transposed (16x16 in registers)
// into one zero-padded [padded_h][padded_w][16] buffer, so every kernel tap of every output
// pixel is one aligned vector load whatever the map size, stride or dilation; up to 8 output
// pixels of a row share each tap's weight vector. Each finished output row is transposed back
// into the 16 NCHW planes with the residual sum and the clamp. Compiled with AVX-512 flags (the
// file name says so); only called after a run-time check.
#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

#include "kernels/conv2d_f32.h"
#include "kernels/transpose16x16_avx512.h"

namespace qtune {
namespace {

constexpr int kPixels = 8;  // output pixels per tile

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer zeroed(int64_t floats) {
  const size_t bytes = static_cast<size_t>((floats * 4 + 63) / 64 * 64);
  Buffer b(static_cast<float*>(std::aligned_alloc(64, bytes)));
  if (!b) throw std::bad_alloc();
  std::fill(b.get(), b.get() + bytes / 4, 0.0f);
  return b;
}

inline __mmask16 first(int64_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u);
}

// acc[l] += sum over taps of w[t] * in[tap_off[t] + l * step], L pixels.
template <int L>
void tile(const float* in, const int64_t* tap_off, const float* w, int64_t taps, int64_t step,
          __m512 bias, float* out) {
  __m512 acc[L];
#pragma GCC unroll 8
  for (int l = 0; l < L; ++l) acc[l] = bias;
  for (int64_t t = 0; t < taps; ++t) {
    const __m512 wv = _mm512_load_ps(w + 16 * t);
    const float* p = in + tap_off[t];
#pragma GCC unroll 8
    for (int l = 0; l < L; ++l) acc[l] = _mm512_fmadd_ps(wv, _mm512_load_ps(p + l * step), acc[l]);
  }
#pragma GCC unroll 8
  for (int l = 0; l < L; ++l) _mm512_store_ps(out + 16 * l, acc[l]);
}

using TileFn = void (*)(const float*, const int64_t*, const float*, int64_t, int64_t, __m512,
                        float*);
constexpr TileFn kTiles[kPixels + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>,
                                        tile<5>, tile<6>, tile<7>, tile<8>};

}  // namespace

void f32_conv2d_depthwise_blocked__avx512(const QConvShape& s, const float* x,
                                          const PackedConvWeightsF32& w, const ConvF32Epilogue& e,
                                          float* y) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w();
  if (s.batch <= 0 || s.out_channels <= 0 || oh_n <= 0 || ow_n <= 0) return;
  const int64_t channels = s.out_channels;  // == in_channels == group
  const int64_t taps = s.kernel_h * s.kernel_w;
  const int64_t ph = s.pad_top + s.in_h + s.pad_bottom, pw = s.pad_left + s.in_w + s.pad_right;
  const int64_t blocks = (channels + 15) / 16;
  const int64_t in_plane = s.in_h * s.in_w, out_plane = oh_n * ow_n;
  std::unique_ptr<int64_t[]> tap_off(new int64_t[static_cast<size_t>(taps)]);
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      tap_off[static_cast<size_t>(kh * s.kernel_w + kw)] =
          (kh * s.dilation_h * pw + kw * s.dilation_w) * 16;
    }
  }
  const int64_t work = taps * out_plane;  // vector multiply-adds per task
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(work, 1));

  auto run = [&](int64_t t0, int64_t t1) {
    Buffer padded = zeroed(ph * pw * 16);  // the padding stays zero; tasks overwrite the inside
    Buffer wt = zeroed(taps * 16);
    Buffer row = zeroed((ow_n + 15) / 16 * 16 * 16);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t n = task / blocks, c0 = task % blocks * 16;
      const int64_t nc = std::min<int64_t>(16, channels - c0);
      const float* xs = x + (n * channels + c0) * in_plane;
      // In: 16 pixels of 16 planes at a time, transposed to pixels of 16 channels.
      for (int64_t ih = 0; ih < s.in_h; ++ih) {
        float* dst = padded.get() + ((ih + s.pad_top) * pw + s.pad_left) * 16;
        for (int64_t iw = 0; iw < s.in_w; iw += 16) {
          const int64_t np = std::min<int64_t>(16, s.in_w - iw);
          __m512 r[16];
#pragma GCC unroll 16
          for (int k = 0; k < 16; ++k) {
            r[k] = k < nc ? _mm512_maskz_loadu_ps(first(np), xs + k * in_plane + ih * s.in_w + iw)
                          : _mm512_setzero_ps();
          }
          transpose16x16(r);
          for (int64_t j = 0; j < np; ++j) _mm512_store_ps(dst + (iw + j) * 16, r[j]);
        }
      }
      for (int64_t t = 0; t < taps; ++t) {
        for (int64_t k = 0; k < 16; ++k) {
          wt[static_cast<size_t>(t * 16 + k)] = k < nc ? w.data[static_cast<size_t>((c0 + k) * taps + t)] : 0.0f;
        }
      }
      const __m512 bias = e.bias ? _mm512_maskz_loadu_ps(first(nc), e.bias + c0) : _mm512_setzero_ps();
      const __m512 lo = _mm512_set1_ps(e.clamp_min), hi = _mm512_set1_ps(e.clamp_max);
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        const float* in_row = padded.get() + oh * s.stride_h * pw * 16;
        for (int64_t ow = 0; ow < ow_n; ow += kPixels) {
          const int64_t l = std::min<int64_t>(kPixels, ow_n - ow);
          kTiles[l](in_row + ow * s.stride_w * 16, tap_off.get(), wt.get(), taps,
                    s.stride_w * 16, bias, row.get() + ow * 16);
        }
        // Out: 16 pixels of 16 channels at a time, transposed back to the 16 planes.
        for (int64_t ow = 0; ow < ow_n; ow += 16) {
          const int64_t np = std::min<int64_t>(16, ow_n - ow);
          __m512 r[16];
#pragma GCC unroll 16
          for (int j = 0; j < 16; ++j) {
            r[j] = j < np ? _mm512_load_ps(row.get() + (ow + j) * 16) : _mm512_setzero_ps();
          }
          transpose16x16(r);
          const __mmask16 m = first(np);
          for (int64_t k = 0; k < nc; ++k) {
            const int64_t at = (n * channels + c0 + k) * out_plane + oh * ow_n + ow;
            __m512 v = r[k];
            if (e.sum) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, e.sum + at));
            _mm512_mask_storeu_ps(y + at, m, _mm512_min_ps(_mm512_max_ps(v, lo), hi));
          }
        }
      }
    }
  };
  const int64_t tasks = s.batch * blocks;
  if (tasks * work < (int64_t{1} << 13)) {
    run(0, tasks);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { run(r.begin(), r.end()); });
}

}  // namespace qtune
