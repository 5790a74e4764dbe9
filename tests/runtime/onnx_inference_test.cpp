#include "runtime/onnx_inference.h"

#include <gtest/gtest.h>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

TEST(OnnxInference, ReadsConstantShapeInputs) {
  Node n = make_node("Reshape", 2);
  Tensor x = iota_f32({2, 3, 4});
  Tensor shape = Tensor::from_i64({2}, {6, -1});
  auto out = infer_node_outputs(n, 13, {&x, &shape});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].dtype, DType::kF32);
  ASSERT_TRUE((*out)[0].shape.has_value());
  EXPECT_EQ(*(*out)[0].shape, (Shape{6, 4}));
}

TEST(OnnxInference, CatchesAKernelShapeThatDisagrees) {
  Node n = make_node("Relu", 1);
  Tensor x = iota_f32({2, 3});
  Tensor wrong = iota_f32({3, 2});
  Status s = check_against_onnx_inference(n, 14, {&x}, {wrong});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("libonnx infers [2,3]"), std::string::npos) << s.message();
  EXPECT_TRUE(check_against_onnx_inference(n, 14, {&x}, {x}).ok());
}

TEST(OnnxInference, RejectsANodeItsSchemaRejects) {
  Node n = make_node("Relu", 1);
  Tensor x = Tensor::from_i64({2}, {1, 2});
  Node bad = make_node("Concat", 2);  // without its required axis attribute
  Tensor a = iota_f32({2}), b = iota_f32({2});
  EXPECT_FALSE(infer_node_outputs(bad, 13, {&a, &b}).ok());
  EXPECT_TRUE(infer_node_outputs(n, 14, {&x}).ok());
}

}  // namespace
}  // namespace qtune
