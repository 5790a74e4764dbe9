// Optimizer steps of ai.onnx.preview.training against the spec's pseudo code: Adagrad with decay
// after the first step, Momentum standard and Nesterov before and after the first step, Adam with
// and without bias correction, several tensors per node, float and double, and malformed nodes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/op_util.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

Node training_node(const std::string& op, size_t inputs, size_t outputs,
                   std::map<std::string, Attribute> attrs) {
  Node n = make_node(op, inputs, outputs, std::move(attrs));
  n.domain = "ai.onnx.preview.training";
  return n;
}

Tensor f64(Shape s, std::vector<double> v) { return make_tensor<double>(DType::kF64, s, v); }

TEST(OpsTrainingTest, AdagradTwoTensorsWithDecay) {
  const double r = 0.1, norm = 0.01, eps = 1e-5, decay = 0.5;
  const int64_t t = 3;
  Tensor R = Tensor::scalar_f32(static_cast<float>(r)), T = Tensor::from_i64({}, {t});
  Tensor x1 = f64({2}, {1.0, -2.0}), g1 = f64({2}, {0.5, 0.25}), h1 = f64({2}, {1.0, 0.0});
  Tensor x2 = f64({1, 1}, {3.0}), g2 = f64({1, 1}, {-1.0}), h2 = f64({1, 1}, {2.0});
  Node node = training_node("Adagrad", 8, 4,
                            {{"norm_coefficient", attr_float(static_cast<float>(norm))},
                             {"epsilon", attr_float(static_cast<float>(eps))},
                             {"decay_factor", attr_float(static_cast<float>(decay))}});
  auto out = run_node(node, {&R, &T, &x1, &x2, &g1, &g2, &h1, &h2}, 1);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const double rr = static_cast<float>(r) / (1 + t * static_cast<float>(decay));
  auto check = [&](const Tensor& x, const Tensor& g, const Tensor& h, const Tensor& xn,
                   const Tensor& hn) {
    ASSERT_EQ(xn.shape(), x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double gr = static_cast<float>(norm) * x.get_f64(i) + g.get_f64(i);
      const double hh = h.get_f64(i) + gr * gr;
      EXPECT_NEAR(hn.get_f64(i), hh, 1e-12);
      EXPECT_NEAR(xn.get_f64(i), x.get_f64(i) - rr * gr / (std::sqrt(hh) + static_cast<float>(eps)),
                  1e-7);
    }
  };
  check(x1, g1, h1, (*out)[0], (*out)[2]);
  check(x2, g2, h2, (*out)[1], (*out)[3]);
}

TEST(OpsTrainingTest, MomentumStandardAndNesterov) {
  const float alpha = 0.9f, beta = 0.5f, norm = 0.1f, r = 0.2f;
  for (const char* mode : {"standard", "nesterov"}) {
    for (int64_t t : {0, 4}) {
      SCOPED_TRACE(std::string(mode) + " T=" + std::to_string(t));
      Tensor R = Tensor::scalar_f32(r), T = Tensor::from_i64({}, {t});
      Tensor x = Tensor::from_f32({3}, {1, 2, -3}), g = Tensor::from_f32({3}, {0.5f, -1, 2});
      Tensor v = Tensor::from_f32({3}, {0.1f, 0.2f, 0.3f});
      Node node = training_node("Momentum", 5, 2,
                                {{"alpha", attr_float(alpha)},
                                 {"beta", attr_float(beta)},
                                 {"norm_coefficient", attr_float(norm)},
                                 {"mode", attr_string(mode)}});
      auto out = run_node(node, {&R, &T, &x, &g, &v}, 1);
      ASSERT_TRUE(out.ok()) << out.status().message();
      for (int64_t i = 0; i < 3; ++i) {
        const double gr = norm * x.get_f64(i) + g.get_f64(i);
        const double vn = alpha * v.get_f64(i) + (t > 0 ? beta : 1.0) * gr;
        const double step = std::string(mode) == "nesterov" ? gr + alpha * vn : vn;
        EXPECT_NEAR((*out)[1].get_f64(i), vn, 1e-5);
        EXPECT_NEAR((*out)[0].get_f64(i), x.get_f64(i) - r * step, 1e-5);
      }
    }
  }
}

TEST(OpsTrainingTest, AdamBiasCorrectionAndPostNorm) {
  const double alpha = 0.8, beta = 0.6, eps = 1e-3, norm = 0.05, post = 0.1, r = 0.25;
  for (int64_t t : {0, 3}) {
    SCOPED_TRACE(t);
    Tensor R = make_tensor<double>(DType::kF64, {}, {r}), T = Tensor::from_i64({}, {t});
    Tensor x1 = Tensor::from_f32({2}, {1.5f, -0.5f}), g1 = Tensor::from_f32({2}, {0.2f, 1.0f});
    Tensor v1 = Tensor::from_f32({2}, {0.1f, -0.3f}), h1 = Tensor::from_f32({2}, {0.4f, 0.0f});
    Tensor x2 = Tensor::from_f32({1}, {2.0f}), g2 = Tensor::from_f32({1}, {-3.0f});
    Tensor v2 = Tensor::from_f32({1}, {0.5f}), h2 = Tensor::from_f32({1}, {1.0f});
    Node node = training_node("Adam", 10, 6,
                              {{"alpha", attr_float(static_cast<float>(alpha))},
                               {"beta", attr_float(static_cast<float>(beta))},
                               {"epsilon", attr_float(static_cast<float>(eps))},
                               {"norm_coefficient", attr_float(static_cast<float>(norm))},
                               {"norm_coefficient_post", attr_float(static_cast<float>(post))}});
    auto out = run_node(node, {&R, &T, &x1, &x2, &g1, &g2, &v1, &v2, &h1, &h2}, 1);
    ASSERT_TRUE(out.ok()) << out.status().message();
    const double a = static_cast<float>(alpha), b = static_cast<float>(beta);
    const double rr = t > 0 ? r * std::sqrt(1 - std::pow(b, t)) / (1 - std::pow(a, t)) : r;
    auto check = [&](const Tensor& x, const Tensor& g, const Tensor& v, const Tensor& h, size_t k) {
      for (int64_t i = 0; i < x.numel(); ++i) {
        const double gr = static_cast<float>(norm) * x.get_f64(i) + g.get_f64(i);
        const double vn = a * v.get_f64(i) + (1 - a) * gr;
        const double hn = b * h.get_f64(i) + (1 - b) * gr * gr;
        const double xn = (1 - static_cast<float>(post)) *
                          (x.get_f64(i) - rr * vn / (std::sqrt(hn) + static_cast<float>(eps)));
        EXPECT_NEAR((*out)[k].get_f64(i), xn, 1e-5);
        EXPECT_NEAR((*out)[2 + k].get_f64(i), vn, 1e-5);
        EXPECT_NEAR((*out)[4 + k].get_f64(i), hn, 1e-5);
      }
    };
    check(x1, g1, v1, h1, 0);
    check(x2, g2, v2, h2, 1);
  }
}

TEST(OpsTrainingTest, RejectsMalformedNodes) {
  Tensor R = Tensor::scalar_f32(0.1f), T = Tensor::from_i64({}, {0});
  Tensor x = Tensor::from_f32({2}, {1, 2}), g = Tensor::from_f32({2}, {1, 2});
  Tensor h = Tensor::from_f32({2}, {1, 2}), h3 = Tensor::from_f32({3}, {1, 2, 3});
  auto status = [](const Node& n, std::vector<const Tensor*> in) {
    auto out = run_node(n, std::move(in), 1, false);
    return out.ok() ? Status::Ok() : out.status();
  };
  // Four tensor inputs do not split into X, G, H groups.
  EXPECT_EQ(status(training_node("Adagrad", 6, 2, {}), {&R, &T, &x, &g, &h, &h}).code(),
            StatusCode::kInvalidInput);
  // Outputs must be X_new and H_new per tensor.
  EXPECT_EQ(status(training_node("Adagrad", 5, 1, {}), {&R, &T, &x, &g, &h}).code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(status(training_node("Adagrad", 5, 2, {}), {&R, &T, &x, &g, &h3}).code(),
            StatusCode::kUnsupported);
  // Momentum's attributes have no defaults.
  EXPECT_EQ(
      status(training_node("Momentum", 5, 2, {{"alpha", attr_float(0.9f)}}), {&R, &T, &x, &g, &h})
          .code(),
      StatusCode::kInvalidInput);
  EXPECT_EQ(status(training_node("Momentum", 5, 2,
                                 {{"alpha", attr_float(0.9f)},
                                  {"beta", attr_float(0.9f)},
                                  {"norm_coefficient", attr_float(0.0f)},
                                  {"mode", attr_string("heavy-ball")}}),
                   {&R, &T, &x, &g, &h})
                .code(),
            StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
