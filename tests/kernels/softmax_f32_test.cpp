#include "kernels/softmax_f32.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

// The polynomial exp is within a few ulp of std::exp; a row's normalisation adds one rounding
// per element summed: relative error per output well under 1e-6 for rows up to a few thousand.
constexpr float kRelTol = 2e-6f;

void check(void (*fn)(const float*, float*, int64_t, int64_t), const std::vector<float>& x,
           int64_t rows, int64_t n) {
  std::vector<float> want(x.size()), got(x.size());
  f32_softmax_rows__ref(x.data(), want.data(), rows, n);
  fn(x.data(), got.data(), rows, n);
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << "at " << i;
      continue;
    }
    ASSERT_NEAR(got[i], want[i], kRelTol * std::fabs(want[i]) + 1e-30f) << "n=" << n << " at " << i;
  }
}

TEST(SoftmaxF32, Avx512MatchesReference) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "no AVX-512F on this CPU: the kernel cannot run";
  std::mt19937 rng(3);
  for (int64_t n : {1, 2, 15, 16, 17, 31, 64, 100, 1000}) {
    for (float scale : {1.0f, 30.0f, 200.0f}) {
      std::uniform_real_distribution<float> d(-scale, scale);
      const int64_t rows = 5;
      std::vector<float> x(static_cast<size_t>(rows * n));
      for (auto& v : x) v = d(rng);
      check(f32_softmax_rows__avx512, x, rows, n);
      check(softmax_rows_f32, x, rows, n);
    }
  }
}

TEST(SoftmaxF32, InfinitiesAndNaNLikeTheReference) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  // -inf elements (masked attention) give exactly 0; a +inf or a NaN makes the row NaN; a row
  // of -inf only is NaN (-inf - -inf).
  const std::vector<float> x = {1.0f, -inf, 2.0f, -inf,  //
                                inf, 0.0f, 1.0f, 2.0f,   //
                                nan, 0.0f, 1.0f, 2.0f,   //
                                -inf, -inf, -inf, -inf};
  std::vector<float> got(x.size());
  softmax_rows_f32(x.data(), got.data(), 4, 4);
  EXPECT_EQ(got[1], 0.0f);
  EXPECT_EQ(got[3], 0.0f);
  EXPECT_NEAR(got[0] + got[2], 1.0f, 1e-6f);
  for (int i = 4; i < 16; ++i) EXPECT_TRUE(std::isnan(got[i])) << i;
  if (cpu_features().avx512f) check(f32_softmax_rows__avx512, x, 4, 4);
}

TEST(SoftmaxF32, InPlace) {
  std::vector<float> x = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f,
                          12.0f, 13.0f, 14.0f, 15.0f, 16.0f, 17.0f};
  std::vector<float> want(x.size());
  f32_softmax_rows__ref(x.data(), want.data(), 1, 18);
  softmax_rows_f32(x.data(), x.data(), 1, 18);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], want[i], kRelTol * want[i]) << i;
}

}  // namespace
}  // namespace qtune
