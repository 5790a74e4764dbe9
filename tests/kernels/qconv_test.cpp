#include "kernels/qconv.h"

#include <gtest/gtest.h>

#include <random>

namespace qtune {
namespace {

// Direct convolution in int64: the oracle for both GEMM paths.
std::vector<int32_t> direct_conv(const QConvShape& s, const std::vector<uint8_t>& x, bool x_s8,
                                 int32_t x_zp, const std::vector<int8_t>& w) {
  const int64_t oh = s.out_h(), ow = s.out_w(), cg = s.in_channels / s.group;
  const int64_t ocg = s.out_channels / s.group;
  std::vector<int32_t> y(static_cast<size_t>(s.batch * s.out_channels * oh * ow));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t oc = 0; oc < s.out_channels; ++oc)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t acc = 0;
          const int64_t g = oc / ocg;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t ky = 0; ky < s.kernel_h; ++ky)
              for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
                const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
                const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
                if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
                const uint8_t raw =
                    x[((b * s.in_channels + g * cg + c) * s.in_h + iy) * s.in_w + ix];
                const int64_t xv = x_s8 ? static_cast<int8_t>(raw) : raw;
                acc += (xv - x_zp) *
                       w[((oc * cg + c) * s.kernel_h + ky) * s.kernel_w + kx];
              }
          y[((b * s.out_channels + oc) * oh + oy) * ow + ox] = static_cast<int32_t>(acc);
        }
  return y;
}

struct ConvCase {
  const char* name;
  QConvShape s;
};

class QConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(QConvTest, EveryPathMatchesDirectConvolution) {
  const QConvShape s = GetParam().s;
  std::mt19937 rng(7);
  std::vector<uint8_t> x(static_cast<size_t>(s.batch * s.in_channels * s.in_h * s.in_w));
  for (auto& v : x) v = static_cast<uint8_t>(rng() & 0xff);
  std::vector<int8_t> w(static_cast<size_t>(s.out_channels * s.k_per_group()));
  for (auto& v : w) v = static_cast<int8_t>(rng() & 0xff);
  const PackedConvWeightsS8 packed = pack_conv_weights_s8(w.data(), s);
  for (DType at : {DType::kU8, DType::kS8}) {
    const int32_t zp = at == DType::kU8 ? 131 : -3;
    const auto want = direct_conv(s, x, at == DType::kS8, zp, w);
    for (const auto& k : qconv_available_paths()) {
      QGemmParams p;
      p.a_type = at;
      p.a_zero_point = zp;
      std::vector<int32_t> got(want.size(), -1);
      k.run(s, p, x.data(), packed, got.data());
      ASSERT_EQ(got, want) << k.name << " " << GetParam().name << " " << dtype_name(at);
    }
  }
}

// Every epilogue (per-channel scale, s32 and f32 bias, mid Q->DQ, clamp, requantization to u8 /
// s8, f32 out) on every path equals im2col + the reference GEMM bit for bit.
TEST_P(QConvTest, EveryPathMatchesReferenceEpilogues) {
  const QConvShape s = GetParam().s;
  const auto paths = qconv_available_paths();
  if (paths.size() == 1) GTEST_SKIP() << "only the reference path runs on this CPU";
  std::mt19937 rng(11);
  std::vector<uint8_t> x(static_cast<size_t>(s.batch * s.in_channels * s.in_h * s.in_w));
  for (auto& v : x) v = static_cast<uint8_t>(rng() & 0xff);
  std::vector<int8_t> w(static_cast<size_t>(s.out_channels * s.k_per_group()));
  for (auto& v : w) v = static_cast<int8_t>(rng() & 0xff);
  const PackedConvWeightsS8 packed = pack_conv_weights_s8(w.data(), s);
  std::vector<int32_t> bias_s32(static_cast<size_t>(s.out_channels));
  std::vector<float> bias_f32(bias_s32.size()), scale(bias_s32.size());
  for (size_t i = 0; i < bias_s32.size(); ++i) {
    bias_s32[i] = static_cast<int32_t>(rng() % 20001) - 10000;
    bias_f32[i] = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 37.0f;
    scale[i] = 1e-4f * static_cast<float>(1 + rng() % 97);
  }
  const int64_t out_elems = s.batch * s.out_channels * s.out_h() * s.out_w();
  int variant = 0;
  for (QGemmOutput out : {QGemmOutput::kF32, QGemmOutput::kU8, QGemmOutput::kS8}) {
    for (bool mid : {false, true}) {
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
      ++variant;
      const size_t bytes = static_cast<size_t>(out_elems) * (out == QGemmOutput::kF32 ? 4 : 1);
      std::vector<uint8_t> want(bytes, 0xcd);
      paths.back().run(s, p, x.data(), packed, want.data());
      for (const auto& k : paths) {
        std::vector<uint8_t> got(bytes, 0xab);
        k.run(s, p, x.data(), packed, got.data());
        ASSERT_EQ(got, want) << k.name << " " << GetParam().name << " variant " << variant;
      }
    }
  }
}

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
  s.pad_top = s.pad_left = pad;
  s.pad_bottom = s.pad_right = pad;
  s.group = group;
  s.dilation_h = s.dilation_w = dil;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, QConvTest,
    ::testing::Values(ConvCase{"pointwise", shape(2, 17, 5, 6, 33, 1, 1, 0, 1)},
                      ConvCase{"3x3_padded", shape(3, 7, 9, 8, 16, 3, 1, 1, 1)},
                      ConvCase{"3x3_strided", shape(1, 5, 11, 10, 65, 3, 2, 1, 1)},
                      ConvCase{"5x5_lenet", shape(2, 1, 28, 28, 6, 5, 1, 0, 1)},
                      ConvCase{"grouped", shape(2, 8, 7, 7, 12, 3, 1, 1, 4)},
                      ConvCase{"depthwise", shape(2, 16, 6, 6, 16, 3, 2, 1, 16)},
                      ConvCase{"dilated", shape(1, 3, 10, 10, 4, 3, 1, 2, 1, 2)},
                      ConvCase{"patchify_7x7_s7", shape(2, 1, 28, 28, 64, 7, 7, 0, 1)},
                      ConvCase{"stem_k9_n16", shape(3, 1, 28, 28, 16, 3, 2, 1, 1)},
                      ConvCase{"odd_channels_k27_n17", shape(2, 3, 13, 11, 17, 3, 1, 1, 1)},
                      ConvCase{"n1_k1", shape(1, 1, 7, 9, 1, 1, 1, 0, 1)},
                      ConvCase{"many_pixels_n63", shape(1, 7, 40, 41, 63, 3, 1, 1, 1)},
                      ConvCase{"n65_k257", shape(2, 257, 3, 3, 65, 1, 1, 0, 1)},
                      ConvCase{"asym_pad_s3", shape(2, 5, 17, 19, 7, 5, 3, 2, 1)}),
    [](const ::testing::TestParamInfo<ConvCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace qtune
