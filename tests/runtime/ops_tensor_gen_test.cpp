// Generator kernels (runtime/ops/tensor_gen.cpp): ConstantOfShape, Range, EyeLike and Trilu run
// through the versioned registry with libonnx's inference checked, over the element types the
// node tests skip, empty shapes, extreme diagonals and the errors bad inputs give.
#include <gtest/gtest.h>

#include <limits>

#include "runtime/kernel_registry.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using op_test::attr_int;
using op_test::attr_tensor;
using op_test::iota_f32;
using op_test::make_node;
using op_test::make_tensor;
using op_test::run1;
using op_test::run_code;
using op_test::values;

TEST(TensorGenOpsTest, ConstantOfShapeFillsTheValuesType) {
  Tensor shape = Tensor::from_i64({2}, {2, 3});
  Tensor y = run1(make_node("ConstantOfShape", 1), {&shape}, 9);
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(values<float>(y), std::vector<float>(6, 0.0f));

  Node n = make_node("ConstantOfShape", 1, 1,
                     {{"value", attr_tensor(make_tensor<int16_t>(DType::kS16, {1}, {-7}))}});
  y = run1(n, {&shape});
  EXPECT_EQ(y.dtype(), DType::kS16);
  EXPECT_EQ(values<int16_t>(y), std::vector<int16_t>(6, -7));
  Node b = make_node("ConstantOfShape", 1, 1,
                     {{"value", attr_tensor(make_tensor<uint8_t>(DType::kBool, {1}, {1}))}});
  Tensor scalar_shape(DType::kS64, {0});  // an empty shape makes a scalar
  y = run1(b, {&scalar_shape});
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(values<uint8_t>(y), std::vector<uint8_t>{1});
  Tensor with_zero = Tensor::from_i64({3}, {4, 0, 2});
  EXPECT_EQ(run1(n, {&with_zero}).shape(), (Shape{4, 0, 2}));

  Tensor neg = Tensor::from_i64({1}, {-1});
  EXPECT_EQ(run_code(n, {&neg}), StatusCode::kInvalidInput);
  Node two = make_node("ConstantOfShape", 1, 1,
                       {{"value", attr_tensor(Tensor::from_f32({2}, {1, 2}))}});
  EXPECT_EQ(run_code(two, {&shape}), StatusCode::kInvalidInput);
  Tensor f_shape = Tensor::from_f32({1}, {2});
  EXPECT_EQ(run_code(make_node("ConstantOfShape", 1), {&f_shape}), StatusCode::kUnsupported);
}

TEST(TensorGenOpsTest, RangeCountsCeilOfSpanOverDelta) {
  auto scalar = [](DType t, auto v) {
    return make_tensor<decltype(v)>(t, {}, {v});
  };
  Tensor s = scalar(DType::kS16, int16_t{10}), l = scalar(DType::kS16, int16_t{1}),
         d = scalar(DType::kS16, int16_t{-3});
  Tensor y = run1(make_node("Range", 3), {&s, &l, &d}, 11);
  EXPECT_EQ(y.dtype(), DType::kS16);
  EXPECT_EQ(values<int16_t>(y), (std::vector<int16_t>{10, 7, 4}));

  Tensor s64 = scalar(DType::kS64, int64_t{-5}), l64 = scalar(DType::kS64, int64_t{5}),
         d64 = scalar(DType::kS64, int64_t{5});
  EXPECT_EQ(values<int64_t>(run1(make_node("Range", 3), {&s64, &l64, &d64})),
            (std::vector<int64_t>{-5, 0}));
  EXPECT_EQ(run1(make_node("Range", 3), {&l64, &s64, &d64}).shape(), (Shape{0}));  // wrong way

  Tensor sd = scalar(DType::kF64, 0.5), ld = scalar(DType::kF64, 1.75), dd = scalar(DType::kF64, 0.25);
  EXPECT_EQ(values<double>(run1(make_node("Range", 3), {&sd, &ld, &dd})),
            (std::vector<double>{0.5, 0.75, 1.0, 1.25, 1.5}));

  Tensor zero = scalar(DType::kS64, int64_t{0});
  EXPECT_EQ(run_code(make_node("Range", 3), {&s64, &l64, &zero}), StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("Range", 3), {&s64, &l64, &dd}), StatusCode::kInvalidInput);
  Tensor inf = scalar(DType::kF64, std::numeric_limits<double>::infinity());
  EXPECT_EQ(run_code(make_node("Range", 3), {&sd, &inf, &dd}), StatusCode::kInvalidInput);
  Tensor lo = scalar(DType::kS64, std::numeric_limits<int64_t>::min()),
         hi = scalar(DType::kS64, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(run_code(make_node("Range", 3), {&lo, &hi, &d64}), StatusCode::kInvalidInput);
  Tensor u8 = scalar(DType::kU8, uint8_t{1});
  EXPECT_EQ(run_code(make_node("Range", 3), {&u8, &u8, &u8}), StatusCode::kUnsupported);
}

TEST(TensorGenOpsTest, EyeLikeDiagonalsAndDtype) {
  Tensor x = make_tensor<int32_t>(DType::kS32, {3, 4}, std::vector<int32_t>(12, 5));
  Tensor y = run1(make_node("EyeLike", 1, 1, {{"k", attr_int(1)}}), {&x}, 9);
  EXPECT_EQ(y.dtype(), DType::kS32);
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}));
  y = run1(make_node("EyeLike", 1, 1, {{"k", attr_int(-2)}, {"dtype", attr_int(9)}}), {&x});
  EXPECT_EQ(y.dtype(), DType::kBool);
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}));
  y = run1(make_node("EyeLike", 1, 1, {{"dtype", attr_int(10)}}), {&x});
  EXPECT_EQ(y.dtype(), DType::kF16);
  EXPECT_EQ(y.data<uint16_t>()[5], 0x3c00);
  EXPECT_EQ(values<int32_t>(run1(make_node("EyeLike", 1, 1, {{"k", attr_int(9)}}), {&x})),
            std::vector<int32_t>(12, 0));
  Tensor empty(DType::kF32, {0, 3});
  EXPECT_EQ(run1(make_node("EyeLike", 1), {&empty}).shape(), (Shape{0, 3}));

  Tensor v = iota_f32({4});
  EXPECT_EQ(run_code(make_node("EyeLike", 1), {&v}), StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("EyeLike", 1, 1, {{"dtype", attr_int(8)}}), {&x}),
            StatusCode::kUnsupported);  // strings
}

TEST(TensorGenOpsTest, TriluKeepsOneTrianglePerMatrix) {
  Tensor x = make_tensor<int64_t>(DType::kS64, {2, 2, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  EXPECT_EQ(values<int64_t>(run1(make_node("Trilu", 1), {&x}, 14)),
            (std::vector<int64_t>{1, 2, 3, 0, 5, 6, 7, 8, 9, 0, 11, 12}));
  Tensor k = Tensor::from_i64({}, {1});
  Node lower = make_node("Trilu", 2, 1, {{"upper", attr_int(0)}});
  EXPECT_EQ(values<int64_t>(run1(lower, {&x, &k})),
            (std::vector<int64_t>{1, 2, 0, 4, 5, 6, 7, 8, 0, 10, 11, 12}));
  Tensor big = Tensor::from_i64({}, {std::numeric_limits<int64_t>::max()});
  EXPECT_EQ(values<int64_t>(run1(lower, {&x, &big})), values<int64_t>(x));
  Tensor tiny = Tensor::from_i64({}, {std::numeric_limits<int64_t>::min()});
  EXPECT_EQ(values<int64_t>(run1(make_node("Trilu", 2), {&x, &tiny})), values<int64_t>(x));
  EXPECT_EQ(values<int64_t>(run1(make_node("Trilu", 2), {&x, &big})),
            std::vector<int64_t>(12, 0));

  Tensor h(DType::kBF16, {3, 2});
  for (int i = 0; i < 6; ++i) h.data<uint16_t>()[i] = 0x3f80;
  Tensor minus1 = Tensor::from_i64({1}, {-1});
  EXPECT_EQ(values<uint16_t>(run1(lower, {&h, &minus1})),
            (std::vector<uint16_t>{0, 0, 0x3f80, 0, 0x3f80, 0x3f80}));
  Tensor empty(DType::kBool, {0, 4});
  EXPECT_EQ(run1(make_node("Trilu", 1), {&empty}).shape(), (Shape{0, 4}));

  Tensor v = iota_f32({3});
  EXPECT_EQ(run_code(make_node("Trilu", 1), {&v}), StatusCode::kInvalidInput);
  Tensor two_k = Tensor::from_i64({2}, {0, 1});
  EXPECT_EQ(run_code(make_node("Trilu", 2), {&x, &two_k}), StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("Trilu", 1), {&x}, 13), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace qtune
