// f32_conv2d_depthwise__avx512: conv2d_f32 (kernels/conv2d_f32.h) for convolutions where every
// output channel reads one input channel (depthwise, with any channel multiplier), whose weights
// pack with block 1: [out_channels][kernel_h * kernel_w].
//
// Output pixels are the vector lanes, so no lane is wasted on the single channel the direct
// kernel would give each group, and rows run on into each other so small maps fill the lanes
// too. Each input plane is copied once into zero-padded phase planes (phase (a, b) holds padded
// rows i*sh + a and columns j*sw + b, all Wd = ceil(padded width / sw) wide). Then for any
// stride and dilation, kernel tap (kh, kw) reads the phase plane of (kh*dh % sh, kw*dw % sw) at
// one fixed offset from the output's own index in a "wide" output of Wd columns per row: one
// long run of contiguous loads per tap. The wide output is then compacted to the real width
// with the residual sum and the clamp. Compiled with AVX-512 flags (the file name says so);
// only called after a run-time check.
#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <vector>

#include "kernels/conv2d_f32.h"

namespace qtune {
namespace {

// Output vectors computed together: they share every weight broadcast.
constexpr int64_t kChunk = 8;

}  // namespace

void f32_conv2d_depthwise__avx512(const QConvShape& s, const float* x,
                                  const PackedConvWeightsF32& w, const ConvF32Epilogue& e,
                                  float* y) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w();
  if (s.batch <= 0 || s.out_channels <= 0 || oh_n <= 0 || ow_n <= 0) return;
  const int64_t mg = s.out_channels / s.group;  // outputs per input channel
  const int64_t taps = s.kernel_h * s.kernel_w;
  const int64_t sh = s.stride_h, sw = s.stride_w;
  const int64_t padded_h = s.pad_top + s.in_h + s.pad_bottom;
  const int64_t padded_w = s.pad_left + s.in_w + s.pad_right;
  const int64_t hd = (padded_h + sh - 1) / sh, wd = (padded_w + sw - 1) / sw;
  const int64_t phase = hd * wd;
  // Loads run past the last phase plane by at most one row and one chunk of vectors.
  const int64_t buf_floats = sh * sw * phase + wd + kChunk * 16;
  const int64_t wide_n = oh_n * wd;
  const int64_t wide_floats = (wide_n + kChunk * 16 - 1) / (kChunk * 16) * (kChunk * 16);
  std::vector<int64_t> tap_off(static_cast<size_t>(taps));
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const int64_t r = kh * s.dilation_h, c = kw * s.dilation_w;
      tap_off[static_cast<size_t>(kh * s.kernel_w + kw)] =
          ((r % sh) * sw + c % sw) * phase + (r / sh) * wd + c / sw;
    }
  }
  const int64_t planes = s.batch * s.out_channels;
  const int64_t work = taps * wide_floats / 16;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(work, 1));

  auto run = [&](int64_t p0, int64_t p1) {
    std::vector<float> buf(static_cast<size_t>(buf_floats), 0.0f);
    std::vector<float> wide(static_cast<size_t>(wide_floats));
    int64_t loaded = -1;  // the (image, input channel) plane in buf
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n = p / s.out_channels, oc = p % s.out_channels, ic = oc / mg;
      const int64_t plane = n * s.in_channels + ic;
      if (plane != loaded) {
        const float* src = x + plane * s.in_h * s.in_w;
        for (int64_t a = 0; a < sh; ++a) {
          for (int64_t b = 0; b < sw; ++b) {
            float* ph = buf.data() + (a * sw + b) * phase;
            for (int64_t i = 0; i < hd; ++i) {
              float* row = ph + i * wd;
              const int64_t ih = i * sh + a - s.pad_top;
              if (ih < 0 || ih >= s.in_h) {
                std::fill(row, row + wd, 0.0f);
                continue;
              }
              const float* in = src + ih * s.in_w;
              if (sw == 1) {
                std::fill(row, row + s.pad_left, 0.0f);
                std::copy(in, in + s.in_w, row + s.pad_left);
                std::fill(row + s.pad_left + s.in_w, row + wd, 0.0f);
                continue;
              }
              for (int64_t j = 0; j < wd; ++j) {
                const int64_t iw = j * sw + b - s.pad_left;
                row[j] = iw >= 0 && iw < s.in_w ? in[iw] : 0.0f;
              }
            }
          }
        }
        loaded = plane;
      }
      const float* wt = w.data.get() + oc * taps;
      const __m512 bias = _mm512_set1_ps(e.bias ? e.bias[oc] : 0.0f);
      for (int64_t i0 = 0; i0 < wide_n; i0 += kChunk * 16) {
        __m512 acc[kChunk];
#pragma GCC unroll 8
        for (int64_t v = 0; v < kChunk; ++v) acc[v] = bias;
        for (int64_t t = 0; t < taps; ++t) {
          const float* src = buf.data() + tap_off[static_cast<size_t>(t)] + i0;
          const __m512 wv = _mm512_set1_ps(wt[t]);
#pragma GCC unroll 8
          for (int64_t v = 0; v < kChunk; ++v) {
            acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + 16 * v), acc[v]);
          }
        }
#pragma GCC unroll 8
        for (int64_t v = 0; v < kChunk; ++v) _mm512_storeu_ps(wide.data() + i0 + 16 * v, acc[v]);
      }
      // Compact Wd-wide rows to the output's width, adding the sum and clamping.
      const __m512 lo = _mm512_set1_ps(e.clamp_min), hi = _mm512_set1_ps(e.clamp_max);
      float* yp = y + p * oh_n * ow_n;
      const float* sp = e.sum ? e.sum + p * oh_n * ow_n : nullptr;
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        for (int64_t ow = 0; ow < ow_n; ow += 16) {
          const int64_t left = std::min<int64_t>(16, ow_n - ow);
          const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
          __m512 r = _mm512_maskz_loadu_ps(m, wide.data() + oh * wd + ow);
          if (sp) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, sp + oh * ow_n + ow));
          r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
          _mm512_mask_storeu_ps(yp + oh * ow_n + ow, m, r);
        }
      }
    }
  };
  if (planes * work < (int64_t{1} << 13)) {
    run(0, planes);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, planes, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { run(r.begin(), r.end()); });
}

}  // namespace qtune
