// Comparison, boolean and bitwise kernels (runtime/ops/logical.cpp) with libonnx's inferred shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using op_test::attr_string;
using op_test::make_node;
using op_test::make_tensor;
using op_test::run_node;
using op_test::values;

std::vector<uint8_t> bools(const Result<std::vector<Tensor>>& r) {
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return {};
  EXPECT_EQ(r.value()[0].dtype(), DType::kBool);
  return values<uint8_t>(r.value()[0]);
}

TEST(LogicalOpsTest, ComparisonsBroadcast) {
  Tensor a = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, std::nanf("")});
  Tensor b = Tensor::from_f32({3}, {2, 2, 2});
  EXPECT_EQ(bools(run_node(make_node("Equal", 2), {&a, &b})),
            (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(bools(run_node(make_node("Greater", 2), {&a, &b})),
            (std::vector<uint8_t>{0, 0, 1, 1, 1, 0}));
  EXPECT_EQ(bools(run_node(make_node("Less", 2), {&a, &b})),
            (std::vector<uint8_t>{1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(bools(run_node(make_node("GreaterOrEqual", 2), {&a, &b})),
            (std::vector<uint8_t>{0, 1, 1, 1, 1, 0}));
  EXPECT_EQ(bools(run_node(make_node("LessOrEqual", 2), {&a, &b})),
            (std::vector<uint8_t>{1, 1, 0, 0, 0, 0}));
  auto shape = run_node(make_node("Less", 2), {&a, &b});
  ASSERT_TRUE(shape.ok());
  EXPECT_EQ((*shape)[0].shape(), (Shape{2, 3}));
}

TEST(LogicalOpsTest, ComparisonsAreExactInEveryType) {
  // Values 2^53 + 1 and 2^53 are equal as doubles but not as int64.
  const int64_t big = (int64_t{1} << 53);
  Tensor a = Tensor::from_i64({2}, {big + 1, -1});
  Tensor b = Tensor::from_i64({2}, {big, -1});
  EXPECT_EQ(bools(run_node(make_node("Equal", 2), {&a, &b})), (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(bools(run_node(make_node("Greater", 2), {&a, &b}, 9)), (std::vector<uint8_t>{1, 0}));

  Tensor u = make_tensor<uint64_t>(DType::kU64, {2}, {std::numeric_limits<uint64_t>::max(), 0});
  Tensor v = make_tensor<uint64_t>(DType::kU64, {}, {1});
  EXPECT_EQ(bools(run_node(make_node("Less", 2), {&u, &v})), (std::vector<uint8_t>{0, 1}));

  Tensor h(DType::kF16, {2}), g(DType::kF16, {2});
  h.data<uint16_t>()[0] = f32_to_f16(1.5f);
  h.data<uint16_t>()[1] = f32_to_f16(-2.0f);
  g.data<uint16_t>()[0] = f32_to_f16(1.5f);
  g.data<uint16_t>()[1] = f32_to_f16(-1.0f);
  EXPECT_EQ(bools(run_node(make_node("LessOrEqual", 2), {&h, &g}, 12)),
            (std::vector<uint8_t>{1, 1}));

  Tensor t = make_tensor<uint8_t>(DType::kBool, {3}, {1, 0, 1});
  Tensor f = make_tensor<uint8_t>(DType::kBool, {3}, {1, 1, 0});
  EXPECT_EQ(bools(run_node(make_node("Equal", 2), {&t, &f})), (std::vector<uint8_t>{1, 0, 0}));
}

TEST(LogicalOpsTest, ComparisonErrorsAndOpsets) {
  Tensor a = Tensor::from_f32({2}, {1, 2});
  Tensor i = Tensor::from_i64({2}, {1, 2});
  Tensor c = Tensor::from_f32({3}, {1, 2, 3});
  EXPECT_EQ(run_node(make_node("Equal", 2), {&a, &i}).status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_node(make_node("Less", 2), {&a, &c}).status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_node(make_node("LessOrEqual", 2), {&a, &a}, 11).status().code(),
            StatusCode::kUnsupported);  // opset 11 expresses it as Less or Equal
  Tensor t = make_tensor<uint8_t>(DType::kBool, {1}, {1});
  EXPECT_EQ(run_node(make_node("Greater", 2), {&t, &t}).status().code(),
            StatusCode::kUnsupported);
}

TEST(LogicalOpsTest, BooleanLogicBroadcasts) {
  Tensor a = make_tensor<uint8_t>(DType::kBool, {2, 2}, {0, 0, 1, 1});
  Tensor b = make_tensor<uint8_t>(DType::kBool, {2}, {0, 1});
  EXPECT_EQ(bools(run_node(make_node("And", 2), {&a, &b}, 7)), (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(bools(run_node(make_node("Or", 2), {&a, &b})), (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(bools(run_node(make_node("Xor", 2), {&a, &b})), (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(bools(run_node(make_node("Not", 1), {&a})), (std::vector<uint8_t>{1, 1, 0, 0}));
  Tensor f = Tensor::from_f32({2}, {0, 1});
  EXPECT_EQ(run_node(make_node("And", 2), {&f, &f}).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(run_node(make_node("Or", 2), {&a, &f}).status().code(), StatusCode::kInvalidInput);
}

TEST(LogicalOpsTest, BitShiftBothDirections) {
  Tensor x = make_tensor<uint32_t>(DType::kU32, {4}, {16, 4, 1, 0xffffffffu});
  Tensor s = make_tensor<uint32_t>(DType::kU32, {4}, {1, 2, 31, 32});
  auto left = run_node(make_node("BitShift", 2, 1, {{"direction", attr_string("LEFT")}}), {&x, &s});
  ASSERT_TRUE(left.ok()) << left.status().message();
  EXPECT_EQ(values<uint32_t>((*left)[0]), (std::vector<uint32_t>{32, 16, 0x80000000u, 0}));
  auto right =
      run_node(make_node("BitShift", 2, 1, {{"direction", attr_string("RIGHT")}}), {&x, &s});
  ASSERT_TRUE(right.ok());
  EXPECT_EQ(values<uint32_t>((*right)[0]), (std::vector<uint32_t>{8, 1, 0, 0}));

  Tensor b = make_tensor<uint8_t>(DType::kU8, {2}, {0x81, 3});
  Tensor one = make_tensor<uint8_t>(DType::kU8, {}, {1});
  auto l8 = run_node(make_node("BitShift", 2, 1, {{"direction", attr_string("LEFT")}}), {&b, &one});
  ASSERT_TRUE(l8.ok());
  EXPECT_EQ(values<uint8_t>((*l8)[0]), (std::vector<uint8_t>{0x02, 6}));

  EXPECT_EQ(run_node(make_node("BitShift", 2, 1, {{"direction", attr_string("UP")}}), {&x, &s})
                .status()
                .code(),
            StatusCode::kInvalidInput);
  Tensor i = Tensor::from_i64({1}, {1});
  EXPECT_EQ(run_node(make_node("BitShift", 2, 1, {{"direction", attr_string("LEFT")}}), {&i, &i})
                .status()
                .code(),
            StatusCode::kUnsupported);
}

}  // namespace
}  // namespace qtune
