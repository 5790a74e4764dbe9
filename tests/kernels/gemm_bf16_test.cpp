#include "kernels/gemm_bf16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

#include "common/dtype.h"

namespace qtune {
namespace {

const int64_t kSizes[] = {1, 3, 7, 16, 17, 63, 64, 65, 257};

TEST(Bf16GemmTest, ReferenceIsCloseToF32Product) {
  // bf16 keeps 8 significant bits: relative error per product is below 2^-8 on each operand.
  constexpr float kBf16RelativeTolerance = 1.0f / 64;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(0.5f, 1.0f);  // positive: no cancellation
  const int64_t M = 5, N = 7, K = 33;
  std::vector<float> a(M * K), w(K * N), c(M * N);
  for (auto& v : a) v = d(rng);
  for (auto& v : w) v = d(rng);
  const PackedWeightsBF16 b = pack_weights_bf16(w.data(), K, N, N, 1);
  Bf16GemmParams p;
  p.M = M;
  bf16_gemm__ref(p, a.data(), K, b, c.data(), N);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double exact = 0;
      for (int64_t k = 0; k < K; ++k) exact += static_cast<double>(a[m * K + k]) * w[k * N + n];
      EXPECT_NEAR(c[m * N + n], exact, exact * kBf16RelativeTolerance);
    }
  }
}

class Bf16GemmKernelsTest
    : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(Bf16GemmKernelsTest, EveryKernelMatchesReferenceExactly) {
  const auto kernels = bf16_gemm_available_kernels();
  if (kernels.size() == 1) GTEST_SKIP() << "CPU lacks AVX512-BF16: only the reference runs";
  const auto [M, N, K] = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(M * 1000 + N * 10 + K));
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  const int64_t lda = K + 1, ldc = N + 3;
  std::vector<float> a(M * lda), w(K * N), bias(N);
  for (auto& v : a) v = d(rng);
  for (auto& v : w) v = d(rng);
  for (auto& v : bias) v = d(rng);
  const PackedWeightsBF16 b = pack_weights_bf16(w.data(), K, N, N, 1);
  Bf16GemmParams p;
  p.M = M;
  p.bias = bias.data();
  p.clamp_min = -1.0f;
  std::vector<float> want(M * ldc, 7.0f), got(M * ldc, 7.0f);
  bf16_gemm__ref(p, a.data(), lda, b, want.data(), ldc);
  for (const auto& k : kernels) {
    std::fill(got.begin(), got.end(), 7.0f);
    k.fn(p, a.data(), lda, b, got.data(), ldc);
    ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
        << k.name << " M=" << M << " N=" << N << " K=" << K;
  }
}

INSTANTIATE_TEST_SUITE_P(OddShapes, Bf16GemmKernelsTest,
                         ::testing::Combine(::testing::ValuesIn(kSizes), ::testing::ValuesIn(kSizes),
                                            ::testing::ValuesIn(kSizes)));

}  // namespace
}  // namespace qtune
