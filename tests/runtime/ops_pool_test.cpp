// Pooling kernels (runtime/ops/pool.cpp) run one node at a time through the versioned registry;
// every run_node also checks the produced type and shape against libonnx's inference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using op_test::attr_float;
using op_test::attr_int;
using op_test::attr_ints;
using op_test::attr_string;
using op_test::make_node;
using op_test::make_tensor;
using op_test::run_node;
using op_test::values;

Tensor f64(Shape s, const std::vector<double>& v) { return make_tensor(DType::kF64, std::move(s), v); }
Tensor f16(Shape s, const std::vector<float>& v) {
  std::vector<uint16_t> h;
  for (float f : v) h.push_back(f32_to_f16(f));
  return make_tensor(DType::kF16, std::move(s), h);
}
std::vector<float> f16_values(const Tensor& t) {
  std::vector<float> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(f16_to_f32(t.data<uint16_t>()[i]));
  return v;
}

// 3x3 image: max over 2x2 windows, stride 2, ceil_mode (the last window is partial).
TEST(OpsPoolTest, MaxPoolIndicesAndCeilModeAcrossTypes) {
  Tensor x = Tensor::from_f32({1, 1, 3, 3}, {1, 9, 3, 4, 5, 6, 7, 8, 2});
  Node n = make_node("MaxPool", 1, 2,
                     {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})},
                      {"ceil_mode", attr_int(1)}});
  auto r = run_node(n, {&x}, 12);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{9, 6, 8, 2}));
  EXPECT_EQ(values<int64_t>((*r)[1]), (std::vector<int64_t>{1, 5, 7, 8}));
  // Column-major indices (storage_order 1): element (h, w) is h + w * H.
  n.attrs["storage_order"] = attr_int(1);
  r = run_node(n, {&x}, 12);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<int64_t>((*r)[1]), (std::vector<int64_t>{3, 7, 5, 8}));

  Tensor xd = f64({1, 1, 3, 3}, {1, 9, 3, 4, 5, 6, 7, 8, 2});
  r = run_node(n, {&xd}, 12);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<double>((*r)[0]), (std::vector<double>{9, 6, 8, 2}));
  Tensor xh = f16({1, 1, 3, 3}, {1, 9, 3, 4, 5, 6, 7, 8, 2});
  r = run_node(n, {&xh}, 12);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].dtype(), DType::kF16);
  EXPECT_EQ(f16_values((*r)[0]), (std::vector<float>{9, 6, 8, 2}));
  EXPECT_EQ(values<int64_t>((*r)[1]), (std::vector<int64_t>{3, 7, 5, 8}));
}

TEST(OpsPoolTest, MaxPoolSkipsNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_f32({1, 1, 1, 4}, {nan, 2, 3, nan});
  Node n = make_node("MaxPool", 1, 2, {{"kernel_shape", attr_ints({1, 2})}, {"strides", attr_ints({1, 2})}});
  auto r = run_node(n, {&x});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{2, 3}));
  EXPECT_EQ(values<int64_t>((*r)[1]), (std::vector<int64_t>{1, 2}));
  r = run_node(make_node("MaxPool", 1, 1, {{"kernel_shape", attr_ints({1, 2})}, {"strides", attr_ints({1, 2})}}), {&x});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{2, 3}));
  Tensor x22 = Tensor::from_f32({1, 1, 2, 2}, {nan, 1, nan, nan});  // the 2x2/stride-2 loop
  r = run_node(make_node("MaxPool", 1, 1, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}), {&x22});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{1}));
}

// Without Indices a 1-D/2-D pool runs row by row; with them, window by window. Both give the
// same maxima over strides, dilations, pads (also past the image's end) and ceil_mode, NaN
// and negative values included.
TEST(OpsPoolTest, MaxPoolRowPathMatchesTheWindowWalk) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    std::vector<int64_t> kernel, strides, dilations, pads;
    int64_t ceil;
  };
  const std::vector<Case> cases = {
      {{3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0}, {{3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 0},
      {{2, 3}, {1, 2}, {1, 1}, {0, 1, 1, 0}, 1}, {{3, 2}, {2, 1}, {2, 2}, {2, 0, 0, 1}, 0},
      {{5, 5}, {3, 3}, {1, 1}, {2, 2, 2, 2}, 1}, {{1, 3}, {1, 1}, {1, 3}, {0, 2, 0, 2}, 0},
      {{3, 3}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 1}};
  for (const Case& c : cases) {
    Shape shape = {2, 3, 9, 11};
    std::vector<float> v(2 * 3 * 9 * 11);
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] = i % 17 == 5 ? nan : static_cast<float>((i * 7919) % 23) - 11.5f;
    }
    Tensor x = Tensor::from_f32(shape, v);
    std::map<std::string, Attribute> attrs = {
        {"kernel_shape", attr_ints(c.kernel)}, {"strides", attr_ints(c.strides)},
        {"dilations", attr_ints(c.dilations)}, {"pads", attr_ints(c.pads)},
        {"ceil_mode", attr_int(c.ceil)}};
    auto rows = run_node(make_node("MaxPool", 1, 1, attrs), {&x}, 12);
    auto walk = run_node(make_node("MaxPool", 1, 2, attrs), {&x}, 12);
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    ASSERT_TRUE(walk.ok()) << walk.status().message();
    ASSERT_EQ((*rows)[0].shape(), (*walk)[0].shape());
    EXPECT_EQ(values<float>((*rows)[0]), values<float>((*walk)[0]))
        << "kernel " << c.kernel[0] << "x" << c.kernel[1] << " stride " << c.strides[0];
  }
}

TEST(OpsPoolTest, MaxPoolInt8FromOpset12Only) {
  Tensor xu = make_tensor<uint8_t>(DType::kU8, {1, 2, 2, 2}, {1, 200, 3, 4, 5, 6, 255, 0});
  Node n = make_node("MaxPool", 1, 1, {{"kernel_shape", attr_ints({2, 2})}});
  auto r = run_node(n, {&xu}, 12);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<uint8_t>((*r)[0]), (std::vector<uint8_t>{200, 255}));
  Tensor xs = make_tensor<int8_t>(DType::kS8, {1, 1, 1, 3}, {-7, -2, -9});
  Node n1 = make_node("MaxPool", 1, 1, {{"kernel_shape", attr_ints({1, 2})}});
  r = run_node(n1, {&xs}, 13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<int8_t>((*r)[0]), (std::vector<int8_t>{-2, -2}));
  EXPECT_EQ(run_node(n, {&xu}, 11).status().code(), StatusCode::kUnsupported);
}

TEST(OpsPoolTest, MaxPoolOlderOpsetsAndDilations) {
  Tensor x = op_test::iota_f32({1, 1, 4, 4});
  // Opset 7: no Indices output.
  auto r = run_node(make_node("MaxPool", 1, 1, {{"kernel_shape", attr_ints({2, 2})}}), {&x}, 7);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{5, 6, 7, 9, 10, 11, 13, 14, 15}));
  // Opset 8: Indices.
  r = run_node(make_node("MaxPool", 1, 2, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}),
               {&x}, 8);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<int64_t>((*r)[1]), (std::vector<int64_t>{5, 7, 13, 15}));
  // Opset 10: dilation 2 takes taps 0 and 2.
  r = run_node(make_node("MaxPool", 1, 1, {{"kernel_shape", attr_ints({2, 2})}, {"dilations", attr_ints({2, 2})}}),
               {&x}, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{10, 11, 14, 15}));
}

// Four spatial dims take the generic walker; with two unit dims in front they must equal the
// 2-D pool on the same data.
TEST(OpsPoolTest, FourSpatialDimsMatchTheTwoDimensionalPool) {
  std::vector<float> v(2 * 5 * 6);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7) % 11) - 5.0f;
  Tensor x2 = Tensor::from_f32({1, 2, 5, 6}, v), x4 = Tensor::from_f32({1, 2, 1, 1, 5, 6}, v);
  const std::map<std::string, Attribute> a2 = {{"kernel_shape", attr_ints({3, 2})},
                                               {"strides", attr_ints({2, 1})},
                                               {"pads", attr_ints({1, 0, 1, 1})}};
  const std::map<std::string, Attribute> a4 = {{"kernel_shape", attr_ints({1, 1, 3, 2})},
                                               {"strides", attr_ints({1, 1, 2, 1})},
                                               {"pads", attr_ints({0, 0, 1, 0, 0, 0, 1, 1})}};
  for (const std::string op : {"MaxPool", "AveragePool", "LpPool"}) {
    auto r2 = run_node(make_node(op, 1, op == "MaxPool" ? 2 : 1, a2), {&x2});
    auto r4 = run_node(make_node(op, 1, op == "MaxPool" ? 2 : 1, a4), {&x4});
    ASSERT_TRUE(r2.ok() && r4.ok()) << op << ": " << r2.status().message() << r4.status().message();
    EXPECT_EQ((*r4)[0].shape(), (Shape{1, 2, 1, 1, 3, 6})) << op;
    EXPECT_EQ(values<float>((*r4)[0]), values<float>((*r2)[0])) << op;
    if (op == "MaxPool") {
      EXPECT_EQ(values<int64_t>((*r4)[1]), values<int64_t>((*r2)[1]));
    }
  }
  // Column-major indices count the leading unit dims first, so they equal the 2-D ones too.
  auto c2 = run_node(make_node("MaxPool", 1, 2, {{"kernel_shape", attr_ints({2, 2})}, {"storage_order", attr_int(1)}}), {&x2});
  auto c4 = run_node(make_node("MaxPool", 1, 2, {{"kernel_shape", attr_ints({1, 1, 2, 2})}, {"storage_order", attr_int(1)}}), {&x4});
  ASSERT_TRUE(c2.ok() && c4.ok());
  EXPECT_EQ(values<int64_t>((*c4)[1]), values<int64_t>((*c2)[1]));
}

TEST(OpsPoolTest, MaxPoolBadInputs) {
  Tensor x = op_test::iota_f32({1, 1, 4, 4});
  auto r = run_node(make_node("MaxPool", 1, 1), {&x});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("(MaxPool)"), std::string::npos) << r.status().message();
  r = run_node(make_node("MaxPool", 1, 1, {{"kernel_shape", attr_ints({2})}}), {&x});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  r = run_node(make_node("MaxPool", 1, 1, {{"kernel_shape", attr_ints({5, 5})}}), {&x});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
}

TEST(OpsPoolTest, AveragePoolPaddingModes) {
  Tensor x = Tensor::from_f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Node n = make_node("AveragePool", 1, 1,
                     {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1, 1})}});
  auto r = run_node(n, {&x}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].shape(), (Shape{1, 1, 3, 3}));
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[0], 1.0f);  // only the corner is real
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[4], 2.5f);  // the full window
  n.attrs["count_include_pad"] = attr_int(1);
  r = run_node(n, {&x}, 7);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[0], 0.25f);  // padding counts as zeros
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[1], 0.75f);
  Tensor xd = f64({1, 1, 2, 2}, {1, 2, 3, 4});
  r = run_node(n, {&xd}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(values<double>((*r)[0])[1], 0.75);
  Tensor xh = f16({1, 1, 2, 2}, {1, 2, 3, 4});
  r = run_node(n, {&xh}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(f16_values((*r)[0])[1], 0.75f);
  // Opset 1 has no count_include_pad: excluded padding.
  r = run_node(make_node("AveragePool", 1, 1, {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1, 1})}}),
               {&x}, 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[0], 1.0f);
}

TEST(OpsPoolTest, AveragePoolCeilModeAnd1dAnd3d) {
  // 1-D, ceil_mode: on 5 elements the windows fit exactly; on 6 the last one is partial.
  Tensor x = Tensor::from_f32({1, 1, 5}, {1, 2, 3, 4, 5});
  auto r = run_node(make_node("AveragePool", 1, 1,
                              {{"kernel_shape", attr_ints({3})}, {"strides", attr_ints({2})},
                               {"ceil_mode", attr_int(1)}}),
                    {&x}, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{2, 4}));
  Tensor x6 = Tensor::from_f32({1, 1, 6}, {1, 2, 3, 4, 5, 6});
  r = run_node(make_node("AveragePool", 1, 1,
                         {{"kernel_shape", attr_ints({3})}, {"strides", attr_ints({2})},
                          {"ceil_mode", attr_int(1)}}),
               {&x6}, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{2, 4, 5.5f}));
  Tensor x3 = op_test::iota_f32({1, 1, 2, 2, 2});
  r = run_node(make_node("AveragePool", 1, 1, {{"kernel_shape", attr_ints({2, 2, 2})}}), {&x3});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{3.5f}));
  // SAME_LOWER pads the start: the first window sees x[0] alone.
  r = run_node(make_node("AveragePool", 1, 1,
                         {{"kernel_shape", attr_ints({2})}, {"auto_pad", attr_string("SAME_LOWER")}}),
               {&x}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{1, 1.5f, 2.5f, 3.5f, 4.5f}));
}

TEST(OpsPoolTest, LpPoolNormsOfWindows) {
  Tensor x = Tensor::from_f32({1, 1, 4}, {3, -4, 1, 0});
  Node n = make_node("LpPool", 1, 1, {{"kernel_shape", attr_ints({2})}, {"strides", attr_ints({2})}});
  auto r = run_node(n, {&x}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{5, 1}));  // p defaults to 2
  n.attrs["p"] = attr_int(1);
  n.attrs["pads"] = attr_ints({1, 1});
  r = run_node(n, {&x}, 2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{3, 5, 0}));
  Tensor xd = f64({1, 1, 4}, {3, -4, 1, 0});
  r = run_node(n, {&xd}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<double>((*r)[0]), (std::vector<double>{3, 5, 0}));
  // LpPool-1 takes p as a float.
  Node n1 = make_node("LpPool", 1, 1, {{"kernel_shape", attr_ints({2})}, {"strides", attr_ints({2})},
                                       {"p", attr_float(1.0f)}});
  r = run_node(n1, {&x}, 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{7, 1}));
  n.attrs["p"] = attr_int(0);
  EXPECT_EQ(run_node(n, {&x}, 11).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsPoolTest, GlobalPools) {
  Tensor x = Tensor::from_f32({1, 2, 2, 2}, {1, 2, 3, 4, 10, 10, 10, 14});
  auto r = run_node(make_node("GlobalAveragePool", 1), {&x});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{2.5f, 11.0f}));
  r = run_node(make_node("GlobalMaxPool", 1), {&x}, 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>((*r)[0]), (std::vector<float>{4, 14}));
  Tensor l = Tensor::from_f32({1, 1, 2}, {3, 4});
  r = run_node(make_node("GlobalLpPool", 1), {&l}, 2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[0], 5.0f);
  r = run_node(make_node("GlobalLpPool", 1, 1, {{"p", attr_int(1)}}), {&l});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[0], 7.0f);
  r = run_node(make_node("GlobalLpPool", 1, 1, {{"p", attr_float(1.0f)}}), {&l}, 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[0], 7.0f);
  Tensor xd = f64({1, 1, 3}, {-1, -5, -2});
  r = run_node(make_node("GlobalMaxPool", 1), {&xd});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<double>((*r)[0]), (std::vector<double>{-1}));
  Tensor xh = f16({1, 1, 4}, {1, 2, 3, 6});
  r = run_node(make_node("GlobalAveragePool", 1), {&xh});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(f16_values((*r)[0]), (std::vector<float>{3}));
  Tensor x1(DType::kF32, {3});
  EXPECT_EQ(run_node(make_node("GlobalMaxPool", 1), {&x1}, 13).status().code(),
            StatusCode::kInvalidInput);
}

TEST(OpsPoolTest, MaxUnpoolScattersAtIndices) {
  Tensor x = Tensor::from_f32({1, 1, 2, 2}, {5, 6, 7, 8});
  Tensor idx = Tensor::from_i64({1, 1, 2, 2}, {5, 7, 13, 15});
  Node n = make_node("MaxUnpool", 2, 1, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}});
  auto r = run_node(n, {&x, &idx}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(values<float>((*r)[0]),
            (std::vector<float>{0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 7, 0, 8}));
  // A larger output_shape keeps the unpooled block at the start of every dim.
  Tensor shape = Tensor::from_i64({4}, {1, 1, 5, 5});
  Node n3 = make_node("MaxUnpool", 3, 1, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}});
  r = run_node(n3, {&x, &idx, &shape}, 9);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].shape(), (Shape{1, 1, 5, 5}));
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[6], 5.0f);
  EXPECT_FLOAT_EQ(values<float>((*r)[0])[18], 8.0f);
  Tensor xd = f64({1, 1, 2, 2}, {5, 6, 7, 8});
  r = run_node(n, {&xd, &idx}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(values<double>((*r)[0])[15], 8.0);

  Tensor bad = Tensor::from_i64({1, 1, 2, 2}, {5, 7, 13, 16});
  auto e = run_node(n, {&x, &bad}, 11);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(e.status().message().find("(MaxUnpool)"), std::string::npos);
  Tensor small = Tensor::from_i64({4}, {1, 1, 3, 3});
  EXPECT_EQ(run_node(n3, {&x, &idx, &small}, 11).status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
