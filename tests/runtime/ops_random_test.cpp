// Random generators checked by statistics: sample moments and ranges of RandomUniform/Normal and
// their *Like forms, Bernoulli frequencies per probability, Multinomial class frequencies; plus
// seeding (same seed, same values; fresh values without one), output types and error cases.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/op_util.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

constexpr int64_t kSamples = 200000;

struct Moments {
  double mean = 0, var = 0, min = INFINITY, max = -INFINITY;
};

Moments moments(const Tensor& t) {
  Moments m;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.get_f64(i);
    m.mean += v;
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
  }
  m.mean /= t.numel();
  for (int64_t i = 0; i < t.numel(); ++i)
    m.var += (t.get_f64(i) - m.mean) * (t.get_f64(i) - m.mean);
  m.var /= t.numel() - 1;
  return m;
}

Tensor run_one(const Node& node, std::vector<const Tensor*> in = {}) {
  auto out = run_node(node, std::move(in));
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? (*out)[0] : Tensor();
}

TEST(OpsRandomTest, UniformMomentsAndRange) {
  for (int64_t dtype : {1, 11, 10}) {
    SCOPED_TRACE(dtype);
    Tensor t = run_one(make_node("RandomUniform", 0, 1,
                                 {{"shape", attr_ints({kSamples / 4, 4})},
                                  {"low", attr_float(-2.0f)},
                                  {"high", attr_float(3.0f)},
                                  {"dtype", attr_int(dtype)},
                                  {"seed", attr_float(1.0f)}}));
    ASSERT_EQ(t.shape(), (Shape{kSamples / 4, 4}));
    const Moments m = moments(t);
    EXPECT_NEAR(m.mean, 0.5, 0.02);
    EXPECT_NEAR(m.var, 25.0 / 12.0, 0.03);
    EXPECT_GE(m.min, -2.0);
    EXPECT_LE(m.max, 3.0);
    EXPECT_LT(m.min, -1.99);
    EXPECT_GT(m.max, 2.99);
  }
}

TEST(OpsRandomTest, NormalMomentsAndOneSigmaMass) {
  Tensor t = run_one(make_node("RandomNormal", 0, 1,
                               {{"shape", attr_ints({kSamples})},
                                {"mean", attr_float(1.0f)},
                                {"scale", attr_float(2.0f)},
                                {"dtype", attr_int(11)},
                                {"seed", attr_float(2.0f)}}));
  ASSERT_EQ(t.dtype(), DType::kF64);
  const Moments m = moments(t);
  EXPECT_NEAR(m.mean, 1.0, 0.02);
  EXPECT_NEAR(std::sqrt(m.var), 2.0, 0.02);
  int64_t within = 0;
  for (int64_t i = 0; i < t.numel(); ++i) within += std::fabs(t.get_f64(i) - 1.0) < 2.0;
  EXPECT_NEAR(static_cast<double>(within) / kSamples, 0.6827, 0.005);
}

TEST(OpsRandomTest, SeedMakesRunsReproducible) {
  auto node = [](float seed) {
    return make_node("RandomNormal", 0, 1,
                     {{"shape", attr_ints({3, 70000})}, {"seed", attr_float(seed)}});
  };
  const auto a = values<float>(run_one(node(5.0f)));
  const auto b = values<float>(run_one(node(5.0f)));
  const auto c = values<float>(run_one(node(5.5f)));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const Node unseeded = make_node("RandomUniform", 0, 1, {{"shape", attr_ints({64})}});
  EXPECT_NE(values<float>(run_one(unseeded)), values<float>(run_one(unseeded)));
}

TEST(OpsRandomTest, LikeFormsTakeShapeAndType) {
  Tensor ints(DType::kS32, {kSamples / 8, 8});
  Tensor t = run_one(
      make_node("RandomUniformLike", 1, 1, {{"dtype", attr_int(11)}, {"seed", attr_float(3.0f)}}),
      {&ints});
  ASSERT_EQ(t.dtype(), DType::kF64);
  ASSERT_EQ(t.shape(), ints.shape());
  EXPECT_NEAR(moments(t).mean, 0.5, 0.01);
  Tensor halves(DType::kF16, {kSamples});
  Tensor n = run_one(make_node("RandomNormalLike", 1, 1,
                               {{"scale", attr_float(0.5f)}, {"seed", attr_float(4.0f)}}),
                     {&halves});
  ASSERT_EQ(n.dtype(), DType::kF16);
  EXPECT_NEAR(moments(n).mean, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(moments(n).var), 0.5, 0.01);
  // An integer input without a dtype attribute would make an integer output: not allowed.
  auto bad = run_node(make_node("RandomNormalLike", 1), {&ints}, kLatestOpset, false);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
}

TEST(OpsRandomTest, RejectsBadAttributes) {
  for (const Node& node :
       {make_node("RandomUniform", 0, 1, {}),
        make_node("RandomUniform", 0, 1, {{"shape", attr_ints({2, -1})}}),
        make_node("RandomUniform", 0, 1,
                  {{"shape", attr_ints({2})}, {"low", attr_float(2)}, {"high", attr_float(1)}}),
        make_node("RandomNormal", 0, 1, {{"shape", attr_ints({2})}, {"dtype", attr_int(6)}})}) {
    auto out = run_node(node, {}, kLatestOpset, false);
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidInput) << out.status().message();
  }
}

TEST(OpsRandomTest, BernoulliFrequencyFollowsEachProbability) {
  // Three regions: p = 0.3, p = 0 and p = 1.
  Tensor p(DType::kF32, {3, kSamples / 2});
  for (int64_t i = 0; i < p.numel(); ++i) {
    p.data<float>()[i] = i < kSamples / 2 ? 0.3f : i < kSamples ? 0.0f : 1.0f;
  }
  Tensor out = run_one(make_node("Bernoulli", 1, 1, {{"seed", attr_float(7.0f)}}), {&p});
  ASSERT_EQ(out.dtype(), DType::kF32);
  double ones = 0, zeros_region = 0, ones_region = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    const float v = out.data<float>()[i];
    ASSERT_TRUE(v == 0.0f || v == 1.0f);
    if (i < kSamples / 2)
      ones += v;
    else if (i < kSamples)
      zeros_region += v;
    else
      ones_region += v;
  }
  EXPECT_NEAR(ones / (kSamples / 2), 0.3, 0.006);
  EXPECT_EQ(zeros_region, 0);
  EXPECT_EQ(ones_region, kSamples / 2);
}

TEST(OpsRandomTest, BernoulliOutputTypesAndBadProbabilities) {
  Tensor p(DType::kF64, {kSamples});
  for (auto& v : p.span<double>()) v = 0.75;
  Tensor b = run_one(make_node("Bernoulli", 1, 1, {{"dtype", attr_int(9)}}), {&p});
  ASSERT_EQ(b.dtype(), DType::kBool);
  double mean = 0;
  for (int64_t i = 0; i < b.numel(); ++i) mean += b.data<uint8_t>()[i];
  EXPECT_NEAR(mean / kSamples, 0.75, 0.006);
  Tensor i64 = run_one(make_node("Bernoulli", 1, 1, {{"dtype", attr_int(7)}}), {&p});
  EXPECT_EQ(i64.dtype(), DType::kS64);
  Tensor bad = Tensor::from_f32({2}, {0.5f, 1.5f});
  auto out = run_node(make_node("Bernoulli", 1), {&bad}, kLatestOpset, false);
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidInput);
}

TEST(OpsRandomTest, MultinomialClassFrequencies) {
  // Row 0: probabilities 0.1, 0.2, 0.7 given as shifted logs; row 1: class 1 impossible.
  const float inf = std::numeric_limits<float>::infinity();
  Tensor logits = Tensor::from_f32(
      {2, 3}, {std::log(0.1f) + 5, std::log(0.2f) + 5, std::log(0.7f) + 5, 0.0f, -inf, 0.0f});
  for (int64_t dtype : {6, 7}) {
    Tensor out = run_one(make_node("Multinomial", 1, 1,
                                   {{"sample_size", attr_int(kSamples / 2)},
                                    {"dtype", attr_int(dtype)},
                                    {"seed", attr_float(9.0f)}}),
                         {&logits});
    ASSERT_EQ(out.shape(), (Shape{2, kSamples / 2}));
    std::vector<double> count(6, 0);
    for (int64_t i = 0; i < out.numel(); ++i) {
      const int64_t k = out.get_i64(i);
      ASSERT_TRUE(k >= 0 && k < 3);
      count[(i / (kSamples / 2)) * 3 + k] += 1;
    }
    const double n = kSamples / 2;
    EXPECT_NEAR(count[0] / n, 0.1, 0.005);
    EXPECT_NEAR(count[1] / n, 0.2, 0.006);
    EXPECT_NEAR(count[2] / n, 0.7, 0.006);
    EXPECT_EQ(count[4], 0);
    EXPECT_NEAR(count[3] / n, 0.5, 0.006);
  }
  Tensor flat = Tensor::from_f32({3}, {1, 2, 3});
  auto bad_rank = run_node(make_node("Multinomial", 1), {&flat}, kLatestOpset, false);
  EXPECT_EQ(bad_rank.status().code(), StatusCode::kInvalidInput);
  auto bad_dtype = run_node(make_node("Multinomial", 1, 1, {{"dtype", attr_int(1)}}), {&logits},
                            kLatestOpset, false);
  EXPECT_EQ(bad_dtype.status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
