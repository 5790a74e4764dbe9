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
    for (const auto& k : qgemm_available_kernels()) {
      QGemmParams p;
      p.a_type = at;
      p.a_zero_point = zp;
      std::vector<int32_t> got(want.size(), -1);
      qconv2d(s, p, x.data(), packed, got.data(), k);
      ASSERT_EQ(got, want) << k.name << " " << GetParam().name << " " << dtype_name(at);
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
                      ConvCase{"patchify_7x7_s7", shape(2, 1, 28, 28, 64, 7, 7, 0, 1)}),
    [](const ::testing::TestParamInfo<ConvCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace qtune
