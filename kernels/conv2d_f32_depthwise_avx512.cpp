// f32_conv2d_depthwise__avx512: conv2d_f32 (kernels/conv2d_f32.h) for convolutions where every
// output channel reads one input channel (depthwise, with any channel multiplier), whose weights
// pack with block 1: [out_channels][kernel_h * kernel_w].
//
// Output pixels of a row are the vector lanes, so no lane is wasted on the single channel the
// direct kernel would give each group. Each input plane is copied once per task into
// zero-padded rows split into stride phases (phase b holds padded columns j*sw + b), so for any
// stride and dilation kernel tap (kh, kw) reads 16 consecutive floats of one phase row for 16
// consecutive outputs. Rows of the kernel that fall into the padding are skipped. Compiled with
// AVX-512 flags (the file name says so); only called after a run-time check.
#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <vector>

#include "kernels/conv2d_f32.h"

namespace qtune {
namespace {

// Output vectors of one row computed together: they share every weight broadcast.
constexpr int64_t kChunk = 4;

}  // namespace

void f32_conv2d_depthwise__avx512(const QConvShape& s, const float* x,
                                  const PackedConvWeightsF32& w, const ConvF32Epilogue& e,
                                  float* y) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w();
  if (oh_n <= 0 || ow_n <= 0) return;
  const int64_t mg = s.out_channels / s.group;  // outputs per input channel
  const int64_t taps = s.kernel_h * s.kernel_w;
  const int64_t sw = s.stride_w, padded_w = s.pad_left + s.in_w + s.pad_right;
  // Each phase row holds what its outputs read plus one vector of slack for the last chunk.
  const int64_t phase_w = (padded_w + sw - 1) / sw + kChunk * 16;
  const int64_t row_floats = sw * phase_w;
  const int64_t planes = s.batch * s.out_channels;
  const int64_t work = taps * oh_n * ((ow_n + 15) / 16);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(work, 1));

  auto run = [&](int64_t p0, int64_t p1) {
    std::vector<float> buf;
    int64_t loaded = -1;  // the (image, input channel) plane in buf
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n = p / s.out_channels, oc = p % s.out_channels, ic = oc / mg;
      const int64_t plane = n * s.in_channels + ic;
      if (plane != loaded) {
        buf.resize(static_cast<size_t>(s.in_h * row_floats));
        const float* src = x + plane * s.in_h * s.in_w;
        for (int64_t ih = 0; ih < s.in_h; ++ih) {
          float* row = buf.data() + ih * row_floats;
          const float* in = src + ih * s.in_w;
          if (sw == 1) {
            std::fill(row, row + s.pad_left, 0.0f);
            std::copy(in, in + s.in_w, row + s.pad_left);
            std::fill(row + s.pad_left + s.in_w, row + phase_w, 0.0f);
            continue;
          }
          for (int64_t b = 0; b < sw; ++b) {
            float* ph = row + b * phase_w;
            for (int64_t j = 0; j < phase_w; ++j) {
              const int64_t c = j * sw + b - s.pad_left;
              ph[j] = c >= 0 && c < s.in_w ? in[c] : 0.0f;
            }
          }
        }
        loaded = plane;
      }
      const float* wt = w.data.get() + oc * taps;
      const float bias = e.bias ? e.bias[oc] : 0.0f;
      const __m512 lo = _mm512_set1_ps(e.clamp_min), hi = _mm512_set1_ps(e.clamp_max);
      float* yp = y + p * oh_n * ow_n;
      const float* sp = e.sum ? e.sum + p * oh_n * ow_n : nullptr;
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        for (int64_t ow0 = 0; ow0 < ow_n; ow0 += kChunk * 16) {
          const int64_t vecs = std::min<int64_t>(kChunk, (ow_n - ow0 + 15) / 16);
          __m512 acc[kChunk];
          for (int64_t v = 0; v < kChunk; ++v) acc[v] = _mm512_set1_ps(bias);
          for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
            const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
            if (ih < 0 || ih >= s.in_h) continue;
            const float* row = buf.data() + ih * row_floats;
            for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
              const int64_t c = kw * s.dilation_w;
              const float* src = row + (c % sw) * phase_w + c / sw + ow0;
              const __m512 wv = _mm512_set1_ps(wt[kh * s.kernel_w + kw]);
              if (vecs == kChunk) {
#pragma GCC unroll 4
                for (int64_t v = 0; v < kChunk; ++v) {
                  acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + 16 * v), acc[v]);
                }
              } else {
                for (int64_t v = 0; v < vecs; ++v) {
                  acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + 16 * v), acc[v]);
                }
              }
            }
          }
          for (int64_t v = 0; v < vecs; ++v) {
            const int64_t at = oh * ow_n + ow0 + 16 * v;
            const int64_t left = std::min<int64_t>(16, ow_n - ow0 - 16 * v);
            const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
            __m512 r = acc[v];
            if (sp) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, sp + at));
            r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
            _mm512_mask_storeu_ps(yp + at, m, r);
          }
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
