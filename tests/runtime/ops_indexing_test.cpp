// Indexing and selection kernels beyond the ONNX node tests: other element types, older opset
// forms, attributes the node tests leave at their defaults, and invalid indices or axes.
#include <gtest/gtest.h>

#include "common/dtype.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

Tensor i32(Shape s, const std::vector<int32_t>& v) { return make_tensor(DType::kS32, s, v); }
Tensor i64(Shape s, const std::vector<int64_t>& v) { return Tensor::from_i64(s, v); }
Tensor f16(Shape s, const std::vector<float>& v) {
  std::vector<uint16_t> h;
  for (float x : v) h.push_back(f32_to_f16(x));
  return make_tensor(DType::kF16, s, h);
}
std::vector<float> f16_values(const Tensor& t) {
  std::vector<float> v;
  for (uint16_t h : values<uint16_t>(t)) v.push_back(f16_to_f32(h));
  return v;
}

TEST(OpsIndexing, GatherElementsInt64AxisOneAndBadIndex) {
  Node n = make_node("GatherElements", 2, 1, {{"axis", attr_int(1)}});
  Tensor data = i64({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor idx = i32({2, 2}, {2, -3, 0, 1});
  auto out = run_node(n, {&data, &idx}, 13);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int64_t>((*out)[0]), (std::vector<int64_t>{3, 1, 4, 5}));
  Tensor bad = i32({2, 2}, {3, 0, 0, 0});
  auto e = run_node(n, {&data, &bad}, 13, false);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(e.status().message().find("node 'n' (GatherElements)"), std::string::npos);
}

TEST(OpsIndexing, GatherNDBatchDimsAndOpset11) {
  Node n = make_node("GatherND", 2, 1, {{"batch_dims", attr_int(1)}});
  Tensor data = iota_f32({2, 2, 2});
  Tensor idx = i64({2, 1}, {1, 0});
  auto out = run_node(n, {&data, &idx}, 12);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{2, 3, 4, 5}));
  Node old = make_node("GatherND", 2);
  Tensor idx2 = i64({2, 2}, {0, 1, -1, 0});
  auto o11 = run_node(old, {&data, &idx2}, 11);
  ASSERT_TRUE(o11.ok()) << o11.status().message();
  EXPECT_EQ(values<float>((*o11)[0]), (std::vector<float>{2, 3, 4, 5}));
}

TEST(OpsIndexing, ScatterOpset9AndScatterElementsReductions) {
  Tensor data = iota_f32({2, 3});
  Tensor idx = i64({1, 2}, {2, 0});
  Tensor upd = Tensor::from_f32({1, 2}, {10, 20});
  Node scatter = make_node("Scatter", 3, 1, {{"axis", attr_int(1)}});
  auto s = run_node(scatter, {&data, &idx, &upd}, 9);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(values<float>((*s)[0]), (std::vector<float>{20, 1, 10, 3, 4, 5}));

  Node add = make_node("ScatterElements", 3, 1, {{"reduction", attr_string("add")}});
  Tensor hdata = f16({3}, {1, 2, 3});
  Tensor hidx = i32({3}, {1, 1, -1});
  Tensor hupd = f16({3}, {0.5f, 0.25f, 4});
  auto a = run_node(add, {&hdata, &hidx, &hupd}, 16);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(f16_values((*a)[0]), (std::vector<float>{1, 2.75f, 7}));

  Node mul = make_node("ScatterElements", 3, 1, {{"reduction", attr_string("mul")}});
  Tensor idata = i32({2}, {3, 5}), iidx = i64({2}, {0, 0}), iupd = i32({2}, {2, 7});
  auto m = run_node(mul, {&idata, &iidx, &iupd}, 16);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(values<int32_t>((*m)[0]), (std::vector<int32_t>{42, 5}));

  Node bad = make_node("ScatterElements", 3, 1, {{"reduction", attr_string("max")}});
  EXPECT_EQ(run_node(bad, {&idata, &iidx, &iupd}, 16, false).status().code(),
            StatusCode::kInvalidInput);
}

TEST(OpsIndexing, EmptyIndicesGatherNothingAndScatterNothing) {
  Tensor data = iota_f32({2, 3});
  Tensor idx = i64({0, 3}, {});
  Tensor upd = Tensor::from_f32({0, 3}, {});
  auto g = run_node(make_node("GatherElements", 2), {&data, &idx}, 13);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)[0].shape(), (Shape{0, 3}));
  auto s = run_node(make_node("ScatterElements", 3), {&data, &idx, &upd}, 13);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(values<float>((*s)[0]), values<float>(data));
}

TEST(OpsIndexing, ScatterNDOpset11AndMulReduction) {
  Tensor data = i64({2, 2}, {1, 2, 3, 4});
  Tensor idx = i64({1, 1}, {1});
  Tensor upd = i64({1, 2}, {7, 8});
  auto plain = run_node(make_node("ScatterND", 3), {&data, &idx, &upd}, 11);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(values<int64_t>((*plain)[0]), (std::vector<int64_t>{1, 2, 7, 8}));
  Node mul = make_node("ScatterND", 3, 1, {{"reduction", attr_string("mul")}});
  Tensor idx2 = i64({2, 2}, {0, 1, 0, 1});
  Tensor upd2 = i64({2}, {3, 5});
  auto m = run_node(mul, {&data, &idx2, &upd2}, 16);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(values<int64_t>((*m)[0]), (std::vector<int64_t>{1, 30, 3, 4}));
  Tensor wrong = i64({2}, {1, 2});
  EXPECT_EQ(run_node(make_node("ScatterND", 3), {&data, &idx, &wrong}, 13, false).status().code(),
            StatusCode::kInvalidInput);
}

TEST(OpsIndexing, CompressFlattensAndRejectsLongCondition) {
  Tensor x = i32({2, 2}, {1, 2, 3, 4});
  Tensor cond = make_tensor<uint8_t>(DType::kBool, {3}, {0, 1, 1});
  auto out = run_node(make_node("Compress", 2), {&x, &cond}, 9);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{2, 3}));
  Node ax = make_node("Compress", 2, 1, {{"axis", attr_int(1)}});
  auto e = run_node(ax, {&x, &cond}, 11, false);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidInput);
}

TEST(OpsIndexing, OneHotFloatIndicesAxisZero) {
  Node n = make_node("OneHot", 3, 1, {{"axis", attr_int(0)}});
  Tensor idx = Tensor::from_f32({2}, {1.0f, -1.0f});
  Tensor depth = i64({}, {3});
  Tensor vals = i32({2}, {0, 9});
  auto out = run_node(n, {&idx, &depth, &vals}, 11);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{0, 0, 9, 0, 0, 9}));
}

TEST(OpsIndexing, NonZeroBoolAndF16) {
  Tensor x = make_tensor<uint8_t>(DType::kBool, {2, 2}, {1, 0, 0, 1});
  auto out = run_node(make_node("NonZero", 1), {&x}, 13);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<int64_t>((*out)[0]), (std::vector<int64_t>{0, 1, 0, 1}));
  Tensor h = f16({3}, {0, -1, 0});
  auto o9 = run_node(make_node("NonZero", 1), {&h}, 9);
  ASSERT_TRUE(o9.ok()) << o9.status().message();
  EXPECT_EQ(values<int64_t>((*o9)[0]), (std::vector<int64_t>{1}));
}

TEST(OpsIndexing, UniqueInt8UnsortedAllOutputs) {
  Node n = make_node("Unique", 1, 4, {{"sorted", attr_int(0)}});
  Tensor x = make_tensor<int8_t>(DType::kS8, {5}, {3, -1, 3, 7, -1});
  auto out = run_node(n, {&x}, 11);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int8_t>((*out)[0]), (std::vector<int8_t>{3, -1, 7}));
  EXPECT_EQ(values<int64_t>((*out)[1]), (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(values<int64_t>((*out)[2]), (std::vector<int64_t>{0, 1, 0, 2, 1}));
  EXPECT_EQ(values<int64_t>((*out)[3]), (std::vector<int64_t>{2, 2, 1}));
}

TEST(OpsIndexing, TopKAcrossOpsets) {
  Tensor x = Tensor::from_f32({1, 4}, {1, 3, 3, 2});
  Node v1 = make_node("TopK", 1, 2, {{"k", attr_int(2)}});
  auto o1 = run_node(v1, {&x}, 9);
  ASSERT_TRUE(o1.ok()) << o1.status().message();
  EXPECT_EQ(values<float>((*o1)[0]), (std::vector<float>{3, 3}));
  EXPECT_EQ(values<int64_t>((*o1)[1]), (std::vector<int64_t>{1, 2}));  // ties by index
  Tensor k = i64({1}, {3});
  auto o10 = run_node(make_node("TopK", 2, 2), {&x, &k}, 10);
  ASSERT_TRUE(o10.ok()) << o10.status().message();
  EXPECT_EQ(values<int64_t>((*o10)[1]), (std::vector<int64_t>{1, 2, 3}));
  Node smallest = make_node("TopK", 2, 2, {{"largest", attr_int(0)}, {"axis", attr_int(0)}});
  Tensor xi = i32({3, 1}, {5, -2, 5});
  Tensor k2 = i64({1}, {2});
  auto o11 = run_node(smallest, {&xi, &k2}, 11);
  ASSERT_TRUE(o11.ok()) << o11.status().message();
  EXPECT_EQ(values<int32_t>((*o11)[0]), (std::vector<int32_t>{-2, 5}));
  EXPECT_EQ(values<int64_t>((*o11)[1]), (std::vector<int64_t>{1, 0}));
  Tensor too_big = i64({1}, {5});
  EXPECT_EQ(run_node(make_node("TopK", 2, 2), {&x, &too_big}, 11, false).status().code(),
            StatusCode::kInvalidInput);
}

TEST(OpsIndexing, ReverseSequenceBatchMajorUint8) {
  Node n =
      make_node("ReverseSequence", 2, 1, {{"batch_axis", attr_int(0)}, {"time_axis", attr_int(1)}});
  Tensor x = make_tensor<uint8_t>(DType::kU8, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor lens = i64({2}, {3, 2});
  auto out = run_node(n, {&x, &lens}, 10);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{3, 2, 1, 5, 4, 6}));
  Tensor bad = i64({2}, {4, 1});
  EXPECT_EQ(run_node(n, {&x, &bad}, 10, false).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsIndexing, CumSumIntExclusiveReverseAndF16) {
  Node n = make_node("CumSum", 2, 1, {{"exclusive", attr_int(1)}, {"reverse", attr_int(1)}});
  Tensor x = i32({4}, {1, 2, 3, 4});
  Tensor axis = i32({}, {0});
  auto out = run_node(n, {&x, &axis}, 11);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{9, 7, 4, 0}));
  Tensor h = f16({2, 2}, {1, 2, 3, 4});
  Tensor ax1 = i64({1}, {-1});
  auto o14 = run_node(make_node("CumSum", 2), {&h, &ax1}, 14);
  ASSERT_TRUE(o14.ok()) << o14.status().message();
  EXPECT_EQ(f16_values((*o14)[0]), (std::vector<float>{1, 3, 3, 7}));
  // f16 only from opset 14.
  EXPECT_EQ(run_node(make_node("CumSum", 2), {&h, &ax1}, 13, false).status().code(),
            StatusCode::kUnsupported);
}

}  // namespace
}  // namespace qtune
