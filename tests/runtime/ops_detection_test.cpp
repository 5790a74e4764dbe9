// RoiAlign, MaxRoiPool and NonMaxSuppression beyond the ONNX node tests: opset 10 RoiAlign and
// its max mode, double inputs, MaxRoiPool (no node test), omitted optional NMS inputs and
// invalid attributes.
#include <gtest/gtest.h>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

TEST(OpsDetection, RoiAlignOpset10AvgAndMaxOnDoubles) {
  Tensor x = make_tensor<double>(DType::kF64, {1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor rois = make_tensor<double>(DType::kF64, {1, 4}, {0, 0, 1, 1});
  Tensor batch = Tensor::from_i64({1}, {0});
  Node avg = make_node("RoiAlign", 3, 1, {{"sampling_ratio", attr_int(1)}});
  auto a = run_node(avg, {&x, &rois, &batch}, 10);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ((*a)[0].shape(), (Shape{1, 1, 1, 1}));
  EXPECT_DOUBLE_EQ(values<double>((*a)[0])[0], 2.5);  // one sample at the centre (0.5, 0.5)
  // Max mode takes the largest weighted corner of each sample, as the reference does.
  Node mx =
      make_node("RoiAlign", 3, 1, {{"sampling_ratio", attr_int(1)}, {"mode", attr_string("max")}});
  auto m = run_node(mx, {&x, &rois, &batch}, 10);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_DOUBLE_EQ(values<double>((*m)[0])[0], 1.0);
}

TEST(OpsDetection, RoiAlignOpset16HalfPixelAndBadInputs) {
  Tensor x = Tensor::from_f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor rois = Tensor::from_f32({1, 4}, {0, 0, 1, 1});
  Tensor batch = Tensor::from_i64({1}, {0});
  Node n = make_node("RoiAlign", 3, 1, {{"sampling_ratio", attr_int(1)}});
  auto out = run_node(n, {&x, &rois, &batch}, 16);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FLOAT_EQ(values<float>((*out)[0])[0], 1.0f);  // the sample moves to pixel (0, 0)
  Node bad = make_node("RoiAlign", 3, 1, {{"mode", attr_string("sum")}});
  EXPECT_EQ(run_node(bad, {&x, &rois, &batch}, 16, false).status().code(),
            StatusCode::kInvalidInput);
  Tensor far = Tensor::from_i64({1}, {3});
  EXPECT_EQ(run_node(n, {&x, &rois, &far}, 16, false).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsDetection, MaxRoiPoolBins) {
  Node n = make_node("MaxRoiPool", 2, 1, {{"pooled_shape", attr_ints({2, 2})}});
  Tensor x = iota_f32({1, 1, 4, 4});
  Tensor rois = Tensor::from_f32({2, 5}, {0, 0, 0, 3, 3, 0, 1, 1, 1, 1});
  auto out = run_node(n, {&x, &rois}, 7);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 1, 2, 2}));
  // Whole image in 2x2 bins; then a one-pixel ROI at (1, 1) whose four bins all cover it.
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{5, 7, 13, 15, 5, 5, 5, 5}));
  Node no_shape = make_node("MaxRoiPool", 2);
  EXPECT_EQ(run_node(no_shape, {&x, &rois}, 7, false).status().code(), StatusCode::kInvalidInput);
}

TEST(OpsDetection, NonMaxSuppressionOptionalInputs) {
  Tensor boxes = Tensor::from_f32({1, 3, 4}, {0, 0, 1, 1, 1, 1, 0, 0, 2, 2, 3, 3});
  Tensor scores = Tensor::from_f32({1, 1, 3}, {0.5f, 0.9f, 0.1f});
  // Without max_output_boxes_per_class nothing is selected.
  auto none = run_node(make_node("NonMaxSuppression", 2), {&boxes, &scores}, 11);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ((*none)[0].shape(), (Shape{0, 3}));
  // iou_threshold defaults to 0 and no score threshold: box 0 (same box as 1, flipped corners)
  // is suppressed, the disjoint box 2 kept.
  Node n = make_node("NonMaxSuppression", 3);
  Tensor max_out = Tensor::from_i64({1}, {3});
  auto out = run_node(n, {&boxes, &scores, &max_out}, 10);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int64_t>((*out)[0]), (std::vector<int64_t>{0, 0, 1, 0, 0, 2}));
  Tensor iou = Tensor::from_f32({1}, {1.5f});
  EXPECT_EQ(
      run_node(make_node("NonMaxSuppression", 4), {&boxes, &scores, &max_out, &iou}, 11, false)
          .status()
          .code(),
      StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
