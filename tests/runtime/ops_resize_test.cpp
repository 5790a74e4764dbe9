// Resize, Upsample and GridSample beyond the ONNX node tests: the opset 10 and Upsample forms,
// integer images, tf_crop_and_resize extrapolation in nearest mode, opset-specific coordinate
// modes, and invalid scale/size combinations.
#include <gtest/gtest.h>

#include "common/dtype.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

Node resize_node(std::map<std::string, Attribute> attrs, size_t n_inputs = 3) {
  Node n = make_node("Resize", n_inputs, 1, std::move(attrs));
  if (n_inputs >= 3) n.inputs[1] = "";  // no roi
  if (n_inputs == 4) n.inputs[2] = "";  // sizes instead of scales
  return n;
}

TEST(OpsResize, Opset10NearestIsAsymmetricFloor) {
  Node n = make_node("Resize", 2);
  Tensor x = iota_f32({1, 5});
  Tensor scales = Tensor::from_f32({2}, {1, 0.6f});
  auto out = run_node(n, {&x, &scales}, 10);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 3}));
  // x / 0.6 = 0, 1.67, 3.33 -> 0, 1, 3
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{0, 1, 3}));
  Node cubic = make_node("Resize", 2, 1, {{"mode", attr_string("cubic")}});
  EXPECT_EQ(run_node(cubic, {&x, &scales}, 10, false).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsResize, Opset10LinearClampsAtTheEdge) {
  Node n = make_node("Resize", 2, 1, {{"mode", attr_string("linear")}});
  Tensor x = Tensor::from_f32({2}, {0, 10});
  Tensor scales = Tensor::from_f32({1}, {2});
  auto out = run_node(n, {&x, &scales}, 10);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{0, 5, 10, 10}));
}

TEST(OpsResize, Uint8LinearRoundsToNearest) {
  Node n = resize_node({{"mode", attr_string("linear")},
                        {"coordinate_transformation_mode", attr_string("align_corners")}},
                       4);
  Tensor x = make_tensor<uint8_t>(DType::kU8, {1, 1, 1, 2}, {0, 255});
  Tensor sizes = Tensor::from_i64({4}, {1, 1, 1, 4});
  auto out = run_node(n, {&x, nullptr, nullptr, &sizes}, 13);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{0, 85, 170, 255}));
}

TEST(OpsResize, Int32NearestAndTfHalfPixelForNNOnlyBefore13) {
  Node n = resize_node({{"coordinate_transformation_mode", attr_string("tf_half_pixel_for_nn")}});
  Tensor x = make_tensor<int32_t>(DType::kS32, {4}, {1, 2, 3, 4});
  Tensor roi = Tensor::from_f32({0}, {});
  Tensor scales = Tensor::from_f32({1}, {0.5f});
  n.inputs[1] = "in1";
  // (x + 0.5) / 0.5 = 1, 3
  auto out = run_node(n, {&x, &roi, &scales}, 11);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{2, 4}));
  EXPECT_EQ(run_node(n, {&x, &roi, &scales}, 13, false).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsResize, TfCropAndResizeNearestExtrapolates) {
  Node n = make_node("Resize", 4, 1,
                     {{"coordinate_transformation_mode", attr_string("tf_crop_and_resize")},
                      {"extrapolation_value", attr_float(-1)}});
  n.inputs[2] = "";
  Tensor x = Tensor::from_f32({1, 4}, {10, 20, 30, 40});
  Tensor roi = Tensor::from_f32({4}, {0, 0.5f, 1, 1.5f});
  Tensor sizes = Tensor::from_i64({2}, {1, 3});
  auto out = run_node(n, {&x, &roi, nullptr, &sizes}, 13);
  ASSERT_TRUE(out.ok()) << out.status().message();
  // Source x = 1.5, 3, 4.5: the last lies beyond the input.
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{20, 40, -1}));
}

TEST(OpsResize, CubicOn3DInputAndBadInputs) {
  Node n = resize_node({{"mode", attr_string("cubic")}, {"exclude_outside", attr_int(1)}});
  Tensor x = iota_f32({1, 2, 4});
  Tensor scales = Tensor::from_f32({3}, {1, 1, 0.5f});
  auto out = run_node(n, {&x, nullptr, &scales}, 13);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 2, 2}));
  // Source 0.5 reads taps -1..2 with weights -3/32, 19/32, 19/32, -3/32; tap -1 is outside and
  // dropped, the rest renormalised: (19/32 - 6/32) / (35/32) = 13/35.
  const auto v = values<float>((*out)[0]);
  EXPECT_NEAR(v[0], 13.0 / 35, 1e-6);
  EXPECT_NEAR(v[1], 92.0 / 35, 1e-6);
  EXPECT_NEAR(v[2], 4 + 13.0 / 35, 1e-6);
  Tensor sizes = Tensor::from_i64({3}, {1, 2, 2});
  Node both = make_node("Resize", 4);
  both.inputs[1] = "";
  EXPECT_EQ(run_node(both, {&x, nullptr, &scales, &sizes}, 13, false).status().code(),
            StatusCode::kInvalidInput);
  Tensor short_scales = Tensor::from_f32({2}, {1, 2});
  EXPECT_EQ(run_node(n, {&x, nullptr, &short_scales}, 13, false).status().code(),
            StatusCode::kInvalidInput);
}

TEST(OpsResize, UpsampleOpset7AttributeAndOpset9Input) {
  Node v7 = make_node("Upsample", 1, 1,
                      {{"scales", attr_floats({1, 2})}, {"mode", attr_string("bilinear")}});
  Tensor x = Tensor::from_f32({1, 2}, {0, 4});
  auto o7 = run_node(v7, {&x}, 7);
  ASSERT_TRUE(o7.ok()) << o7.status().message();
  EXPECT_EQ(values<float>((*o7)[0]), (std::vector<float>{0, 2, 4, 4}));
  Node v9 = make_node("Upsample", 2);
  Tensor bx = make_tensor<uint8_t>(DType::kBool, {2}, {1, 0});
  Tensor scales = Tensor::from_f32({1}, {2});
  auto o9 = run_node(v9, {&bx, &scales}, 9);
  ASSERT_TRUE(o9.ok()) << o9.status().message();
  EXPECT_EQ(values<uint8_t>((*o9)[0]), (std::vector<uint8_t>{1, 1, 0, 0}));
  Tensor down = Tensor::from_f32({1}, {0.5f});
  EXPECT_EQ(run_node(v9, {&x, &down}, 9, false).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsResize, Bf16LinearFrom13AndF16GridSample) {
  Node n = resize_node({{"mode", attr_string("linear")}});
  std::vector<uint16_t> raw;
  for (float v : {0.0f, 4.0f}) raw.push_back(f32_to_bf16(v));
  Tensor x = make_tensor(DType::kBF16, {2}, raw);
  Tensor scales = Tensor::from_f32({1}, {2});
  auto out = run_node(n, {&x, nullptr, &scales}, 13);
  ASSERT_TRUE(out.ok()) << out.status().message();
  std::vector<float> got;
  for (uint16_t h : values<uint16_t>((*out)[0])) got.push_back(bf16_to_f32(h));
  EXPECT_EQ(got, (std::vector<float>{0, 1, 3, 4}));  // half-pixel: -0.25, 0.25, 0.75, 1.25
  EXPECT_EQ(run_node(n, {&x, nullptr, &scales}, 12, false).status().code(),
            StatusCode::kUnsupported);

  // GridSample in f16 (libonnx 1.12 ties grid's type to X's): the centre averages the corners.
  Node gs = make_node("GridSample", 2, 1, {{"align_corners", attr_int(1)}});
  std::vector<uint16_t> pix, pos;
  for (float v : {-10.0f, 10.0f, 10.0f, 31.0f}) pix.push_back(f32_to_f16(v));
  for (float v : {0.0f, 0.0f}) pos.push_back(f32_to_f16(v));
  Tensor img = make_tensor(DType::kF16, {1, 1, 2, 2}, pix);
  Tensor grid = make_tensor(DType::kF16, {1, 1, 1, 2}, pos);
  auto g = run_node(gs, {&img, &grid}, 16);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(f16_to_f32(values<uint16_t>((*g)[0])[0]), 10.25f);
}

TEST(OpsResize, GridSampleDoubleNearestBorder) {
  Node n = make_node("GridSample", 2, 1,
                     {{"mode", attr_string("nearest")},
                      {"padding_mode", attr_string("border")},
                      {"align_corners", attr_int(1)}});
  Tensor x = make_tensor<double>(DType::kF64, {1, 1, 2, 2}, {1, 2, 3, 4});
  // (x, y): top-left corner, bottom-right corner, far outside to the right of the top row.
  Tensor grid = make_tensor<double>(DType::kF64, {1, 1, 3, 2}, {-1, -1, 1, 1, 5, -1});
  auto out = run_node(n, {&x, &grid}, 16);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 1, 3}));
  EXPECT_EQ(values<double>((*out)[0]), (std::vector<double>{1, 4, 2}));
  Node bad = make_node("GridSample", 2, 1, {{"mode", attr_string("area")}});
  EXPECT_EQ(run_node(bad, {&x, &grid}, 16, false).status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
