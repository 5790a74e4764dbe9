#include "kernels/qgemm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <tuple>

namespace qtune {
namespace {

// Odd sizes around the 12-row tile, the 32-column block and the 4-wide k group.
const int64_t kSizes[] = {1, 3, 7, 16, 17, 63, 64, 65, 257};

struct Case {
  int64_t M, N, K;
  DType a_type;
  QGemmOutput output;
  bool per_channel;
  bool with_bias;
  bool transposed;
  DType mid = DType::kUndefined;  // u8/s8: round to that grid before the f32 bias
};

std::vector<uint8_t> random_bytes(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(rng));
  return v;
}

// Runs `kernel` and the reference on identical inputs; results must match bit for bit.
void expect_same_as_ref(const QGemmKernel& kernel, const Case& c) {
  std::mt19937 rng(static_cast<uint32_t>(c.M * 131 + c.N * 17 + c.K));
  const int64_t lda = c.K + 3;  // a stride wider than K catches stride bugs
  auto a = random_bytes(static_cast<size_t>(c.M * lda), rng);
  auto w_bytes = random_bytes(static_cast<size_t>(c.K * c.N), rng);
  std::vector<int8_t> w(w_bytes.begin(), w_bytes.end());
  PackedWeightsS8 b = pack_weights_s8(w.data(), c.K, c.N, c.N, 1);

  std::vector<float> scale(static_cast<size_t>(c.N)), bias_f(static_cast<size_t>(c.N));
  std::vector<int32_t> bias_i(static_cast<size_t>(c.N));
  std::uniform_real_distribution<float> sd(1e-4f, 2e-3f), bd(-1.0f, 1.0f);
  for (int64_t n = 0; n < c.N; ++n) {
    scale[n] = sd(rng);
    bias_f[n] = bd(rng);
    bias_i[n] = static_cast<int32_t>(rng() % 20001) - 10000;
  }
  QGemmParams p;
  p.M = c.M;
  p.a_type = c.a_type;
  p.a_zero_point = c.a_type == DType::kU8 ? 128 + static_cast<int32_t>(rng() % 9) - 4 : 3;
  p.output = c.output;
  p.scale = scale.data();
  p.per_channel_scale = c.per_channel;
  if (c.with_bias) {
    p.bias_s32 = bias_i.data();
    p.bias_f32 = bias_f.data();
    p.clamp_min = 0.0f;  // fused Relu
  }
  p.out_scale = 0.05f;
  p.out_zero_point = c.output == QGemmOutput::kU8 ? 10 : -5;
  p.c_transposed = c.transposed;
  if (c.mid != DType::kUndefined) {
    p.mid_scale = 0.02f;
    p.mid_type = c.mid;
    p.mid_zero_point = c.mid == DType::kU8 ? 120 : -3;
  }

  const size_t elem = c.output == QGemmOutput::kS32 || c.output == QGemmOutput::kF32 ? 4 : 1;
  const int64_t ldc = c.transposed ? c.M + 1 : c.N + 2;
  const size_t c_bytes = static_cast<size_t>((c.transposed ? c.N : c.M) * ldc) * elem;
  std::vector<uint8_t> want(c_bytes, 0xAB), got(c_bytes, 0xAB);
  qgemm_u8s8__ref(p, a.data(), lda, b, want.data(), ldc);
  kernel.fn(p, a.data(), lda, b, got.data(), ldc);
  ASSERT_EQ(0, std::memcmp(want.data(), got.data(), c_bytes))
      << kernel.name << " M=" << c.M << " N=" << c.N << " K=" << c.K;
}

TEST(QGemmTest, PackingKeepsEveryWeightAndColumnSum) {
  std::vector<int8_t> w(17 * 33);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i * 7 - 100);
  PackedWeightsS8 b = pack_weights_s8(w.data(), 17, 33, 1, 17);  // [N,K] storage
  int32_t sum0 = 0;
  for (int64_t k = 0; k < 17; ++k) {
    for (int64_t n = 0; n < 33; ++n) EXPECT_EQ(packed_weight_at(b, k, n), w[n * 17 + k]);
    sum0 += w[k];
  }
  EXPECT_EQ(b.col_sum[0], sum0);
  EXPECT_EQ(b.k_padded, 20);
  EXPECT_EQ(b.n_padded, 64);
  EXPECT_EQ(packed_weight_at(b, 18, 40), 0);
}

TEST(QGemmTest, ReferenceMatchesHandComputedValues) {
  // A = [[1, 2], [3, 4]] (u8, zp 1), B = [[1, -1], [2, 0]] -> (A - 1) x B = [[2, 0], [8, -2]]
  const uint8_t a[] = {1, 2, 3, 4};
  const int8_t w[] = {1, -1, 2, 0};
  PackedWeightsS8 b = pack_weights_s8(w, 2, 2, 2, 1);
  QGemmParams p;
  p.M = 2;
  p.a_zero_point = 1;
  int32_t c[4];
  qgemm_u8s8__ref(p, a, 2, b, c, 2);
  EXPECT_EQ(c[0], 2);
  EXPECT_EQ(c[1], 0);
  EXPECT_EQ(c[2], 8);
  EXPECT_EQ(c[3], -2);
  // Requantize to u8 with scale 1, out_scale 4: 8/4 = 2, -2/4 = -0.5 -> 0, 2/4 = 0.5 -> 0 (ties
  // go to even).
  const float one = 1.0f;
  p.output = QGemmOutput::kU8;
  p.scale = &one;
  p.out_scale = 4.0f;
  uint8_t q[4];
  qgemm_u8s8__ref(p, a, 2, b, q, 2);
  EXPECT_EQ(q[2], 2);
  EXPECT_EQ(q[3], 0);
  EXPECT_EQ(q[0], 0);
  // s8 output, out_scale 4/3: ties at +-1.5 go to the even +-2.
  p.output = QGemmOutput::kS8;
  p.out_scale = 4.0f / 3.0f;
  int8_t s[4];
  qgemm_u8s8__ref(p, a, 2, b, s, 2);
  EXPECT_EQ(s[0], 2);   // 2 * 0.75 = 1.5 -> 2
  EXPECT_EQ(s[2], 6);   // 8 * 0.75 = 6
  EXPECT_EQ(s[3], -2);  // -2 * 0.75 = -1.5 -> -2
  // Rounded to a u8 grid of step 4 first (2 -> 0.5 -> 0, 8 -> 2, -2 -> 0 saturated), back to
  // f32, then the f32 bias.
  const float bias[] = {1.0f, 2.0f};
  p.output = QGemmOutput::kF32;
  p.mid_scale = 4.0f;
  p.mid_type = DType::kU8;
  p.bias_f32 = bias;
  float f[4];
  qgemm_u8s8__ref(p, a, 2, b, f, 2);
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[1], 2.0f);
  EXPECT_EQ(f[2], 9.0f);
  EXPECT_EQ(f[3], 2.0f);
}

class QGemmKernelsTest : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(QGemmKernelsTest, EveryKernelMatchesReferenceExactly) {
  const auto kernels = qgemm_available_kernels();
  if (kernels.size() == 1) GTEST_SKIP() << "CPU lacks AVX-512 VNNI: only the reference runs";
  const auto [M, N, K] = GetParam();
  for (const auto& k : kernels) {
    if (std::string(k.name) == "qgemm_u8s8__ref") continue;
    for (DType at : {DType::kU8, DType::kS8}) {
      for (QGemmOutput out :
           {QGemmOutput::kS32, QGemmOutput::kF32, QGemmOutput::kU8, QGemmOutput::kS8}) {
        expect_same_as_ref(k, {M, N, K, at, out, true, true, false});
      }
      expect_same_as_ref(k, {M, N, K, at, QGemmOutput::kU8, false, false, true});
      expect_same_as_ref(k, {M, N, K, at, QGemmOutput::kF32, true, true, true});
      expect_same_as_ref(k, {M, N, K, at, QGemmOutput::kF32, true, true, false, DType::kU8});
      expect_same_as_ref(k, {M, N, K, at, QGemmOutput::kU8, false, true, false, DType::kS8});
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OddShapes, QGemmKernelsTest,
                         ::testing::Combine(::testing::ValuesIn(kSizes), ::testing::ValuesIn(kSizes),
                                            ::testing::ValuesIn(kSizes)));

}  // namespace
}  // namespace qtune
