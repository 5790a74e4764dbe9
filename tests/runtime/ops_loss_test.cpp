#include <gtest/gtest.h>

#include <cmath>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

// log-probabilities of 2 samples over 3 classes.
Tensor logp() { return Tensor::from_f32({2, 3}, {-1, -2, -3, -4, -5, -6}); }

TEST(OpsLossTest, NllLossReductionsWeightsAndIgnoreIndex) {
  Tensor x = logp();
  Tensor t = Tensor::from_i64({2}, {2, 0});
  auto none = run_node(make_node("NegativeLogLikelihoodLoss", 2, 1,
                                 {{"reduction", attr_string("none")}}),
                       {&x, &t}, 12);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(values<float>((*none)[0]), (std::vector<float>{3, 4}));
  auto mean = run_node(make_node("NegativeLogLikelihoodLoss", 2), {&x, &t});
  ASSERT_TRUE(mean.ok());
  EXPECT_FLOAT_EQ((*mean)[0].data<float>()[0], 3.5f);
  // Weighted mean divides by the weights of the targets used; int32 targets work too.
  Tensor w = Tensor::from_f32({3}, {1, 1, 3});
  Tensor t32 = make_tensor<int32_t>(DType::kS32, {2}, {2, 0});
  auto wm = run_node(make_node("NegativeLogLikelihoodLoss", 3), {&x, &t32, &w});
  ASSERT_TRUE(wm.ok());
  EXPECT_FLOAT_EQ((*wm)[0].data<float>()[0], (9 + 4) / 4.0f);
  // An ignored target contributes nothing.
  auto ig = run_node(make_node("NegativeLogLikelihoodLoss", 2, 1,
                               {{"reduction", attr_string("sum")}, {"ignore_index", attr_int(0)}}),
                     {&x, &t});
  ASSERT_TRUE(ig.ok());
  EXPECT_FLOAT_EQ((*ig)[0].data<float>()[0], 3.0f);
  Tensor out = Tensor::from_i64({2}, {3, 0});
  EXPECT_EQ(run_node(make_node("NegativeLogLikelihoodLoss", 2), {&x, &out}).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(run_node(make_node("NegativeLogLikelihoodLoss", 2, 1,
                               {{"reduction", attr_string("max")}}),
                     {&x, &t})
                .status()
                .code(),
            StatusCode::kInvalidInput);
}

TEST(OpsLossTest, SoftmaxCrossEntropyWithLogProb) {
  // Scores [N=1, C=2, D=2]: the loss per position is -log_softmax at the label.
  Tensor x = Tensor::from_f32({1, 2, 2}, {0, 1, 0, 3});
  Tensor t = Tensor::from_i64({1, 2}, {1, 0});
  auto r = run_node(
      make_node("SoftmaxCrossEntropyLoss", 2, 2, {{"reduction", attr_string("none")}}), {&x, &t},
      13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].shape(), (Shape{1, 2}));
  EXPECT_NEAR((*r)[0].data<float>()[0], std::log(2.0), 1e-6);
  EXPECT_NEAR((*r)[0].data<float>()[1], std::log1p(std::exp(2.0)), 1e-6);
  EXPECT_EQ((*r)[1].shape(), x.shape());
  EXPECT_NEAR((*r)[1].data<float>()[3], -std::log1p(std::exp(-2.0)), 1e-6);
  Tensor xd(DType::kF64, {1, 2});
  Tensor t1 = Tensor::from_i64({1}, {0});
  auto d = run_node(make_node("SoftmaxCrossEntropyLoss", 2), {&xd, &t1}, 12);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_NEAR((*d)[0].data<double>()[0], std::log(2.0), 1e-12);
  Tensor x1 = Tensor::from_f32({3}, {1, 2, 3});
  EXPECT_EQ(run_node(make_node("SoftmaxCrossEntropyLoss", 2), {&x1, &t1}).status().code(),
            StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
