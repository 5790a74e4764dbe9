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
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/qconv_nhwc.h"
#include "kernels/quantize_ref.h"

// GCC 12 flags the undefined pass-through operands inside the intrinsics' own headers when they
// are inlined here; the operands are never read. Every file including this header is kernel
// code of this family, so the setting stays on for its rest.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qtune::qconv_nhwc_detail {

// Per-call constants of the epilogue: plain values, read into registers once per block of rows.
// It computes what qgemm_epilogue.h's store_one (and the GEMM's vector epilogue) and, for a
// fused Add, DequantizeLinear/Add/QuantizeLinear compute, bit for bit. Two rewrites keep it
// short: the zero point's compensation and the s32 bias start in the accumulators
// (initial_acc), and a clamp before a quantization becomes bounds on the quantized integer:
// quantization is monotone, so quantize(clamp(y, lo, hi)) = clamp(quantize(y), quantize(lo),
// quantize(hi)).
struct Epilogue {
  QGemmOutput output = QGemmOutput::kS32;
  int32_t zp = 0;  // the activation zero point, after the s8 -> u8 shift
  const int32_t* col_sum = nullptr;
  const int32_t* bias_s32 = nullptr;
  const float* scale = nullptr;
  bool per_channel = false;
  const float* bias_f32 = nullptr;
  bool mid = false;
  float mid_scale = 0, mid_inv = 0, mid_lo = 0, mid_hi = 0;  // bounds of the rounded quotient
  float clamp_min = 0, clamp_max = 0;                         // f32 output
  float out_inv = 0, out_scale = 0, q_lo = 0, q_hi = 0;       // 8-bit: bounds of the quotient
  int32_t out_zp = 0;
  const QConvSum* sum = nullptr;
  bool r_u8 = true;
  float r_scale = 0, final_scale = 0, f_lo = 0, f_hi = 0;
  int32_t r_zp = 0, final_zp = 0;
  int64_t channels = 0;  // elements per output (and residual) pixel
  // Every 8-bit quotient (s32 x scale / output scale) converts to s32 without a clamp first.
  bool requant_in_range = false;

  Epilogue(const QGemmParams& p, const QConvSum* s, const std::vector<int32_t>& sums,
           int64_t out_channels) {
    output = p.output;
    zp = p.a_zero_point + (p.a_type == DType::kS8 ? 128 : 0);
    col_sum = sums.data();
    bias_s32 = p.bias_s32;
    scale = p.scale;
    per_channel = p.per_channel_scale;
    bias_f32 = p.bias_f32;
    mid = p.mid_scale > 0.0f;
    if (mid) {
      const QRange r = qrange(p.mid_type);
      mid_scale = p.mid_scale;
      mid_inv = 1.0f / p.mid_scale;
      mid_lo = static_cast<float>(r.lo - p.mid_zero_point);
      mid_hi = static_cast<float>(r.hi - p.mid_zero_point);
    }
    clamp_min = p.clamp_min;
    clamp_max = p.clamp_max;
    if (p.output == QGemmOutput::kU8 || p.output == QGemmOutput::kS8) {
      const QRange r = qrange(p.output == QGemmOutput::kU8 ? DType::kU8 : DType::kS8);
      out_inv = 1.0f / p.out_scale;
      out_scale = p.out_scale;
      out_zp = p.out_zero_point;
      q_lo = static_cast<float>(saturate_round(p.clamp_min * out_inv, out_zp, r) - out_zp);
      q_hi = static_cast<float>(saturate_round(p.clamp_max * out_inv, out_zp, r) - out_zp);
      float largest = 0;
      for (int64_t n = 0; n < (p.per_channel_scale ? out_channels : 1); ++n) {
        largest = std::max(largest, std::fabs(p.scale[n]));
      }
      requant_in_range = largest * out_inv <= 0.5f;
    }
    sum = s;
    if (s) {
      r_u8 = s->r_type == DType::kU8;
      r_scale = s->r_scale;
      r_zp = s->r_zero_point;
      final_scale = s->out_scale;
      final_zp = s->out_zero_point;
      if (s->output == QGemmOutput::kF32) {
        f_lo = s->clamp_min;
        f_hi = s->clamp_max;
      } else {
        const QRange r = qrange(s->output == QGemmOutput::kU8 ? DType::kU8 : DType::kS8);
        f_lo = static_cast<float>(quantize_value(s->clamp_min, final_scale, final_zp, r) - final_zp);
        f_hi = static_cast<float>(quantize_value(s->clamp_max, final_scale, final_zp, r) - final_zp);
      }
    }
    channels = out_channels;
  }
  // 8-bit output with nothing between the product and the requantization but the scale (no graph
  // Q -> DQ, f32 bias or fused Add): what PackedQuant finishes.
  bool plain_8bit() const {
    return (output == QGemmOutput::kU8 || output == QGemmOutput::kS8) && !mid && !bias_f32 &&
           !sum && requant_in_range;
  }
};

inline __mmask16 lane_mask(int64_t valid) {
  return valid >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << valid) - 1);
}

// Output pixels whose kernel windows meet the image in the same taps: rows [y0, y1) x columns
// [x0, x1), taps ky in [ky0, ky1) x kx in [kx0, kx1). Taps in the padding are skipped, not
// multiplied by the zero point: on a 7x7 map a 3x3 kernel has 18% of its taps there.
struct Region {
  int64_t y0, y1, x0, x1, ky0, ky1, kx0, kx1;
  int64_t width() const { return x1 - x0; }
  int64_t pixels() const { return (y1 - y0) * (x1 - x0); }
};

// Runs of outputs along one axis with the same range of valid kernel offsets.
struct Span {
  int64_t o0, o1, k0, k1;
};
inline std::vector<Span> spans(int64_t out, int64_t in, int64_t k, int64_t stride, int64_t pad,
                               int64_t dil) {
  std::vector<Span> v;
  for (int64_t o = 0; o < out; ++o) {
    const int64_t i0 = o * stride - pad;  // input position of offset 0
    const int64_t k0 = i0 >= 0 ? 0 : std::min(k, (-i0 + dil - 1) / dil);
    const int64_t k1 = std::max(k0, in - 1 - i0 < 0 ? 0 : std::min(k, (in - 1 - i0) / dil + 1));
    if (!v.empty() && v.back().k0 == k0 && v.back().k1 == k1) {
      v.back().o1 = o + 1;
    } else {
      v.push_back({o, o + 1, k0, k1});
    }
  }
  return v;
}

// Every region of the output; with whole_rows, regions span whole output rows and take every
// kernel column (the image then carries the left and right padding at the zero point).
inline std::vector<Region> regions(const QConvShape& s, bool whole_rows = false) {
  std::vector<Region> out;
  std::vector<Span> cols;
  if (whole_rows) {
    cols.push_back({0, s.out_w(), 0, s.kernel_w});
  } else {
    cols = spans(s.out_w(), s.in_w, s.kernel_w, s.stride_w, s.pad_left, s.dilation_w);
  }
  for (const Span& r : spans(s.out_h(), s.in_h, s.kernel_h, s.stride_h, s.pad_top, s.dilation_h)) {
    for (const Span& c : cols) out.push_back({r.o0, r.o1, c.o0, c.o1, r.k0, r.k1, c.k0, c.k1});
  }
  return out;
}

// The accumulators' starting values of each region's pixels, [region][channels] (16 entries of
// slack): s32 bias - zero point x the weights of the region's taps, the compensation of exactly
// the taps its pixels multiply (modular, like the s32 accumulators of every path).
inline std::vector<int32_t> region_inits(const Epilogue& e, const PackedConvNhwcS8& w,
                                         const std::vector<Region>& regs) {
  const int64_t oc = e.channels;
  std::vector<int32_t> out(regs.size() * static_cast<size_t>(oc) + 16, 0);
  std::vector<uint32_t> sum(static_cast<size_t>(oc));
  for (size_t i = 0; i < regs.size(); ++i) {
    const Region& rg = regs[i];
    std::fill(sum.begin(), sum.end(), 0u);
    for (int64_t ky = rg.ky0; ky < rg.ky1; ++ky) {
      for (int64_t kx = rg.kx0; kx < rg.kx1; ++kx) {
        const int32_t* t = w.tap_sum.data() + (ky * w.kernel_w + kx) * oc;
        for (int64_t n = 0; n < oc; ++n) sum[static_cast<size_t>(n)] += static_cast<uint32_t>(t[n]);
      }
    }
    int32_t* dst = out.data() + i * static_cast<size_t>(oc);
    for (int64_t n = 0; n < oc; ++n) {
      const uint32_t bias = e.bias_s32 ? static_cast<uint32_t>(e.bias_s32[n]) : 0u;
      dst[n] = static_cast<int32_t>(bias - static_cast<uint32_t>(e.zp) * sum[static_cast<size_t>(n)]);
    }
  }
  return out;
}

// The accumulators' starting value for channels n0..n0+15 when every tap is multiplied (padding
// as the zero point): s32 bias - zero point x the weight sum (modular).
inline __m512i initial_acc(const Epilogue& e, int64_t n0, int64_t valid) {
  const __mmask16 m = lane_mask(valid);
  const __m512i comp = _mm512_mullo_epi32(_mm512_set1_epi32(e.zp),
                                          _mm512_maskz_loadu_epi32(m, e.col_sum + n0));
  const __m512i bias = e.bias_s32 ? _mm512_maskz_loadu_epi32(m, e.bias_s32 + n0) : _mm512_setzero_si512();
  return _mm512_sub_epi32(bias, comp);
}

// Products and sums rounded one at a time, as the scalar reference computes them: GCC would
// contract a plain _mm512_add_ps(_mm512_mul_ps(..)) into one FMA (a single rounding).
constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
inline __m512 fmul(__m512 a, __m512 b) { return _mm512_mul_round_ps(a, b, kRound); }
inline __m512 fadd(__m512 a, __m512 b) { return _mm512_add_round_ps(a, b, kRound); }
// Round half to even of q clamped to [lo, hi] (integers): the quantized value less its zero point.
inline __m512i round_in(__m512 q, __m512 lo, __m512 hi) {
  return _mm512_cvt_roundps_epi32(_mm512_min_ps(_mm512_max_ps(q, lo), hi), kRound);
}

// The requantization of plain 8-bit outputs, four vectors at a time: each vector's rounded value,
// then two saturating packs put four vectors' bytes in one, so the zero point and both clamps
// happen once for 64 lanes (every saturation on the way rounds towards the nearer clamp). Equal,
// lane for lane, to round_in + zero point + narrowing of each vector wherever the conversion
// stays in range, which Epilogue::plain_8bit guarantees (scale x 1 / output scale <= 1/2 keeps
// every s32 product below 2^30).
// Plain multiplies (no add for a compiler to contract them with), which take a scale broadcast
// from memory as an operand.
inline __m512i requant_round(__m512i acc, __m512 scale, __m512 inv) {
  const __m512 f = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale), inv);
  return _mm512_cvt_roundps_epi32(f, kRound);
}
// The per-call constants of requant_round + pack_bytes4 for an epilogue's 8-bit output.
struct PackedQuant {
  __m512 inv;
  __m512i zp16;  // the output zero point in 16-bit lanes
  __m512i lo8;   // the lowest output byte: q_lo + zero point
  __m512i hi8;   // the highest: q_hi + zero point
  bool s8 = false;
  PackedQuant() = default;
  explicit PackedQuant(const Epilogue& e)
      : inv(_mm512_set1_ps(e.out_inv)),
        zp16(_mm512_set1_epi16(static_cast<int16_t>(e.out_zp))),
        lo8(_mm512_set1_epi8(static_cast<char>(static_cast<int32_t>(e.q_lo) + e.out_zp))),
        hi8(_mm512_set1_epi8(static_cast<char>(static_cast<int32_t>(e.q_hi) + e.out_zp))),
        s8(e.output == QGemmOutput::kS8) {}
};

// q0..q3 plus the zero point (zp16, in 16-bit lanes), clamped to [lo8, hi8], as bytes
// interleaved by 128-bit lane: dword 4l + j holds vector j's lanes 4l..4l+3.
template <bool S8>
inline __m512i pack_lanes4(__m512i q0, __m512i q1, __m512i q2, __m512i q3, __m512i zp16,
                           __m512i lo8, __m512i hi8) {
  const __m512i ab = _mm512_adds_epi16(_mm512_packs_epi32(q0, q1), zp16);
  const __m512i cd = _mm512_adds_epi16(_mm512_packs_epi32(q2, q3), zp16);
  return S8 ? _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(ab, cd), lo8), hi8)
            : _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(ab, cd), lo8), hi8);
}

// Bytes [q0's 16][q1's 16][q2's 16][q3's 16] plus the zero point (zp16, in 16-bit lanes),
// clamped to [lo8, hi8].
template <bool S8>
inline __m512i pack_bytes4(__m512i q0, __m512i q1, __m512i q2, __m512i q3, __m512i zp16,
                           __m512i lo8, __m512i hi8) {
  const __m512i b = pack_lanes4<S8>(q0, q1, q2, q3, zp16, lo8, hi8);
  return _mm512_permutexvar_epi32(_mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), b);
}

// Writes bytes b = four 16-byte pieces to p[0..3] (those below n); whole: one 64-byte store when
// the pieces are consecutive.
inline void store_pieces(__m512i b, uint8_t* const* p, int n, __mmask16 mask) {
  const __m128i part[4] = {_mm512_castsi512_si128(b), _mm512_extracti32x4_epi32(b, 1),
                           _mm512_extracti32x4_epi32(b, 2), _mm512_extracti32x4_epi32(b, 3)};
  for (int i = 0; i < n; ++i) {
    if (mask == 0xffff) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p[i]), part[i]);
    } else {
      _mm_mask_storeu_epi8(p[i], mask, part[i]);
    }
  }
}

// Stores of 16 lanes: plain when all are wanted (masked stores, truncating ones above all, are
// slow on some cores and the full block is the common case).
inline void store_u8(uint8_t* p, __mmask16 mask, __m512i v) {
  const __m128i b = _mm512_cvtepi32_epi8(v);
  if (mask == 0xffff) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), b);
  } else {
    _mm_mask_storeu_epi8(p, mask, b);
  }
}
inline void store_f32(float* p, __mmask16 mask, __m512 v) {
  if (mask == 0xffff) {
    _mm512_storeu_ps(p, v);
  } else {
    _mm512_mask_storeu_ps(p, mask, v);
  }
}

// Finishes rows [0, rows) of one block of 16 output channels from n0 (valid of them real):
// acc[m * stride] is output pixel pix[m] (over the batch), started at initial_acc. y and the
// residual r are NHWC with e.channels channels.
inline void store_block(const Epilogue& e, const __m512i* acc, int stride, int rows,
                        const int64_t* pix, int64_t n0, int64_t valid, void* y, const void* r) {
  // Every constant in a local: the byte stores below may alias anything, `e` included.
  const __mmask16 mask = lane_mask(valid);
  const int64_t ch = e.channels;
  if (e.output == QGemmOutput::kS32) {
    for (int m = 0; m < rows; ++m) {
      _mm512_mask_storeu_epi32(static_cast<int32_t*>(y) + pix[m] * ch + n0, mask, acc[m * stride]);
    }
    return;
  }
  const __m512 scale = e.per_channel ? _mm512_maskz_loadu_ps(mask, e.scale + n0) : _mm512_set1_ps(e.scale[0]);
  const bool mid = e.mid, has_bias = e.bias_f32 != nullptr;
  const __m512 bias = has_bias ? _mm512_maskz_loadu_ps(mask, e.bias_f32 + n0) : _mm512_setzero_ps();
  const __m512 mid_inv = _mm512_set1_ps(e.mid_inv), mid_scale = _mm512_set1_ps(e.mid_scale);
  const __m512 mid_lo = _mm512_set1_ps(e.mid_lo), mid_hi = _mm512_set1_ps(e.mid_hi);
  // The f32 value before the activation: scale, [the graph's Q -> DQ], [f32 bias].
  auto value = [&](__m512i a) {
    __m512 f = fmul(_mm512_cvtepi32_ps(a), scale);
    if (mid) f = fmul(_mm512_cvtepi32_ps(round_in(fmul(f, mid_inv), mid_lo, mid_hi)), mid_scale);
    if (has_bias) f = fadd(f, bias);
    return f;
  };
  if (e.output == QGemmOutput::kF32) {
    const __m512 lo = _mm512_set1_ps(e.clamp_min), hi = _mm512_set1_ps(e.clamp_max);
    for (int m = 0; m < rows; ++m) {
      const __m512 f = _mm512_min_ps(_mm512_max_ps(value(acc[m * stride]), lo), hi);
      store_f32(static_cast<float*>(y) + pix[m] * ch + n0, mask, f);
    }
    return;
  }
  const __m512 inv = _mm512_set1_ps(e.out_inv), q_lo = _mm512_set1_ps(e.q_lo), q_hi = _mm512_set1_ps(e.q_hi);
  const __m512i zp = _mm512_set1_epi32(e.out_zp);
  if (!e.sum) {
    for (int m = 0; m < rows; ++m) {
      const __m512i q = round_in(fmul(value(acc[m * stride]), inv), q_lo, q_hi);
      store_u8(static_cast<uint8_t*>(y) + pix[m] * ch + n0, mask,
                                       _mm512_add_epi32(q, zp));
    }
    return;
  }
  // DequantizeLinear of both operands, Add, the activation, QuantizeLinear (a true division).
  const __m512 out_scale = _mm512_set1_ps(e.out_scale), r_scale = _mm512_set1_ps(e.r_scale);
  const __m512i r_zp = _mm512_set1_epi32(e.r_zp), final_zp = _mm512_set1_epi32(e.final_zp);
  const __m512 final_scale = _mm512_set1_ps(e.final_scale);
  const __m512 f_lo = _mm512_set1_ps(e.f_lo), f_hi = _mm512_set1_ps(e.f_hi);
  const bool r_u8 = e.r_u8, f32_out = e.sum->output == QGemmOutput::kF32;
  for (int m = 0; m < rows; ++m) {
    const int64_t idx = pix[m] * ch + n0;
    const __m512i q = round_in(fmul(value(acc[m * stride]), inv), q_lo, q_hi);
    const __m128i rb = _mm_maskz_loadu_epi8(mask, static_cast<const uint8_t*>(r) + idx);
    const __m512i ri = _mm512_sub_epi32(r_u8 ? _mm512_cvtepu8_epi32(rb) : _mm512_cvtepi8_epi32(rb), r_zp);
    const __m512 v = fadd(fmul(_mm512_cvtepi32_ps(q), out_scale), fmul(_mm512_cvtepi32_ps(ri), r_scale));
    if (f32_out) {
      store_f32(static_cast<float*>(y) + idx, mask, _mm512_min_ps(_mm512_max_ps(v, f_lo), f_hi));
    } else {
      const __m512i fq = round_in(_mm512_div_ps(v, final_scale), f_lo, f_hi);
      store_u8(static_cast<uint8_t*>(y) + idx, mask, _mm512_add_epi32(fq, final_zp));
    }
  }
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

// Below this many multiply-adds a convolution runs on the calling thread: splitting it would cost
// more than it saves.
constexpr int64_t kSerialMacs = int64_t{1} << 20;

// Runs unit(b, image, u0, u1) over every image b and its work units [0, units): whole images per
// task when there are enough of them, else one image after another with its units in parallel.
// `image` is the padded copy of image b (or x's own image in place); the copies live in
// thread-local scratch with `slack` bytes after them. macs: the whole convolution's work.
template <typename Unit>
void for_images(const QConvShape& s, const ImageLayout& L, const void* x, DType a_type,
                int32_t a_zero_point, int64_t units, int64_t slack, int64_t macs, Unit&& unit) {
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
  if (threads == 1 || macs < kSerialMacs) {
    for (int64_t b = 0; b < s.batch; ++b) {
      const uint8_t* img = xb + b * img_in;
      if (!L.in_place) {
        uint8_t* d = scratch();
        pad_rows(s, L, img, fill, flip, 0, L.rows, d);
        img = d;
      }
      unit(b, img, int64_t{0}, units);
    }
    return;
  }
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
