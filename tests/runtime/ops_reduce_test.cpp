#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

// [2, 3, 2] holding 1..12.
Tensor x12() { return Tensor::from_f32({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}); }

Node reduce_node(const std::string& op, std::vector<int64_t> axes, int64_t keepdims = 1) {
  std::map<std::string, Attribute> attrs = {{"keepdims", attr_int(keepdims)}};
  if (!axes.empty()) attrs["axes"] = attr_ints(std::move(axes));
  return make_node(op, 1, 1, attrs);
}

TEST(OpsReduceTest, ReduceMeanAxesAndKeepdims) {
  Tensor x = x12();
  auto all = run_node(reduce_node("ReduceMean", {}), {&x});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0].shape(), (Shape{1, 1, 1}));
  EXPECT_FLOAT_EQ((*all)[0].data<float>()[0], 6.5f);
  auto mid = run_node(reduce_node("ReduceMean", {1}, 0), {&x}, 11);
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(values<float>((*mid)[0]), (std::vector<float>{3, 4, 9, 10}));
  // Axes 0 and 2 are not adjacent: the strided path.
  auto outer = run_node(reduce_node("ReduceMean", {-1, 0}), {&x});
  ASSERT_TRUE(outer.ok());
  EXPECT_EQ((*outer)[0].shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(values<float>((*outer)[0]), (std::vector<float>{4.5f, 6.5f, 8.5f}));
  auto dup = run_node(reduce_node("ReduceMean", {1, -2}), {&x});
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(dup.status().message().find("node 'n' (ReduceMean)"), std::string::npos);
  EXPECT_EQ(run_node(reduce_node("ReduceMean", {3}), {&x}).status().code(),
            StatusCode::kInvalidInput);
  // Integer mean truncates.
  Tensor xi = make_tensor<int32_t>(DType::kS32, {3}, {1, 2, 2});
  auto mi = run_node(reduce_node("ReduceMean", {}), {&xi});
  ASSERT_TRUE(mi.ok());
  EXPECT_EQ((*mi)[0].data<int32_t>()[0], 1);
}

TEST(OpsReduceTest, ReduceSumAttributeAndInputAxes) {
  Tensor x = x12();
  auto a = run_node(reduce_node("ReduceSum", {0}, 0), {&x}, 11);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(values<float>((*a)[0]), (std::vector<float>{8, 10, 12, 14, 16, 18}));
  Tensor axes = Tensor::from_i64({1}, {2});
  auto b = run_node(make_node("ReduceSum", 2, 1, {{"keepdims", attr_int(0)}}), {&x, &axes}, 13);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(values<float>((*b)[0]), (std::vector<float>{3, 7, 11, 15, 19, 23}));
  // No axes: everything, or nothing with noop_with_empty_axes.
  auto all = run_node(make_node("ReduceSum", 1), {&x}, 13);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0].data<float>()[0], 78);
  Tensor none = Tensor::from_i64({0}, {});
  auto noop = run_node(make_node("ReduceSum", 2, 1, {{"noop_with_empty_axes", attr_int(1)}}),
                       {&x, &none}, 13);
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ(values<float>((*noop)[0]), values<float>(x));
  // Integers wrap instead of overflowing; an empty axis sums to 0.
  Tensor big = make_tensor<int32_t>(DType::kS32, {2}, {std::numeric_limits<int32_t>::max(), 1});
  auto w = run_node(make_node("ReduceSum", 1), {&big}, 13);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)[0].data<int32_t>()[0], std::numeric_limits<int32_t>::min());
  Tensor empty(DType::kF32, {2, 0});
  auto e = run_node(reduce_node("ReduceSum", {1}), {&empty}, 12);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(values<float>((*e)[0]), (std::vector<float>{0, 0}));
  Tensor bad = Tensor::from_f32({1}, {1});
  EXPECT_EQ(run_node(make_node("ReduceSum", 2), {&x, &bad}, 13).status().code(),
            StatusCode::kInvalidInput);
}

TEST(OpsReduceTest, ExtremesProductsAndNorms) {
  Tensor x = Tensor::from_f32({2, 2}, {-1, 2, -3, 4});
  auto run = [&](const std::string& op, const Tensor& in) {
    auto r = run_node(reduce_node(op, {1}, 0), {&in});
    EXPECT_TRUE(r.ok()) << op << ": " << r.status().message();
    return r.ok() ? values<float>((*r)[0]) : std::vector<float>{};
  };
  EXPECT_EQ(run("ReduceMax", x), (std::vector<float>{2, 4}));
  EXPECT_EQ(run("ReduceMin", x), (std::vector<float>{-1, -3}));
  EXPECT_EQ(run("ReduceProd", x), (std::vector<float>{-2, -12}));
  EXPECT_EQ(run("ReduceL1", x), (std::vector<float>{3, 7}));
  EXPECT_EQ(run("ReduceSumSquare", x), (std::vector<float>{5, 25}));
  EXPECT_EQ(run("ReduceL2", x), (std::vector<float>{std::sqrt(5.0f), 5}));
  Tensor pos = Tensor::from_f32({2, 2}, {1, 2, 3, 4});
  auto ls = run("ReduceLogSum", pos);
  EXPECT_NEAR(ls[0], std::log(3.0), 1e-6);
  auto lse = run("ReduceLogSumExp", pos);
  EXPECT_NEAR(lse[1], std::log(std::exp(3.0) + std::exp(4.0)), 1e-6);
  // Large values do not overflow log-sum-exp.
  Tensor huge = Tensor::from_f32({2}, {1000, 1000});
  auto h = run_node(reduce_node("ReduceLogSumExp", {}), {&huge});
  ASSERT_TRUE(h.ok());
  EXPECT_NEAR((*h)[0].data<float>()[0], 1000 + std::log(2.0), 1e-3);
  const float inf = std::numeric_limits<float>::infinity();
  Tensor ninf = Tensor::from_f32({2}, {-inf, -inf});
  auto ln = run_node(reduce_node("ReduceLogSumExp", {}), {&ninf});
  ASSERT_TRUE(ln.ok());
  EXPECT_EQ((*ln)[0].data<float>()[0], -inf);
  // Non-adjacent axes of an integer tensor.
  Tensor i3 = Tensor::from_i64({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto sq = run_node(reduce_node("ReduceSumSquare", {0, 2}, 0), {&i3});
  ASSERT_TRUE(sq.ok());
  EXPECT_EQ(values<int64_t>((*sq)[0]), (std::vector<int64_t>{1 + 4 + 25 + 36, 9 + 16 + 49 + 64}));
  // Max propagates NaN; int8 is allowed from opset 12; an empty max is -inf.
  Tensor nan = Tensor::from_f32({3}, {1, std::nanf(""), 3});
  auto n = run_node(reduce_node("ReduceMax", {}), {&nan});
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(std::isnan((*n)[0].data<float>()[0]));
  Tensor i8 = make_tensor<int8_t>(DType::kS8, {3}, {-5, 7, 2});
  auto m = run_node(reduce_node("ReduceMin", {}), {&i8}, 13);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)[0].data<int8_t>()[0], -5);
  Tensor empty(DType::kF32, {0});
  auto em = run_node(reduce_node("ReduceMax", {}, 0), {&empty});
  ASSERT_TRUE(em.ok());
  EXPECT_EQ((*em)[0].data<float>()[0], -std::numeric_limits<float>::infinity());
  // Integer and double paths.
  Tensor i64 = Tensor::from_i64({3}, {-2, 3, 4});
  auto p = run_node(reduce_node("ReduceProd", {}), {&i64});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)[0].data<int64_t>()[0], -24);
  auto l1 = run_node(reduce_node("ReduceL1", {}), {&i64}, 11);
  ASSERT_TRUE(l1.ok());
  EXPECT_EQ((*l1)[0].data<int64_t>()[0], 9);
  Tensor d(DType::kF64, {2});
  d.data<double>()[0] = 3;
  d.data<double>()[1] = 4;
  auto l2 = run_node(reduce_node("ReduceL2", {}), {&d});
  ASSERT_TRUE(l2.ok());
  EXPECT_EQ((*l2)[0].data<double>()[0], 5.0);
}

TEST(OpsReduceTest, HalfTypesAccumulateInDouble) {
  Tensor h(DType::kF16, {4});
  Tensor b(DType::kBF16, {4});
  for (int i = 0; i < 4; ++i) {
    h.data<uint16_t>()[i] = f32_to_f16(0.5f * i);
    b.data<uint16_t>()[i] = f32_to_bf16(0.5f * i);
  }
  auto s = run_node(reduce_node("ReduceSum", {}), {&h}, 11);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(f16_to_f32((*s)[0].data<uint16_t>()[0]), 3.0f);
  auto m = run_node(reduce_node("ReduceMean", {}), {&b}, 13);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(bf16_to_f32((*m)[0].data<uint16_t>()[0]), 0.75f);
}

TEST(OpsReduceTest, ArgMaxArgMinWithSelectLastIndex) {
  Tensor x = Tensor::from_f32({2, 3}, {1, 5, 5, 2, 0, 0});
  auto a = run_node(make_node("ArgMax", 1, 1, {{"axis", attr_int(1)}}), {&x}, 11);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ((*a)[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values<int64_t>((*a)[0]), (std::vector<int64_t>{1, 0}));
  auto last = run_node(make_node("ArgMax", 1, 1,
                                 {{"axis", attr_int(-1)}, {"select_last_index", attr_int(1)}}),
                       {&x}, 12);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(values<int64_t>((*last)[0]), (std::vector<int64_t>{2, 0}));
  auto mn = run_node(make_node("ArgMin", 1, 1,
                               {{"keepdims", attr_int(0)}, {"select_last_index", attr_int(1)}}),
                     {&x}, 13);
  ASSERT_TRUE(mn.ok());
  EXPECT_EQ((*mn)[0].shape(), (Shape{3}));
  EXPECT_EQ(values<int64_t>((*mn)[0]), (std::vector<int64_t>{0, 1, 1}));
  Tensor u8 = make_tensor<uint8_t>(DType::kU8, {3}, {4, 1, 1});
  auto m8 = run_node(make_node("ArgMin", 1), {&u8}, 7);
  ASSERT_TRUE(m8.ok());
  EXPECT_EQ((*m8)[0].data<int64_t>()[0], 1);
  Tensor nan = Tensor::from_f32({3}, {1, std::nanf(""), 7});
  auto an = run_node(make_node("ArgMin", 1), {&nan});
  ASSERT_TRUE(an.ok());
  EXPECT_EQ((*an)[0].data<int64_t>()[0], 1);  // the first NaN, as numpy
  EXPECT_EQ(run_node(make_node("ArgMax", 1, 1, {{"axis", attr_int(2)}}), {&x}).status().code(),
            StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
