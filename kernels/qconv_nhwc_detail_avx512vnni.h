// Shared by the AVX-512 VNNI NHWC convolution kernels (qconv_nhwc_*_avx512vnni.cpp, built with
// those ISA flags): the vector epilogue for one pixel row of 16 output channels, the padded copy
// of an image the kernels read, and the parallel driver over images and work units.
// Internal to kernels/; pure functions over caller-owned buffers, thread-safe.
#pragma once

#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/qconv_nhwc.h"
#include "kernels/qgemm_epilogue.h"

// GCC 12 flags the undefined pass-through operands inside the intrinsics' own headers when they
// are inlined here; the operands are never read. Every file including this header is kernel
// code of this family, so the setting stays on for its rest.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qtune::qconv_nhwc_detail {

// Per-call constants of the epilogue, broadcast once. The same operations in the same order as
// qgemm_epilogue.h's store_one (and the GEMM's vector epilogue), then the fused Add.
struct Epilogue {
  QGemmOutput output = QGemmOutput::kS32;
  std::vector<int32_t> comp;  // per output channel: zero point x weight sum - s32 bias
  const float* scale = nullptr;
  bool per_channel = false;
  const float* bias_f32 = nullptr;
  bool mid = false;
  __m512 mid_scale, mid_inv, clamp_lo, clamp_hi, out_inv, out_scale;
  __m512i mid_zp, mid_lo, mid_hi, out_zp, out_lo, out_hi;
  const QConvSum* sum = nullptr;
  __m512 r_scale, sum_lo, sum_hi, final_scale;
  __m512i r_zp, final_zp, final_lo, final_hi;
  bool r_u8 = true;
  QGemmOutput final_output = QGemmOutput::kU8;
  int64_t channels = 0;  // elements per output (and residual) pixel
  int64_t y_elem = 1;    // bytes per output element

  Epilogue(const QGemmParams& p, const QConvSum* s, const std::vector<int32_t>& col_sum,
           int64_t out_channels) {
    const int32_t zp = p.a_zero_point + (p.a_type == DType::kS8 ? 128 : 0);
    comp.resize(col_sum.size() + 16, 0);
    for (size_t n = 0; n < col_sum.size(); ++n) {
      // Modular, like the s32 accumulators of every path.
      comp[n] = static_cast<int32_t>(static_cast<uint32_t>(zp) * static_cast<uint32_t>(col_sum[n]) -
                                     static_cast<uint32_t>(p.bias_s32 ? p.bias_s32[n] : 0));
    }
    output = p.output;
    scale = p.scale;
    per_channel = p.per_channel_scale;
    bias_f32 = p.bias_f32;
    mid = p.mid_scale > 0.0f;
    mid_scale = _mm512_set1_ps(p.mid_scale);
    mid_inv = _mm512_set1_ps(mid ? 1.0f / p.mid_scale : 0.0f);
    mid_zp = _mm512_set1_epi32(p.mid_zero_point);
    mid_lo = _mm512_set1_epi32(p.mid_type == DType::kU8 ? 0 : -128);
    mid_hi = _mm512_set1_epi32(p.mid_type == DType::kU8 ? 255 : 127);
    clamp_lo = _mm512_set1_ps(p.clamp_min);
    clamp_hi = _mm512_set1_ps(p.clamp_max);
    const bool q8 = p.output == QGemmOutput::kU8 || p.output == QGemmOutput::kS8;
    out_inv = _mm512_set1_ps(q8 ? 1.0f / p.out_scale : 0.0f);
    out_scale = _mm512_set1_ps(p.out_scale);
    out_zp = _mm512_set1_epi32(p.out_zero_point);
    out_lo = _mm512_set1_epi32(p.output == QGemmOutput::kU8 ? 0 : -128);
    out_hi = _mm512_set1_epi32(p.output == QGemmOutput::kU8 ? 255 : 127);
    sum = s;
    y_elem = p.output == QGemmOutput::kS32 || p.output == QGemmOutput::kF32 ? 4 : 1;
    if (s) {
      r_u8 = s->r_type == DType::kU8;
      r_scale = _mm512_set1_ps(s->r_scale);
      r_zp = _mm512_set1_epi32(s->r_zero_point);
      sum_lo = _mm512_set1_ps(s->clamp_min);
      sum_hi = _mm512_set1_ps(s->clamp_max);
      final_output = s->output;
      final_scale = _mm512_set1_ps(s->out_scale);
      final_zp = _mm512_set1_epi32(s->out_zero_point);
      final_lo = _mm512_set1_epi32(s->output == QGemmOutput::kU8 ? 0 : -128);
      final_hi = _mm512_set1_epi32(s->output == QGemmOutput::kU8 ? 255 : 127);
      y_elem = s->output == QGemmOutput::kF32 ? 4 : 1;
    }
    channels = out_channels;
  }
};

// The per-channel vectors of 16 output channels from n0 (valid of them real).
struct ChannelBlock {
  __m512i comp;
  __m512 scale, bias;
  __mmask16 mask;
  int64_t n0;
};

inline ChannelBlock channel_block(const Epilogue& e, int64_t n0, int64_t valid) {
  ChannelBlock b;
  b.n0 = n0;
  b.mask = valid >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << valid) - 1);
  b.comp = _mm512_maskz_loadu_epi32(b.mask, e.comp.data() + n0);
  if (!e.scale) {  // s32 output
    b.scale = _mm512_setzero_ps();
  } else {
    b.scale = e.per_channel ? _mm512_maskz_loadu_ps(b.mask, e.scale + n0) : _mm512_set1_ps(e.scale[0]);
  }
  b.bias = e.bias_f32 ? _mm512_maskz_loadu_ps(b.mask, e.bias_f32 + n0) : _mm512_setzero_ps();
  return b;
}

// Products and sums rounded one at a time, as the scalar reference computes them: GCC would
// contract a plain _mm512_add_ps(_mm512_mul_ps(..)) into one FMA (a single rounding).
constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
inline __m512 fmul(__m512 a, __m512 b) { return _mm512_mul_round_ps(a, b, kRound); }
inline __m512 fadd(__m512 a, __m512 b) { return _mm512_add_round_ps(a, b, kRound); }

// Beyond this the quotient saturates either way; keeps the conversion in range.
inline __m512 clamp_quotient(__m512 q) {
  const __m512 lim = _mm512_set1_ps(qgemm_detail::kQuotientLimit);
  return _mm512_min_ps(_mm512_max_ps(q, _mm512_sub_ps(_mm512_setzero_ps(), lim)), lim);
}

inline __m512i round_saturate(__m512 q, __m512i zp, __m512i lo, __m512i hi) {
  __m512i r = _mm512_cvt_roundps_epi32(clamp_quotient(q), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, zp), lo), hi);
}

// Finishes the raw accumulator (sum of products of the shifted activations) of output pixel
// `pixel` (over the whole batch) for block b and stores it into y; r is the residual tensor.
inline void store_row(const Epilogue& e, const ChannelBlock& b, __m512i acc, int64_t pixel,
                      void* y, const void* r) {
  const __m512i v = _mm512_sub_epi32(acc, b.comp);
  const int64_t idx = pixel * e.channels + b.n0;
  if (e.output == QGemmOutput::kS32) {
    _mm512_mask_storeu_epi32(static_cast<int32_t*>(y) + idx, b.mask, v);
    return;
  }
  __m512 f = fmul(_mm512_cvtepi32_ps(v), b.scale);
  if (e.mid) {
    const __m512i q = round_saturate(fmul(f, e.mid_inv), e.mid_zp, e.mid_lo, e.mid_hi);
    f = fmul(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, e.mid_zp)), e.mid_scale);
  }
  if (e.bias_f32) f = fadd(f, b.bias);
  f = _mm512_min_ps(_mm512_max_ps(f, e.clamp_lo), e.clamp_hi);
  if (e.output == QGemmOutput::kF32) {
    _mm512_mask_storeu_ps(static_cast<float*>(y) + idx, b.mask, f);
    return;
  }
  __m512i q = round_saturate(fmul(f, e.out_inv), e.out_zp, e.out_lo, e.out_hi);
  if (!e.sum) {
    _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(y) + idx, b.mask, q);
    return;
  }
  // DequantizeLinear of both operands, Add, the activation, QuantizeLinear (a true division).
  const __m128i rb = _mm_maskz_loadu_epi8(b.mask, static_cast<const uint8_t*>(r) + idx);
  const __m512i ri = e.r_u8 ? _mm512_cvtepu8_epi32(rb) : _mm512_cvtepi8_epi32(rb);
  f = fadd(fmul(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, e.out_zp)), e.out_scale),
                    fmul(_mm512_cvtepi32_ps(_mm512_sub_epi32(ri, e.r_zp)), e.r_scale));
  f = _mm512_min_ps(_mm512_max_ps(f, e.sum_lo), e.sum_hi);
  if (e.final_output == QGemmOutput::kF32) {
    _mm512_mask_storeu_ps(static_cast<float*>(y) + idx, b.mask, f);
    return;
  }
  q = round_saturate(_mm512_div_ps(f, e.final_scale), e.final_zp, e.final_lo, e.final_hi);
  _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(y) + idx, b.mask, q);
}

// The image as the kernels read it: `rows` x `cols` pixels of `stride` bytes, the convolution's
// pads filled with the zero point; group g's channels at g * group_stride, the rest of each group
// slot at the zero point too; s8 activations shifted to u8 (+128, which the zero point follows).
struct ImageLayout {
  int64_t rows = 0, cols = 0, stride = 0, group_stride = 0;
  int64_t pad_top = 0, pad_left = 0;
  bool in_place = false;  // x itself, when it needs none of that
  int64_t bytes() const { return rows * cols * stride; }
};

// Copies rows [r0, r1) of the padded image of x_img (one NHWC image) into dst.
inline void pad_rows(const QConvShape& s, const ImageLayout& L, const uint8_t* x_img, uint8_t fill,
                     uint8_t flip, int64_t r0, int64_t r1, uint8_t* dst) {
  const int64_t c = s.in_channels, cg = c / s.group;
  const __m512i flip_v = _mm512_set1_epi8(static_cast<char>(flip));
  auto copy = [&](const uint8_t* src, int64_t n, uint8_t* d) {
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
      _mm512_storeu_si512(d + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), flip_v));
    }
    if (i < n) {
      const __mmask64 m = (1ull << (n - i)) - 1;  // n - i < 64
      _mm512_mask_storeu_epi8(d + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), flip_v));
    }
  };
  // Channels contiguous: the groups need no slots of their own.
  const bool whole_pixels = L.group_stride == cg;
  const bool whole_rows = whole_pixels && L.stride == c;
  for (int64_t r = r0; r < r1; ++r) {
    uint8_t* row = dst + r * L.cols * L.stride;
    const int64_t iy = r - L.pad_top;
    if (iy < 0 || iy >= s.in_h) {
      std::memset(row, fill, static_cast<size_t>(L.cols * L.stride));
      continue;
    }
    const uint8_t* src = x_img + iy * s.in_w * c;
    const int64_t left = L.pad_left * L.stride, inner = s.in_w * L.stride;
    std::memset(row, fill, static_cast<size_t>(left));
    std::memset(row + left + inner, fill, static_cast<size_t>(L.cols * L.stride - left - inner));
    if (whole_rows) {
      copy(src, s.in_w * c, row + left);
      continue;
    }
    for (int64_t ix = 0; ix < s.in_w; ++ix) {
      uint8_t* px = row + left + ix * L.stride;
      if (whole_pixels) {
        copy(src + ix * c, c, px);
        std::memset(px + c, fill, static_cast<size_t>(L.stride - c));
        continue;
      }
      std::memset(px, fill, static_cast<size_t>(L.stride));
      for (int64_t g = 0; g < s.group; ++g) copy(src + ix * c + g * cg, cg, px + g * L.group_stride);
    }
  }
}

// Runs unit(b, image, u0, u1) over every image b and its work units [0, units): whole images per
// task when there are enough of them, else one image after another with its units in parallel.
// `image` is the padded copy of image b (or x's own image in place); the copies live in
// thread-local scratch with `slack` bytes after them.
template <typename Unit>
void for_images(const QConvShape& s, const ImageLayout& L, const void* x, DType a_type,
                int32_t a_zero_point, int64_t units, int64_t slack, Unit&& unit) {
  const auto* xb = static_cast<const uint8_t*>(x);
  const int64_t img_in = s.in_h * s.in_w * s.in_channels;
  const uint8_t flip = a_type == DType::kS8 ? 0x80 : 0x00;
  const auto fill = static_cast<uint8_t>(static_cast<uint8_t>(a_zero_point) ^ flip);
  auto scratch = [&]() -> uint8_t* {
    thread_local std::vector<uint8_t> buf;
    const size_t need = static_cast<size_t>(L.bytes() + slack);
    if (buf.size() < need) buf.resize(need);
    return buf.data();
  };
  const int threads = tbb::this_task_arena::max_concurrency();
  tbb::this_task_arena::isolate([&] {
    if (s.batch >= 2 * threads || units == 1) {
      tbb::parallel_for(int64_t{0}, s.batch, [&](int64_t b) {
        const uint8_t* img = xb + b * img_in;
        if (!L.in_place) {
          uint8_t* d = scratch();
          pad_rows(s, L, img, fill, flip, 0, L.rows, d);
          img = d;
        }
        unit(b, img, int64_t{0}, units);
      });
      return;
    }
    uint8_t* d = L.in_place ? nullptr : scratch();
    for (int64_t b = 0; b < s.batch; ++b) {
      const uint8_t* img = xb + b * img_in;
      if (!L.in_place) {
        const int64_t row_grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, L.cols * L.stride));
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, L.rows, row_grain),
                          [&](const tbb::blocked_range<int64_t>& r) {
                            pad_rows(s, L, img, fill, flip, r.begin(), r.end(), d);
                          });
        img = d;
      }
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, units, 1),
                        [&](const tbb::blocked_range<int64_t>& r) { unit(b, img, r.begin(), r.end()); });
    }
  });
}

// The depthwise kernel (one channel per group), in qconv_nhwc_depthwise_avx512vnni.cpp.
void depthwise_nhwc(const QConvShape& s, const QGemmParams& p, const QConvSum* sum, const void* x,
                    const PackedConvNhwcS8& w, void* y);

}  // namespace qtune::qconv_nhwc_detail
