// QGemm runs the int8 GEMM (kernels/qgemm.h) and QConv the channels-last int8 convolution
// (kernels/qconv_nhwc.h), each with the whole QDQ unit in its epilogue: s32 bias, per-channel
// x_scale*w_scale, Relu/Clip, requantization and, for QConv, a fused residual Add. An NCHW
// QConv (1-D, or a graph without the layout pass) is transposed around the same kernel.
// QAdd, QLut and the channels-last MaxPool run the int8 ops between them; Bf16Conv / Bf16Gemm
// run kernels/gemm_bf16.h (NCHW convolutions through an HWC im2col). Weights (and the combined
// scales) are packed once per model in the node cache when they are graph constants.
#include "adaptors/native/native_ops.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "adaptors/fused_op_inputs.h"
#include "adaptors/fused_op_schemas.h"
#include "adaptors/lowering.h"
#include "runtime/conv_operands.h"
#include "runtime/conv_geometry.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm_bf16.h"
#include "kernels/lut_q8.h"
#include "kernels/maxpool_nhwc.h"
#include "kernels/qconv.h"  // QConvShape
#include "kernels/qconv_nhwc.h"
#include "kernels/qgemm.h"
#include "kernels/quantize_ref.h"

namespace qtune {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::atomic<uint64_t> g_pack_count{0};

std::string dt(DType t) { return std::string(dtype_name(t)); }
bool scalar_like(const Tensor& t) { return t.numel() == 1 && t.rank() <= 1; }

std::vector<float> combined_scales(float x_scale, const Tensor& w_scale) {
  std::vector<float> s(static_cast<size_t>(w_scale.numel()));
  for (int64_t c = 0; c < w_scale.numel(); ++c) s[c] = x_scale * w_scale.data<float>()[c];
  return s;
}

// Packed weights plus the combined scales they were packed with (valid when both scales are
// graph constants; otherwise computed per call).
template <typename W>
struct Packed {
  W w;
  std::vector<float> scale;
  float x_scale = 0.0f;
  const void* w_scale_key = nullptr;
};

template <typename W, typename Make>
std::shared_ptr<const Packed<W>> packed(OpContext& ctx, const XQuant* xq, Make&& make) {
  auto build = [&] {
    Packed<W> p;
    p.w = make();
    g_pack_count.fetch_add(1, std::memory_order_relaxed);
    if (xq && ctx.input_is_constant(2) && ctx.input_is_constant(4)) {
      p.scale = combined_scales(xq->scale, *ctx.input(2));
      p.x_scale = xq->scale;
      p.w_scale_key = ctx.input(2)->raw();
    }
    return p;
  };
  if (ctx.cache && ctx.input_is_constant(1)) {
    return ctx.cache->get<Packed<W>>(ctx.input(1)->raw(), build);
  }
  return std::make_shared<const Packed<W>>(build());
}

QGemmOutput gemm_output(DType t) {
  switch (t) {
    case DType::kU8: return QGemmOutput::kU8;
    case DType::kS8: return QGemmOutput::kS8;
    default: return QGemmOutput::kF32;
  }
}

// The epilogue shared by QConv and QGemm; `scale_storage` keeps per-call scales alive.
template <typename W>
QGemmParams int8_params(const OpContext& ctx, const XQuant& xq, const OutQuant& oq,
                        const Packed<W>& pk, const Tensor& w_scale, const Tensor* bias, float lo,
                        float hi, std::vector<float>* scale_storage) {
  QGemmParams p;
  p.a_type = xq.x->dtype();
  p.a_zero_point = xq.zero_point;
  p.output = gemm_output(oq.type);
  if (bias && bias->dtype() == DType::kS32) p.bias_s32 = bias->data<int32_t>();
  if (bias && bias->dtype() == DType::kF32) p.bias_f32 = bias->data<float>();
  if (!pk.scale.empty() && pk.x_scale == xq.scale && pk.w_scale_key == w_scale.raw()) {
    p.scale = pk.scale.data();
  } else {
    *scale_storage = combined_scales(xq.scale, w_scale);
    p.scale = scale_storage->data();
  }
  p.per_channel_scale = w_scale.numel() > 1;
  p.clamp_min = lo;
  p.clamp_max = hi;
  p.out_scale = oq.scale;
  p.out_zero_point = oq.zero_point;
  return p;
}

// ------------------------------------------------------------------ conv geometry

struct ConvPlan {
  QConvShape s;
  Shape out_shape;
};

// 1-D and 2-D convolutions as QConvShape (a 1-D conv is 2-D with unit height).
Status plan_conv(const OpContext& ctx, const Tensor& x, const Tensor& w, ConvPlan* plan) {
  if (x.rank() != 3 && x.rank() != 4) {
    return ctx.invalid("x has shape " + shape_str(x.shape()) + "; expected [N,C,W] or [N,C,H,W]");
  }
  QT_ASSIGN_OR_RETURN(ConvOperands ops, check_conv_operands(ctx, x, w));
  const int64_t group = ops.group, c = x.dim(1), m = w.dim(0);
  const Shape& in_sp = ops.in_sp;
  const Shape& k_sp = ops.k_sp;
  const ConvGeometry& geo = ops.geo;
  const bool one_d = x.rank() == 3;
  const size_t r = in_sp.size();
  QConvShape& s = plan->s;
  s.batch = x.dim(0);
  s.in_channels = c;
  s.out_channels = m;
  s.group = group;
  s.in_h = one_d ? 1 : in_sp[0];
  s.in_w = in_sp[r - 1];
  s.kernel_h = one_d ? 1 : k_sp[0];
  s.kernel_w = k_sp[r - 1];
  s.stride_h = one_d ? 1 : geo.strides[0];
  s.stride_w = geo.strides[r - 1];
  s.dilation_h = one_d ? 1 : geo.dilations[0];
  s.dilation_w = geo.dilations[r - 1];
  s.pad_top = one_d ? 0 : geo.pads[0];
  s.pad_bottom = one_d ? 0 : geo.pads[r];
  s.pad_left = geo.pads[r - 1];
  s.pad_right = geo.pads[2 * r - 1];
  if ((!one_d && s.out_h() != geo.out[0]) || s.out_w() != geo.out[r - 1]) {
    return ctx.invalid("inconsistent convolution geometry");
  }
  plan->out_shape = {s.batch, m};
  plan->out_shape.insert(plan->out_shape.end(), geo.out.begin(), geo.out.end());
  return Status::Ok();
}

// ------------------------------------------------------------------ conv driver

// One 16x16 byte tile: dst row j = column j of src. Four rounds of SSE2 unpacks (baseline
// x86-64), each doubling the run of consecutive source rows that sit together.
inline void transpose16x16_u8(const uint8_t* src, int64_t ss, uint8_t* dst, int64_t ds) {
  __m128i a[16], b[16];
  for (int i = 0; i < 16; ++i) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * ss));
  for (int i = 0; i < 8; ++i) {  // b[i]: columns 0-7 of rows 2i,2i+1; b[8+i]: columns 8-15
    b[i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
    b[8 + i] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // a[4q + i]: columns 4q..4q+3 of rows 4i..4i+3
    for (int i = 0; i < 4; ++i) {
      a[h * 8 + i] = _mm_unpacklo_epi16(b[h * 8 + 2 * i], b[h * 8 + 2 * i + 1]);
      a[h * 8 + 4 + i] = _mm_unpackhi_epi16(b[h * 8 + 2 * i], b[h * 8 + 2 * i + 1]);
    }
  }
  for (int q = 0; q < 4; ++q) {  // b[2p + i]: columns 2p, 2p+1 of rows 8i..8i+7
    for (int i = 0; i < 2; ++i) {
      b[q * 4 + i] = _mm_unpacklo_epi32(a[q * 4 + 2 * i], a[q * 4 + 2 * i + 1]);
      b[q * 4 + 2 + i] = _mm_unpackhi_epi32(a[q * 4 + 2 * i], a[q * 4 + 2 * i + 1]);
    }
  }
  for (int p = 0; p < 8; ++p) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (2 * p) * ds),
                     _mm_unpacklo_epi64(b[2 * p], b[2 * p + 1]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (2 * p + 1) * ds),
                     _mm_unpackhi_epi64(b[2 * p], b[2 * p + 1]));
  }
}

// dst[c * rows + r] = src[r * cols + c] for rows [r0, r1), in cache-sized tiles.
template <typename T>
void transpose_rows(const T* src, int64_t rows, int64_t cols, T* dst, int64_t r0, int64_t r1) {
  constexpr int64_t kTile = 16;
  for (int64_t rt = r0; rt < r1; rt += kTile) {
    const int64_t re = std::min(r1, rt + kTile);
    for (int64_t ct = 0; ct < cols; ct += kTile) {
      const int64_t ce = std::min(cols, ct + kTile);
      if constexpr (sizeof(T) == 1) {
        if (re - rt == kTile && ce - ct == kTile) {
          transpose16x16_u8(reinterpret_cast<const uint8_t*>(src) + rt * cols + ct, cols,
                            reinterpret_cast<uint8_t*>(dst) + ct * rows + rt, rows);
          continue;
        }
      }
      for (int64_t r = rt; r < re; ++r) {
        for (int64_t c = ct; c < ce; ++c) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

// dst[c * rows + r] = src[r * cols + c], parallel over row tiles for large planes.
template <typename T>
void transpose(const T* src, int64_t rows, int64_t cols, T* dst) {
  if (cols == 1 || rows == 1) {
    std::copy(src, src + rows * cols, dst);
  } else if (rows * cols < (int64_t{1} << 17)) {
    transpose_rows(src, rows, cols, dst, 0, rows);
  } else {
    const int64_t chunk = 64;
    tbb::parallel_for(int64_t{0}, (rows + chunk - 1) / chunk, [&](int64_t t) {
      transpose_rows(src, rows, cols, dst, t * chunk, std::min(rows, (t + 1) * chunk));
    });
  }
}

// im2col copies runs of a few to a few hundred bytes, where a libc call costs more than the
// copy. These move whole 8/32-byte words and may run up to kSlack bytes past both ends: the
// scratch buffers carry that slack, and what spills into the next run is rewritten by it.
constexpr int64_t kSlack = 32;

inline void copy_run(const void* src, size_t n, void* dst) {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) std::memcpy(d + i, s + i, 32);
  for (; i < n; i += 8) std::memcpy(d + i, s + i, 8);
}

inline void fill_run(uint8_t value, size_t n, void* dst) {
  const uint64_t word = 0x0101010101010101ull * value;
  auto* d = static_cast<uint8_t*>(dst);
  for (size_t i = 0; i < n; i += 8) std::memcpy(d + i, &word, 8);
}

template <typename T>
void fill_pad(T* dst, int64_t n, T pad) {
  if constexpr (sizeof(T) == 1) {
    fill_run(static_cast<uint8_t>(pad), static_cast<size_t>(n), dst);
  } else {
    std::fill_n(dst, n, pad);
  }
}

// One image's group as GEMM rows from an HWC image: row = output pixel, columns (kh, kw, c), so
// every tap copies a run of cg channels. Padding reads `pad` (the zero point for int8).
template <typename T>
void im2col_hwc(const QConvShape& s, const T* xt, int64_t g, T pad, T* col) {
  // Locals, not s.*: the byte stores below may alias anything, so fields would be reloaded.
  const int64_t c_all = s.in_channels, cg = c_all / s.group, oh = s.out_h(), ow = s.out_w();
  const int64_t kh = s.kernel_h, kw = s.kernel_w, sh = s.stride_h, sw = s.stride_w;
  const int64_t dh = s.dilation_h, dw = s.dilation_w, pt = s.pad_top, pl = s.pad_left;
  const int64_t in_h = s.in_h, in_w = s.in_w, kdim = s.k_per_group();
  // Undilated taps of one kernel row are one HWC run when the group spans every channel.
  const bool runs = dw == 1 && cg == c_all;
  const T* xg = xt + g * cg;
  // The last pixel of a block of rows copies exactly: its spill would land in the next block,
  // which another task may already have written.
  auto pixel = [&](int64_t oy, int64_t ox, T* dst, auto copy, auto fill) {
    const int64_t ix0 = ox * sw - pl;
    const bool inside_w = runs && ix0 >= 0 && ix0 + kw <= in_w;
    for (int64_t ky = 0; ky < kh; ++ky) {
      const int64_t iy = oy * sh - pt + ky * dh;
      if (iy < 0 || iy >= in_h) {
        fill(dst, kw * cg);
        dst += kw * cg;
        continue;
      }
      const T* src_row = xg + iy * in_w * c_all;
      if (inside_w) {
        copy(src_row + ix0 * c_all, kw * cg, dst);
        dst += kw * cg;
        continue;
      }
      for (int64_t kx = 0; kx < kw; ++kx, dst += cg) {
        const int64_t ix = ix0 + kx * dw;
        if (ix >= 0 && ix < in_w) {
          copy(src_row + ix * c_all, cg, dst);
        } else {
          fill(dst, cg);
        }
      }
    }
  };
  auto fast_copy = [](const T* src, int64_t n, T* dst) { copy_run(src, n * sizeof(T), dst); };
  auto fast_fill = [pad](T* dst, int64_t n) { fill_pad(dst, n, pad); };
  auto exact_copy = [](const T* src, int64_t n, T* dst) { std::memcpy(dst, src, n * sizeof(T)); };
  auto exact_fill = [pad](T* dst, int64_t n) { std::fill_n(dst, n, pad); };
  // Output columns whose kernel rows lie wholly inside the image: [ox_lo, ox_hi).
  int64_t ox_lo = ow, ox_hi = ow;
  if (runs) {
    ox_lo = std::min<int64_t>(ow, (pl + sw - 1) / sw);
    ox_hi = in_w + pl - kw < 0 ? 0 : std::min<int64_t>(ow, (in_w + pl - kw) / sw + 1);
    if (ox_hi < ox_lo) ox_lo = ox_hi = ow;
  }
  const int64_t run = kw * cg;
  auto rows = [&](int64_t y0, int64_t y1) {
    for (int64_t oy = y0; oy < y1; ++oy) {
      T* row0 = col + oy * ow * kdim;
      const bool last_row = oy == y1 - 1;
      for (int64_t ox = 0; ox < ow; ++ox) {
        T* dst = row0 + ox * kdim;
        if (last_row && ox == ow - 1) {
          pixel(oy, ox, dst, exact_copy, exact_fill);
        } else if (ox < ox_lo || ox >= ox_hi) {
          pixel(oy, ox, dst, fast_copy, fast_fill);
        } else {
          // Interior: one run per kernel row, straight from the row pointers.
          const T* src = xg + (ox * sw - pl) * c_all;
          for (int64_t ky = 0; ky < kh; ++ky, dst += run) {
            const int64_t iy = oy * sh - pt + ky * dh;
            if (iy >= 0 && iy < in_h) {
              copy_run(src + iy * in_w * c_all, run * sizeof(T), dst);
            } else {
              fill_pad(dst, run, pad);
            }
          }
        }
      }
    }
  };
  if (oh * ow * kdim < (int64_t{1} << 16)) {
    rows(0, oh);
  } else {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, oh),
                      [&](const tbb::blocked_range<int64_t>& r) { rows(r.begin(), r.end()); });
  }
}

// Weights [M, C/g, kh, kw] reordered to the im2col_hwc column order (kh, kw, c) and packed per
// group with `pack(rows, K, N)` where B[k][n] = rows[n * K + k].
template <typename T, typename Pack>
auto pack_conv_hwc(const T* w, const QConvShape& s, Pack&& pack) {
  const int64_t cg = s.in_channels / s.group, kk = s.kernel_h * s.kernel_w;
  const int64_t kdim = s.k_per_group(), ocg = s.out_channels / s.group;
  std::vector<T> perm(static_cast<size_t>(s.out_channels * kdim));
  for (int64_t o = 0; o < s.out_channels; ++o) {
    for (int64_t c = 0; c < cg; ++c) {
      for (int64_t k = 0; k < kk; ++k) perm[o * kdim + k * cg + c] = w[o * kdim + c * kk + k];
    }
  }
  std::vector<decltype(pack(perm.data(), kdim, ocg))> per_group;
  for (int64_t g = 0; g < s.group; ++g) per_group.push_back(pack(perm.data() + g * ocg * kdim, kdim, ocg));
  return per_group;
}

// Buffers reused across calls: a conv would otherwise fault in fresh pages on every run.
struct ConvScratch {
  std::vector<uint8_t> xt, col, c;
  template <typename T>
  static T* grow(std::vector<uint8_t>& v, int64_t elems) {
    const size_t bytes = static_cast<size_t>(elems) * sizeof(T) + kSlack;
    if (v.size() < bytes) v.resize(bytes);
    return reinterpret_cast<T*>(v.data());
  }
};

// NCHW convolution around gemm(group, a, lda, c, ldc), which writes C [pixels, ocg] of OutT.
// Batches run one image per task (the per-image work is too small to split well); a single
// image spreads over the GEMM's tiles instead. Each image runs isolated, so while its thread
// waits for nested tasks it never starts another image on the same thread-local scratch.
template <typename T, typename OutT, typename Gemm>
void conv_nchw(const QConvShape& s, const T* x, T pad, OutT* y, Gemm&& gemm) {
  const int64_t hw = s.in_h * s.in_w, pixels = s.out_h() * s.out_w();
  const int64_t cg = s.in_channels / s.group, ocg = s.out_channels / s.group;
  const int64_t kdim = s.k_per_group();
  // A 1x1, stride-1, unpadded conv reads the HWC image as its GEMM operand directly.
  const bool direct = s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
                      s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 &&
                      s.pad_right == 0;
  auto image = [&](int64_t b) {
    thread_local ConvScratch sc;
    // HWC copy of the image in scratch (a plain copy for one channel), which has the slack the
    // im2col runs read past their end.
    T* xt = ConvScratch::grow<T>(sc.xt, hw * s.in_channels);
    transpose(x + b * s.in_channels * hw, s.in_channels, hw, xt);
    for (int64_t g = 0; g < s.group; ++g) {
      const T* a = xt + g * cg;
      int64_t lda = s.in_channels;
      if (!direct) {
        T* col = ConvScratch::grow<T>(sc.col, pixels * kdim);
        im2col_hwc(s, xt, g, pad, col);
        a = col;
        lda = kdim;
      }
      OutT* y_grp = y + (b * s.out_channels + g * ocg) * pixels;
      if (ocg == 1) {  // [pixels, 1] is already the output plane
        gemm(g, a, lda, y_grp, ocg);
        continue;
      }
      OutT* c = ConvScratch::grow<OutT>(sc.c, pixels * ocg);
      gemm(g, a, lda, c, ocg);
      transpose(c, pixels, ocg, y_grp);
    }
  };
  if (s.batch == 1) {
    tbb::this_task_arena::isolate([&] { image(0); });
  } else {
    tbb::parallel_for(int64_t{0}, s.batch,
                      [&](int64_t b) { tbb::this_task_arena::isolate([&] { image(b); }); });
  }
}

// ------------------------------------------------------------------ QConv

// The activation of a fused Add ("sum_activation", "sum_clip_min", "sum_clip_max").
Status read_sum_activation(const OpContext& ctx, float* lo, float* hi) {
  const std::string a = ctx.node.attr_string("sum_activation", "none");
  *lo = -kInf;
  *hi = kInf;
  if (a == "relu") {
    *lo = 0.0f;
  } else if (a == "clip") {
    *lo = ctx.node.attr_float("sum_clip_min", -kInf);
    *hi = ctx.node.attr_float("sum_clip_max", kInf);
    if (std::isnan(*lo) || std::isnan(*hi) || *lo > *hi) return ctx.invalid("bad sum clip bounds");
  } else if (a != "none") {
    return ctx.invalid("unknown sum_activation '" + a + "'");
  }
  return Status::Ok();
}

// A QConv's two output stages when it carries a fused Add (inputs 8-12): the convolution's own
// requantization (inputs 6, 7, "conv_dtype") and the Add's (operand 8 with 9, 10; output 11, 12,
// "out_dtype"). Without input 8, `sum` is left null and `conv` is the one output stage.
Status read_conv_outputs(const OpContext& ctx, OutQuant* conv, QConvSum* sum, bool* has_sum) {
  const Tensor* r = optional_input(ctx, 8);
  *has_sum = r != nullptr;
  if (!r) return read_out(ctx, conv);
  const std::string stage = ctx.node.attr_string("conv_dtype", "u8");
  if (stage != "u8" && stage != "s8") return ctx.invalid("conv_dtype must be u8 or s8, got '" + stage + "'");
  conv->type = stage == "u8" ? DType::kU8 : DType::kS8;
  QT_RETURN_IF_ERROR(positive_scale(ctx, optional_input(ctx, 6), "y_scale", &conv->scale));
  if (const Tensor* zp = optional_input(ctx, 7)) {
    if (zp->dtype() != conv->type || !scalar_like(*zp)) return ctx.invalid("y_zero_point must be a " + stage + " scalar");
    conv->zero_point = static_cast<int32_t>(zp->get_i64(0));
  }
  if (!is_q8(r->dtype())) return ctx.invalid("the Add operand has type " + dt(r->dtype()) + ", expected u8 or s8");
  sum->r = r->raw();
  sum->r_type = r->dtype();
  QT_RETURN_IF_ERROR(positive_scale(ctx, optional_input(ctx, 9), "sum_scale", &sum->r_scale));
  if (const Tensor* zp = optional_input(ctx, 10)) {
    if (zp->dtype() != r->dtype() || !scalar_like(*zp)) return ctx.invalid("sum_zero_point must match the Add operand's type");
    sum->r_zero_point = static_cast<int32_t>(zp->get_i64(0));
  }
  const std::string out = ctx.node.attr_string("out_dtype", "u8");
  if (out == "f32") {
    sum->output = QGemmOutput::kF32;
  } else if (out == "u8" || out == "s8") {
    sum->output = out == "u8" ? QGemmOutput::kU8 : QGemmOutput::kS8;
    QT_RETURN_IF_ERROR(positive_scale(ctx, optional_input(ctx, 11), "sum_y_scale", &sum->out_scale));
    if (const Tensor* zp = optional_input(ctx, 12)) {
      if (zp->dtype() != (out == "u8" ? DType::kU8 : DType::kS8) || !scalar_like(*zp)) {
        return ctx.invalid("sum_y_zero_point must be a " + out + " scalar");
      }
      sum->out_zero_point = static_cast<int32_t>(zp->get_i64(0));
    }
  } else {
    return ctx.invalid("unknown out_dtype '" + out + "'");
  }
  return read_sum_activation(ctx, &sum->clamp_min, &sum->clamp_max);
}

DType stored_type(QGemmOutput o) {
  switch (o) {
    case QGemmOutput::kU8: return DType::kU8;
    case QGemmOutput::kS8: return DType::kS8;
    case QGemmOutput::kS32: return DType::kS32;
    default: return DType::kF32;
  }
}

// [N, C, spatial...] <-> [N, spatial..., C], one image at a time.
template <typename T>
void to_channels_last(const T* x, int64_t batch, int64_t c, int64_t hw, T* y) {
  for (int64_t b = 0; b < batch; ++b) transpose(x + b * c * hw, c, hw, y + b * c * hw);
}
template <typename T>
void to_channels_first(const T* x, int64_t batch, int64_t c, int64_t hw, T* y) {
  for (int64_t b = 0; b < batch; ++b) transpose(x + b * c * hw, hw, c, y + b * c * hw);
}

// QConv runs the channels-last int8 convolution (kernels/qconv_nhwc.h); an NCHW QConv (a 1-D
// convolution, or a graph without the layout pass) is transposed around it.
Status qconv(OpContext& ctx) {
  XQuant xq;
  const Tensor *w, *w_scale, *bias;
  QT_RETURN_IF_ERROR(read_x(ctx, &xq));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "w_q", &w));
  if (w->dtype() != DType::kS8) return ctx.invalid("w_q has type " + dt(w->dtype()) + ", expected s8");
  const bool nhwc = ctx.node.attr_int("channels_last", 0) != 0;
  if (nhwc && xq.x->rank() != 4) {
    return ctx.invalid("a channels_last x must be [N, H, W, C], got " + shape_str(xq.x->shape()));
  }
  // The NCHW view of x's shape for the geometry checks (same storage, never read as NCHW).
  const Tensor x_shape =
      nhwc ? xq.x->reshaped({xq.x->dim(0), xq.x->dim(3), xq.x->dim(1), xq.x->dim(2)}) : *xq.x;
  ConvPlan plan;
  QT_RETURN_IF_ERROR(plan_conv(ctx, x_shape, *w, &plan));
  const QConvShape s = plan.s;
  const int64_t m = s.out_channels;
  QT_RETURN_IF_ERROR(read_w_scale(ctx, m, &w_scale));
  QT_RETURN_IF_ERROR(read_bias(ctx, 3, m, true, &bias));
  OutQuant oq;
  QConvSum sum;
  bool has_sum = false;
  QT_RETURN_IF_ERROR(read_conv_outputs(ctx, &oq, &sum, &has_sum));
  ActivationBounds act;
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));

  Shape out_shape = plan.out_shape;  // [N, M, spatial...]
  if (nhwc) out_shape = {out_shape[0], out_shape[2], out_shape[3], out_shape[1]};
  const DType y_type = has_sum ? stored_type(sum.output) : oq.type;
  Tensor y(y_type, out_shape);
  if (has_sum && ctx.input(8)->shape() != out_shape) {
    return ctx.invalid("the Add operand has shape " + shape_str(ctx.input(8)->shape()) +
                       ", the convolution's output " + shape_str(out_shape));
  }
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  auto pk = packed<PackedConvNhwcS8>(ctx, &xq, [&] { return pack_conv_nhwc_s8(w->data<int8_t>(), s); });
  std::vector<float> scales;
  const QGemmParams p = int8_params(ctx, xq, oq, *pk, *w_scale, bias, act.lo, act.hi, &scales);
  if (nhwc) {
    qconv2d_nhwc(s, p, has_sum ? &sum : nullptr, xq.x->raw(), pk->w, y.raw());
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  const int64_t in_hw = s.in_h * s.in_w, out_hw = s.out_h() * s.out_w();
  std::vector<uint8_t> xt(static_cast<size_t>(xq.x->numel())), rt;
  to_channels_last(static_cast<const uint8_t*>(xq.x->raw()), s.batch, s.in_channels, in_hw, xt.data());
  if (has_sum) {
    rt.resize(static_cast<size_t>(y.numel()));
    to_channels_last(static_cast<const uint8_t*>(sum.r), s.batch, m, out_hw, rt.data());
    sum.r = rt.data();
  }
  Tensor yt(y_type, {y.numel()});
  qconv2d_nhwc(s, p, has_sum ? &sum : nullptr, xt.data(), pk->w, yt.raw());
  if (y_type == DType::kF32) {
    to_channels_first(yt.data<float>(), s.batch, m, out_hw, y.data<float>());
  } else {
    to_channels_first(static_cast<const uint8_t*>(yt.raw()), s.batch, m, out_hw,
                      static_cast<uint8_t*>(y.raw()));
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ QGemm

// x [..., K] against w [K, N] (or [N, K] with trans_b): M is the product of x's leading dims.
Status qgemm_op(OpContext& ctx) {
  XQuant xq;
  const Tensor *w, *w_scale, *bias;
  OutQuant oq;
  float lo, hi;
  QT_RETURN_IF_ERROR(read_x(ctx, &xq));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "w_q", &w));
  if (w->dtype() != DType::kS8) return ctx.invalid("w_q has type " + dt(w->dtype()) + ", expected s8");
  GemmPlan g;
  QT_RETURN_IF_ERROR(plan_gemm(ctx, *xq.x, *w, &g));
  QT_RETURN_IF_ERROR(read_w_scale(ctx, g.n, &w_scale));
  QT_RETURN_IF_ERROR(read_bias(ctx, 3, g.n, true, &bias));
  QT_RETURN_IF_ERROR(read_out(ctx, &oq));
  ActivationBounds act;
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));
  lo = act.lo;
  hi = act.hi;

  Tensor y(oq.type, g.out_shape);
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  auto pk = packed<PackedWeightsS8>(ctx, &xq, [&] {
    // B[k][n] = w[k][n], or w[n][k] when transposed.
    return g.trans_b ? pack_weights_s8(w->data<int8_t>(), g.k, g.n, 1, g.k)
                     : pack_weights_s8(w->data<int8_t>(), g.k, g.n, g.n, 1);
  });
  std::vector<float> scales;
  QGemmParams p = int8_params(ctx, xq, oq, *pk, *w_scale, bias, lo, hi, &scales);
  p.M = g.m;
  if (const Tensor* ms = ctx.input(8); ms && !ms->empty()) {
    if (ms->dtype() != DType::kF32 || !scalar_like(*ms) || !(ms->data<float>()[0] > 0.0f)) {
      return ctx.invalid("mid_scale must be a positive f32 scalar");
    }
    if (bias && bias->dtype() != DType::kF32) {
      return ctx.invalid("a bias after mid_scale must be f32");
    }
    p.mid_scale = ms->data<float>()[0];
    p.mid_type = DType::kU8;
    if (const Tensor* mz = ctx.input(9); mz && !mz->empty()) {
      if (!is_q8(mz->dtype()) || !scalar_like(*mz)) {
        return ctx.invalid("mid_zero_point must be a u8 or s8 scalar");
      }
      p.mid_type = mz->dtype();
      p.mid_zero_point = static_cast<int32_t>(mz->get_i64(0));
    }
  }
  qgemm(p, xq.x->raw(), g.k, pk->w, y.raw(), g.n);
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ bf16

Status require_f32(const OpContext& ctx, const Tensor& t, const char* name) {
  if (t.dtype() == DType::kF32) return Status::Ok();
  return ctx.invalid(std::string(name) + " has type " + dt(t.dtype()) + ", expected f32");
}

Status bf16_conv(OpContext& ctx) {
  const Tensor *x, *w, *bias;
  float lo, hi;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "w", &w));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "x"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *w, "w"));
  ConvPlan plan;
  QT_RETURN_IF_ERROR(plan_conv(ctx, *x, *w, &plan));
  const QConvShape s = plan.s;
  QT_RETURN_IF_ERROR(read_bias(ctx, 2, s.out_channels, false, &bias));
  ActivationBounds act;
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));
  lo = act.lo;
  hi = act.hi;
  Tensor y(DType::kF32, plan.out_shape);
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  auto pk = packed<std::vector<PackedWeightsBF16>>(ctx, nullptr, [&] {
    return pack_conv_hwc(w->data<float>(), s, [](const float* rows, int64_t k, int64_t n) {
      return pack_weights_bf16(rows, k, n, 1, k);
    });
  });
  const int64_t ocg = s.out_channels / s.group;
  const float* bd = bias ? bias->data<float>() : nullptr;
  auto gemm = [&](int64_t g, const float* a, int64_t lda, float* c, int64_t ldc) {
    Bf16GemmParams p;
    p.M = s.out_h() * s.out_w();
    p.bias = bd ? bd + g * ocg : nullptr;
    p.clamp_min = lo;
    p.clamp_max = hi;
    gemm_bf16(p, a, lda, pk->w[static_cast<size_t>(g)], c, ldc);
  };
  conv_nchw<float, float>(s, x->data<float>(), 0.0f, y.data<float>(), gemm);
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status bf16_gemm_op(OpContext& ctx) {
  const Tensor *x, *w, *bias;
  float lo, hi;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "w", &w));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "x"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *w, "w"));
  GemmPlan g;
  QT_RETURN_IF_ERROR(plan_gemm(ctx, *x, *w, &g));
  QT_RETURN_IF_ERROR(read_bias(ctx, 2, g.n, false, &bias));
  ActivationBounds act;
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));
  lo = act.lo;
  hi = act.hi;
  Tensor y(DType::kF32, g.out_shape);
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  auto pk = packed<PackedWeightsBF16>(ctx, nullptr, [&] {
    return g.trans_b ? pack_weights_bf16(w->data<float>(), g.k, g.n, 1, g.k)
                     : pack_weights_bf16(w->data<float>(), g.k, g.n, g.n, 1);
  });
  Bf16GemmParams p;
  p.M = g.m;
  p.bias = bias ? bias->data<float>() : nullptr;
  p.clamp_min = lo;
  p.clamp_max = hi;
  gemm_bf16(p, x->data<float>(), g.k, pk->w, y.data<float>(), g.n);
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ per-tensor Q / DQ

// What is left of a QDQ graph around unfused ops (Add, Reshape, pools...) is per-tensor 8-bit
// QuantizeLinear/DequantizeLinear; these run them with AVX-512 and give the reference op's exact
// bits (f32 division, round half to even, saturation; NaN to the zero point). Every other form
// goes to the reference op itself.

constexpr int64_t kQdqGrain = 1 << 14;

// GCC 12 flags the undefined pass-through operands inside the intrinsics' own headers when they
// are inlined into target("avx512...") functions; the operands are never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

__attribute__((target("avx512f,avx512bw"))) void quantize_block_avx512(
    const float* x, int64_t n, float scale, int32_t zp, DType t, uint8_t* y) {
  const QRange r = qrange(t);
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512 lim = _mm512_set1_ps(1073741824.0f);  // saturates either way; keeps cvt in range
  const __m512 nlim = _mm512_set1_ps(-1073741824.0f);
  const __m512i vzp = _mm512_set1_epi32(zp);
  const __m512i lo = _mm512_set1_epi32(r.lo), hi = _mm512_set1_epi32(r.hi);
  const __m512i nan_value = _mm512_min_epi32(_mm512_max_epi32(vzp, lo), hi);
  // x * (1/scale) is within a few ulps of the exact quotient x / scale, so both round to the same
  // integer unless that product lies near a half-integer; only vectors with such a lane pay for
  // the division. A scale whose reciprocal is not a normal float always divides.
  const float inv = 1.0f / scale;
  const bool use_inv = std::isnormal(inv) && std::isnormal(scale);
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512 margin = _mm512_set1_ps(0x1p-21f);  // 4 ulps of the product, relative
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    __m512 q;
    if (use_inv) {
      q = _mm512_mul_ps(xv, vinv);
      const __m512 dist = _mm512_abs_ps(
          _mm512_sub_ps(q, _mm512_roundscale_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
      const __m512 slack = _mm512_mul_ps(_mm512_abs_ps(q), margin);
      // Lanes where 0.5 - dist <= slack (NaN lanes compare false and are handled below).
      if (_mm512_cmp_ps_mask(_mm512_sub_ps(half, dist), slack, _CMP_LE_OQ) != 0) {
        q = _mm512_div_ps(xv, vs);
      }
    } else {
      q = _mm512_div_ps(xv, vs);
    }
    const __mmask16 nan = _mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q);
    __m512i v = _mm512_cvt_roundps_epi32(_mm512_min_ps(_mm512_max_ps(q, nlim), lim),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, vzp), lo), hi);
    v = _mm512_mask_mov_epi32(v, nan, nan_value);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, m, v);
  }
}

__attribute__((target("avx512f,avx512bw"))) void dequantize_block_avx512(
    const uint8_t* x, int64_t n, DType t, int32_t zp, float scale, float* y) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512i vzp = _mm512_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    const __m512i v = t == DType::kU8 ? _mm512_cvtepu8_epi32(b) : _mm512_cvtepi8_epi32(b);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v, vzp)), vs));
  }
  for (; i < n; ++i) {
    const int32_t q = t == DType::kU8 ? x[i] : static_cast<int8_t>(x[i]);
    y[i] = dequantize_value(q, scale, zp);
  }
}

#pragma GCC diagnostic pop

bool avx512_qdq() {
  static const bool ok = cpu_features().avx512f && cpu_features().avx512bw;
  return ok;
}

template <typename Fn>
void for_chunks(int64_t n, Fn fn) {
  if (n <= kQdqGrain) {
    fn(0, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, kQdqGrain),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end() - r.begin()); });
}

Status fast_quantize_linear(OpContext& ctx) {
  static const OpFn* reference = KernelRegistry::instance().find("", "QuantizeLinear");
  const Tensor* x = ctx.input(0);
  const Tensor* scale = ctx.input(1);
  const Tensor* zp = ctx.input(2);
  const int64_t out_attr = ctx.node.attr_int("output_dtype", 0);
  const bool fast = avx512_qdq() && x && scale && x->dtype() == DType::kF32 &&
                    scale->dtype() == DType::kF32 && scalar_like(*scale) &&
                    ctx.node.attr_int("block_size", 0) == 0 &&
                    (zp ? scalar_like(*zp) && is_q8(zp->dtype())
                        : out_attr == 0 || out_attr == static_cast<int64_t>(DType::kU8));
  if (!fast) return (*reference)(ctx);
  const DType t = zp ? zp->dtype() : DType::kU8;
  const float s = scale->data<float>()[0];
  const int32_t z = zp ? static_cast<int32_t>(zp->get_i64(0)) : 0;
  Tensor y(t, x->shape());
  const float* xd = x->data<float>();
  auto* yd = static_cast<uint8_t*>(y.raw());
  for_chunks(x->numel(), [&](int64_t i, int64_t n) { quantize_block_avx512(xd + i, n, s, z, t, yd + i); });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status fast_dequantize_linear(OpContext& ctx) {
  static const OpFn* reference = KernelRegistry::instance().find("", "DequantizeLinear");
  const Tensor* x = ctx.input(0);
  const Tensor* scale = ctx.input(1);
  const Tensor* zp = ctx.input(2);
  const bool fast = avx512_qdq() && x && scale && is_q8(x->dtype()) &&
                    scale->dtype() == DType::kF32 && scalar_like(*scale) &&
                    ctx.node.attr_int("block_size", 0) == 0 &&
                    (!zp || (scalar_like(*zp) && zp->dtype() == x->dtype()));
  if (!fast) return (*reference)(ctx);
  const float s = scale->data<float>()[0];
  const int32_t z = zp ? static_cast<int32_t>(zp->get_i64(0)) : 0;
  Tensor y(DType::kF32, x->shape());
  const auto* xd = static_cast<const uint8_t*>(x->raw());
  float* yd = y.data<float>();
  const DType t = x->dtype();
  for_chunks(x->numel(), [&](int64_t i, int64_t n) { dequantize_block_avx512(xd + i, n, t, z, s, yd + i); });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Whole spans, on whichever path this CPU has; both give quantize_ref.h's exact results.
void dequantize_span(const uint8_t* x, int64_t n, DType t, int32_t zp, float scale, float* y) {
  if (avx512_qdq()) {
    dequantize_block_avx512(x, n, t, zp, scale, y);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    y[i] = dequantize_value(t == DType::kU8 ? x[i] : static_cast<int8_t>(x[i]), scale, zp);
  }
}

void quantize_span(const float* x, int64_t n, float scale, int32_t zp, DType t, uint8_t* y) {
  if (avx512_qdq()) {
    quantize_block_avx512(x, n, scale, zp, t, y);
    return;
  }
  const QRange r = qrange(t);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<uint8_t>(quantize_value(x[i], scale, zp, r));
}

// ------------------------------------------------------------------ QAdd

struct AddOperand {
  const Tensor* t = nullptr;
  bool q8 = false;
  bool fake = false;  // f32 with a scale: QuantizeLinear then DequantizeLinear
  DType fake_type = DType::kU8;
  float scale = 1.0f;
  int32_t zero_point = 0;

  // Elements [i, i + n) as f32: dequantized the way DequantizeLinear does it (after quantizing
  // the way QuantizeLinear does for a fake-quantized operand), or copied.
  void load(int64_t i, int64_t n, float* dst) const {
    if (fake) {
      constexpr int64_t kChunk = 1024;
      uint8_t q[kChunk];
      for (int64_t j = 0; j < n; j += kChunk) {
        const int64_t len = std::min(kChunk, n - j);
        quantize_span(t->data<float>() + i + j, len, scale, zero_point, fake_type, q);
        dequantize_span(q, len, fake_type, zero_point, scale, dst + j);
      }
    } else if (q8) {
      dequantize_span(static_cast<const uint8_t*>(t->raw()) + i, n, t->dtype(), zero_point, scale,
                      dst);
    } else {
      std::memcpy(dst, t->data<float>() + i, static_cast<size_t>(n) * sizeof(float));
    }
  }
};

Status read_operand(const OpContext& ctx, size_t i, const std::string& name, AddOperand* o) {
  QT_RETURN_IF_ERROR(require_input(ctx, i, name.c_str(), &o->t));
  const Tensor* scale = ctx.input(i + 1);
  const Tensor* zp = ctx.input(i + 2);
  if (scale && !scale->empty()) {
    if (o->t->dtype() == DType::kF32) {
      o->fake = true;
      o->fake_type = zp && !zp->empty() ? zp->dtype() : DType::kU8;
      if (!is_q8(o->fake_type)) {
        return ctx.invalid(name + "_zero_point has type " + dt(o->fake_type) +
                           ", expected u8 or s8");
      }
    } else if (!is_q8(o->t->dtype())) {
      return ctx.invalid(name + " has type " + dt(o->t->dtype()) + ", expected u8, s8 or f32 with " +
                         name + "_scale");
    }
    if (scale->dtype() != DType::kF32 || !scalar_like(*scale)) {
      return ctx.invalid(name + "_scale must be an f32 scalar, got " + dt(scale->dtype()) + " " +
                         shape_str(scale->shape()));
    }
    o->q8 = true;
    o->scale = scale->data<float>()[0];
    if (zp && !zp->empty()) {
      const DType want = o->fake ? o->fake_type : o->t->dtype();
      if (zp->dtype() != want || !scalar_like(*zp)) {
        return ctx.invalid(name + "_zero_point must be a " + dt(want) + " scalar, got " +
                           dt(zp->dtype()) + " " + shape_str(zp->shape()));
      }
      o->zero_point = static_cast<int32_t>(zp->get_i64(0));
    }
    return Status::Ok();
  }
  if (o->t->dtype() != DType::kF32) {
    return ctx.invalid(name + " has type " + dt(o->t->dtype()) + " and no scale, expected f32");
  }
  if (zp && !zp->empty()) return ctx.invalid(name + "_zero_point given without a scale");
  return Status::Ok();
}

// Relu/Clip, then the output's own type: what the Relu/Clip and QuantizeLinear nodes computed.
void finish_span(float* v, int64_t n, float lo, float hi, const OutQuant& oq, void* y, int64_t i) {
  if (lo != -kInf || hi != kInf) {
    for (int64_t k = 0; k < n; ++k) v[k] = std::min(std::max(v[k], lo), hi);
  }
  if (oq.type == DType::kF32) {
    float* dst = static_cast<float*>(y) + i;
    if (dst != v) std::memcpy(dst, v, static_cast<size_t>(n) * sizeof(float));
  } else {
    quantize_span(v, n, oq.scale, oq.zero_point, oq.type, static_cast<uint8_t*>(y) + i);
  }
}

Tensor to_f32(const AddOperand& o) {
  if (!o.q8) return *o.t;
  Tensor f(DType::kF32, o.t->shape());
  o.load(0, o.t->numel(), f.data<float>());
  return f;
}

Status qadd(OpContext& ctx) {
  AddOperand a, b;
  OutQuant oq;
  float lo, hi;
  QT_RETURN_IF_ERROR(read_operand(ctx, 0, "a", &a));
  QT_RETURN_IF_ERROR(read_operand(ctx, 3, "b", &b));
  QT_RETURN_IF_ERROR(read_out(ctx, &oq));
  ActivationBounds act;
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));
  lo = act.lo;
  hi = act.hi;
  // Fast shapes: the smaller operand, leading 1s aside, equals the larger's trailing dims (a
  // scalar, a row, a [1, T, C] position table...), so it repeats every numel(small) elements.
  const AddOperand* big = &a;
  const AddOperand* small = &b;
  if (b.t->numel() > a.t->numel()) std::swap(big, small);
  const Shape& bs = big->t->shape();
  const Shape& ss = small->t->shape();
  int64_t period = 0;  // small repeats every `period` elements of big
  if (ss == bs) {
    period = big->t->numel();
  } else if (ss.size() <= bs.size() && small->t->numel() > 0) {
    size_t lead = 0;
    while (lead < ss.size() && ss[lead] == 1) ++lead;
    const size_t tail = ss.size() - lead;
    const bool trailing = std::equal(ss.begin() + lead, ss.end(), bs.end() - tail);
    if (trailing) period = small->t->numel();
  }
  if (period == 0 || big->t->numel() == 0) {
    // Any other broadcast: the reference Add on dequantized copies (and its shape errors).
    static const OpFn* reference_add = KernelRegistry::instance().find("", "Add");
    const Tensor fa = to_f32(a), fb = to_f32(b);
    Node add = ctx.node;
    add.op_type = "Add";
    add.domain.clear();
    add.attrs.clear();
    OpContext sub{add, ctx.opset, {&fa, &fb}, {}, nullptr, {false, false}};
    sub.outputs.resize(1);
    QT_RETURN_IF_ERROR((*reference_add)(sub));
    Tensor sum = sub.outputs[0].clone();
    Tensor y(oq.type, sum.shape());
    finish_span(sum.data<float>(), sum.numel(), lo, hi, oq, y.raw(), 0);
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  std::vector<float> row;
  if (period < big->t->numel()) {  // a broadcast row: dequantize it once
    row.resize(static_cast<size_t>(period));
    small->load(0, period, row.data());
  }
  Tensor y(oq.type, bs);
  void* yd = y.raw();
  const bool f32_out = oq.type == DType::kF32;
  constexpr int64_t kBlock = 1024;
  for_chunks(big->t->numel(), [&](int64_t i0, int64_t n) {
    alignas(64) float va[kBlock], vb[kBlock];
    for (int64_t i = i0; i < i0 + n; i += kBlock) {
      const int64_t m = std::min(kBlock, i0 + n - i);
      // f32 operands are read in place and an f32 result is summed in place: no extra copies.
      float* out = f32_out ? static_cast<float*>(yd) + i : va;
      const float* pa = out;
      if (big->q8) {
        big->load(i, m, out);
      } else {
        pa = big->t->data<float>() + i;
      }
      if (row.empty()) {
        const float* pb = vb;
        if (small->q8) {
          small->load(i, m, vb);
        } else {
          pb = small->t->data<float>() + i;
        }
        for (int64_t k = 0; k < m; ++k) out[k] = pa[k] + pb[k];  // f32 addition commutes exactly
      } else if (period == 1) {  // a scalar: one run, not one per element
        const float v = row[0];
        for (int64_t k = 0; k < m; ++k) out[k] = pa[k] + v;
      } else {
        for (int64_t k = 0, off = i % period; k < m;) {
          const int64_t len = std::min(m - k, period - off);
          const float* pb = row.data() + off;
          for (int64_t j = 0; j < len; ++j) out[k + j] = pa[k + j] + pb[j];
          k += len;
          off = 0;
        }
      }
      finish_span(out, m, lo, hi, oq, yd, i);
    }
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ QLut, MaxPool (NHWC)

Status qlut(OpContext& ctx) {
  const Tensor *x, *table;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "table", &table));
  if (!is_q8(x->dtype())) return ctx.invalid("x has type " + dt(x->dtype()) + ", expected u8 or s8");
  if (!is_q8(table->dtype()) || table->numel() != 256) {
    return ctx.invalid("table must be 256 u8 or s8 values, got " + dt(table->dtype()) + " " +
                       shape_str(table->shape()));
  }
  Tensor y(table->dtype(), x->shape());
  const auto* xb = static_cast<const uint8_t*>(x->raw());
  const auto* tb = static_cast<const uint8_t*>(table->raw());
  auto* yb = static_cast<uint8_t*>(y.raw());
  for_chunks(x->numel(), [&](int64_t i, int64_t n) { lut_q8(xb + i, n, tb, yb + i); });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status maxpool_nhwc(OpContext& ctx) {
  const Tensor* x;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  if (!is_q8(x->dtype()) || x->rank() != 4) {
    return ctx.invalid("x must be a u8 or s8 [N, H, W, C] tensor, got " + dt(x->dtype()) + " " +
                       shape_str(x->shape()));
  }
  if (ctx.node.outputs.size() > 1 && !ctx.node.outputs[1].empty()) {
    return ctx.invalid("channels-last MaxPool has no Indices output");
  }
  const Shape k = ctx.node.attr_ints("kernel_shape");
  if (k.size() != 2 || k[0] < 1 || k[1] < 1) return ctx.invalid("kernel_shape must be 2 positive values");
  QT_ASSIGN_OR_RETURN(ConvGeometry geo, conv_geometry(ctx.node, {x->dim(1), x->dim(2)}, k,
                                                     ctx.node.attr_int("ceil_mode", 0) != 0));
  MaxPoolNhwcShape s;
  s.batch = x->dim(0);
  s.in_h = x->dim(1);
  s.in_w = x->dim(2);
  s.channels = x->dim(3);
  s.out_h = geo.out[0];
  s.out_w = geo.out[1];
  s.kernel_h = k[0];
  s.kernel_w = k[1];
  s.stride_h = geo.strides[0];
  s.stride_w = geo.strides[1];
  s.dilation_h = geo.dilations[0];
  s.dilation_w = geo.dilations[1];
  s.pad_top = geo.pads[0];
  s.pad_left = geo.pads[1];
  Tensor y(x->dtype(), {s.batch, s.out_h, s.out_w, s.channels});
  if (y.numel() > 0) maxpool_nhwc_q8(s, x->dtype() == DType::kS8, x->raw(), y.raw());
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Transpose between NCHW and NHWC (the layout pass's boundaries) for 1- and 4-byte elements;
// every other Transpose goes to the reference op.
Status fast_transpose(OpContext& ctx) {
  static const OpFn* reference = KernelRegistry::instance().find("", "Transpose");
  const Tensor* x = ctx.input(0);
  const std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  const bool to_last = perm == std::vector<int64_t>{0, 2, 3, 1};
  const bool to_first = perm == std::vector<int64_t>{0, 3, 1, 2};
  const size_t elem = x && x->is_tensor() ? dtype_size(x->dtype()) : 0;
  if (!x || x->rank() != 4 || (!to_last && !to_first) || (elem != 1 && elem != 4) ||
      x->dtype() == DType::kString) {
    return (*reference)(ctx);
  }
  const int64_t n = x->dim(0);
  const Shape out = to_last ? Shape{n, x->dim(2), x->dim(3), x->dim(1)}
                            : Shape{n, x->dim(3), x->dim(1), x->dim(2)};
  Tensor y(x->dtype(), out);
  // Per image: [a][b] -> [b][a] with a = C (to channels-last) or H*W.
  const int64_t a = to_last ? x->dim(1) : x->dim(1) * x->dim(2);
  const int64_t b = to_last ? x->dim(2) * x->dim(3) : x->dim(3);
  if (elem == 1) {
    to_channels_last(static_cast<const uint8_t*>(x->raw()), n, a, b, static_cast<uint8_t*>(y.raw()));
  } else {
    to_channels_last(static_cast<const uint32_t*>(x->raw()), n, a, b, static_cast<uint32_t*>(y.raw()));
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

}  // namespace

uint64_t native_weight_pack_count() { return g_pack_count.load(std::memory_order_relaxed); }

void note_native_weight_pack() { g_pack_count.fetch_add(1, std::memory_order_relaxed); }

const KernelRegistry& native_ops() {
  static const KernelRegistry* registry = [] {
    register_fused_op_schemas(kNativeDomain);
    auto* r = new KernelRegistry();
    r->add({kNativeDomain, kQConvOp, 1, 1}, qconv);
    r->add({kNativeDomain, kQGemmOp, 1, 1}, qgemm_op);
    r->add({kNativeDomain, kBf16ConvOp, 1, 1}, bf16_conv);
    r->add({kNativeDomain, kBf16GemmOp, 1, 1}, bf16_gemm_op);
    r->add({kNativeDomain, kQAddOp, 1, 1}, qadd);
    r->add({kNativeDomain, kQLutOp, 1, 1}, qlut);
    r->add({kNativeDomain, kMaxPoolNhwcOp, 1, 1}, maxpool_nhwc);
    add_native_f32_ops(r);
    // Standard ops, looked up before the reference ones by executors using this registry.
    r->add({"", "QuantizeLinear", 10}, fast_quantize_linear);
    r->add({"", "DequantizeLinear", 10}, fast_dequantize_linear);
    r->add({"", "Transpose", 1}, fast_transpose);
    return r;
  }();
  return *registry;
}

}  // namespace qtune
