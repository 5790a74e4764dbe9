#include "kernels/qconv_nhwc.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "kernels/quantize_ref.h"

namespace qtune {
namespace {

// Direct convolution in int64 on NHWC x and OIHW weights: the oracle for the reference path.
std::vector<int32_t> direct_conv(const QConvShape& s, const std::vector<uint8_t>& x, bool x_s8,
                                 int32_t x_zp, const std::vector<int8_t>& w) {
  const int64_t oh = s.out_h(), ow = s.out_w(), cg = s.in_channels / s.group;
  const int64_t ocg = s.out_channels / s.group;
  std::vector<int32_t> y(static_cast<size_t>(s.batch * oh * ow * s.out_channels));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t oc = 0; oc < s.out_channels; ++oc) {
          int64_t acc = 0;
          const int64_t g = oc / ocg;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t ky = 0; ky < s.kernel_h; ++ky)
              for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
                const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
                const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
                if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
                const uint8_t raw = x[((b * s.in_h + iy) * s.in_w + ix) * s.in_channels + g * cg + c];
                const int64_t xv = x_s8 ? static_cast<int8_t>(raw) : raw;
                acc += (xv - x_zp) * w[((oc * cg + c) * s.kernel_h + ky) * s.kernel_w + kx];
              }
          y[((b * oh + oy) * ow + ox) * s.out_channels + oc] = static_cast<int32_t>(acc);
        }
  return y;
}

struct ConvCase {
  const char* name;
  QConvShape s;
};

QConvShape shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t k, int64_t stride,
                 int64_t pad, int64_t group, int64_t dil = 1) {
  QConvShape s;
  s.batch = n;
  s.in_channels = c;
  s.in_h = h;
  s.in_w = w;
  s.out_channels = oc;
  s.kernel_h = s.kernel_w = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = pad;
  s.group = group;
  s.dilation_h = s.dilation_w = dil;
  return s;
}

QConvShape asymmetric() {
  QConvShape s = shape(2, 12, 9, 13, 20, 3, 1, 0, 1);
  s.kernel_h = 2;
  s.kernel_w = 5;
  s.stride_h = 2;
  s.stride_w = 3;
  s.pad_top = 0;
  s.pad_bottom = 3;
  s.pad_left = 2;
  s.pad_right = 1;
  s.dilation_h = 2;
  s.dilation_w = 1;
  return s;
}

// Random NHWC input and OIHW weights for shape s (from one generator seeded `seed`), the weights
// packed.
struct ConvData {
  std::vector<uint8_t> x;
  std::vector<int8_t> w;
  PackedConvNhwcS8 packed;
  ConvData() = default;
  ConvData(const QConvShape& s, unsigned seed) {
    std::mt19937 rng(seed);
    x.resize(static_cast<size_t>(s.batch * s.in_h * s.in_w * s.in_channels));
    for (auto& v : x) v = static_cast<uint8_t>(rng() & 0xff);
    w.resize(static_cast<size_t>(s.out_channels * s.k_per_group()));
    for (auto& v : w) v = static_cast<int8_t>(rng() & 0xff);
    packed = pack_conv_nhwc_s8(w.data(), s);
  }
};

class QConvNhwcTest : public ::testing::TestWithParam<ConvCase>, protected ConvData {
 protected:
  void SetUp() override { static_cast<ConvData&>(*this) = ConvData(GetParam().s, 7); }
};

TEST_P(QConvNhwcTest, EveryKernelMatchesDirectConvolution) {
  const QConvShape& s = GetParam().s;
  for (DType at : {DType::kU8, DType::kS8}) {
    for (int32_t zp : at == DType::kU8 ? std::vector<int32_t>{0, 131, 255} : std::vector<int32_t>{-128, -3, 127}) {
      const auto want = direct_conv(s, x, at == DType::kS8, zp, w);
      for (const auto& k : qconv_nhwc_available_kernels()) {
        QGemmParams p;
        p.a_type = at;
        p.a_zero_point = zp;
        std::vector<int32_t> got(want.size(), -1);
        k.fn(s, p, nullptr, x.data(), packed, got.data());
        ASSERT_EQ(got, want) << k.name << " " << GetParam().name << " " << dtype_name(at) << " zp "
                             << zp;
      }
    }
  }
}

// Every epilogue (per-channel or per-tensor scale, s32 and f32 bias, mid Q->DQ, clamp,
// requantization to u8 / s8, f32 out, a fused residual Add into u8 / s8 / f32) on every kernel
// equals the reference bit for bit.
TEST_P(QConvNhwcTest, EveryKernelMatchesReferenceEpilogues) {
  const QConvShape& s = GetParam().s;
  const auto kernels = qconv_nhwc_available_kernels();
  if (kernels.size() == 1) GTEST_SKIP() << "only the reference kernel runs on this CPU";
  std::mt19937 rng(11);
  std::vector<int32_t> bias_s32(static_cast<size_t>(s.out_channels));
  std::vector<float> bias_f32(bias_s32.size()), scale(bias_s32.size());
  for (size_t i = 0; i < bias_s32.size(); ++i) {
    bias_s32[i] = static_cast<int32_t>(rng() % 20001) - 10000;
    bias_f32[i] = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 37.0f;
    scale[i] = 1e-4f * static_cast<float>(1 + rng() % 97);
  }
  const int64_t out_elems = s.batch * s.out_h() * s.out_w() * s.out_channels;
  std::vector<uint8_t> residual(static_cast<size_t>(out_elems));
  for (auto& v : residual) v = static_cast<uint8_t>(rng() & 0xff);
  int variant = 0;
  for (QGemmOutput out : {QGemmOutput::kF32, QGemmOutput::kU8, QGemmOutput::kS8}) {
    for (int tail = 0; tail < 4; ++tail) {  // 0: plain, 1: mid Q->DQ, 2/3: fused Add
      if (tail >= 2 && out == QGemmOutput::kF32) continue;
      const bool mid = tail == 1;
      QGemmParams p;
      p.a_type = variant % 2 ? DType::kS8 : DType::kU8;
      p.a_zero_point = p.a_type == DType::kU8 ? 120 : 5;
      p.output = out;
      p.scale = scale.data();
      p.per_channel_scale = variant % 3 != 0;
      p.bias_s32 = mid ? nullptr : bias_s32.data();
      p.bias_f32 = mid ? bias_f32.data() : nullptr;
      p.mid_scale = mid ? 0.05f : 0.0f;
      p.mid_zero_point = mid ? 3 : 0;
      p.clamp_min = variant % 2 ? 0.0f : -50.0f;
      p.clamp_max = 40.0f;
      p.out_scale = 0.2f;
      p.out_zero_point = out == QGemmOutput::kU8 ? 100 : -7;
      QConvSum sum;
      sum.r = residual.data();
      sum.r_type = tail == 2 ? DType::kU8 : DType::kS8;
      sum.r_scale = 0.15f;
      sum.r_zero_point = tail == 2 ? 128 : -4;
      sum.clamp_min = tail == 2 ? 0.0f : -std::numeric_limits<float>::infinity();
      sum.clamp_max = tail == 2 ? 6.0f : std::numeric_limits<float>::infinity();
      sum.output = tail == 2 ? QGemmOutput::kU8 : (variant % 2 ? QGemmOutput::kS8 : QGemmOutput::kF32);
      sum.out_scale = 0.3f;
      sum.out_zero_point = sum.output == QGemmOutput::kU8 ? 17 : 2;
      const QConvSum* sp = tail >= 2 ? &sum : nullptr;
      ++variant;
      const QGemmOutput stored = sp ? sum.output : out;
      const size_t bytes = static_cast<size_t>(out_elems) * (stored == QGemmOutput::kF32 ? 4 : 1);
      std::vector<uint8_t> want(bytes, 0xcd);
      kernels.back().fn(s, p, sp, x.data(), packed, want.data());
      for (const auto& k : kernels) {
        std::vector<uint8_t> got(bytes, 0xab);
        k.fn(s, p, sp, x.data(), packed, got.data());
        ASSERT_EQ(got, want) << k.name << " " << GetParam().name << " variant " << variant;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, QConvNhwcTest,
    ::testing::Values(
        ConvCase{"pointwise_in_place", shape(2, 16, 5, 6, 33, 1, 1, 0, 1)},
        ConvCase{"pointwise_stride2_in_place", shape(2, 32, 7, 7, 64, 1, 2, 0, 1)},
        ConvCase{"3x3_unpadded_in_place", shape(1, 8, 9, 8, 17, 3, 1, 0, 1)},
        ConvCase{"3x3_padded", shape(3, 16, 9, 8, 16, 3, 1, 1, 1)},
        ConvCase{"3x3_strided_n65", shape(1, 20, 11, 10, 65, 3, 2, 1, 1)},
        ConvCase{"3x3_n130_batch1", shape(1, 24, 6, 7, 130, 3, 1, 1, 1)},
        ConvCase{"odd_channels_c9", shape(2, 9, 8, 7, 33, 3, 1, 1, 1)},
        ConvCase{"odd_channels_c13_n7", shape(1, 13, 6, 6, 7, 3, 2, 1, 1)},
        ConvCase{"dense_c1_5x5", shape(2, 1, 28, 28, 6, 5, 1, 0, 1)},
        ConvCase{"dense_c1_stem_s2", shape(3, 1, 28, 28, 16, 3, 2, 1, 1)},
        ConvCase{"dense_c3_7x7_s2", shape(1, 3, 23, 21, 64, 7, 2, 3, 1)},
        ConvCase{"dense_c3_n80", shape(1, 3, 9, 9, 80, 3, 1, 1, 1)},
        ConvCase{"dense_c6_dilated", shape(1, 6, 12, 12, 10, 3, 1, 2, 1, 2)},
        ConvCase{"rows_in_place_c2", shape(2, 2, 6, 7, 5, 2, 1, 0, 1)},
        ConvCase{"patchify_7x7_s7", shape(2, 1, 28, 28, 64, 7, 7, 0, 1)},
        ConvCase{"grouped_cg4", shape(2, 8, 7, 7, 12, 3, 1, 1, 2)},
        ConvCase{"grouped_cg3_dense", shape(2, 12, 7, 7, 8, 3, 1, 1, 4)},
        ConvCase{"grouped_cg9", shape(1, 18, 5, 6, 6, 3, 2, 1, 2)},
        ConvCase{"depthwise_s1", shape(2, 16, 6, 6, 16, 3, 1, 1, 16)},
        ConvCase{"depthwise_s2_c20", shape(1, 20, 9, 7, 20, 3, 2, 1, 20)},
        ConvCase{"depthwise_dilated_5x5", shape(1, 37, 11, 11, 37, 5, 1, 4, 37, 2)},
        ConvCase{"depthwise_multiplier2", shape(1, 8, 6, 6, 16, 3, 1, 1, 8)},
        // Whole-row kernels: rows beyond four (two row groups), wide rows (several tiles), a
        // single image row, and channels that are not whole blocks.
        ConvCase{"depthwise_5x5_s2", shape(2, 48, 13, 11, 48, 5, 2, 2, 48)},
        ConvCase{"depthwise_7x7_s1", shape(1, 16, 9, 10, 16, 7, 1, 3, 16)},
        ConvCase{"depthwise_3x3_wide", shape(1, 32, 5, 29, 32, 3, 1, 1, 32)},
        ConvCase{"depthwise_3x3_one_row", shape(2, 24, 1, 9, 24, 3, 1, 1, 24)},
        ConvCase{"depthwise_c16_s2", shape(2, 16, 8, 19, 16, 3, 2, 1, 16)},
        // 32 channels at a time, then a whole or partial block left over.
        ConvCase{"depthwise_c40_pairs", shape(2, 40, 7, 12, 40, 3, 1, 1, 40)},
        ConvCase{"depthwise_c72_pairs_s2", shape(1, 72, 9, 9, 72, 3, 2, 1, 72)},
        ConvCase{"depthwise_7x7_c40_pairs_s2", shape(1, 40, 11, 13, 40, 7, 2, 3, 40)},
        ConvCase{"depthwise_5x5_c64_pairs", shape(2, 64, 7, 15, 64, 5, 1, 2, 64)},
        // 64 channels at a time (lane-transposed), then 32 and 16 left over; partial tiles.
        ConvCase{"depthwise_c176_quads", shape(2, 176, 6, 13, 176, 3, 1, 1, 176)},
        ConvCase{"depthwise_c96_quads_s2", shape(1, 96, 12, 11, 96, 3, 2, 1, 96)},
        ConvCase{"depthwise_7x7_c128_quads", shape(1, 128, 9, 10, 128, 7, 1, 3, 128)},
        ConvCase{"depthwise_5x5_c64_quads_s2", shape(2, 64, 11, 9, 64, 5, 2, 2, 64)},
        // At most 24 output channels: tiles of 16 pixels in the lanes, across row ends where the
        // map is read as one run, within rows elsewhere; 16-byte chunks whole and partial.
        // (Taps under 16 bytes and maps under 16 pixels wide keep the standard tiles.)
        ConvCase{"lanes_pointwise_n16", shape(2, 32, 12, 12, 16, 1, 1, 0, 1)},
        ConvCase{"lanes_pointwise_n24_rows_wrap", shape(1, 40, 7, 9, 24, 1, 1, 0, 1)},
        ConvCase{"lanes_pointwise_n17_k20", shape(2, 20, 5, 11, 17, 1, 1, 0, 1)},
        ConvCase{"lanes_3x3_n20_wide", shape(1, 20, 5, 37, 20, 3, 1, 1, 1)},
        ConvCase{"lanes_grouped_n7", shape(2, 32, 6, 20, 14, 3, 1, 1, 2)},
        ConvCase{"lanes_pointwise_s2_n12_k56", shape(1, 56, 9, 40, 12, 1, 2, 0, 1)},
        ConvCase{"lanes_5x5_n4", shape(1, 16, 8, 22, 4, 5, 1, 2, 1)},
        ConvCase{"lanes_panels_n72", shape(1, 16, 4, 20, 72, 1, 1, 0, 1)},
        ConvCase{"dilated", shape(1, 12, 10, 10, 4, 3, 1, 2, 1, 2)},
        // Pads wider than the kernel: outputs whose windows miss the image entirely.
        ConvCase{"pad_beyond_kernel", shape(2, 8, 3, 4, 20, 3, 1, 3, 1)},
        ConvCase{"depthwise_pad_beyond_kernel", shape(1, 32, 2, 3, 32, 3, 2, 4, 32)},
        ConvCase{"pointwise_padded_s8", shape(1, 24, 4, 5, 48, 1, 1, 1, 1)},
        ConvCase{"n1_k1", shape(1, 1, 7, 9, 1, 1, 1, 0, 1)},
        ConvCase{"many_pixels_n63", shape(1, 8, 40, 41, 63, 3, 1, 1, 1)},
        ConvCase{"k257_n65", shape(2, 257, 3, 3, 65, 1, 1, 0, 1)},
        ConvCase{"uneven_panels_n200", shape(2, 16, 5, 6, 200, 1, 1, 0, 1)},
        ConvCase{"asym_pad_stride_dilation", asymmetric()},
        // Small maps at batches that fill tiles of several images (u8 in place; s8 takes the
        // per-image path): whole and partial tiles, 1-4 blocks and several panels, padded and
        // unpadded windows, windows wholly in the padding, groups.
        ConvCase{"image_lanes_4x4_c64", shape(8, 64, 4, 4, 64, 3, 1, 1, 1)},
        ConvCase{"image_lanes_7x7_s2", shape(13, 32, 7, 7, 32, 3, 2, 1, 1)},
        ConvCase{"image_lanes_pointwise_s2", shape(14, 32, 7, 7, 48, 1, 2, 0, 1)},
        ConvCase{"image_lanes_n130", shape(9, 24, 5, 5, 130, 3, 1, 1, 1)},
        ConvCase{"image_lanes_grouped", shape(12, 8, 5, 5, 12, 3, 1, 1, 2)},
        ConvCase{"image_lanes_pad_beyond_kernel", shape(25, 8, 3, 4, 20, 3, 1, 3, 1)}),
    [](const ::testing::TestParamInfo<ConvCase>& i) { return std::string(i.param.name); });

// Requantization multipliers (scale / output scale) large enough that s32 x multiplier leaves the
// s32 range: the outputs saturate, on every kernel as on the reference (the fast epilogues,
// which convert to s32 unclamped, must not run then). Standard, lane and depthwise tiles.
TEST(QConvNhwcEpilogueTest, LargeMultipliersSaturateLikeTheReference) {
  const auto kernels = qconv_nhwc_available_kernels();
  if (kernels.size() == 1) GTEST_SKIP() << "only the reference kernel runs on this CPU";
  for (const QConvShape& s : {shape(1, 32, 6, 20, 64, 1, 1, 0, 1), shape(1, 32, 6, 20, 16, 1, 1, 0, 1),
                              shape(1, 64, 6, 20, 64, 3, 1, 1, 64)}) {
    const ConvData d(s, 5);
    std::vector<float> scale(static_cast<size_t>(s.out_channels), 4.0f);
    for (QGemmOutput out : {QGemmOutput::kU8, QGemmOutput::kS8}) {
      QGemmParams p;
      p.a_type = DType::kU8;
      p.a_zero_point = 3;
      p.output = out;
      p.scale = scale.data();
      p.per_channel_scale = true;
      p.out_scale = 1e-6f;
      p.out_zero_point = out == QGemmOutput::kU8 ? 10 : -2;
      const size_t n = static_cast<size_t>(s.batch * s.out_h() * s.out_w() * s.out_channels);
      std::vector<uint8_t> want(n, 0xcd);
      kernels.back().fn(s, p, nullptr, d.x.data(), d.packed, want.data());
      int saturated = 0;
      for (uint8_t v : want) saturated += v == (out == QGemmOutput::kU8 ? 255 : 127);
      ASSERT_GT(saturated, static_cast<int>(n / 4)) << "the case must reach past the s32 range";
      for (const auto& k : kernels) {
        std::vector<uint8_t> got(n, 0xab);
        k.fn(s, p, nullptr, d.x.data(), d.packed, got.data());
        ASSERT_EQ(got, want) << k.name << " " << s.out_channels << " channels, group " << s.group;
      }
    }
  }
}

TEST(QConvNhwcPackingTest, LayoutFollowsTheShape) {
  std::vector<int8_t> w(64 * 64 * 9, 1);
  EXPECT_EQ(pack_conv_nhwc_s8(w.data(), shape(1, 64, 8, 8, 64, 3, 1, 1, 1)).layout,
            QConvNhwcLayout::kTaps);
  EXPECT_EQ(pack_conv_nhwc_s8(w.data(), shape(1, 3, 8, 8, 64, 3, 1, 1, 1)).layout,
            QConvNhwcLayout::kRowTaps);
  EXPECT_EQ(pack_conv_nhwc_s8(w.data(), shape(1, 6, 8, 8, 64, 3, 1, 1, 2)).layout,
            QConvNhwcLayout::kDense);
  EXPECT_EQ(pack_conv_nhwc_s8(w.data(), shape(1, 3, 8, 8, 64, 3, 1, 2, 1, 2)).layout,
            QConvNhwcLayout::kDense);
  EXPECT_EQ(pack_conv_nhwc_s8(w.data(), shape(1, 32, 8, 8, 32, 3, 1, 1, 32)).layout,
            QConvNhwcLayout::kDepthwise);
  // 130 output channels (9 blocks of 16 lanes, the last one mostly padding): the fewest panels,
  // blocks shared out evenly, 48 + 48 + 48 lanes.
  const PackedConvNhwcS8 p = pack_conv_nhwc_s8(w.data(), shape(1, 8, 8, 8, 130, 3, 1, 1, 1));
  ASSERT_EQ(p.panels.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p.panels[i].blocks, 3);
    EXPECT_EQ(p.panels[i].oc0, static_cast<int64_t>(48 * i));
  }
  // 208 channels (13 blocks): 4 + 3 + 3 + 3, never a lone block.
  const PackedConvNhwcS8 q = pack_conv_nhwc_s8(w.data(), shape(1, 8, 8, 8, 208, 1, 1, 0, 1));
  ASSERT_EQ(q.panels.size(), 4u);
  EXPECT_EQ(q.panels[0].blocks, 4);
  EXPECT_EQ(q.panels[3].blocks, 3);
  EXPECT_EQ(q.panels[3].oc0, 160);
}

}  // namespace
}  // namespace qtune
