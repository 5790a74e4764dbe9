#include "kernels/qconv_nhwc.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu_features.h"
#include "kernels/qgemm_epilogue.h"

namespace qtune {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

QConvNhwcLayout choose_layout(const QConvShape& s) {
  const int64_t cg = s.in_channels / s.group, ocg = s.out_channels / s.group;
  if (cg == 1 && ocg == 1) return QConvNhwcLayout::kDepthwise;
  // Up to 7 channels: rounding each tap up to 4 would multiply mostly padding (4x for grey
  // input, 1.33x for RGB).
  if (cg % 4 != 0 && cg < 8) {
    return s.group == 1 && s.dilation_w == 1 ? QConvNhwcLayout::kRowTaps : QConvNhwcLayout::kDense;
  }
  return QConvNhwcLayout::kTaps;
}

std::shared_ptr<int8_t> aligned_zeros(int64_t bytes) {
  const size_t n = static_cast<size_t>(round_up(bytes, 64) + 64);
  void* mem = std::aligned_alloc(64, n);
  if (!mem) throw std::bad_alloc();
  std::memset(mem, 0, n);
  return std::shared_ptr<int8_t>(static_cast<int8_t*>(mem), [](int8_t* p) { std::free(p); });
}

// The scalar epilogue of one output element: the GEMM's (qgemm_epilogue.h), then the fused Add.
void store_nhwc(const QGemmParams& p, const QConvSum* sum, int32_t acc, int64_t pixel, int64_t n,
                int64_t channels, const void* r, void* y) {
  if (!sum) {
    qgemm_detail::store_one(p, acc, pixel, n, y, channels);
    return;
  }
  const int64_t idx = pixel * channels + n;
  const int32_t q = saturate_round(qgemm_detail::dequantize_acc(p, acc, n) * (1.0f / p.out_scale),
                                   p.out_zero_point,
                                   qrange(p.output == QGemmOutput::kU8 ? DType::kU8 : DType::kS8));
  const auto* rb = static_cast<const uint8_t*>(r);
  const int32_t rq = sum->r_type == DType::kU8 ? rb[idx] : static_cast<int8_t>(rb[idx]);
  float v = dequantize_value(q, p.out_scale, p.out_zero_point) +
            dequantize_value(rq, sum->r_scale, sum->r_zero_point);
  v = std::min(std::max(v, sum->clamp_min), sum->clamp_max);
  switch (sum->output) {
    case QGemmOutput::kF32: static_cast<float*>(y)[idx] = v; break;
    case QGemmOutput::kU8:
      static_cast<uint8_t*>(y)[idx] = static_cast<uint8_t>(
          quantize_value(v, sum->out_scale, sum->out_zero_point, qrange(DType::kU8)));
      break;
    default:
      static_cast<int8_t*>(y)[idx] = static_cast<int8_t>(
          quantize_value(v, sum->out_scale, sum->out_zero_point, qrange(DType::kS8)));
      break;
  }
}

}  // namespace

PackedConvNhwcS8 pack_conv_nhwc_s8(const int8_t* w, const QConvShape& s) {
  PackedConvNhwcS8 pk;
  pk.layout = choose_layout(s);
  pk.group = s.group;
  pk.cg = s.in_channels / s.group;
  pk.ocg = s.out_channels / s.group;
  pk.kernel_h = s.kernel_h;
  pk.kernel_w = s.kernel_w;
  const int64_t taps = pk.taps();
  pk.col_sum.assign(static_cast<size_t>(s.out_channels), 0);
  auto weight = [&](int64_t oc, int64_t tap, int64_t c) {
    return w[(oc * pk.cg + c) * taps + tap];  // OIHW with (ky, kx) flattened to tap
  };
  if (pk.layout != QConvNhwcLayout::kDense) {
    pk.tap_sum.assign(static_cast<size_t>(taps * s.out_channels), 0);
  }
  for (int64_t oc = 0; oc < s.out_channels; ++oc) {
    int32_t sum = 0;
    for (int64_t t = 0; t < taps; ++t) {
      int32_t tap = 0;
      for (int64_t c = 0; c < pk.cg; ++c) tap += weight(oc, t, c);
      if (!pk.tap_sum.empty()) pk.tap_sum[static_cast<size_t>(t * s.out_channels + oc)] = tap;
      sum += tap;
    }
    pk.col_sum[static_cast<size_t>(oc)] = sum;
  }
  if (pk.layout == QConvNhwcLayout::kDepthwise) {
    const int64_t cpad = round_up(s.out_channels, 16);
    pk.k_tap = 1;
    pk.k_padded = taps;
    pk.data = aligned_zeros(taps * cpad * 4);
    auto* d = reinterpret_cast<int32_t*>(pk.data.get());
    for (int64_t t = 0; t < taps; ++t) {
      for (int64_t c = 0; c < s.out_channels; ++c) d[t * cpad + c] = weight(c, t, 0);
    }
    const int64_t row_groups = (s.kernel_h + 3) / 4;
    pk.dw_rows = aligned_zeros(row_groups * s.kernel_w * cpad * 4);
    int8_t* r = pk.dw_rows.get();
    const int64_t whole64 = s.out_channels / 64 * 64;
    for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
      for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
        for (int64_t c = 0; c < s.out_channels; ++c) {
          const int64_t slot = c < whole64 ? dw_lane_transposed(c) : c;
          r[(((ky / 4) * s.kernel_w + kx) * cpad + slot) * 4 + ky % 4] = weight(c, ky * s.kernel_w + kx, 0);
        }
      }
    }
    return pk;
  }
  const bool dense = pk.layout == QConvNhwcLayout::kDense;
  const bool rows = pk.layout == QConvNhwcLayout::kRowTaps;
  pk.k_tap = dense ? pk.cg : round_up(rows ? s.kernel_w * pk.cg : pk.cg, 4);
  pk.k_padded = rows ? s.kernel_h * pk.k_tap : round_up(taps * pk.k_tap, 4);
  // Blocks shared out evenly over the fewest panels that hold them (144 channels: 3 + 3 + 3, not
  // 4 + 4 + 1): a one-block panel broadcasts one input word per multiply-add and sets up twelve
  // row pointers for every 16 channels, three blocks cost hardly more per channel than four.
  const int64_t blocks_total = (pk.ocg + 15) / 16;
  const int64_t n_panels = (blocks_total + kQConvMaxPanelBlocks - 1) / kQConvMaxPanelBlocks;
  int64_t offset = 0, oc0 = 0;
  for (int64_t i = 0; i < n_panels; ++i) {
    const int blocks = static_cast<int>(blocks_total / n_panels + (i < blocks_total % n_panels ? 1 : 0));
    pk.panels.push_back({oc0, blocks, offset});
    offset += pk.k_padded * blocks * 16;
    oc0 += blocks * 16;
  }
  pk.group_bytes = offset;
  pk.data = aligned_zeros(pk.group_bytes * pk.group);
  for (int64_t g = 0; g < pk.group; ++g) {
    for (const auto& p : pk.panels) {
      int8_t* d = pk.data.get() + g * pk.group_bytes + p.offset;
      const int64_t lanes = p.blocks * 16;
      for (int64_t o = 0; o < std::min<int64_t>(lanes, pk.ocg - p.oc0); ++o) {
        const int64_t oc = g * pk.ocg + p.oc0 + o;
        for (int64_t t = 0; t < taps; ++t) {
          for (int64_t c = 0; c < pk.cg; ++c) {
            const int64_t k = pk.k_index(t, c);
            d[(k / 4) * lanes * 4 + o * 4 + k % 4] = weight(oc, t, c);
          }
        }
      }
    }
  }
  return pk;
}

int8_t PackedConvNhwcS8::at(int64_t oc, int64_t tap, int64_t c) const {
  if (layout == QConvNhwcLayout::kDepthwise) {
    const int64_t cpad = round_up(group, 16);
    return static_cast<int8_t>(reinterpret_cast<const int32_t*>(data.get())[tap * cpad + oc]);
  }
  const int64_t g = oc / ocg, o = oc % ocg;
  const int64_t k = k_index(tap, c);
  for (const Panel& p : panels) {
    if (o < p.oc0 + p.blocks * 16) {
      return panel_data(g, p)[(k / 4) * p.blocks * 64 + (o - p.oc0) * 4 + k % 4];
    }
  }
  return 0;
}

void qconv_nhwc_u8s8__ref(const QConvShape& s, const QGemmParams& p, const QConvSum* sum,
                          const void* x, const PackedConvNhwcS8& w, void* y) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  const int64_t cg = s.in_channels / s.group, ocg = s.out_channels / s.group;
  const bool is_s8 = p.a_type == DType::kS8;
  const auto* xb = static_cast<const uint8_t*>(x);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t pixel = (b * oh + oy) * ow + ox;
        for (int64_t oc = 0; oc < s.out_channels; ++oc) {
          const int64_t g = oc / ocg;
          int64_t acc = 0;
          for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
            const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
            if (iy < 0 || iy >= s.in_h) continue;  // padding: (zero point - zero point) * w
            for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
              const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
              if (ix < 0 || ix >= s.in_w) continue;
              const uint8_t* px = xb + ((b * s.in_h + iy) * s.in_w + ix) * s.in_channels + g * cg;
              for (int64_t c = 0; c < cg; ++c) {
                const int64_t xv = is_s8 ? static_cast<int8_t>(px[c]) : px[c];
                acc += (xv - p.a_zero_point) * w.at(oc, ky * s.kernel_w + kx, c);
              }
            }
          }
          if (p.bias_s32) acc += p.bias_s32[oc];
          // int32 accumulators wrap in every path; C++20 defines this conversion as modular.
          store_nhwc(p, sum, static_cast<int32_t>(acc), pixel, oc, s.out_channels,
                     sum ? sum->r : nullptr, y);
        }
      }
    }
  }
}

std::vector<QConvNhwcKernel> qconv_nhwc_available_kernels() {
  std::vector<QConvNhwcKernel> out;
  const CpuFeatures& f = cpu_features();
  if (f.avx512vnni && f.avx512bw) {
    out.push_back({"qconv_nhwc_u8s8__avx512vnni", qconv_nhwc_u8s8__avx512vnni});
  }
  out.push_back({"qconv_nhwc_u8s8__ref", qconv_nhwc_u8s8__ref});
  return out;
}

const QConvNhwcKernel& qconv_nhwc_kernel() {
  static const QConvNhwcKernel k = qconv_nhwc_available_kernels().front();
  return k;
}

std::string qconv_nhwc_path_name(const PackedConvNhwcS8& w, const QConvShape& s) {
  const QConvNhwcKernel& k = qconv_nhwc_kernel();
  if (k.fn != qconv_nhwc_u8s8__avx512vnni) return k.name;
  switch (w.layout) {
    case QConvNhwcLayout::kDepthwise: return "qconv_nhwc_depthwise_16c__avx512vnni";
    case QConvNhwcLayout::kDense:
    case QConvNhwcLayout::kRowTaps:
    case QConvNhwcLayout::kTaps: {
      const int blocks = w.panels.empty() ? 1 : w.panels.front().blocks;
      // Lane tiles need 16 pixels evenly spaced: a map read as one run (1x1, stride 1, no
      // padding) or rows of 16 pixels between the padded borders.
      const bool one_run = s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 &&
                           s.stride_w == 1 && !s.pad_top && !s.pad_left && !s.pad_bottom &&
                           !s.pad_right;
      const bool rows_fit = s.out_w() - s.pad_left - s.pad_right >= kQConvLanePixels;
      const int lanes = w.layout == QConvNhwcLayout::kDense || w.panels.empty() ||
                                !(one_run || rows_fit)
                            ? 0
                            : qconv_nhwc_lane_channels(w.ocg, blocks, w.k_tap);
      if (lanes) {
        return std::string("qconv_nhwc_") +
               (w.layout == QConvNhwcLayout::kRowTaps ? "rows_" : "taps_") + "lanes" +
               std::to_string(kQConvLanePixels) + "x" + std::to_string(lanes) + "__avx512vnni";
      }
      return std::string("qconv_nhwc_") +
             (w.layout == QConvNhwcLayout::kDense     ? "dense_"
              : w.layout == QConvNhwcLayout::kRowTaps ? "rows_"
                                                       : "taps_") +
             std::to_string(qconv_nhwc_tile_rows(blocks)) + "x" + std::to_string(blocks * 16) +
             "__avx512vnni";
    }
  }
  return k.name;
}

}  // namespace qtune
