#include "kernels/quantize_ref.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/gemm_s8_ref.h"

namespace qtune {
namespace {

TEST(QuantizeRefTest, TiesRoundToEven) {
  EXPECT_EQ(round_half_even(2.5f), 2.0f);
  EXPECT_EQ(round_half_even(3.5f), 4.0f);
  EXPECT_EQ(round_half_even(-2.5f), -2.0f);
  EXPECT_EQ(round_half_even(-3.5f), -4.0f);
  EXPECT_EQ(round_half_even(0.5f), 0.0f);
  EXPECT_EQ(round_half_even(1.5f), 2.0f);
  EXPECT_EQ(round_half_even(2.4999998f), 2.0f);
  EXPECT_EQ(round_half_even(2.5000002f), 3.0f);
  EXPECT_EQ(round_half_even(-0.7f), -1.0f);
  EXPECT_EQ(round_half_even(8388609.0f), 8388609.0f);  // 2^23 + 1: no fraction left
  EXPECT_EQ(round_half_even(2.5), 2.0);                // double twin
  EXPECT_EQ(round_half_even(-5.5), -6.0);
}

TEST(QuantizeRefTest, QuantizeValueRoundsTheQuotientThenAddsZeroPoint) {
  const QRange u8 = qrange(DType::kU8);
  EXPECT_EQ(quantize_value(5.0f, 2.0f, 128, u8), 130);   // 2.5 -> 2
  EXPECT_EQ(quantize_value(7.0f, 2.0f, 128, u8), 132);   // 3.5 -> 4
  EXPECT_EQ(quantize_value(-5.0f, 2.0f, 128, u8), 126);  // -2.5 -> -2
  EXPECT_EQ(quantize_value(-254.0f, 2.0f, 128, u8), 1);
}

TEST(QuantizeRefTest, Saturates) {
  const QRange u8 = qrange(DType::kU8), s8 = qrange(DType::kS8);
  EXPECT_EQ(quantize_value(1000.0f, 2.0f, 128, u8), 255);
  EXPECT_EQ(quantize_value(-1000.0f, 2.0f, 128, u8), 0);
  EXPECT_EQ(quantize_value(1000.0f, 1.0f, 0, s8), 127);
  EXPECT_EQ(quantize_value(-1000.0f, 1.0f, 0, s8), -128);
  EXPECT_EQ(quantize_value(127.5f, 1.0f, 0, s8), 127);  // rounds to 128, then saturates
  EXPECT_EQ(quantize_value(1e30f, 1e-30f, 0, s8), 127);  // quotient is inf
  EXPECT_EQ(quantize_value(3e9f, 1.0f, 0, qrange(DType::kS32)),
            std::numeric_limits<int32_t>::max());
  EXPECT_EQ(quantize_value(std::nanf(""), 1.0f, 7, s8), 7);  // NaN -> zero point
}

TEST(QuantizeRefTest, DequantizeAndRequantize) {
  EXPECT_FLOAT_EQ(dequantize_value(0, 2.0f, 128), -256.0f);
  EXPECT_FLOAT_EQ(dequantize_value(255, 2.0f, 128), 254.0f);
  EXPECT_FLOAT_EQ(dequantize_value(-128, 0.5f, -128), 0.0f);
  const QRange u8 = qrange(DType::kU8);
  EXPECT_EQ(requantize_value(5, 0.5f, 10, u8), 12);    // 2.5 -> 2
  EXPECT_EQ(requantize_value(7, 0.5f, 10, u8), 14);    // 3.5 -> 4
  EXPECT_EQ(requantize_value(-5, 0.5f, 10, u8), 8);    // -2.5 -> -2
  EXPECT_EQ(requantize_value(1 << 30, 1.0f, 0, u8), 255);
  EXPECT_EQ(requantize_value(-(1 << 30), 1.0f, 0, u8), 0);
}

TEST(QuantizeRefTest, PerChannelQuantizeUsesTheMiddleAxis) {
  // [outer=2, channels=3, inner=2]
  const std::vector<float> x = {1, 3, 2, 6, 4, 10, -1, -3, -2, -6, -4, -10};
  const std::vector<float> scale = {2.0f, 4.0f, 8.0f};
  const std::vector<int32_t> zp = {0, 10, -5};
  std::vector<int8_t> y(x.size());
  QuantizeDesc d;
  d.outer = 2;
  d.channels = 3;
  d.inner = 2;
  d.x = x.data();
  d.y = y.data();
  d.y_type = DType::kS8;
  d.q = {scale.data(), zp.data(), true};
  q8_quantize_f32__ref(d);
  // 1/2=0.5->0, 3/2=1.5->2 | 2/4=.5->0 +10, 6/4=1.5->2 +10 | 4/8=.5->0 -5, 10/8=1.25->1 -5
  EXPECT_EQ(y, (std::vector<int8_t>{0, 2, 10, 12, -5, -4, 0, -2, 10, 8, -5, -6}));

  std::vector<float> back(x.size());
  DequantizeDesc dq;
  dq.outer = 2;
  dq.channels = 3;
  dq.inner = 2;
  dq.x = y.data();
  dq.x_type = DType::kS8;
  dq.y = back.data();
  dq.q = {scale.data(), zp.data(), true};
  q8_dequantize_f32__ref(dq);
  EXPECT_EQ(back, (std::vector<float>{0, 4, 0, 8, 0, 8, 0, -4, 0, -8, 0, -8}));
}

TEST(QuantizeRefTest, PerTensorParamsIgnoreTheChannel) {
  const std::vector<float> x = {-1.0f, 0.0f, 1.0f, 2.0f};
  const float scale = 0.5f;
  const int32_t zp = 3;
  std::vector<uint8_t> y(4);
  QuantizeDesc d;
  d.channels = 4;
  d.x = x.data();
  d.y = y.data();
  d.y_type = DType::kU8;
  d.q = {&scale, &zp, false};
  q8_quantize_f32__ref(d);
  EXPECT_EQ(y, (std::vector<uint8_t>{1, 3, 5, 7}));
}

TEST(QuantizeRefTest, RequantizeAddsBiasPerChannel) {
  const std::vector<int32_t> acc = {10, 20, 10, 20};  // [channels=2, inner=2]
  const std::vector<int32_t> bias = {5, -25};
  const std::vector<float> mult = {0.1f, 1.0f};
  std::vector<int8_t> y(4);
  RequantizeDesc d;
  d.channels = 2;
  d.inner = 2;
  d.acc = acc.data();
  d.bias = bias.data();
  d.multiplier = mult.data();
  d.per_channel = true;
  d.y_zero_point = -1;
  d.y = y.data();
  d.y_type = DType::kS8;
  qs32_requantize_q8__ref(d);
  // (15*.1=1.5->2)-1, (25*.1=2.5->2)-1, -15-1, -5-1
  EXPECT_EQ(y, (std::vector<int8_t>{1, 1, -16, -6}));
}

// ---------------------------------------------------------------- qs8_gemm__ref

template <typename T>
std::vector<T> random_bytes(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(std::numeric_limits<T>::min(),
                                          std::numeric_limits<T>::max());
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(dist(rng));
  return v;
}

// Straightforward int64 oracle, wrapped to s32 at the end.
template <typename TA, typename TB>
std::vector<int32_t> naive(const std::vector<TA>& a, const std::vector<TB>& b, int64_t m,
                           int64_t n, int64_t k, const std::vector<int32_t>& azp,
                           const std::vector<int32_t>& bzp) {
  std::vector<int32_t> c(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t p = 0; p < k; ++p) {
        s += (int64_t{a[i * k + p]} - azp[azp.size() == 1 ? 0 : i]) *
             (int64_t{b[p * n + j]} - bzp[bzp.size() == 1 ? 0 : j]);
      }
      c[i * n + j] = static_cast<int32_t>(static_cast<uint32_t>(s));
    }
  }
  return c;
}

template <typename TA, typename TB>
void check_gemm_types(DType at, DType bt) {
  std::mt19937 rng(42);
  const int64_t m = 5, n = 7, k = 13;
  auto a = random_bytes<TA>(m * k, rng);
  auto b = random_bytes<TB>(k * n, rng);
  for (bool per_line : {false, true}) {
    std::vector<int32_t> azp = per_line ? std::vector<int32_t>{1, 2, 3, 4, 5} : std::vector<int32_t>{7};
    std::vector<int32_t> bzp = per_line ? std::vector<int32_t>{-3, -2, -1, 0, 1, 2, 3}
                                        : std::vector<int32_t>{-4};
    std::vector<int32_t> c(m * n, -1);
    QGemmDesc d;
    d.m = m;
    d.n = n;
    d.k = k;
    d.a_type = at;
    d.a = a.data();
    d.lda = k;
    d.b_type = bt;
    d.b = b.data();
    d.ldb = n;
    d.c = c.data();
    d.ldc = n;
    d.a_zero_point = azp[0];
    d.b_zero_point = bzp[0];
    if (per_line) {
      d.a_zero_points = azp.data();
      d.b_zero_points = bzp.data();
    }
    ASSERT_TRUE(qgemm_desc_valid(d));
    qs8_gemm__ref(d);
    EXPECT_EQ(c, naive(a, b, m, n, k, azp, bzp)) << "per_line=" << per_line;
  }
}

TEST(GemmS8RefTest, AllTypeCombinationsMatchTheNaiveProduct) {
  check_gemm_types<uint8_t, int8_t>(DType::kU8, DType::kS8);
  check_gemm_types<uint8_t, uint8_t>(DType::kU8, DType::kU8);
  check_gemm_types<int8_t, int8_t>(DType::kS8, DType::kS8);
  check_gemm_types<int8_t, uint8_t>(DType::kS8, DType::kU8);
}

TEST(GemmS8RefTest, HandComputedWithZeroPoints) {
  // The ONNX MatMulInteger example: A - 12, B - 0.
  const std::vector<uint8_t> a = {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0};
  const std::vector<uint8_t> b = {1, 4, 2, 5, 3, 6};
  std::vector<int32_t> c(8);
  QGemmDesc d;
  d.m = 4;
  d.n = 2;
  d.k = 3;
  d.a_type = DType::kU8;
  d.a = a.data();
  d.lda = 3;
  d.b_type = DType::kU8;
  d.b = b.data();
  d.ldb = 2;
  d.c = c.data();
  d.ldc = 2;
  d.a_zero_point = 12;
  qs8_gemm__ref(d);
  EXPECT_EQ(c, (std::vector<int32_t>{-38, -83, -44, -98, -50, -113, -56, -128}));
}

TEST(GemmS8RefTest, LeadingDimensionsAndAccumulate) {
  // 2x2 blocks inside 2x3 / 2x4 buffers.
  const std::vector<int8_t> a = {1, 2, 99, 3, 4, 99};
  const std::vector<int8_t> b = {1, 0, 99, 99, 0, 1, 99, 99};
  std::vector<int32_t> c = {10, 10, 77, 10, 10, 77};
  QGemmDesc d;
  d.m = d.n = d.k = 2;
  d.a_type = d.b_type = DType::kS8;
  d.a = a.data();
  d.lda = 3;
  d.b = b.data();
  d.ldb = 4;
  d.c = c.data();
  d.ldc = 3;
  d.accumulate = true;
  qs8_gemm__ref(d);
  EXPECT_EQ(c, (std::vector<int32_t>{11, 12, 77, 13, 14, 77}));
}

TEST(GemmS8RefTest, AccumulationWrapsInThirtyTwoBits) {
  const int64_t k = 40000;  // 40000 * 255 * 255 > 2^31
  std::vector<uint8_t> a(k, 255), b(k, 255);
  int32_t c = 0;
  QGemmDesc d;
  d.m = d.n = 1;
  d.k = k;
  d.a_type = d.b_type = DType::kU8;
  d.a = a.data();
  d.lda = k;
  d.b = b.data();
  d.ldb = 1;
  d.c = &c;
  d.ldc = 1;
  qs8_gemm__ref(d);
  EXPECT_EQ(c, static_cast<int32_t>(static_cast<uint32_t>(int64_t{40000} * 255 * 255)));
}

TEST(GemmS8RefTest, DescriptorValidation) {
  QGemmDesc d;
  d.m = d.n = d.k = 2;
  EXPECT_FALSE(qgemm_desc_valid(d));  // no buffers
  d.a_type = DType::kF32;
  EXPECT_FALSE(qgemm_desc_valid(d));
  QGemmDesc empty;
  EXPECT_TRUE(qgemm_desc_valid(empty));
}

}  // namespace
}  // namespace qtune
