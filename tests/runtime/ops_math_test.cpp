// Unary math and activation kernels (runtime/ops/math.cpp): each op against a double-precision
// formula in f32, f64 and f16, at its first and latest opset, with libonnx's inferred shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using op_test::attr_float;
using op_test::attr_int;
using op_test::make_node;
using op_test::make_tensor;
using op_test::run_node;
using op_test::values;

struct Formula {
  const char* op;
  int since;
  std::function<double(double)> ref;
  std::vector<float> xs;  // inside the op's domain
  std::map<std::string, Attribute> attrs = {};
};

const std::vector<float> kAny = {-3.5f, -1.0f, -0.25f, 0.0f, 0.5f, 2.5f, 4.0f};
const std::vector<float> kUnit = {-0.9f, -0.5f, 0.0f, 0.3f, 0.99f};
const std::vector<float> kPositive = {0.01f, 0.5f, 1.0f, 3.0f, 100.0f};

std::vector<Formula> formulas() {
  return {
      {"Abs", 6, [](double v) { return std::fabs(v); }, kAny},
      {"Neg", 6, [](double v) { return -v; }, kAny},
      {"Sign", 9, [](double v) { return double((v > 0) - (v < 0)); }, kAny},
      {"Reciprocal", 6, [](double v) { return 1 / v; }, kPositive},
      {"Floor", 6, [](double v) { return std::floor(v); }, kAny},
      {"Ceil", 6, [](double v) { return std::ceil(v); }, kAny},
      {"Round", 11, [](double v) { return std::nearbyint(v); },
       {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 2.6f}},
      {"Exp", 6, [](double v) { return std::exp(v); }, kAny},
      {"Log", 6, [](double v) { return std::log(v); }, kPositive},
      {"Sqrt", 6, [](double v) { return std::sqrt(v); }, kPositive},
      {"Sin", 7, [](double v) { return std::sin(v); }, kAny},
      {"Cos", 7, [](double v) { return std::cos(v); }, kAny},
      {"Tan", 7, [](double v) { return std::tan(v); }, kUnit},
      {"Asin", 7, [](double v) { return std::asin(v); }, kUnit},
      {"Acos", 7, [](double v) { return std::acos(v); }, kUnit},
      {"Atan", 7, [](double v) { return std::atan(v); }, kAny},
      {"Sinh", 9, [](double v) { return std::sinh(v); }, kAny},
      {"Cosh", 9, [](double v) { return std::cosh(v); }, kAny},
      {"Asinh", 9, [](double v) { return std::asinh(v); }, kAny},
      {"Acosh", 9, [](double v) { return std::acosh(v); }, {1.0f, 1.5f, 3.0f, 10.0f}},
      {"Atanh", 9, [](double v) { return std::atanh(v); }, kUnit},
      {"Erf", 9, [](double v) { return std::erf(v); }, kAny},
      {"Sigmoid", 6, [](double v) { return 1 / (1 + std::exp(-v)); }, kAny},
      {"Tanh", 6, [](double v) { return std::tanh(v); }, kAny},
      {"Softsign", 1, [](double v) { return v / (1 + std::fabs(v)); }, kAny},
      {"Softplus", 1, [](double v) { return std::log(std::exp(v) + 1); }, kAny},
      {"HardSwish", 14, [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); }, kAny},
      {"Relu", 6, [](double v) { return std::max(v, 0.0); }, kAny},
      {"LeakyRelu", 6, [](double v) { return v < 0 ? 0.1 * v : v; }, kAny,
       {{"alpha", attr_float(0.1f)}}},
      {"Elu", 6, [](double v) { return v < 0 ? 2 * (std::exp(v) - 1) : v; }, kAny,
       {{"alpha", attr_float(2.0f)}}},
      {"Selu", 6,
       [](double v) {
         // The spec's defaults are float attributes.
         const double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
         return g * (v > 0 ? v : a * (std::exp(v) - 1));
       },
       kAny},
      {"Celu", 12, [](double v) { return v > 0 ? v : 0.5 * (std::exp(v / 0.5) - 1); }, kAny,
       {{"alpha", attr_float(0.5f)}}},
      {"HardSigmoid", 6, [](double v) { return std::clamp(0.2 * v + 0.5, 0.0, 1.0); }, kAny},
      {"ThresholdedRelu", 10, [](double v) { return v > 1 ? v : 0; }, kAny},
      {"Shrink", 9, [](double v) { return v < -1 ? v + 0.5 : v > 1 ? v - 0.5 : 0; }, kAny,
       {{"lambd", attr_float(1.0f)}, {"bias", attr_float(0.5f)}}},
  };
}

double tolerance(DType t, double want) {
  const double rel = t == DType::kF16 ? 2e-3 : t == DType::kF32 ? 1e-6 : 1e-12;
  return rel * std::max(1.0, std::fabs(want)) + 1e-7;
}

TEST(MathOpsTest, EveryFormulaInEveryFloatTypeAtFirstAndLatestOpset) {
  for (const Formula& f : formulas()) {
    for (int opset : {std::max(f.since, 7), kLatestOpset}) {
      for (DType t : {DType::kF32, DType::kF64, DType::kF16}) {
        if (std::string(f.op) == "Celu" && t != DType::kF32) continue;  // the schema's only type
        SCOPED_TRACE(std::string(f.op) + " opset " + std::to_string(opset) + " " +
                     std::string(dtype_name(t)));
        const int64_t n = static_cast<int64_t>(f.xs.size());
        Tensor x(t, {1, n});
        std::vector<double> in(f.xs.begin(), f.xs.end());
        for (int64_t i = 0; i < n; ++i) {
          if (t == DType::kF32) x.data<float>()[i] = f.xs[i];
          if (t == DType::kF64) x.data<double>()[i] = f.xs[i];
          if (t == DType::kF16) {
            x.data<uint16_t>()[i] = f32_to_f16(f.xs[i]);
            in[i] = f16_to_f32(x.data<uint16_t>()[i]);
          }
        }
        auto out = run_node(make_node(f.op, 1, 1, f.attrs), {&x}, opset);
        ASSERT_TRUE(out.ok()) << out.status().message();
        const Tensor& y = (*out)[0];
        ASSERT_EQ(y.dtype(), t);
        for (int64_t i = 0; i < n; ++i) {
          const double want = f.ref(in[i]);
          EXPECT_NEAR(y.get_f64(i), want, tolerance(t, want)) << "x = " << in[i];
        }
      }
    }
  }
}

TEST(MathOpsTest, FloatOnlyOpsRejectIntegersAndOpsStartAtTheirOpset) {
  Tensor i = Tensor::from_i64({2}, {1, 2});
  for (const char* op : {"Exp", "Sin", "Sigmoid", "Round", "Celu", "HardSwish"}) {
    EXPECT_EQ(run_node(make_node(op, 1), {&i}).status().code(), StatusCode::kUnsupported) << op;
  }
  Tensor x = Tensor::from_f32({1}, {0.5f});
  EXPECT_EQ(run_node(make_node("HardSwish", 1), {&x}, 13).status().code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(run_node(make_node("Round", 1), {&x}, 10).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(run_node(make_node("Exp", 0), {}).status().code(), StatusCode::kInvalidInput);
}

TEST(MathOpsTest, IntegerAbsNegSignReluStayExact) {
  const int64_t big = std::numeric_limits<int64_t>::max() - 2;
  Tensor x = Tensor::from_i64({5}, {-big, -3, 0, 7, std::numeric_limits<int64_t>::min()});
  auto abs = run_node(make_node("Abs", 1), {&x});
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(values<int64_t>((*abs)[0]),
            (std::vector<int64_t>{big, 3, 0, 7, std::numeric_limits<int64_t>::min()}));
  auto neg = run_node(make_node("Neg", 1), {&x});
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(values<int64_t>((*neg)[0])[0], big);
  auto sign = run_node(make_node("Sign", 1), {&x});
  ASSERT_TRUE(sign.ok());
  EXPECT_EQ(values<int64_t>((*sign)[0]), (std::vector<int64_t>{-1, -1, 0, 1, -1}));
  auto relu = run_node(make_node("Relu", 1), {&x});
  ASSERT_TRUE(relu.ok());
  EXPECT_EQ(values<int64_t>((*relu)[0]), (std::vector<int64_t>{0, 0, 0, 7, 0}));

  Tensor u = make_tensor<uint8_t>(DType::kU8, {3}, {0, 5, 255});
  auto su = run_node(make_node("Sign", 1), {&u});
  ASSERT_TRUE(su.ok());
  EXPECT_EQ(values<uint8_t>((*su)[0]), (std::vector<uint8_t>{0, 1, 1}));
  auto au = run_node(make_node("Abs", 1), {&u});
  ASSERT_TRUE(au.ok());
  EXPECT_EQ(values<uint8_t>((*au)[0]), (std::vector<uint8_t>{0, 5, 255}));
  EXPECT_EQ(run_node(make_node("Neg", 1), {&u}).status().code(), StatusCode::kUnsupported);

  Tensor s = make_tensor<int8_t>(DType::kS8, {3}, {-5, 0, 3});
  Node shrink = make_node("Shrink", 1, 1, {{"lambd", attr_float(1.5f)}, {"bias", attr_float(1)}});
  auto sh = run_node(shrink, {&s});
  ASSERT_TRUE(sh.ok());
  EXPECT_EQ(values<int8_t>((*sh)[0]), (std::vector<int8_t>{-4, 0, 2}));
}

TEST(MathOpsTest, NanAndInfinityFollowTheSpec) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_f32({5}, {-inf, -1.0f, std::nanf(""), 2.0f, inf});
  auto nan = run_node(make_node("IsNaN", 1), {&x});
  ASSERT_TRUE(nan.ok());
  EXPECT_EQ((*nan)[0].dtype(), DType::kBool);
  EXPECT_EQ(values<uint8_t>((*nan)[0]), (std::vector<uint8_t>{0, 0, 1, 0, 0}));
  auto inf_both = run_node(make_node("IsInf", 1), {&x});
  ASSERT_TRUE(inf_both.ok());
  EXPECT_EQ(values<uint8_t>((*inf_both)[0]), (std::vector<uint8_t>{1, 0, 0, 0, 1}));
  auto pos = run_node(make_node("IsInf", 1, 1, {{"detect_negative", attr_int(0)}}), {&x});
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(values<uint8_t>((*pos)[0]), (std::vector<uint8_t>{0, 0, 0, 0, 1}));
  auto neg = run_node(make_node("IsInf", 1, 1, {{"detect_positive", attr_int(0)}}), {&x});
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(values<uint8_t>((*neg)[0]), (std::vector<uint8_t>{1, 0, 0, 0, 0}));

  Tensor d(DType::kF64, {2});
  d.data<double>()[0] = std::nan("");
  d.data<double>()[1] = 1.0;
  auto nd = run_node(make_node("IsNaN", 1), {&d}, 9);
  ASSERT_TRUE(nd.ok());
  EXPECT_EQ(values<uint8_t>((*nd)[0]), (std::vector<uint8_t>{1, 0}));

  // Sign and Relu keep NaN; Softplus does not overflow for large inputs.
  auto sign = run_node(make_node("Sign", 1), {&x});
  ASSERT_TRUE(sign.ok());
  EXPECT_TRUE(std::isnan((*sign)[0].data<float>()[2]));
  EXPECT_EQ((*sign)[0].data<float>()[0], -1.0f);
  Tensor big = Tensor::from_f32({1}, {1000.0f});
  auto sp = run_node(make_node("Softplus", 1), {&big});
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ((*sp)[0].data<float>()[0], 1000.0f);
}

TEST(MathOpsTest, ClipFormsPerOpset) {
  Tensor x = Tensor::from_f32({4}, {-3, -1, 1, 3});
  // Opsets 6-10: attributes, defaulting to the whole float range.
  auto a = run_node(make_node("Clip", 1, 1, {{"max", attr_float(2)}}), {&x}, 6);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(values<float>((*a)[0]), (std::vector<float>{-3, -1, 1, 2}));
  Tensor lo = Tensor::scalar_f32(0);
  EXPECT_EQ(run_node(make_node("Clip", 2), {&x, &lo}, 10).status().code(),
            StatusCode::kInvalidInput);

  // Opset 11: inputs, float only; integers from 12.
  auto b = run_node(make_node("Clip", 2), {&x, &lo}, 11);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(values<float>((*b)[0]), (std::vector<float>{0, 0, 1, 3}));
  Tensor q = make_tensor<int32_t>(DType::kS32, {3}, {-100, 5, 100});
  Tensor qlo = make_tensor<int32_t>(DType::kS32, {}, {-10});
  EXPECT_EQ(run_node(make_node("Clip", 2), {&q, &qlo}, 11).status().code(),
            StatusCode::kUnsupported);
  auto c = run_node(make_node("Clip", 2), {&q, &qlo}, 12);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(values<int32_t>((*c)[0]), (std::vector<int32_t>{-10, 5, 100}));

  // f16 bounds come as f16 scalars.
  Tensor h(DType::kF16, {2});
  h.data<uint16_t>()[0] = f32_to_f16(-4.0f);
  h.data<uint16_t>()[1] = f32_to_f16(4.0f);
  Tensor hmax(DType::kF16, {});
  hmax.data<uint16_t>()[0] = f32_to_f16(1.5f);
  auto d = run_node(make_node("Clip", 3), {&h, nullptr, &hmax});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(f16_to_f32((*d)[0].data<uint16_t>()[0]), -4.0f);
  EXPECT_EQ(f16_to_f32((*d)[0].data<uint16_t>()[1]), 1.5f);
}

TEST(MathOpsTest, Bf16ComputesInF32) {
  Tensor x(DType::kBF16, {3});
  for (int i = 0; i < 3; ++i) x.data<uint16_t>()[i] = f32_to_bf16(static_cast<float>(i) - 1.0f);
  auto y = run_node(make_node("Exp", 1), {&x});
  ASSERT_TRUE(y.ok());
  EXPECT_EQ((*y)[0].dtype(), DType::kBF16);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(bf16_to_f32((*y)[0].data<uint16_t>()[i]), std::exp(i - 1.0), 1e-2);
  }
}

}  // namespace
}  // namespace qtune
