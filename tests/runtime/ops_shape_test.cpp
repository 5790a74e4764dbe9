#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "runtime/executor.h"
#include "runtime/kernel_registry.h"

namespace qtune {
namespace {

Node make_node(const std::string& op, size_t n_inputs) {
  Node n;
  n.name = "s1";
  n.op_type = op;
  for (size_t i = 0; i < n_inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  n.outputs = {"out"};
  return n;
}

Status run_op(const Node& node, std::vector<const Tensor*> inputs, Tensor* out,
              int64_t opset = 13) {
  const OpFn* fn = KernelRegistry::instance().find("", node.op_type);
  if (!fn) return Status::Internal("no op " + node.op_type);
  OpContext ctx{node, opset, std::move(inputs), {}, nullptr, {}};
  ctx.outputs.resize(node.outputs.size());
  Status s = (*fn)(ctx);
  if (s.ok()) *out = ctx.outputs[0];
  return s;
}

Attribute ints_attr(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}

// 0, 1, 2, ... as f32.
Tensor iota_f32(Shape shape) {
  Tensor t(DType::kF32, std::move(shape));
  std::iota(t.data<float>(), t.data<float>() + t.numel(), 0.0f);
  return t;
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

std::vector<int64_t> contiguous(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

TEST(ShapeOpsTest, ReshapeHandlesZeroMinusOneAndAllowzero) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor shape = Tensor::from_i64({3}, {0, -1, 2});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Reshape", 2), {&x, &shape}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(y.raw(), x.raw());  // a view, no copy

  Tensor empty(DType::kF32, {0, 3, 4});
  Tensor zshape = Tensor::from_i64({3}, {3, 4, 0});
  Node rz = make_node("Reshape", 2);
  rz.attrs["allowzero"] = int_attr(1);
  ASSERT_TRUE(run_op(rz, {&empty, &zshape}, &y, 14).ok());
  EXPECT_EQ(y.shape(), (Shape{3, 4, 0}));

  Node old = make_node("Reshape", 1);
  old.attrs["shape"] = ints_attr({4, -1});
  ASSERT_TRUE(run_op(old, {&x}, &y, 1).ok());
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
}

TEST(ShapeOpsTest, ReshapeToIncompatibleShapeIsInvalidAndNamesTheNode) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor y;
  Tensor bad = Tensor::from_i64({2}, {5, 5});
  Status s = run_op(make_node("Reshape", 2), {&x, &bad}, &y);
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("node 's1' (Reshape)"), std::string::npos);
  EXPECT_NE(s.message().find("[2,3,4]"), std::string::npos);

  Tensor two_infer = Tensor::from_i64({2}, {-1, -1});
  EXPECT_EQ(run_op(make_node("Reshape", 2), {&x, &two_infer}, &y).code(),
            StatusCode::kInvalidInput);
  Tensor indivisible = Tensor::from_i64({2}, {5, -1});
  EXPECT_EQ(run_op(make_node("Reshape", 2), {&x, &indivisible}, &y).code(),
            StatusCode::kInvalidInput);
  Tensor neg = Tensor::from_i64({2}, {-2, 12});
  EXPECT_EQ(run_op(make_node("Reshape", 2), {&x, &neg}, &y).code(), StatusCode::kInvalidInput);
  Tensor zero_past_rank = Tensor::from_i64({4}, {2, 3, 4, 0});
  EXPECT_EQ(run_op(make_node("Reshape", 2), {&x, &zero_past_rank}, &y).code(),
            StatusCode::kInvalidInput);
  Tensor float_shape = Tensor::from_f32({1}, {24});
  EXPECT_EQ(run_op(make_node("Reshape", 2), {&x, &float_shape}, &y).code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(run_op(make_node("Reshape", 1), {&x}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, FlattenSqueezeUnsqueeze) {
  Tensor x = iota_f32({2, 3, 4, 5});
  Tensor y;
  Node f = make_node("Flatten", 1);
  ASSERT_TRUE(run_op(f, {&x}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  f.attrs["axis"] = int_attr(0);
  ASSERT_TRUE(run_op(f, {&x}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{1, 120}));
  f.attrs["axis"] = int_attr(-1);
  ASSERT_TRUE(run_op(f, {&x}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{24, 5}));
  f.attrs["axis"] = int_attr(5);
  EXPECT_EQ(run_op(f, {&x}, &y).code(), StatusCode::kInvalidInput);

  Tensor axes = Tensor::from_i64({3}, {5, 0, -1});  // unsorted, negative
  ASSERT_TRUE(run_op(make_node("Unsqueeze", 2), {&x, &axes}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{1, 2, 3, 4, 5, 1, 1}));
  Tensor dup = Tensor::from_i64({2}, {1, 1});
  EXPECT_EQ(run_op(make_node("Unsqueeze", 2), {&x, &dup}, &y).code(), StatusCode::kInvalidInput);
  Node old_unsq = make_node("Unsqueeze", 1);
  old_unsq.attrs["axes"] = ints_attr({1});
  ASSERT_TRUE(run_op(old_unsq, {&x}, &y, 11).ok());
  EXPECT_EQ(y.shape(), (Shape{2, 1, 3, 4, 5}));

  Tensor z = iota_f32({1, 3, 1, 5});
  ASSERT_TRUE(run_op(make_node("Squeeze", 1), {&z}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{3, 5}));
  Tensor neg = Tensor::from_i64({1}, {-2});
  ASSERT_TRUE(run_op(make_node("Squeeze", 2), {&z, &neg}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{1, 3, 5}));
  EXPECT_EQ(y.raw(), z.raw());
  Tensor not_one = Tensor::from_i64({1}, {1});
  Status s = run_op(make_node("Squeeze", 2), {&z, &not_one}, &y);
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("(Squeeze)"), std::string::npos);
  Node old_sq = make_node("Squeeze", 1);
  old_sq.attrs["axes"] = ints_attr({0});
  ASSERT_TRUE(run_op(old_sq, {&z}, &y, 11).ok());
  EXPECT_EQ(y.shape(), (Shape{3, 1, 5}));
}

// Checks Transpose of a tensor of shape `in` with `perm` against direct indexing.
void check_transpose(const Shape& in, const std::vector<int64_t>& perm) {
  Tensor x = iota_f32(in);
  Node n = make_node("Transpose", 1);
  n.attrs["perm"] = ints_attr(perm);
  Tensor y;
  ASSERT_TRUE(run_op(n, {&x}, &y).ok());
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
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Transpose", 1), {&x}, &y).ok());  // default reverses
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 3, 1, 4, 2, 5}));

  Tensor bytes(DType::kU8, {2, 3});
  for (int i = 0; i < 6; ++i) bytes.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(run_op(make_node("Transpose", 1), {&bytes}, &y).ok());
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{0, 3, 1, 4, 2, 5}));

  Node bad = make_node("Transpose", 1);
  bad.attrs["perm"] = ints_attr({0, 0});
  EXPECT_EQ(run_op(bad, {&x}, &y).code(), StatusCode::kInvalidInput);
  bad.attrs["perm"] = ints_attr({0, 1, 2});
  EXPECT_EQ(run_op(bad, {&x}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, TransposeMovesAnyElementSize) {
  Tensor x(DType::kS64, {5, 7});
  for (int64_t i = 0; i < 35; ++i) x.data<int64_t>()[i] = i * 1000000007LL;
  Tensor h(DType::kF16, {5, 7});
  for (int64_t i = 0; i < 35; ++i) h.data<uint16_t>()[i] = static_cast<uint16_t>(i * 977);
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Transpose", 1), {&x}, &y).ok());
  ASSERT_EQ(y.shape(), (Shape{7, 5}));
  for (int64_t r = 0; r < 7; ++r) {
    for (int64_t c = 0; c < 5; ++c) {
      EXPECT_EQ(y.data<int64_t>()[r * 5 + c], (c * 7 + r) * 1000000007LL);
    }
  }
  ASSERT_TRUE(run_op(make_node("Transpose", 1), {&h}, &y).ok());
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
  Tensor y;
  Node n = make_node("Concat", 2);
  n.attrs["axis"] = int_attr(-1);
  ASSERT_TRUE(run_op(n, {&a, &b}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 1, 10, 2, 3, 11}));

  Tensor c = Tensor::from_i64({1}, {7}), d(DType::kS64, {0}), e = Tensor::from_i64({2}, {8, 9});
  Node m = make_node("Concat", 3);
  m.attrs["axis"] = int_attr(0);
  ASSERT_TRUE(run_op(m, {&c, &d, &e}, &y).ok());
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{7, 8, 9}));

  n.attrs["axis"] = int_attr(0);
  Status s = run_op(n, {&a, &b}, &y);
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("(Concat)"), std::string::npos);
  n.attrs["axis"] = int_attr(2);
  EXPECT_EQ(run_op(n, {&a, &a}, &y).code(), StatusCode::kInvalidInput);
  Tensor i = Tensor::from_i64({2, 2}, {1, 2, 3, 4});
  n.attrs["axis"] = int_attr(0);
  EXPECT_EQ(run_op(n, {&a, &i}, &y).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_op(make_node("Concat", 2), {&a, &a}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, GatherScalarAndTensorIndices) {
  Tensor data = iota_f32({3, 100, 4, 16, 16});
  Tensor idx = Tensor::from_i64({}, {1});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Gather", 2), {&data, &idx}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{100, 4, 16, 16}));
  EXPECT_EQ(y.data<float>()[0], 100 * 4 * 16 * 16);
  EXPECT_EQ(y.data<float>()[y.numel() - 1], 2 * 100 * 4 * 16 * 16 - 1);

  Tensor m = iota_f32({3, 3});
  Tensor ind(DType::kS32, {1, 2});
  ind.data<int32_t>()[0] = 0;
  ind.data<int32_t>()[1] = -1;
  Node n = make_node("Gather", 2);
  n.attrs["axis"] = int_attr(1);
  ASSERT_TRUE(run_op(n, {&m, &ind}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 2, 3, 5, 6, 8}));

  Tensor out_of_range = Tensor::from_i64({1}, {3});
  Status s = run_op(n, {&m, &out_of_range}, &y);
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("(Gather)"), std::string::npos);
  Tensor float_idx = Tensor::from_f32({1}, {0});
  EXPECT_EQ(run_op(n, {&m, &float_idx}, &y).code(), StatusCode::kInvalidInput);
  n.attrs["axis"] = int_attr(2);
  EXPECT_EQ(run_op(n, {&m, &idx}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ShapeOpsTest, ShapeWithStartAndEnd) {
  Tensor x(DType::kU8, {3, 4, 5});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Shape", 1), {&x}, &y).ok());
  EXPECT_EQ(y.dtype(), DType::kS64);
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{3, 4, 5}));
  Node n = make_node("Shape", 1);
  n.attrs["start"] = int_attr(-10);
  n.attrs["end"] = int_attr(-1);
  ASSERT_TRUE(run_op(n, {&x}, &y, 15).ok());
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{3, 4}));
  n.attrs["start"] = int_attr(2);
  n.attrs["end"] = int_attr(1);
  ASSERT_TRUE(run_op(n, {&x}, &y, 15).ok());
  EXPECT_EQ(y.shape(), (Shape{0}));
}

TEST(ShapeOpsTest, SliceStepsClampingAndNegativeSteps) {
  Tensor x = iota_f32({20, 10, 5});
  Tensor y;
  auto slice = [&](std::vector<int64_t> starts, std::vector<int64_t> ends,
                   std::vector<int64_t> axes, std::vector<int64_t> steps) {
    auto i64 = [](const std::vector<int64_t>& v) {
      Tensor t(DType::kS64, {static_cast<int64_t>(v.size())});
      std::copy(v.begin(), v.end(), t.data<int64_t>());
      return t;
    };
    Tensor s = i64(starts), e = i64(ends), a = i64(axes), st = i64(steps);
    return run_op(make_node("Slice", 5), {&x, &s, &e, axes.empty() ? nullptr : &a,
                                          steps.empty() ? nullptr : &st}, &y);
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
  ASSERT_TRUE(slice({-1}, {std::numeric_limits<int64_t>::min()}, {0},
                    {std::numeric_limits<int64_t>::min()}).ok());
  EXPECT_EQ(y.shape(), (Shape{1, 10, 5}));
  EXPECT_EQ(y.data<float>()[0], 950.0f);
  ASSERT_TRUE(slice({0, 0, 3}, {20, 10, 4}, {}, {}).ok());  // default axes
  EXPECT_EQ(y.shape(), (Shape{20, 10, 1}));
  EXPECT_EQ(y.data<float>()[1], 8.0f);

  EXPECT_EQ(slice({0}, {1}, {0}, {0}).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(slice({0}, {1}, {3}, {1}).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(slice({0, 0}, {1}, {0}, {1}).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(slice({0, 0}, {1, 1}, {0, -3}, {1, 1}).code(), StatusCode::kInvalidInput);

  Node old = make_node("Slice", 1);
  old.attrs["starts"] = ints_attr({1});
  old.attrs["ends"] = ints_attr({3});
  old.attrs["axes"] = ints_attr({2});
  ASSERT_TRUE(run_op(old, {&x}, &y, 9).ok());
  EXPECT_EQ(y.shape(), (Shape{20, 10, 2}));
  EXPECT_EQ(y.data<float>()[2], 6.0f);
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
  t.attrs["perm"] = ints_attr({2, 0, 3, 1, 4});
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
