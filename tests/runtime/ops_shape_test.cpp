// Shape and data-movement kernels (runtime/ops/shape.cpp): every registration run through the
// versioned registry with its outputs checked against libonnx's inference, the attribute forms of
// the older opsets, element types beyond f32, empty tensors, and the errors bad attributes give.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "runtime/executor.h"
#include "runtime/kernel_registry.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using op_test::attr_float;
using op_test::attr_int;
using op_test::attr_ints;
using op_test::attr_string;
using op_test::iota_f32;
using op_test::make_node;
using op_test::make_tensor;
using op_test::run1;
using op_test::run_code;
using op_test::values;

Tensor i64(std::vector<int64_t> v) {
  return Tensor::from_i64({static_cast<int64_t>(v.size())}, v);
}

std::vector<int64_t> contiguous(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

TEST(ShapeOpsTest, ReshapeHandlesZeroMinusOneAndAllowzero) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor shape = i64({0, -1, 2});
  Tensor y = run1(make_node("Reshape", 2), {&x, &shape}, 13);
  EXPECT_EQ(y.shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(y.raw(), x.raw());  // a view, no copy

  Tensor empty(DType::kBool, {0, 3, 4});
  Tensor zshape = i64({3, 4, 0});
  y = run1(make_node("Reshape", 2, 1, {{"allowzero", attr_int(1)}}), {&empty, &zshape}, 14);
  EXPECT_EQ(y.shape(), (Shape{3, 4, 0}));
  EXPECT_EQ(y.dtype(), DType::kBool);
  Tensor infer_empty = i64({-1, 4});  // -1 beside an empty input infers 0
  EXPECT_EQ(run1(make_node("Reshape", 2), {&empty, &infer_empty}).shape(), (Shape{0, 4}));
  Tensor copy_zero = i64({0, 12});  // without allowzero, 0 copies the input's dim
  EXPECT_EQ(run1(make_node("Reshape", 2), {&empty, &copy_zero}).shape(), (Shape{0, 12}));

  y = run1(make_node("Reshape", 1, 1, {{"shape", attr_ints({4, -1})}}), {&x}, 1);
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  Tensor h(DType::kF16, {6});
  Tensor to23 = i64({2, 3});
  EXPECT_EQ(run1(make_node("Reshape", 2), {&h, &to23}, 7).shape(), (Shape{2, 3}));
}

TEST(ShapeOpsTest, ReshapeToIncompatibleShapeIsInvalidAndNamesTheNode) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor bad = i64({5, 5});
  auto r = op_test::run_node(make_node("Reshape", 2), {&x, &bad});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("node 'n' (Reshape)"), std::string::npos);
  EXPECT_NE(r.status().message().find("[2,3,4]"), std::string::npos);

  const Node n = make_node("Reshape", 2);
  Tensor two_infer = i64({-1, -1});
  EXPECT_EQ(run_code(n, {&x, &two_infer}), StatusCode::kInvalidInput);
  Tensor indivisible = i64({5, -1});
  EXPECT_EQ(run_code(n, {&x, &indivisible}), StatusCode::kInvalidInput);
  Tensor neg = i64({-2, 12});
  r = op_test::run_node(n, {&x, &neg});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("[-2,12]"), std::string::npos);
  Tensor zero_past_rank = i64({2, 3, 4, 0});
  EXPECT_EQ(run_code(n, {&x, &zero_past_rank}), StatusCode::kInvalidInput);
  Tensor float_shape = Tensor::from_f32({1}, {24});
  EXPECT_EQ(run_code(n, {&x, &float_shape}), StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("Reshape", 1), {&x}), StatusCode::kInvalidInput);
  Tensor empty(DType::kF32, {0, 3});
  Tensor zero_and_infer = i64({0, -1});
  Node az = make_node("Reshape", 2, 1, {{"allowzero", attr_int(1)}});
  EXPECT_EQ(run_code(az, {&empty, &zero_and_infer}), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, FlattenSqueezeUnsqueeze) {
  Tensor x = iota_f32({2, 3, 4, 5});
  EXPECT_EQ(run1(make_node("Flatten", 1), {&x}).shape(), (Shape{2, 60}));
  EXPECT_EQ(run1(make_node("Flatten", 1, 1, {{"axis", attr_int(0)}}), {&x}, 9).shape(),
            (Shape{1, 120}));
  EXPECT_EQ(run1(make_node("Flatten", 1, 1, {{"axis", attr_int(-1)}}), {&x}).shape(),
            (Shape{24, 5}));
  EXPECT_EQ(run1(make_node("Flatten", 1, 1, {{"axis", attr_int(4)}}), {&x}).shape(),
            (Shape{120, 1}));
  EXPECT_EQ(run_code(make_node("Flatten", 1, 1, {{"axis", attr_int(5)}}), {&x}),
            StatusCode::kInvalidInput);
  Tensor b(DType::kBF16, {0, 3, 2});
  EXPECT_EQ(run1(make_node("Flatten", 1, 1, {{"axis", attr_int(2)}}), {&b}).shape(),
            (Shape{0, 2}));

  Tensor axes = i64({5, 0, -1});  // unsorted, negative
  EXPECT_EQ(run1(make_node("Unsqueeze", 2), {&x, &axes}).shape(),
            (Shape{1, 2, 3, 4, 5, 1, 1}));
  Tensor dup = i64({1, 1});
  EXPECT_EQ(run_code(make_node("Unsqueeze", 2), {&x, &dup}), StatusCode::kInvalidInput);
  Tensor too_far = i64({5});
  EXPECT_EQ(run_code(make_node("Unsqueeze", 2), {&x, &too_far}), StatusCode::kInvalidInput);
  Node old_unsq = make_node("Unsqueeze", 1, 1, {{"axes", attr_ints({1, -1})}});
  EXPECT_EQ(run1(old_unsq, {&x}, 11).shape(), (Shape{2, 1, 3, 4, 5, 1}));
  EXPECT_EQ(run_code(make_node("Unsqueeze", 1), {&x}, 11), StatusCode::kInvalidInput);
  Tensor scalar = Tensor::from_i64({}, {7});
  Tensor zero = i64({0});
  Tensor v = run1(make_node("Unsqueeze", 2), {&scalar, &zero});
  EXPECT_EQ(v.shape(), (Shape{1}));
  EXPECT_EQ(values<int64_t>(v), (std::vector<int64_t>{7}));

  Tensor z = iota_f32({1, 3, 1, 5});
  EXPECT_EQ(run1(make_node("Squeeze", 1), {&z}).shape(), (Shape{3, 5}));
  Tensor neg = i64({-2});
  Tensor y = run1(make_node("Squeeze", 2), {&z, &neg});
  EXPECT_EQ(y.shape(), (Shape{1, 3, 5}));
  EXPECT_EQ(y.raw(), z.raw());
  Tensor not_one = i64({1});
  auto r = op_test::run_node(make_node("Squeeze", 2), {&z, &not_one});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("(Squeeze)"), std::string::npos);
  EXPECT_EQ(run1(make_node("Squeeze", 1, 1, {{"axes", attr_ints({0})}}), {&z}, 11).shape(),
            (Shape{3, 1, 5}));
  EXPECT_EQ(run1(make_node("Squeeze", 1), {&z}, 7).shape(), (Shape{3, 5}));
}

// Checks Transpose of a tensor of shape `in` with `perm` against direct indexing.
void check_transpose(const Shape& in, const std::vector<int64_t>& perm) {
  Tensor x = iota_f32(in);
  Tensor y = run1(make_node("Transpose", 1, 1, {{"perm", attr_ints(perm)}}), {&x});
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[static_cast<size_t>(perm[i])];
  ASSERT_EQ(y.shape(), out);
  const auto in_st = contiguous(in);
  std::vector<int64_t> idx(out.size(), 0);
  for (int64_t o = 0; o < y.numel(); ++o) {
    int64_t rem = o, src = 0;
    for (size_t d = out.size(); d-- > 0;) {
      idx[d] = rem % out[d];
      rem /= out[d];
      src += idx[d] * in_st[static_cast<size_t>(perm[d])];
    }
    ASSERT_EQ(y.data<float>()[o], static_cast<float>(src)) << "output element " << o;
  }
}

TEST(ShapeOpsTest, TransposeMatchesDirectIndexing) {
  check_transpose({2, 3, 4}, {0, 2, 1});
  check_transpose({2, 3, 4}, {2, 0, 1});
  check_transpose({2, 3, 4}, {1, 2, 0});
  check_transpose({2, 3, 4}, {0, 1, 2});
  // Model-sized: attention heads, k^T and the qkv split (parallel, tiled and row-copy paths).
  check_transpose({100, 4, 16, 16}, {0, 2, 1, 3});
  check_transpose({100, 4, 16, 16}, {0, 1, 3, 2});
  check_transpose({100, 16, 3, 4, 16}, {2, 0, 3, 1, 4});
  check_transpose({100, 64, 16}, {0, 2, 1});
  check_transpose({37, 1, 53}, {2, 1, 0});
  check_transpose({}, {});

  Tensor x = iota_f32({2, 3});
  Tensor y = run1(make_node("Transpose", 1), {&x});  // default reverses
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 3, 1, 4, 2, 5}));

  Tensor bytes(DType::kU8, {2, 3});
  for (int i = 0; i < 6; ++i) bytes.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(values<uint8_t>(run1(make_node("Transpose", 1), {&bytes}, 7)),
            (std::vector<uint8_t>{0, 3, 1, 4, 2, 5}));
  Tensor empty(DType::kBool, {0, 3});
  EXPECT_EQ(run1(make_node("Transpose", 1), {&empty}).shape(), (Shape{3, 0}));

  Node bad = make_node("Transpose", 1, 1, {{"perm", attr_ints({0, 0})}});
  EXPECT_EQ(run_code(bad, {&x}), StatusCode::kInvalidInput);
  bad.attrs["perm"] = attr_ints({0, 1, 2});
  EXPECT_EQ(run_code(bad, {&x}), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, TransposeMovesAnyElementSize) {
  Tensor x(DType::kS64, {5, 7});
  for (int64_t i = 0; i < 35; ++i) x.data<int64_t>()[i] = i * 1000000007LL;
  Tensor h(DType::kF16, {5, 7});
  for (int64_t i = 0; i < 35; ++i) h.data<uint16_t>()[i] = static_cast<uint16_t>(i * 977);
  Tensor y = run1(make_node("Transpose", 1), {&x});
  ASSERT_EQ(y.shape(), (Shape{7, 5}));
  for (int64_t r = 0; r < 7; ++r) {
    for (int64_t c = 0; c < 5; ++c) {
      EXPECT_EQ(y.data<int64_t>()[r * 5 + c], (c * 7 + r) * 1000000007LL);
    }
  }
  y = run1(make_node("Transpose", 1), {&h});
  EXPECT_EQ(y.dtype(), DType::kF16);
  for (int64_t r = 0; r < 7; ++r) {
    for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(y.data<uint16_t>()[r * 5 + c], (c * 7 + r) * 977);
  }
}

// MatMul weights exported as Transpose(W): computed on the first run, then reused.
TEST(ShapeOpsTest, TransposeOfAnInitializerIsCachedPerExecutor) {
  auto g = std::make_shared<Graph>();
  g->inputs.push_back({"x", DType::kF32, Shape{1}});
  g->outputs.push_back({"wt", DType::kF32, std::nullopt});
  g->outputs.push_back({"xt", DType::kF32, std::nullopt});
  g->initializers["w"] = iota_f32({3, 2});
  Node t = make_node("Transpose", 0);
  t.name = "w_t";
  t.inputs = {"w"};
  t.outputs = {"wt"};
  Node u = t;
  u.name = "x_t";
  u.inputs = {"x"};
  u.outputs = {"xt"};
  g->nodes = {t, u};
  auto e = Executor::create(g);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto first = e->run({Tensor::from_f32({1}, {5})});
  auto second = e->run({Tensor::from_f32({1}, {6})});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(values<float>((*first)[0]), (std::vector<float>{0, 2, 4, 1, 3, 5}));
  EXPECT_EQ(values<float>((*second)[0]), (std::vector<float>{0, 2, 4, 1, 3, 5}));
  EXPECT_EQ((*first)[0].raw(), (*second)[0].raw());  // the same cached tensor
  EXPECT_EQ(values<float>((*second)[1]), (std::vector<float>{6}));
}

TEST(ShapeOpsTest, ConcatAlongAnyAxis) {
  Tensor a = iota_f32({2, 2});
  Tensor b = Tensor::from_f32({2, 1}, {10, 11});
  Tensor y = run1(make_node("Concat", 2, 1, {{"axis", attr_int(-1)}}), {&a, &b});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 1, 10, 2, 3, 11}));

  Tensor c = i64({7}), d(DType::kS64, {0}), e = i64({8, 9});
  y = run1(make_node("Concat", 3, 1, {{"axis", attr_int(0)}}), {&c, &d, &e}, 4);
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{7, 8, 9}));

  Tensor p(DType::kBool, {0, 3}), q(DType::kBool, {2, 3}), none(DType::kBool, {2, 0});
  q.data<uint8_t>()[4] = 1;
  y = run1(make_node("Concat", 2, 1, {{"axis", attr_int(0)}}), {&p, &q});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(run1(make_node("Concat", 2, 1, {{"axis", attr_int(0)}}), {&p, &p}).shape(),
            (Shape{0, 3}));
  EXPECT_EQ(run1(make_node("Concat", 2, 1, {{"axis", attr_int(1)}}), {&none, &q}).shape(),
            (Shape{2, 3}));

  auto r = op_test::run_node(make_node("Concat", 2, 1, {{"axis", attr_int(0)}}), {&a, &b});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("(Concat)"), std::string::npos);
  EXPECT_EQ(run_code(make_node("Concat", 2, 1, {{"axis", attr_int(2)}}), {&a, &a}),
            StatusCode::kInvalidInput);
  Tensor i = Tensor::from_i64({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(run_code(make_node("Concat", 2, 1, {{"axis", attr_int(0)}}), {&a, &i}),
            StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("Concat", 2), {&a, &a}), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, SplitByAttributeInputAndEqualParts) {
  Tensor x = iota_f32({2, 6});
  // Opset 13: lengths from the input, negative axis.
  Tensor lens = i64({1, 2, 3});
  auto r = op_test::run_node(make_node("Split", 2, 3, {{"axis", attr_int(-1)}}), {&x, &lens});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>(r.value()[0]), (std::vector<float>{0, 6}));
  EXPECT_EQ(values<float>(r.value()[1]), (std::vector<float>{1, 2, 7, 8}));
  EXPECT_EQ(values<float>(r.value()[2]), (std::vector<float>{3, 4, 5, 9, 10, 11}));
  // Equal parts when the split input is absent.
  r = op_test::run_node(make_node("Split", 1, 2), {&x});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<float>(r.value()[1]), (std::vector<float>{6, 7, 8, 9, 10, 11}));
  // Opsets 2-12: lengths from the attribute; negative axes as PyTorch exports them at opset 6.
  Tensor h(DType::kF16, {4, 3});
  for (int i = 0; i < 12; ++i) h.data<uint16_t>()[i] = static_cast<uint16_t>(i);
  r = op_test::run_node(
      make_node("Split", 1, 2, {{"axis", attr_int(0)}, {"split", attr_ints({3, 1})}}), {&h}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(values<uint16_t>(r.value()[1]), (std::vector<uint16_t>{9, 10, 11}));
  r = op_test::run_node(make_node("Split", 1, 3, {{"axis", attr_int(-1)}}), {&h}, 6);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<uint16_t>(r.value()[2]), (std::vector<uint16_t>{2, 5, 8, 11}));
  // Zero-length parts of an empty axis.
  Tensor empty(DType::kS32, {0});
  Tensor zeros = i64({0, 0});
  r = op_test::run_node(make_node("Split", 2, 2), {&empty, &zeros});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[1].shape(), (Shape{0}));

  Tensor wrong_sum = i64({1, 2});
  EXPECT_EQ(run_code(make_node("Split", 2, 2, {{"axis", attr_int(1)}}), {&x, &wrong_sum}),
            StatusCode::kInvalidInput);
  Tensor wrong_count = i64({6});
  EXPECT_EQ(run_code(make_node("Split", 2, 2, {{"axis", attr_int(1)}}), {&x, &wrong_count}),
            StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("Split", 1, 4, {{"axis", attr_int(1)}}), {&x}),
            StatusCode::kInvalidInput);  // 6 does not split into 4 equal parts
  EXPECT_EQ(run_code(make_node("Split", 1, 2, {{"axis", attr_int(2)}}), {&x}),
            StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, GatherScalarAndTensorIndices) {
  Tensor data = iota_f32({3, 100, 4, 16, 16});
  Tensor idx = Tensor::from_i64({}, {1});
  Tensor y = run1(make_node("Gather", 2), {&data, &idx});
  EXPECT_EQ(y.shape(), (Shape{100, 4, 16, 16}));
  EXPECT_EQ(y.data<float>()[0], 100 * 4 * 16 * 16);
  EXPECT_EQ(y.data<float>()[y.numel() - 1], 2 * 100 * 4 * 16 * 16 - 1);

  Tensor m = iota_f32({3, 3});
  Tensor ind = make_tensor<int32_t>(DType::kS32, {1, 2}, {0, -1});
  const Node n = make_node("Gather", 2, 1, {{"axis", attr_int(1)}});
  y = run1(n, {&m, &ind}, 11);
  EXPECT_EQ(y.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 2, 3, 5, 6, 8}));
  Tensor bools = make_tensor<uint8_t>(DType::kBool, {3}, {1, 0, 1});
  Tensor none(DType::kS64, {0});
  y = run1(make_node("Gather", 2), {&bools, &none}, 7);
  EXPECT_EQ(y.shape(), (Shape{0}));

  Tensor out_of_range = i64({3});
  auto r = op_test::run_node(n, {&m, &out_of_range});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("(Gather)"), std::string::npos);
  Tensor below = i64({-4});
  EXPECT_EQ(run_code(n, {&m, &below}), StatusCode::kInvalidInput);
  Tensor float_idx = Tensor::from_f32({1}, {0});
  EXPECT_EQ(run_code(n, {&m, &float_idx}), StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("Gather", 2, 1, {{"axis", attr_int(2)}}), {&m, &idx}),
            StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, ShapeWithStartAndEndAndSize) {
  Tensor x(DType::kU8, {3, 4, 5});
  Tensor y = run1(make_node("Shape", 1), {&x}, 13);
  EXPECT_EQ(y.dtype(), DType::kS64);
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{3, 4, 5}));
  Node n = make_node("Shape", 1, 1, {{"start", attr_int(-10)}, {"end", attr_int(-1)}});
  EXPECT_EQ(values<int64_t>(run1(n, {&x}, 15)), (std::vector<int64_t>{3, 4}));
  n.attrs["start"] = attr_int(2);
  n.attrs["end"] = attr_int(1);
  EXPECT_EQ(run1(n, {&x}, 15).shape(), (Shape{0}));
  Tensor s = Tensor::scalar_f32(1);
  EXPECT_EQ(run1(make_node("Shape", 1), {&s}).shape(), (Shape{0}));

  y = run1(make_node("Size", 1), {&x});
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(y.dtype(), DType::kS64);
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{60}));
  Tensor empty(DType::kBool, {2, 0});
  EXPECT_EQ(values<int64_t>(run1(make_node("Size", 1), {&empty}, 7)),
            (std::vector<int64_t>{0}));
}

TEST(ShapeOpsTest, SliceStepsClampingAndNegativeSteps) {
  Tensor x = iota_f32({20, 10, 5});
  Tensor y;
  auto slice = [&](std::vector<int64_t> starts, std::vector<int64_t> ends,
                   std::vector<int64_t> axes, std::vector<int64_t> steps) {
    Tensor s = i64(starts), e = i64(ends), a = i64(axes), st = i64(steps);
    auto r = op_test::run_node(make_node("Slice", 5),
                               {&x, &s, &e, axes.empty() ? nullptr : &a,
                                steps.empty() ? nullptr : &st});
    if (r.ok()) y = r.value()[0];
    return r.status();
  };
  ASSERT_TRUE(slice({0, 0}, {3, 10}, {0, 1}, {1, 1}).ok());
  EXPECT_EQ(y.shape(), (Shape{3, 10, 5}));
  EXPECT_EQ(y.data<float>()[149], 149.0f);

  ASSERT_TRUE(slice({20, 10, 4}, {0, 0, 1}, {0, 1, 2}, {-1, -3, -2}).ok());  // test_slice_neg_steps
  EXPECT_EQ(y.shape(), (Shape{19, 3, 2}));
  EXPECT_EQ(y.data<float>()[0], 19 * 50 + 9 * 5 + 4);
  EXPECT_EQ(y.data<float>()[1], 19 * 50 + 9 * 5 + 2);
  EXPECT_EQ(y.data<float>()[2], 19 * 50 + 6 * 5 + 4);

  ASSERT_TRUE(slice({1}, {1000}, {1}, {1}).ok());  // end clamps to the dim
  EXPECT_EQ(y.shape(), (Shape{20, 9, 5}));
  ASSERT_TRUE(slice({1000}, {1000}, {1}, {1}).ok());  // empty
  EXPECT_EQ(y.shape(), (Shape{20, 0, 5}));
  ASSERT_TRUE(slice({0}, {-1}, {-1}, {}).ok());  // negative end and axis, default steps
  EXPECT_EQ(y.shape(), (Shape{20, 10, 4}));
  EXPECT_EQ(y.data<float>()[4], 5.0f);
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(slice({-1}, {kMin}, {0}, {kMin}).ok());
  EXPECT_EQ(y.shape(), (Shape{1, 10, 5}));
  EXPECT_EQ(y.data<float>()[0], 950.0f);
  ASSERT_TRUE(slice({kMax}, {kMin}, {1}, {-1}).ok());  // the whole axis, reversed
  EXPECT_EQ(y.shape(), (Shape{20, 10, 5}));
  EXPECT_EQ(y.data<float>()[0], 45.0f);
  ASSERT_TRUE(slice({kMin}, {kMax}, {2}, {2}).ok());
  EXPECT_EQ(y.shape(), (Shape{20, 10, 3}));
  ASSERT_TRUE(slice({0, 0, 3}, {20, 10, 4}, {}, {}).ok());  // default axes
  EXPECT_EQ(y.shape(), (Shape{20, 10, 1}));
  EXPECT_EQ(y.data<float>()[1], 8.0f);

  EXPECT_EQ(slice({0}, {1}, {0}, {0}).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(slice({0}, {1}, {3}, {1}).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(slice({0, 0}, {1}, {0}, {1}).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(slice({0, 0}, {1, 1}, {0, -3}, {1, 1}).code(), StatusCode::kInvalidInput);

  // An empty axis, sliced either way; int32 starts/ends at opset 10.
  Tensor e(DType::kS16, {0, 3});
  Tensor s32 = make_tensor<int32_t>(DType::kS32, {1}, {-1});
  Tensor e32 = make_tensor<int32_t>(DType::kS32, {1}, {-100});
  Tensor ax = make_tensor<int32_t>(DType::kS32, {1}, {0});
  Tensor back = make_tensor<int32_t>(DType::kS32, {1}, {-1});
  Tensor fwd = make_tensor<int32_t>(DType::kS32, {1}, {1});
  EXPECT_EQ(run1(make_node("Slice", 5), {&e, &e32, &s32, &ax, &fwd}, 10).shape(),
            (Shape{0, 3}));
  // Backwards over an empty axis is empty too (numpy agrees); libonnx 1.12's inference clamps
  // the start into [0, -1] and claims one element, so it is not consulted here.
  auto r = op_test::run_node(make_node("Slice", 5), {&e, &s32, &e32, &ax, &back}, 10, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{0, 3}));

  Node old = make_node("Slice", 1, 1, {{"starts", attr_ints({1})}, {"ends", attr_ints({3})},
                                       {"axes", attr_ints({2})}});
  y = run1(old, {&x}, 9);
  EXPECT_EQ(y.shape(), (Shape{20, 10, 2}));
  EXPECT_EQ(y.data<float>()[2], 6.0f);
  old.attrs.erase("axes");
  EXPECT_EQ(run1(old, {&x}, 7).shape(), (Shape{2, 10, 5}));
  old.attrs.erase("ends");
  EXPECT_EQ(run_code(old, {&x}, 7), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, ExpandBroadcastsBothWays) {
  Tensor x = Tensor::from_f32({3, 1}, {1, 2, 3});
  Tensor shape = i64({2, 1, 4});
  Tensor y = run1(make_node("Expand", 2), {&x, &shape});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(y.data<float>()[4], 2.0f);
  EXPECT_EQ(y.data<float>()[23], 3.0f);
  Tensor row = make_tensor<uint8_t>(DType::kBool, {1, 3}, {1, 0, 1});
  Tensor smaller = i64({3});  // the input's dims win where the shape has 1 or fewer dims
  y = run1(make_node("Expand", 2), {&row, &smaller}, 8);
  EXPECT_EQ(y.shape(), (Shape{1, 3}));
  Tensor two = i64({2, 1});
  y = run1(make_node("Expand", 2), {&row, &two});
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{1, 0, 1, 1, 0, 1}));
  Tensor to_empty = i64({0, 3});
  EXPECT_EQ(run1(make_node("Expand", 2), {&row, &to_empty}).shape(), (Shape{0, 3}));

  Tensor bad = i64({2, 2});
  EXPECT_EQ(run_code(make_node("Expand", 2), {&x, &bad}), StatusCode::kInvalidInput);
  Tensor neg = i64({-1, 1});
  EXPECT_EQ(run_code(make_node("Expand", 2), {&x, &neg}), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, TileRepeatsEveryAxis) {
  Tensor x = make_tensor<int32_t>(DType::kS32, {2, 2}, {1, 2, 3, 4});
  Tensor reps = i64({2, 3});
  Tensor y = run1(make_node("Tile", 2), {&x, &reps}, 6);
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                                                      1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
  Tensor h(DType::kF16, {1, 2, 1});
  h.data<uint16_t>()[1] = 0x3c00;
  Tensor reps3 = i64({2, 1, 3});
  y = run1(make_node("Tile", 2), {&h, &reps3});
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(values<uint16_t>(y), (std::vector<uint16_t>{0, 0, 0, 0x3c00, 0x3c00, 0x3c00,
                                                        0, 0, 0, 0x3c00, 0x3c00, 0x3c00}));
  Tensor zero = i64({0, 2});
  EXPECT_EQ(run1(make_node("Tile", 2), {&x, &zero}).shape(), (Shape{0, 4}));

  Tensor short_reps = i64({2});
  EXPECT_EQ(run_code(make_node("Tile", 2), {&x, &short_reps}), StatusCode::kInvalidInput);
  Tensor neg = i64({1, -1});
  EXPECT_EQ(run_code(make_node("Tile", 2), {&x, &neg}), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, PadModesConstantValueAndCrops) {
  Tensor x = make_tensor<int32_t>(DType::kS32, {3}, {1, 2, 3});
  Tensor pads = i64({5, 4});
  Node reflect = make_node("Pad", 2, 1, {{"mode", attr_string("reflect")}});
  // Pads longer than the axis keep mirroring, as numpy.pad does.
  EXPECT_EQ(values<int32_t>(run1(reflect, {&x, &pads})),
            (std::vector<int32_t>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3}));
  Tensor pads21 = i64({2, 1});
  Node edge = make_node("Pad", 2, 1, {{"mode", attr_string("edge")}});
  EXPECT_EQ(values<int32_t>(run1(edge, {&x, &pads21}, 11)),
            (std::vector<int32_t>{1, 1, 1, 2, 3, 3}));
  Tensor seven = make_tensor<int32_t>(DType::kS32, {}, {7});
  EXPECT_EQ(values<int32_t>(run1(make_node("Pad", 3), {&x, &pads21, &seven})),
            (std::vector<int32_t>{7, 7, 1, 2, 3, 7}));

  // 2-D reflect and a crop: negative pads remove elements before padding the rest.
  Tensor m = make_tensor<int32_t>(DType::kS32, {2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor p2 = i64({1, 0, 0, 2});
  EXPECT_EQ(values<int32_t>(run1(reflect, {&m, &p2})),
            (std::vector<int32_t>{3, 4, 5, 4, 3, 0, 1, 2, 1, 0, 3, 4, 5, 4, 3}));
  Tensor crop = i64({0, -1, -1, 1});
  Tensor y = run1(make_node("Pad", 2), {&m, &crop});
  EXPECT_EQ(y.shape(), (Shape{1, 3}));
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{1, 2, 0}));
  Tensor crop_edge = i64({0, -2, 0, 2});
  EXPECT_EQ(values<int32_t>(run1(edge, {&m, &crop_edge})),
            (std::vector<int32_t>{2, 2, 2, 5, 5, 5}));

  // Opsets 2-10: pads and a float value as attributes, converted to the input's type.
  Tensor f = Tensor::from_f32({1, 2}, {1, 2});
  Node old = make_node("Pad", 1, 1, {{"pads", attr_ints({0, 1, 1, 0})}, {"value", attr_float(9)}});
  y = run1(old, {&f}, 7);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{9, 1, 2, 9, 9, 9}));
  Tensor h(DType::kF16, {1});
  y = run1(make_node("Pad", 1, 1, {{"pads", attr_ints({1, 0})}, {"value", attr_float(1)}}),
           {&h}, 2);
  EXPECT_EQ(values<uint16_t>(y), (std::vector<uint16_t>{0x3c00, 0}));

  // Empty axes pad with the constant; edge/reflect need something to repeat.
  Tensor empty(DType::kBool, {0, 2});
  Tensor grow = i64({1, 0, 1, 0});
  EXPECT_EQ(run1(make_node("Pad", 2), {&empty, &grow}).shape(), (Shape{2, 2}));
  EXPECT_EQ(run_code(edge, {&empty, &grow}), StatusCode::kInvalidInput);

  EXPECT_EQ(run_code(make_node("Pad", 2, 1, {{"mode", attr_string("wrap")}}), {&x, &pads21}),
            StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("Pad", 2), {&m, &pads21}), StatusCode::kInvalidInput);
  Tensor over_crop = i64({-2, -2});
  EXPECT_EQ(run_code(make_node("Pad", 2), {&x, &over_crop}), StatusCode::kInvalidInput);
  Tensor wrong_value = Tensor::scalar_f32(1);
  EXPECT_EQ(run_code(make_node("Pad", 3), {&x, &pads21, &wrong_value}),
            StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, DepthToSpaceModesAndSpaceToDepthInvertsDcr) {
  Tensor x = iota_f32({1, 8, 1, 2});
  Node dcr = make_node("DepthToSpace", 1, 1, {{"blocksize", attr_int(2)}});
  Tensor y = run1(dcr, {&x}, 1);  // opset 1-10: DCR only
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 4}));
  EXPECT_EQ(values<float>(y),
            (std::vector<float>{0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15}));
  Node crd = make_node("DepthToSpace", 1, 1,
                       {{"blocksize", attr_int(2)}, {"mode", attr_string("CRD")}});
  EXPECT_EQ(values<float>(run1(crd, {&x})),
            (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15}));

  Tensor img = iota_f32({1, 1, 4, 4});
  Node s2d = make_node("SpaceToDepth", 1, 1, {{"blocksize", attr_int(2)}});
  Tensor deep = run1(s2d, {&img});
  EXPECT_EQ(deep.shape(), (Shape{1, 4, 2, 2}));
  EXPECT_EQ(values<float>(deep),
            (std::vector<float>{0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15}));
  EXPECT_EQ(values<float>(run1(dcr, {&deep})), values<float>(img));
  Tensor bytes(DType::kU8, {2, 4, 2, 6});
  for (int64_t i = 0; i < bytes.numel(); ++i) bytes.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  Tensor moved = run1(s2d, {&bytes}, 7);
  Tensor back = run1(dcr, {&moved}, 11);
  EXPECT_EQ(values<uint8_t>(back), values<uint8_t>(bytes));

  Tensor odd = iota_f32({1, 6, 1, 1});
  EXPECT_EQ(run_code(dcr, {&odd}), StatusCode::kInvalidInput);
  Node huge = make_node("DepthToSpace", 1, 1, {{"blocksize", attr_int(int64_t{1} << 32)}});
  EXPECT_EQ(run_code(huge, {&x}), StatusCode::kInvalidInput);
  Node bad_mode = make_node("DepthToSpace", 1, 1,
                            {{"blocksize", attr_int(2)}, {"mode", attr_string("XYZ")}});
  EXPECT_EQ(run_code(bad_mode, {&x}), StatusCode::kInvalidInput);
  Tensor three = iota_f32({1, 1, 3, 4});
  EXPECT_EQ(run_code(s2d, {&three}), StatusCode::kInvalidInput);
  Tensor flat = iota_f32({4, 4});
  EXPECT_EQ(run_code(s2d, {&flat}), StatusCode::kInvalidInput);
  EXPECT_EQ(run_code(make_node("SpaceToDepth", 1), {&img}), StatusCode::kInvalidInput);
}

// Reshape -> Transpose -> Gather, as the bundled ViT splits q/k/v, through the executor.
TEST(ShapeOpsTest, QkvSplitGraphRunsThroughExecutor) {
  auto g = std::make_shared<Graph>();
  g->inputs.push_back({"x", DType::kF32, Shape{-1, 4, 6}});
  g->outputs.push_back({"k", DType::kF32, std::nullopt});
  g->initializers["shape"] = Tensor::from_i64({5}, {-1, 4, 3, 2, 1});
  g->initializers["one"] = Tensor::from_i64({}, {1});
  Node r = make_node("Reshape", 0);
  r.name = "reshape";
  r.inputs = {"x", "shape"};
  r.outputs = {"r"};
  Node t = make_node("Transpose", 0);
  t.name = "permute";
  t.inputs = {"r"};
  t.outputs = {"t"};
  t.attrs["perm"] = attr_ints({2, 0, 3, 1, 4});
  Node ga = make_node("Gather", 0);
  ga.name = "pick_k";
  ga.inputs = {"t", "one"};
  ga.outputs = {"k"};
  g->nodes = {r, t, ga};
  auto e = Executor::create(g);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto out = e->run({iota_f32({2, 4, 6})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Tensor& k = (*out)[0];
  ASSERT_EQ(k.shape(), (Shape{2, 2, 4, 1}));
  // k[n, h, tok, 0] = x[n, tok, 1 * 2 + h]
  EXPECT_EQ(k.data<float>()[0], 2.0f);
  EXPECT_EQ(k.data<float>()[1], 8.0f);
  EXPECT_EQ(k.data<float>()[4], 3.0f);
  EXPECT_EQ(k.data<float>()[8], 26.0f);

  auto bad = e->run({iota_f32({1, 4, 5})});
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace qtune
