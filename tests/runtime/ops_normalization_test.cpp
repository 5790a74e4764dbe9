#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/kernel_registry.h"

namespace qtune {
namespace {

// The ops accumulate in double; the test formulas too. What is left is float output rounding.
constexpr float kTol = 1e-5f;

Attribute ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute int1(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute flt(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}

struct Run {
  Status status;
  std::vector<Tensor> outputs;
};

Run run_op(const std::string& op, std::map<std::string, Attribute> attrs,
           std::vector<const Tensor*> inputs, size_t num_outputs = 1, int64_t opset = 17) {
  Node n;
  n.name = "norm1";
  n.op_type = op;
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) n.inputs.push_back(inputs[i] ? "in" + std::to_string(i) : "");
  for (size_t i = 0; i < num_outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  const OpFn* fn = KernelRegistry::instance().find("", op);
  if (!fn) return {Status::Internal("no op " + op), {}};
  OpContext ctx{n, opset, inputs, {}, nullptr, {}};
  ctx.outputs.resize(num_outputs);
  Status s = (*fn)(ctx);
  return {s, std::move(ctx.outputs)};
}

Tensor random_f32(Shape shape, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  Tensor t(DType::kF32, std::move(shape));
  for (auto& v : t.span<float>()) v = d(rng);
  return t;
}

TEST(OpsNormalizationTest, BatchNormInference) {
  std::mt19937 rng(1);
  Tensor x = random_f32({2, 3, 2, 2}, rng);
  Tensor scale = Tensor::from_f32({3}, {1, 2, 0.5});
  Tensor bias = Tensor::from_f32({3}, {0, 1, -1});
  Tensor mean = Tensor::from_f32({3}, {0.1f, -0.2f, 0.3f});
  Tensor var = Tensor::from_f32({3}, {1, 4, 0.25});
  auto r = run_op("BatchNormalization", {{"epsilon", flt(1e-3f)}}, {&x, &scale, &bias, &mean, &var});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / 4) % 3;
    const double want = (x.data<float>()[i] - mean.data<float>()[c]) /
                            std::sqrt(var.data<float>()[c] + 1e-3) * scale.data<float>()[c] +
                        bias.data<float>()[c];
    EXPECT_NEAR(r.outputs[0].data<float>()[i], want, kTol * (1 + std::fabs(want)));
  }
  Tensor bad = Tensor::from_f32({2}, {1, 1});
  auto e = run_op("BatchNormalization", {}, {&x, &bad, &bias, &mean, &var});
  EXPECT_EQ(e.status.code(), StatusCode::kInvalidInput);
  EXPECT_NE(e.status.message().find("node 'norm1' (BatchNormalization)"), std::string::npos);
}

TEST(OpsNormalizationTest, BatchNormTrainingOutputsRunningStats) {
  Tensor x = Tensor::from_f32({2, 1, 2}, {1, 2, 3, 4});  // batch mean 2.5, var 1.25
  Tensor one = Tensor::from_f32({1}, {1}), zero = Tensor::from_f32({1}, {0});
  auto r = run_op("BatchNormalization", {{"training_mode", int1(1)}, {"momentum", flt(0.5f)}},
                  {&x, &one, &zero, &zero, &one}, 3, 15);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_NEAR(r.outputs[0].data<float>()[0], -1.5 / std::sqrt(1.25 + 1e-5), kTol);
  EXPECT_NEAR(r.outputs[1].data<float>()[0], 1.25, kTol);   // 0*0.5 + 2.5*0.5
  EXPECT_NEAR(r.outputs[2].data<float>()[0], 1.125, kTol);  // 1*0.5 + 1.25*0.5
  // Old-opset training outputs meant something else: refused, not guessed.
  auto old = run_op("BatchNormalization", {}, {&x, &one, &zero, &zero, &one}, 3, 9);
  EXPECT_EQ(old.status.code(), StatusCode::kUnsupported);
}

TEST(OpsNormalizationTest, LayerNormWithStatsOutputs) {
  std::mt19937 rng(2);
  Tensor x = random_f32({2, 3, 4}, rng);
  Tensor scale = random_f32({3, 4}, rng), bias = random_f32({3, 4}, rng);
  auto r = run_op("LayerNormalization", {{"axis", int1(1)}, {"epsilon", flt(1e-2f)}},
                  {&x, &scale, &bias}, 3);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[1].shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(r.outputs[2].shape(), (Shape{2, 1, 1}));
  for (int64_t row = 0; row < 2; ++row) {
    double mu = 0, var = 0;
    for (int j = 0; j < 12; ++j) mu += x.data<float>()[row * 12 + j];
    mu /= 12;
    for (int j = 0; j < 12; ++j) var += std::pow(x.data<float>()[row * 12 + j] - mu, 2);
    var /= 12;
    const double inv = 1 / std::sqrt(var + 1e-2);
    EXPECT_NEAR(r.outputs[1].data<float>()[row], mu, kTol);
    EXPECT_NEAR(r.outputs[2].data<float>()[row], inv, kTol);
    for (int j = 0; j < 12; ++j) {
      const double want = (x.data<float>()[row * 12 + j] - mu) * inv * scale.data<float>()[j] +
                          bias.data<float>()[j];
      EXPECT_NEAR(r.outputs[0].data<float>()[row * 12 + j], want, 1e-4);
    }
  }
  // Default axis -1, no bias; a Scale of the wrong size is rejected.
  Tensor s4 = Tensor::from_f32({4}, {1, 1, 1, 1});
  auto d = run_op("LayerNormalization", {}, {&x, &s4});
  ASSERT_TRUE(d.status.ok()) << d.status.message();
  Tensor s5 = Tensor::from_f32({5}, {1, 1, 1, 1, 1});
  auto e = run_op("LayerNormalization", {}, {&x, &s5});
  EXPECT_EQ(e.status.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_op("LayerNormalization", {{"axis", int1(3)}}, {&x, &s4}).status.code(),
            StatusCode::kInvalidInput);
}

TEST(OpsNormalizationTest, SoftmaxAxisSemanticsDependOnOpset) {
  Tensor x = Tensor::from_f32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  // Opset 13, axis 1: normalise over the middle dim only.
  auto r13 = run_op("Softmax", {{"axis", int1(1)}}, {&x}, 1, 13);
  ASSERT_TRUE(r13.status.ok());
  const double e2 = std::exp(2.0);
  EXPECT_NEAR(r13.outputs[0].data<float>()[0], 1 / (1 + e2), kTol);
  EXPECT_NEAR(r13.outputs[0].data<float>()[2], e2 / (1 + e2), kTol);
  // Opset 11, axis 1: flatten to [2, 4] and normalise each row of 4.
  auto r11 = run_op("Softmax", {{"axis", int1(1)}}, {&x}, 1, 11);
  ASSERT_TRUE(r11.status.ok());
  double z = 0;
  for (int i = 0; i < 4; ++i) z += std::exp(i);
  EXPECT_NEAR(r11.outputs[0].data<float>()[0], 1 / z, kTol);
  EXPECT_NEAR(r11.outputs[0].data<float>()[3], std::exp(3) / z, kTol);
  // Large inputs do not overflow.
  Tensor big = Tensor::from_f32({2}, {10000, 10001});
  auto rb = run_op("Softmax", {}, {&big});
  ASSERT_TRUE(rb.status.ok());
  EXPECT_NEAR(rb.outputs[0].data<float>()[1], std::exp(1) / (1 + std::exp(1)), kTol);
  EXPECT_EQ(run_op("Softmax", {{"axis", int1(3)}}, {&x}).status.code(), StatusCode::kInvalidInput);
}

TEST(OpsNormalizationTest, ReduceMeanAxesAndKeepdims) {
  Tensor x = Tensor::from_f32({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  auto all = run_op("ReduceMean", {}, {&x});
  ASSERT_TRUE(all.status.ok());
  EXPECT_EQ(all.outputs[0].shape(), (Shape{1, 1, 1}));
  EXPECT_FLOAT_EQ(all.outputs[0].data<float>()[0], 6.5f);

  auto mid = run_op("ReduceMean", {{"axes", ints({1})}, {"keepdims", int1(0)}}, {&x});
  ASSERT_TRUE(mid.status.ok());
  EXPECT_EQ(mid.outputs[0].shape(), (Shape{2, 2}));
  const std::vector<float> want = {3, 4, 9, 10};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(mid.outputs[0].data<float>()[i], want[i]);

  auto neg = run_op("ReduceMean", {{"axes", ints({-1, 0})}}, {&x});
  ASSERT_TRUE(neg.status.ok());
  EXPECT_EQ(neg.outputs[0].shape(), (Shape{1, 3, 1}));
  EXPECT_FLOAT_EQ(neg.outputs[0].data<float>()[0], (1 + 2 + 7 + 8) / 4.0f);

  auto last = run_op("ReduceMean", {{"axes", ints({-1})}}, {&x});
  ASSERT_TRUE(last.status.ok());
  EXPECT_EQ(last.outputs[0].shape(), (Shape{2, 3, 1}));
  EXPECT_FLOAT_EQ(last.outputs[0].data<float>()[5], 11.5f);

  auto dup = run_op("ReduceMean", {{"axes", ints({1, -2})}}, {&x});
  EXPECT_EQ(dup.status.code(), StatusCode::kInvalidInput);
  EXPECT_NE(dup.status.message().find("node 'norm1' (ReduceMean)"), std::string::npos);
  EXPECT_EQ(run_op("ReduceMean", {{"axes", ints({3})}}, {&x}).status.code(),
            StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
