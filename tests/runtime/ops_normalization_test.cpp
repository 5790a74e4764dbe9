#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

// The ops accumulate in double; the test formulas too. What is left is float output rounding.
constexpr float kTol = 1e-5f;

Tensor random_f32(Shape shape, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  Tensor t(DType::kF32, std::move(shape));
  for (auto& v : t.span<float>()) v = d(rng);
  return t;
}

Tensor to_f64(const Tensor& t) {
  Tensor d(DType::kF64, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) d.data<double>()[i] = t.get_f64(i);
  return d;
}

Tensor to_half(const Tensor& t, DType dt) {
  Tensor h(dt, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = static_cast<float>(t.get_f64(i));
    h.data<uint16_t>()[i] = dt == DType::kF16 ? f32_to_f16(v) : f32_to_bf16(v);
  }
  return h;
}

TEST(OpsNormalizationTest, BatchNormInference) {
  std::mt19937 rng(1);
  Tensor x = random_f32({2, 3, 2, 2}, rng);
  Tensor scale = Tensor::from_f32({3}, {1, 2, 0.5});
  Tensor bias = Tensor::from_f32({3}, {0, 1, -1});
  Tensor mean = Tensor::from_f32({3}, {0.1f, -0.2f, 0.3f});
  Tensor var = Tensor::from_f32({3}, {1, 4, 0.25});
  auto want = [&](int64_t i) {
    const int64_t c = (i / 4) % 3;
    return (x.data<float>()[i] - mean.data<float>()[c]) / std::sqrt(var.data<float>()[c] + 1e-3) *
               scale.data<float>()[c] +
           bias.data<float>()[c];
  };
  for (int64_t opset : {7, 9, 14, 15}) {
    auto r = run_node(make_node("BatchNormalization", 5, 1, {{"epsilon", attr_float(1e-3f)}}),
                      {&x, &scale, &bias, &mean, &var}, opset);
    ASSERT_TRUE(r.ok()) << r.status().message();
    for (int64_t i = 0; i < x.numel(); ++i) {
      EXPECT_NEAR((*r)[0].data<float>()[i], want(i), kTol * (1 + std::fabs(want(i))));
    }
  }
  // Opset 6 runs inference only when is_test says so.
  auto r6 = run_node(make_node("BatchNormalization", 5, 1,
                               {{"epsilon", attr_float(1e-3f)}, {"is_test", attr_int(1)}}),
                     {&x, &scale, &bias, &mean, &var}, 6);
  ASSERT_TRUE(r6.ok()) << r6.status().message();
  EXPECT_NEAR((*r6)[0].data<float>()[7], want(7), kTol * (1 + std::fabs(want(7))));
  EXPECT_EQ(run_node(make_node("BatchNormalization", 5), {&x, &scale, &bias, &mean, &var}, 6)
                .status()
                .code(),
            StatusCode::kUnsupported);
  // f64 data with f32 statistics (opset 15 lets them differ).
  Tensor xd = to_f64(x);
  auto r = run_node(make_node("BatchNormalization", 5, 1, {{"epsilon", attr_float(1e-3f)}}),
                    {&xd, &scale, &bias, &mean, &var}, 15);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NEAR((*r)[0].data<double>()[5], want(5), 1e-6);
  Tensor bad = Tensor::from_f32({2}, {1, 1});
  auto e = run_node(make_node("BatchNormalization", 5), {&x, &bad, &bias, &mean, &var});
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(e.status().message().find("node 'n' (BatchNormalization)"), std::string::npos);
}

TEST(OpsNormalizationTest, BatchNormPerActivationStatisticsAtOpset7) {
  Tensor x = Tensor::from_f32({2, 2, 1}, {1, 2, 3, 4});
  Tensor scale = Tensor::from_f32({2, 1}, {1, 2});
  Tensor bias = Tensor::from_f32({2, 1}, {0, 1});
  Tensor mean = Tensor::from_f32({2, 1}, {2, 3});
  Tensor var = Tensor::from_f32({2, 1}, {1, 1});
  auto r = run_node(make_node("BatchNormalization", 5, 1,
                              {{"spatial", attr_int(0)}, {"epsilon", attr_float(0.0f)}}),
                    {&x, &scale, &bias, &mean, &var}, 7);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{-1, -1, 1, 3}));
}

TEST(OpsNormalizationTest, BatchNormTrainingOutputsRunningStats) {
  Tensor x = Tensor::from_f32({2, 1, 2}, {1, 2, 3, 4});  // batch mean 2.5, var 1.25
  Tensor one = Tensor::from_f32({1}, {1}), zero = Tensor::from_f32({1}, {0});
  auto r = run_node(make_node("BatchNormalization", 5, 3,
                              {{"training_mode", attr_int(1)}, {"momentum", attr_float(0.5f)}}),
                    {&x, &one, &zero, &zero, &one}, 15);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NEAR((*r)[0].data<float>()[0], -1.5 / std::sqrt(1.25 + 1e-5), kTol);
  EXPECT_NEAR((*r)[1].data<float>()[0], 1.25, kTol);   // 0*0.5 + 2.5*0.5
  EXPECT_NEAR((*r)[2].data<float>()[0], 1.125, kTol);  // 1*0.5 + 1.25*0.5
  // Old-opset training outputs meant something else: refused, not guessed.
  auto old = run_node(make_node("BatchNormalization", 5, 3), {&x, &one, &zero, &zero, &one}, 9);
  EXPECT_EQ(old.status().code(), StatusCode::kUnsupported);
}

TEST(OpsNormalizationTest, LayerNormWithStatsOutputs) {
  std::mt19937 rng(2);
  Tensor x = random_f32({2, 3, 4}, rng);
  Tensor scale = random_f32({3, 4}, rng), bias = random_f32({3, 4}, rng);
  auto r = run_node(make_node("LayerNormalization", 3, 3,
                              {{"axis", attr_int(1)}, {"epsilon", attr_float(1e-2f)}}),
                    {&x, &scale, &bias});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[1].shape(), (Shape{2, 1, 1}));
  EXPECT_EQ((*r)[2].shape(), (Shape{2, 1, 1}));
  for (int64_t row = 0; row < 2; ++row) {
    double mu = 0, var = 0;
    for (int j = 0; j < 12; ++j) mu += x.data<float>()[row * 12 + j];
    mu /= 12;
    for (int j = 0; j < 12; ++j) var += std::pow(x.data<float>()[row * 12 + j] - mu, 2);
    var /= 12;
    const double inv = 1 / std::sqrt(var + 1e-2);
    EXPECT_NEAR((*r)[1].data<float>()[row], mu, kTol);
    EXPECT_NEAR((*r)[2].data<float>()[row], inv, kTol);
    for (int j = 0; j < 12; ++j) {
      const double want = (x.data<float>()[row * 12 + j] - mu) * inv * scale.data<float>()[j] +
                          bias.data<float>()[j];
      EXPECT_NEAR((*r)[0].data<float>()[row * 12 + j], want, 1e-4);
    }
  }
  // Default axis -1, no bias; a Scale of the wrong size is rejected.
  Tensor s4 = Tensor::from_f32({4}, {1, 1, 1, 1});
  auto d = run_node(make_node("LayerNormalization", 2), {&x, &s4});
  ASSERT_TRUE(d.ok()) << d.status().message();
  Tensor s5 = Tensor::from_f32({5}, {1, 1, 1, 1, 1});
  EXPECT_EQ(run_node(make_node("LayerNormalization", 2), {&x, &s5}).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(run_node(make_node("LayerNormalization", 2, 1, {{"axis", attr_int(3)}}), {&x, &s4})
                .status()
                .code(),
            StatusCode::kInvalidInput);
}

TEST(OpsNormalizationTest, LayerNormOtherTypesAndStashType) {
  Tensor x = Tensor::from_f32({2, 2}, {1, 3, -1, 1});  // rows normalise to [-1, 1]
  Tensor s = Tensor::from_f32({2}, {1, 2});
  Tensor xd = to_f64(x), sd = to_f64(s);
  // Statistics come out in stash_type: float by default, bfloat16 on request.
  auto r = run_node(make_node("LayerNormalization", 2, 3, {{"epsilon", attr_float(0.0f)}}),
                    {&xd, &sd});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<double>((*r)[0]), (std::vector<double>{-1, 2, -1, 2}));
  EXPECT_EQ((*r)[1].dtype(), DType::kF32);
  EXPECT_EQ(values<float>((*r)[1]), (std::vector<float>{2, 0}));
  auto rb = run_node(make_node("LayerNormalization", 2, 2,
                               {{"stash_type", attr_int(16)}, {"epsilon", attr_float(0.0f)}}),
                     {&xd, &sd});
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_EQ((*rb)[1].dtype(), DType::kBF16);
  EXPECT_EQ(bf16_to_f32((*rb)[1].data<uint16_t>()[0]), 2.0f);
  EXPECT_EQ(run_node(make_node("LayerNormalization", 2, 1, {{"stash_type", attr_int(11)}}),
                     {&xd, &sd})
                .status()
                .code(),
            StatusCode::kInvalidInput);
  Tensor xb = to_half(x, DType::kBF16), sb = to_half(s, DType::kBF16);
  auto b = run_node(make_node("LayerNormalization", 2, 1, {{"epsilon", attr_float(0.0f)}}),
                    {&xb, &sb});
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(bf16_to_f32((*b)[0].data<uint16_t>()[1]), 2.0f);
}

TEST(OpsNormalizationTest, InstanceNormPerSampleAndChannel) {
  Tensor x = Tensor::from_f32({1, 2, 2}, {1, 3, 5, 7});  // each channel: mean +- 1
  Tensor scale = Tensor::from_f32({2}, {2, 1}), bias = Tensor::from_f32({2}, {0, 7});
  auto r = run_node(make_node("InstanceNormalization", 3, 1, {{"epsilon", attr_float(0.0f)}}),
                    {&x, &scale, &bias});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{-2, 2, 6, 8}));
  Tensor xd = to_f64(x), sd = to_f64(scale), bd = to_f64(bias);
  auto d = run_node(make_node("InstanceNormalization", 3), {&xd, &sd, &bd}, 6);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_NEAR((*d)[0].data<double>()[3], 7 + 1 / std::sqrt(1 + 1e-5), 1e-9);
  Tensor flat = Tensor::from_f32({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(run_node(make_node("InstanceNormalization", 3), {&flat, &scale, &bias}).status().code(),
            StatusCode::kInvalidInput);
}

TEST(OpsNormalizationTest, LrnSumsSquaresAcrossNeighbouringChannels) {
  Tensor x = Tensor::from_f32({1, 4, 1, 1}, {1, 2, 3, 4});
  // size 2: channel c sums c and c+1 (floor(1/2)=0 below, ceil(1/2)=1 above).
  auto r = run_node(make_node("LRN", 1, 1,
                              {{"size", attr_int(2)}, {"alpha", attr_float(2.0f)},
                               {"beta", attr_float(1.0f)}, {"bias", attr_float(1.0f)}}),
                    {&x});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const std::vector<double> ss = {1 + 4, 4 + 9, 9 + 16, 16};
  for (int c = 0; c < 4; ++c) {
    EXPECT_NEAR((*r)[0].data<float>()[c], (c + 1) / (1 + ss[c]), kTol);
  }
  EXPECT_EQ(run_node(make_node("LRN", 1), {&x}).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsNormalizationTest, MeanVarianceNormalizationOverAxes) {
  Tensor x = Tensor::from_f32({2, 2}, {1, 3, 10, 30});
  auto r = run_node(make_node("MeanVarianceNormalization", 1, 1, {{"axes", attr_ints({1})}}),
                    {&x}, 13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (float v : values<float>((*r)[0])) EXPECT_NEAR(std::fabs(v), 1.0f, 1e-6);
  EXPECT_LT((*r)[0].data<float>()[2], 0);
  // Default axes [0, 2, 3] on a 4-D input: per channel.
  Tensor x4 = Tensor::from_f32({2, 1, 1, 1}, {0, 4});
  auto d = run_node(make_node("MeanVarianceNormalization", 1), {&x4}, 9);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_NEAR((*d)[0].data<float>()[1], 1.0f, 1e-6);
}

TEST(OpsNormalizationTest, LpNormalizationL1AndL2) {
  Tensor x = Tensor::from_f32({2, 2}, {3, 4, 0, 0});
  auto l2 = run_node(make_node("LpNormalization", 1), {&x}, 1);
  ASSERT_TRUE(l2.ok()) << l2.status().message();
  EXPECT_EQ(values<float>((*l2)[0]), (std::vector<float>{0.6f, 0.8f, 0, 0}));
  auto l1 = run_node(
      make_node("LpNormalization", 1, 1, {{"p", attr_int(1)}, {"axis", attr_int(0)}}), {&x});
  ASSERT_TRUE(l1.ok()) << l1.status().message();
  EXPECT_EQ(values<float>((*l1)[0]), (std::vector<float>{1, 1, 0, 0}));
  EXPECT_EQ(
      run_node(make_node("LpNormalization", 1, 1, {{"p", attr_int(3)}}), {&x}).status().code(),
      StatusCode::kInvalidInput);
}

TEST(OpsNormalizationTest, SoftmaxAxisSemanticsDependOnOpset) {
  Tensor x = Tensor::from_f32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  // Opset 13, axis 1: normalise over the middle dim only.
  auto r13 = run_node(make_node("Softmax", 1, 1, {{"axis", attr_int(1)}}), {&x}, 13);
  ASSERT_TRUE(r13.ok());
  const double e2 = std::exp(2.0);
  EXPECT_NEAR((*r13)[0].data<float>()[0], 1 / (1 + e2), kTol);
  EXPECT_NEAR((*r13)[0].data<float>()[2], e2 / (1 + e2), kTol);
  // Opset 11, axis 1: flatten to [2, 4] and normalise each row of 4.
  auto r11 = run_node(make_node("Softmax", 1, 1, {{"axis", attr_int(1)}}), {&x}, 11);
  ASSERT_TRUE(r11.ok());
  double z = 0;
  for (int i = 0; i < 4; ++i) z += std::exp(i);
  EXPECT_NEAR((*r11)[0].data<float>()[0], 1 / z, kTol);
  EXPECT_NEAR((*r11)[0].data<float>()[3], std::exp(3) / z, kTol);
  // Large inputs do not overflow.
  Tensor big = Tensor::from_f32({2}, {10000, 10001});
  auto rb = run_node(make_node("Softmax", 1), {&big});
  ASSERT_TRUE(rb.ok());
  EXPECT_NEAR((*rb)[0].data<float>()[1], std::exp(1) / (1 + std::exp(1)), kTol);
  EXPECT_EQ(run_node(make_node("Softmax", 1, 1, {{"axis", attr_int(3)}}), {&x}).status().code(),
            StatusCode::kInvalidInput);
  // Half types compute in float.
  Tensor h = to_half(Tensor::from_f32({2}, {10, 11}), DType::kF16);
  auto rh = run_node(make_node("Softmax", 1), {&h});
  ASSERT_TRUE(rh.ok());
  EXPECT_NEAR(f16_to_f32((*rh)[0].data<uint16_t>()[1]), std::exp(1) / (1 + std::exp(1)), 1e-3);
}

TEST(OpsNormalizationTest, LogSoftmaxAndHardmax) {
  Tensor x = Tensor::from_f32({2, 2}, {0, 1, 5, 5});
  Tensor xd = to_f64(x);
  auto ls = run_node(make_node("LogSoftmax", 1, 1, {{"axis", attr_int(0)}}), {&xd}, 13);
  ASSERT_TRUE(ls.ok()) << ls.status().message();
  EXPECT_NEAR((*ls)[0].data<double>()[0], -5 - std::log1p(std::exp(-5.0)), 1e-12);
  auto ls11 = run_node(make_node("LogSoftmax", 1), {&x}, 11);
  ASSERT_TRUE(ls11.ok());
  EXPECT_NEAR((*ls11)[0].data<float>()[3], -std::log(2.0), kTol);
  // Hardmax marks the first maximum; opset 11 axis 0 takes the whole flattened tensor.
  auto h13 = run_node(make_node("Hardmax", 1), {&x}, 13);
  ASSERT_TRUE(h13.ok());
  EXPECT_EQ(values<float>((*h13)[0]), (std::vector<float>{0, 1, 1, 0}));
  auto h11 = run_node(make_node("Hardmax", 1, 1, {{"axis", attr_int(0)}}), {&x}, 11);
  ASSERT_TRUE(h11.ok());
  EXPECT_EQ(values<float>((*h11)[0]), (std::vector<float>{0, 0, 1, 0}));
  Tensor b = to_half(x, DType::kBF16);
  auto hb = run_node(make_node("Hardmax", 1, 1, {{"axis", attr_int(0)}}), {&b}, 13);
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(bf16_to_f32((*hb)[0].data<uint16_t>()[2]), 1.0f);
}

TEST(OpsNormalizationTest, DropoutInferenceAndTraining) {
  Tensor x = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  // Opset 7: identity with a mask of X's type.
  auto r7 = run_node(make_node("Dropout", 1, 2), {&x}, 7);
  ASSERT_TRUE(r7.ok()) << r7.status().message();
  EXPECT_EQ(values<float>((*r7)[0]), values<float>(x));
  EXPECT_EQ((*r7)[1].dtype(), DType::kF32);
  auto r10 = run_node(make_node("Dropout", 1, 2), {&x}, 10);
  ASSERT_TRUE(r10.ok());
  EXPECT_EQ((*r10)[1].dtype(), DType::kBool);
  EXPECT_EQ(values<uint8_t>((*r10)[1]), std::vector<uint8_t>(6, 1));
  // Opset 12+: training with a ratio drops and rescales; ratio 0 keeps everything.
  Tensor ratio = Tensor::scalar_f32(0.5f), zero = Tensor::scalar_f32(0.0f);
  Tensor yes(DType::kBool, {});
  yes.data<uint8_t>()[0] = 1;
  auto tr = run_node(make_node("Dropout", 3, 2, {{"seed", attr_int(3)}}), {&x, &ratio, &yes}, 13);
  ASSERT_TRUE(tr.ok()) << tr.status().message();
  for (int i = 0; i < 6; ++i) {
    const float y = (*tr)[0].data<float>()[i];
    EXPECT_EQ(y, (*tr)[1].data<uint8_t>()[i] ? 2 * x.data<float>()[i] : 0.0f);
  }
  auto keep = run_node(make_node("Dropout", 3, 2), {&x, &zero, &yes}, 12);
  ASSERT_TRUE(keep.ok());
  EXPECT_EQ(values<float>((*keep)[0]), values<float>(x));
  Tensor one = Tensor::scalar_f32(1.0f);
  EXPECT_EQ(run_node(make_node("Dropout", 3, 1), {&x, &one, &yes}, 13).status().code(),
            StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
