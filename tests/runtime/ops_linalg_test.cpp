#include <gtest/gtest.h>

#include <cmath>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

Node einsum_node(const std::string& eq, size_t n_inputs) {
  return make_node("Einsum", n_inputs, 1, {{"equation", attr_string(eq)}});
}

TEST(OpsLinalgTest, EinsumMatmulTransposeAndImplicitOutput) {
  Tensor a = iota_f32({2, 3}), b = iota_f32({3, 2});
  auto mm = run_node(einsum_node("ij,jk->ik", 2), {&a, &b});
  ASSERT_TRUE(mm.ok()) << mm.status().message();
  EXPECT_EQ(values<float>((*mm)[0]), (std::vector<float>{10, 13, 28, 40}));
  // Implicit output: the labels used once, alphabetically ("ji" -> "ij" is a transpose).
  auto tr = run_node(einsum_node("ji", 1), {&a});
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ((*tr)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>((*tr)[0]), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  auto sum = run_node(einsum_node("ij->", 1), {&a});
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ((*sum)[0].data<float>()[0], 15);
  auto bad = run_node(einsum_node("ij,jk->iz", 2), {&a, &b});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_node(einsum_node("ij,jk", 2), {&a, &a}).status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_node(einsum_node("i1->i", 1), {&a}).status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_node(einsum_node("ij->ii", 1), {&a}).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsLinalgTest, EinsumDiagonalsEllipsisAndIntegers) {
  Tensor m = iota_f32({3, 3});
  auto diag = run_node(einsum_node("ii->i", 1), {&m});
  ASSERT_TRUE(diag.ok()) << diag.status().message();
  EXPECT_EQ(values<float>((*diag)[0]), (std::vector<float>{0, 4, 8}));
  auto trace = run_node(einsum_node("ii", 1), {&m});
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ((*trace)[0].data<float>()[0], 12);
  // Ellipsis dims broadcast: [2, 1, 2] with [1, 3, 2] batches to [2, 3].
  Tensor x = iota_f32({2, 1, 2}), y = iota_f32({1, 3, 2});
  auto e = run_node(einsum_node("...j,...j->...", 2), {&x, &y});
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ((*e)[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>((*e)[0]), (std::vector<float>{1, 3, 5, 3, 13, 23}));
  Tensor i = make_tensor<int32_t>(DType::kS32, {3}, {1, 2, 3});
  auto dot = run_node(einsum_node("i,i", 2), {&i, &i});
  ASSERT_TRUE(dot.ok());
  EXPECT_EQ((*dot)[0].data<int32_t>()[0], 14);
}

TEST(OpsLinalgTest, EinsumThreeOperandsAndBatchedContraction) {
  // Batched matmul over two summed labels against a direct loop.
  Tensor a = iota_f32({2, 3, 4, 5}), b = iota_f32({2, 5, 4, 6});
  auto r = run_node(einsum_node("bijk,bkjl->bil", 2), {&a, &b});
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (int64_t bb = 0; bb < 2; ++bb) {
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t l = 0; l < 6; ++l) {
        double want = 0;
        for (int64_t j = 0; j < 4; ++j) {
          for (int64_t k = 0; k < 5; ++k) {
            want += a.data<float>()[((bb * 3 + i) * 4 + j) * 5 + k] *
                    b.data<float>()[((bb * 5 + k) * 4 + j) * 6 + l];
          }
        }
        EXPECT_FLOAT_EQ((*r)[0].data<float>()[(bb * 3 + i) * 6 + l], static_cast<float>(want));
      }
    }
  }
  Tensor u = Tensor::from_f32({2}, {1, 2}), v = Tensor::from_f32({2}, {3, 4});
  Tensor w = Tensor::from_f32({2}, {5, 6});
  auto outer = run_node(einsum_node("i,j,k->ijk", 3), {&u, &v, &w});
  ASSERT_TRUE(outer.ok());
  EXPECT_EQ((*outer)[0].data<float>()[7], 2 * 4 * 6);
}

TEST(OpsLinalgTest, DetBatchedWithPivotingAndSingular) {
  // [[0, 1], [1, 0]] needs a row swap (det -1); the second matrix is singular.
  Tensor x = Tensor::from_f32({2, 2, 2}, {0, 1, 1, 0, 1, 2, 2, 4});
  auto r = run_node(make_node("Det", 1), {&x});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{-1, 0}));
  Tensor d(DType::kF64, {3, 3});
  const double v[] = {2, -3, 1, 2, 0, -1, 1, 4, 5};
  std::copy(v, v + 9, d.data<double>());
  auto r3 = run_node(make_node("Det", 1), {&d}, 11);
  ASSERT_TRUE(r3.ok());
  EXPECT_NEAR((*r3)[0].data<double>()[0], 49, 1e-9);
  Tensor rect = iota_f32({2, 3});
  EXPECT_EQ(run_node(make_node("Det", 1), {&rect}).status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
