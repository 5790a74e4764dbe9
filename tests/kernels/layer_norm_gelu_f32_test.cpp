// The fp32 LayerNorm rows and GELU (exact and tanh) kernels against double-precision formulas, on row
// lengths around the vector width, with and without bias, and the AVX-512 paths where the CPU
// has them.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/erf_f32.h"
#include "kernels/layer_norm_f32.h"

namespace qtune {
namespace {

using LayerNormFn = void (*)(const float*, float*, int64_t, int64_t, const float*, const float*,
                             float);

void check_layer_norm(LayerNormFn fn, int64_t rows, int64_t cols, bool with_bias, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-3.0f, 5.0f);
  std::vector<float> x(static_cast<size_t>(rows * cols)), scale(static_cast<size_t>(cols)),
      bias(static_cast<size_t>(cols)), y(x.size(), NAN);
  for (auto* v : {&x, &scale, &bias}) {
    for (auto& e : *v) e = d(rng);
  }
  const float eps = 1e-5f;
  fn(x.data(), y.data(), rows, cols, scale.data(), with_bias ? bias.data() : nullptr, eps);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < cols; ++j) mean += x[static_cast<size_t>(r * cols + j)];
    mean /= static_cast<double>(cols);
    for (int64_t j = 0; j < cols; ++j) {
      const double c = x[static_cast<size_t>(r * cols + j)] - mean;
      var += c * c;
    }
    var /= static_cast<double>(cols);
    for (int64_t j = 0; j < cols; ++j) {
      const size_t i = static_cast<size_t>(r * cols + j);
      const double want = (x[i] - mean) / std::sqrt(var + eps) * scale[static_cast<size_t>(j)] +
                          (with_bias ? bias[static_cast<size_t>(j)] : 0.0);
      ASSERT_NEAR(y[i], want, 2e-5 * (std::fabs(want) + 1.0))
          << "rows " << rows << " cols " << cols << " at " << r << "," << j;
    }
  }
}

TEST(LayerNormF32, MatchesDoubleFormula) {
  for (int64_t cols : {1, 5, 16, 17, 64, 100, 768}) {
    for (bool b : {false, true}) {
      check_layer_norm(f32_layer_norm_rows__ref, 3, cols, b, 1);
      check_layer_norm(layer_norm_rows_f32, 3, cols, b, 2);
      if (cpu_features().avx512f) check_layer_norm(f32_layer_norm_rows__avx512, 4, cols, b, 3);
    }
  }
}

TEST(LayerNormF32, ConstantRowGivesBias) {
  const std::vector<float> x(20, 2.5f), scale(20, 3.0f), bias(20, -1.0f);
  std::vector<float> y(20);
  layer_norm_rows_f32(x.data(), y.data(), 1, 20, scale.data(), bias.data(), 1e-5f);
  for (float v : y) EXPECT_FLOAT_EQ(v, -1.0f);
}

TEST(GeluF32, MatchesErfFormula) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.01f) x.push_back(v);
  x.push_back(NAN);
  std::vector<float> y(x.size()), r(x.size());
  gelu_f32(x.data(), y.data(), static_cast<int64_t>(x.size()));
  f32_gelu__ref(x.data(), r.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    const double want = 0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0)));
    ASSERT_NEAR(y[i], want, 1e-6 * (std::fabs(want) + 1.0)) << "x " << x[i];
    ASSERT_NEAR(r[i], want, 1e-6 * (std::fabs(want) + 1.0)) << "x " << x[i];
  }
  EXPECT_TRUE(std::isnan(y.back()));
  EXPECT_TRUE(std::isnan(r.back()));
}

TEST(GeluF32, TanhFormMatchesItsFormula) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.01f) x.push_back(v);
  std::vector<float> y(x.size()), r(x.size());
  gelu_tanh_f32(x.data(), y.data(), static_cast<int64_t>(x.size()));
  f32_gelu_tanh__ref(x.data(), r.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double want = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    ASSERT_NEAR(y[i], want, 2e-6 * (std::fabs(want) + 1.0)) << "x " << x[i];
    ASSERT_NEAR(r[i], want, 2e-6 * (std::fabs(want) + 1.0)) << "x " << x[i];
  }
}

}  // namespace
}  // namespace qtune
