#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "runtime/broadcast.h"
#include "runtime/executor.h"
#include "runtime/kernel_registry.h"
#include "common/onnx_io.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using op_test::make_node;
using op_test::values;

// Runs one node through the versioned registry (checking libonnx's inferred type and shape);
// `out` receives output 0 on success.
Status run_op(const Node& node, std::vector<const Tensor*> inputs, Tensor* out,
              int64_t opset = kLatestOpset) {
  auto r = op_test::run_node(node, std::move(inputs), opset);
  if (!r.ok()) return r.status();
  *out = (*r)[0];
  return Status::Ok();
}

template <typename T>
Tensor make(DType t, Shape shape, const std::vector<T>& v) {
  return op_test::make_tensor<T>(t, std::move(shape), v);
}

TEST(ElementwiseBroadcastTest, ShapesFollowNumpyRules) {
  Shape out;
  ASSERT_TRUE(broadcast_shape({{2, 3, 4}, {4}}, &out));
  EXPECT_EQ(out, (Shape{2, 3, 4}));
  ASSERT_TRUE(broadcast_shape({{2, 1, 4}, {3, 1}, {}}, &out));
  EXPECT_EQ(out, (Shape{2, 3, 4}));
  ASSERT_TRUE(broadcast_shape({{0, 3}, {1, 3}}, &out));
  EXPECT_EQ(out, (Shape{0, 3}));
  EXPECT_FALSE(broadcast_shape({{2, 3}, {2}}, &out));
}

TEST(ElementwiseBroadcastTest, PlanMergesContiguousDims) {
  BroadcastPlan p;
  ASSERT_TRUE(make_broadcast_plan({{100, 16, 64}, {100, 16, 64}}, &p));
  EXPECT_EQ(p.dims, (std::vector<int64_t>{102400}));
  ASSERT_TRUE(make_broadcast_plan({{100, 16, 64}, {64}}, &p));
  EXPECT_EQ(p.dims, (std::vector<int64_t>{1600, 64}));
  EXPECT_EQ(p.inner_stride(0), 1);
  EXPECT_EQ(p.inner_stride(1), 1);
  EXPECT_EQ(p.strides[1][0], 0);
  ASSERT_TRUE(make_broadcast_plan({{8, 5, 1}, {1, 1, 7}}, &p));
  EXPECT_EQ(p.out_shape, (Shape{8, 5, 7}));
  EXPECT_EQ(p.dims, (std::vector<int64_t>{40, 7}));
  ASSERT_TRUE(make_broadcast_plan({{}, {}}, &p));
  EXPECT_EQ(p.numel, 1);
}

TEST(ElementwiseBroadcastTest, RunsCoverEveryOutputOnceInParallel) {
  BroadcastPlan p;
  ASSERT_TRUE(make_broadcast_plan({{7, 1, 300, 5}, {9, 1, 5}}, &p));
  std::vector<int> hits(static_cast<size_t>(p.numel), 0);
  std::vector<int64_t> a_off(static_cast<size_t>(p.numel), -1);
  for_each_broadcast_run(p, [&](int64_t o, const int64_t* off, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      ++hits[static_cast<size_t>(o + i)];
      a_off[static_cast<size_t>(o + i)] = off[0] + i * p.inner_stride(0);
    }
  });
  for (int h : hits) ASSERT_EQ(h, 1);
  // Output [7,9,300,5]: input 0 index ignores the 9 axis.
  const int64_t o = ((3 * 9 + 4) * 300 + 17) * 5 + 2;
  EXPECT_EQ(a_off[static_cast<size_t>(o)], (3 * 300 + 17) * 5 + 2);
}

TEST(ElementwiseOpsTest, AddBroadcastsAgainstReference) {
  // Large enough to take the parallel path, with a broadcast over the middle axis.
  const Shape sa{100, 16, 64}, sb{100, 1, 64};
  std::vector<float> a(100 * 16 * 64), b(100 * 64);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 97) * 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 13) - 6.0f;
  Tensor ta = Tensor::from_f32(sa, a), tb = Tensor::from_f32(sb, b), y;
  ASSERT_TRUE(run_op(make_node("Add", 2), {&ta, &tb}, &y).ok());
  ASSERT_EQ(y.shape(), sa);
  for (int64_t n = 0; n < 100; ++n) {
    for (int64_t t = 0; t < 16; ++t) {
      for (int64_t c = 0; c < 64; ++c) {
        const size_t ia = static_cast<size_t>((n * 16 + t) * 64 + c);
        const size_t ib = static_cast<size_t>(n * 64 + c);
        ASSERT_EQ(y.data<float>()[ia], a[ia] + b[ib]);
      }
    }
  }
  // Same shapes, scalar on the left, scalar on the right.
  Tensor s = Tensor::scalar_f32(2.0f);
  ASSERT_TRUE(run_op(make_node("Sub", 2), {&s, &ta}, &y).ok());
  EXPECT_EQ(y.data<float>()[5], 2.0f - a[5]);
  ASSERT_TRUE(run_op(make_node("Div", 2), {&ta, &s}, &y).ok());
  EXPECT_EQ(y.data<float>()[7], a[7] / 2.0f);
  ASSERT_TRUE(run_op(make_node("Mul", 2), {&ta, &ta}, &y).ok());
  EXPECT_EQ(y.data<float>()[9], a[9] * a[9]);
}

TEST(ElementwiseOpsTest, BothOperandsBroadcast) {
  Tensor a = Tensor::from_f32({3, 1}, {1, 2, 3});
  Tensor b = Tensor::from_f32({1, 2}, {10, 20});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Mul", 2), {&a, &b}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{10, 20, 20, 40, 30, 60}));
}

TEST(ElementwiseOpsTest, IntegerArithmeticWrapsAndTruncates) {
  Tensor a = make<int32_t>(DType::kS32, {4}, {7, -7, std::numeric_limits<int32_t>::max(),
                                              std::numeric_limits<int32_t>::min()});
  Tensor b = make<int32_t>(DType::kS32, {4}, {2, 2, 1, -1});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Div", 2), {&a, &b}, &y).ok());
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{3, -3, std::numeric_limits<int32_t>::max(),
                                                      std::numeric_limits<int32_t>::min()}));
  ASSERT_TRUE(run_op(make_node("Add", 2), {&a, &b}, &y).ok());
  EXPECT_EQ(y.data<int32_t>()[2], std::numeric_limits<int32_t>::min());

  Tensor u = make<uint8_t>(DType::kU8, {3}, {250, 3, 16});
  Tensor v = make<uint8_t>(DType::kU8, {3}, {10, 5, 16});
  ASSERT_TRUE(run_op(make_node("Add", 2), {&u, &v}, &y).ok());
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{4, 8, 32}));
  ASSERT_TRUE(run_op(make_node("Sub", 2), {&v, &u}, &y).ok());
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{16, 2, 0}));
  ASSERT_TRUE(run_op(make_node("Mul", 2), {&u, &v}, &y).ok());
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{196, 15, 0}));

  Tensor s = make<int8_t>(DType::kS8, {2}, {-128, 100});
  Tensor t = make<int8_t>(DType::kS8, {2}, {-1, 3});
  ASSERT_TRUE(run_op(make_node("Div", 2), {&s, &t}, &y).ok());
  EXPECT_EQ(values<int8_t>(y), (std::vector<int8_t>{-128, 33}));

  Tensor l = make<int64_t>(DType::kS64, {2}, {-9, 9});
  Tensor m = make<int64_t>(DType::kS64, {}, {4});
  ASSERT_TRUE(run_op(make_node("Div", 2), {&l, &m}, &y).ok());
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{-2, 2}));
}

TEST(ElementwiseOpsTest, BadBinaryInputsAreInvalidAndNameTheNode) {
  Tensor a = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_f32({2}, {1, 2});
  Tensor y;
  Status s = run_op(make_node("Add", 2), {&a, &b}, &y);
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("node 'n' (Add)"), std::string::npos);
  EXPECT_NE(s.message().find("[2,3]"), std::string::npos);

  Tensor i = Tensor::from_i64({2}, {1, 2});
  EXPECT_EQ(run_op(make_node("Mul", 2), {&b, &i}, &y).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_op(make_node("Sub", 1), {&a}, &y).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_op(make_node("Sub", 2), {&a, nullptr}, &y).code(), StatusCode::kInvalidInput);

  Tensor z = Tensor::from_i64({2}, {1, 0});
  s = run_op(make_node("Div", 2), {&i, &z}, &y);
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("division by zero"), std::string::npos);

  Tensor f16(DType::kF16, {2});
  EXPECT_EQ(run_op(make_node("Add", 2), {&f16, &a}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ElementwiseOpsTest, UnaryActivations) {
  Tensor x = Tensor::from_f32({5}, {-2.0f, -0.5f, 0.0f, 0.5f, 2.0f});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Relu", 1), {&x}, &y).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 0, 0, 0.5f, 2.0f}));

  Node lr = make_node("LeakyRelu", 1);
  lr.attrs["alpha"] = op_test::attr_float(0.1f);
  ASSERT_TRUE(run_op(lr, {&x}, &y).ok());
  EXPECT_FLOAT_EQ(y.data<float>()[0], -0.2f);
  EXPECT_FLOAT_EQ(y.data<float>()[4], 2.0f);
  ASSERT_TRUE(run_op(make_node("LeakyRelu", 1), {&x}, &y).ok());  // default alpha 0.01
  EXPECT_FLOAT_EQ(y.data<float>()[0], -0.02f);

  ASSERT_TRUE(run_op(make_node("Sigmoid", 1), {&x}, &y).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(y.data<float>()[i], 1.0 / (1.0 + std::exp(-x.data<float>()[i])), 1e-6);
  }
  ASSERT_TRUE(run_op(make_node("Tanh", 1), {&x}, &y).ok());
  EXPECT_NEAR(y.data<float>()[4], std::tanh(2.0), 1e-6);
  ASSERT_TRUE(run_op(make_node("Erf", 1), {&x}, &y).ok());
  EXPECT_NEAR(y.data<float>()[3], std::erf(0.5), 1e-6);
  ASSERT_TRUE(run_op(make_node("Sqrt", 1), {&x}, &y).ok());
  EXPECT_TRUE(std::isnan(y.data<float>()[0]));
  EXPECT_FLOAT_EQ(y.data<float>()[4], std::sqrt(2.0f));

  Tensor d(DType::kF64, {2});
  d.data<double>()[0] = -1.0;
  d.data<double>()[1] = 4.0;
  ASSERT_TRUE(run_op(make_node("Sqrt", 1), {&d}, &y).ok());
  EXPECT_EQ(y.dtype(), DType::kF64);
  EXPECT_EQ(y.data<double>()[1], 2.0);

  Tensor big = Tensor::from_f32({1}, {-1000.0f});
  ASSERT_TRUE(run_op(make_node("Sigmoid", 1), {&big}, &y).ok());
  EXPECT_EQ(y.data<float>()[0], 0.0f);

  Tensor ints = Tensor::from_i64({2}, {1, 2});
  EXPECT_EQ(run_op(make_node("Tanh", 1), {&ints}, &y).code(), StatusCode::kUnsupported);
  EXPECT_EQ(run_op(make_node("Relu", 0), {}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ElementwiseOpsTest, ErfIsAccurateOverTheWholeRange) {
  // 120001 values: the parallel path, a vector tail, and +-inf / NaN at the end.
  std::vector<float> xs;
  for (int i = -60000; i <= 60000; ++i) xs.push_back(static_cast<float>(i) * 1e-4f);
  xs.push_back(std::numeric_limits<float>::infinity());
  xs.push_back(-std::numeric_limits<float>::infinity());
  xs.push_back(std::nanf(""));
  Tensor x = Tensor::from_f32({static_cast<int64_t>(xs.size())}, xs), y;
  ASSERT_TRUE(run_op(make_node("Erf", 1), {&x}, &y).ok());
  double worst = 0;
  for (size_t i = 0; i + 3 < xs.size(); ++i) {
    worst = std::max(worst, std::fabs(y.data<float>()[i] - std::erf(static_cast<double>(xs[i]))));
  }
  EXPECT_LT(worst, 1e-6);
  const size_t n = xs.size();
  EXPECT_EQ(y.data<float>()[n - 3], 1.0f);
  EXPECT_EQ(y.data<float>()[n - 2], -1.0f);
  EXPECT_TRUE(std::isnan(y.data<float>()[n - 1]));
}

TEST(ElementwiseOpsTest, ClipTakesInputsFromOpset11AndAttributesBefore) {
  Tensor x = Tensor::from_f32({4}, {-3, -1, 1, 3});
  Tensor lo = Tensor::scalar_f32(-2), hi = Tensor::scalar_f32(2), y;
  ASSERT_TRUE(run_op(make_node("Clip", 3), {&x, &lo, &hi}, &y).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{-2, -1, 1, 2}));
  ASSERT_TRUE(run_op(make_node("Clip", 3), {&x, nullptr, &hi}, &y).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{-3, -1, 1, 2}));
  ASSERT_TRUE(run_op(make_node("Clip", 1), {&x}, &y).ok());
  EXPECT_EQ(values<float>(y), values<float>(x));

  Node old = make_node("Clip", 1);
  old.attrs["min"] = op_test::attr_float(0.0f);
  old.attrs["max"] = op_test::attr_float(1.5f);
  ASSERT_TRUE(run_op(old, {&x}, &y, /*opset=*/6).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 0, 1, 1.5f}));

  Tensor q = make<int8_t>(DType::kS8, {3}, {-100, 5, 100});
  Tensor qmax = make<int8_t>(DType::kS8, {}, {10});
  ASSERT_TRUE(run_op(make_node("Clip", 3), {&q, nullptr, &qmax}, &y).ok());
  EXPECT_EQ(values<int8_t>(y), (std::vector<int8_t>{-100, 5, 10}));

  Tensor vec = Tensor::from_f32({2}, {0, 1});
  EXPECT_EQ(run_op(make_node("Clip", 3), {&x, &vec, &hi}, &y).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_op(make_node("Clip", 3), {&x, &qmax, &hi}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ElementwiseOpsTest, PowMixesBaseAndExponentTypes) {
  Tensor x = Tensor::from_f32({3}, {1, 2, 3});
  Tensor ey = Tensor::from_f32({3}, {1, 2, 3}), y;
  ASSERT_TRUE(run_op(make_node("Pow", 2), {&x, &ey}, &y).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 4, 27}));

  Tensor two = Tensor::scalar_f32(2.0f);
  ASSERT_TRUE(run_op(make_node("Pow", 2), {&x, &two}, &y).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 4, 9}));

  Tensor ei = Tensor::from_i64({3}, {3, 0, -1});
  ASSERT_TRUE(run_op(make_node("Pow", 2), {&x, &ei}, &y).ok());
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 1, 1.0f / 3}));

  Tensor bi = make<int32_t>(DType::kS32, {4}, {2, -3, 2, 5});
  Tensor eu = make<uint64_t>(DType::kU64, {4}, {10, 3, 31, 0});
  ASSERT_TRUE(run_op(make_node("Pow", 2), {&bi, &eu}, &y).ok());
  EXPECT_EQ(y.dtype(), DType::kS32);
  EXPECT_EQ(values<int32_t>(y),
            (std::vector<int32_t>{1024, -27, std::numeric_limits<int32_t>::min(), 1}));

  Tensor ef = Tensor::from_f32({4}, {0.5f, 2, 1, 2});
  ASSERT_TRUE(run_op(make_node("Pow", 2), {&bi, &ef}, &y).ok());
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{1, 9, 2, 25}));

  Tensor bad = Tensor::from_f32({2}, {1, 2});
  EXPECT_EQ(run_op(make_node("Pow", 2), {&x, &bad}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ElementwiseOpsTest, WhereBroadcastsAnyElementType) {
  Tensor c = make<uint8_t>(DType::kBool, {2, 1}, {1, 0});
  Tensor x = Tensor::from_i64({1, 3}, {1, 2, 3});
  Tensor y = Tensor::from_i64({}, {-1});
  Tensor out;
  ASSERT_TRUE(run_op(make_node("Where", 3), {&c, &x, &y}, &out).ok());
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(out), (std::vector<int64_t>{1, 2, 3, -1, -1, -1}));

  Tensor h(DType::kF16, {2, 1});
  h.data<uint16_t>()[0] = f32_to_f16(1.5f);
  h.data<uint16_t>()[1] = f32_to_f16(-2.0f);
  Tensor h2(DType::kF16, {2, 1});
  ASSERT_TRUE(run_op(make_node("Where", 3), {&c, &h, &h2}, &out).ok());
  EXPECT_EQ(out.dtype(), DType::kF16);
  EXPECT_EQ(f16_to_f32(out.data<uint16_t>()[0]), 1.5f);
  EXPECT_EQ(f16_to_f32(out.data<uint16_t>()[1]), 0.0f);

  Tensor notbool = Tensor::from_i64({2, 1}, {1, 0});
  EXPECT_EQ(run_op(make_node("Where", 3), {&notbool, &x, &y}, &out).code(),
            StatusCode::kInvalidInput);
  Tensor f = Tensor::from_f32({1}, {1});
  EXPECT_EQ(run_op(make_node("Where", 3), {&c, &x, &f}, &out).code(), StatusCode::kInvalidInput);
}

Node cast_node(DType to) {
  Node n = make_node("Cast", 1);
  n.attrs["to"] = op_test::attr_int(static_cast<int64_t>(to));
  return n;
}

TEST(ElementwiseOpsTest, CastBetweenNumericTypes) {
  Tensor x = Tensor::from_f32({5}, {-1.7f, 0.0f, 2.5f, 300.0f, std::nanf("")});
  Tensor y;
  ASSERT_TRUE(run_op(cast_node(DType::kS32), {&x}, &y).ok());
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{-1, 0, 2, 300, 0}));
  ASSERT_TRUE(run_op(cast_node(DType::kU8), {&x}, &y).ok());  // out of range saturates
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{0, 0, 2, 255, 0}));
  ASSERT_TRUE(run_op(cast_node(DType::kBool), {&x}, &y).ok());
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{1, 0, 1, 1, 1}));
  ASSERT_TRUE(run_op(cast_node(DType::kF64), {&x}, &y).ok());
  EXPECT_EQ(y.data<double>()[2], 2.5);
  ASSERT_TRUE(run_op(cast_node(DType::kF16), {&x}, &y).ok());
  EXPECT_EQ(f16_to_f32(y.data<uint16_t>()[2]), 2.5f);
  EXPECT_EQ(f16_to_f32(y.data<uint16_t>()[3]), 300.0f);

  Tensor i = Tensor::from_i64({3}, {-1, 256, 70000});
  ASSERT_TRUE(run_op(cast_node(DType::kU8), {&i}, &y).ok());  // integers wrap, as numpy does
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{255, 0, 112}));
  ASSERT_TRUE(run_op(cast_node(DType::kF32), {&i}, &y).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{-1, 256, 70000}));

  Tensor b = make<uint8_t>(DType::kBool, {2}, {1, 0});
  ASSERT_TRUE(run_op(cast_node(DType::kF32), {&b}, &y).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 0}));

  // Same type: no copy is needed.
  ASSERT_TRUE(run_op(cast_node(DType::kF32), {&x}, &y).ok());
  EXPECT_EQ(y.raw(), x.raw());

  Node bad = make_node("Cast", 1);
  EXPECT_EQ(run_op(bad, {&x}, &y).code(), StatusCode::kInvalidInput);
  // ONNX element type 14 (complex64) has no tensor type here.
  EXPECT_EQ(run_op(cast_node(static_cast<DType>(14)), {&x}, &y).code(), StatusCode::kUnsupported);
}

TEST(ElementwiseOpsTest, CastDoubleToF16RoundsOnce) {
  // Halfway between two f16 values after rounding to f32, but just above halfway as a double:
  // rounding twice would go down, rounding once goes up.
  const double d = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  Tensor x(DType::kF64, {1});
  x.data<double>()[0] = d;
  Tensor y;
  ASSERT_TRUE(run_op(cast_node(DType::kF16), {&x}, &y).ok());
  EXPECT_EQ(f16_to_f32(y.data<uint16_t>()[0]), 1.0f + std::ldexp(1.0f, -10));
}

TEST(ElementwiseOpsTest, CastToBf16TruncatesLikeTheOnnxReference) {
  Tensor x = Tensor::from_f32({3}, {1.0f + std::ldexp(1.0f, -8), -3.999f, std::nanf("")});
  Tensor y;
  ASSERT_TRUE(run_op(cast_node(DType::kBF16), {&x}, &y).ok());
  EXPECT_EQ(y.dtype(), DType::kBF16);
  EXPECT_EQ(bf16_to_f32(y.data<uint16_t>()[0]), 1.0f);
  EXPECT_EQ(bf16_to_f32(y.data<uint16_t>()[1]), -3.984375f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(y.data<uint16_t>()[2])));
}

// The ONNX 1.12 test data stores bfloat16 tensors as uint16; compare the bits directly.
TEST(ElementwiseOpsTest, CastBf16MatchesOnnxTestDataBits) {
  const std::string root = "/usr/share/libonnx-testdata/data/node/";
  if (!std::filesystem::exists(root + "test_cast_FLOAT_to_BFLOAT16")) {
    GTEST_SKIP() << "libonnx-testdata not installed";
  }
  auto load = [&](const std::string& test, const std::string& file) {
    auto t = load_tensor_pb(root + test + "/test_data_set_0/" + file);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? t.value() : Tensor();
  };
  Tensor in = load("test_cast_FLOAT_to_BFLOAT16", "input_0.pb");
  Tensor want = load("test_cast_FLOAT_to_BFLOAT16", "output_0.pb");
  ASSERT_EQ(want.dtype(), DType::kU16);
  Tensor y;
  ASSERT_TRUE(run_op(cast_node(DType::kBF16), {&in}, &y).ok());
  ASSERT_EQ(y.numel(), want.numel());
  for (int64_t i = 0; i < y.numel(); ++i) {
    EXPECT_EQ(y.data<uint16_t>()[i], want.data<uint16_t>()[i]) << "element " << i;
  }

  Tensor raw = load("test_cast_BFLOAT16_to_FLOAT", "input_0.pb");
  Tensor want_f = load("test_cast_BFLOAT16_to_FLOAT", "output_0.pb");
  Tensor bf(DType::kBF16, raw.shape());
  std::memcpy(bf.raw(), raw.raw(), raw.nbytes());
  ASSERT_TRUE(run_op(cast_node(DType::kF32), {&bf}, &y).ok());
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float g = y.data<float>()[i], w = want_f.data<float>()[i];
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g));
    } else {
      EXPECT_EQ(g, w) << "element " << i;
    }
  }
}

TEST(ElementwiseOpsTest, IdentityAndConstantShareStorage) {
  Tensor x = Tensor::from_f32({2}, {1, 2}), y;
  ASSERT_TRUE(run_op(make_node("Identity", 1), {&x}, &y).ok());
  EXPECT_EQ(y.raw(), x.raw());

  Node c = make_node("Constant", 0);
  Attribute t;
  t.kind = Attribute::Kind::kTensor;
  t.t = Tensor::from_i64({2}, {4, 5});
  c.attrs["value"] = t;
  ASSERT_TRUE(run_op(c, {}, &y).ok());
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{4, 5}));

  Node cf = make_node("Constant", 0);
  cf.attrs["value_float"] = op_test::attr_float(0.25f);
  ASSERT_TRUE(run_op(cf, {}, &y).ok());
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(y.data<float>()[0], 0.25f);

  Node ci = make_node("Constant", 0);
  Attribute ints;
  ints.kind = Attribute::Kind::kInts;
  ints.ints = {1, 2, 3};
  ci.attrs["value_ints"] = ints;
  ASSERT_TRUE(run_op(ci, {}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{3}));

  Node none = make_node("Constant", 0);
  EXPECT_EQ(run_op(none, {}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ElementwiseOpsTest, Opset6BroadcastsOnlyWhenAsked) {
  Tensor a = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor row = Tensor::from_f32({3}, {10, 20, 30});
  Tensor col = Tensor::from_f32({2}, {100, 200});
  Tensor y;
  // broadcast=0 (the default) needs equal shapes.
  EXPECT_EQ(run_op(make_node("Add", 2), {&a, &row}, &y, 6).code(), StatusCode::kInvalidInput);
  ASSERT_TRUE(run_op(make_node("Add", 2), {&a, &a}, &y, 6).ok());
  EXPECT_EQ(values<float>(y)[5], 12.0f);
  // broadcast=1: B matches A's trailing dims, or the dims from `axis`.
  Node bc = make_node("Add", 2, 1, {{"broadcast", op_test::attr_int(1)}});
  ASSERT_TRUE(run_op(bc, {&a, &row}, &y, 6).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  Node axis0 = make_node("Sub", 2, 1, {{"broadcast", op_test::attr_int(1)}, {"axis", op_test::attr_int(0)}});
  ASSERT_TRUE(run_op(axis0, {&a, &col}, &y, 6).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{-99, -98, -97, -196, -195, -194}));
  EXPECT_EQ(run_op(bc, {&a, &col}, &y, 6).code(), StatusCode::kInvalidInput);
  Tensor two = Tensor::scalar_f32(2);
  ASSERT_TRUE(run_op(make_node("Mul", 2, 1, {{"broadcast", op_test::attr_int(1)}}), {&a, &two}, &y, 1).ok());
  EXPECT_EQ(values<float>(y)[2], 6.0f);

  // PRelu before opset 7: a slope of X's channel count applies along axis 1.
  Tensor x = Tensor::from_f32({1, 2, 2}, {-1, -2, -3, 4});
  Tensor slope = Tensor::from_f32({2}, {0.5f, 2});
  ASSERT_TRUE(run_op(make_node("PRelu", 2), {&x, &slope}, &y, 6).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{-0.5f, -1, -6, 4}));
}

TEST(ElementwiseOpsTest, HalfTypesComputeInF32) {
  Tensor a(DType::kF16, {2}), b(DType::kF16, {});
  a.data<uint16_t>()[0] = f32_to_f16(1.5f);
  a.data<uint16_t>()[1] = f32_to_f16(-2.0f);
  b.data<uint16_t>()[0] = f32_to_f16(0.25f);
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Mul", 2), {&a, &b}, &y).ok());
  EXPECT_EQ(y.dtype(), DType::kF16);
  EXPECT_EQ(f16_to_f32(y.data<uint16_t>()[0]), 0.375f);
  EXPECT_EQ(f16_to_f32(y.data<uint16_t>()[1]), -0.5f);
  Tensor e = make<int32_t>(DType::kS32, {}, {2});
  ASSERT_TRUE(run_op(make_node("Pow", 2), {&a, &e}, &y).ok());
  EXPECT_EQ(y.dtype(), DType::kF16);
  EXPECT_EQ(f16_to_f32(y.data<uint16_t>()[1]), 4.0f);
  Tensor bf(DType::kBF16, {1});
  bf.data<uint16_t>()[0] = f32_to_bf16(3.0f);
  ASSERT_TRUE(run_op(make_node("Sub", 2), {&bf, &bf}, &y).ok());
  EXPECT_EQ(y.dtype(), DType::kBF16);
  EXPECT_EQ(bf16_to_f32(y.data<uint16_t>()[0]), 0.0f);
}

TEST(ElementwiseOpsTest, PowTypesPerOpset) {
  Tensor x = Tensor::from_f32({2}, {2, 3});
  Tensor ei = Tensor::from_i64({2}, {2, 3});
  Tensor y;
  EXPECT_EQ(run_op(make_node("Pow", 2), {&x, &ei}, &y, 11).code(), StatusCode::kInvalidInput);
  ASSERT_TRUE(run_op(make_node("Pow", 2), {&x, &ei}, &y, 12).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{4, 27}));
  ASSERT_TRUE(run_op(make_node("Pow", 2), {&x, &x}, &y, 7).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{4, 27}));
  Tensor u = make<uint8_t>(DType::kU8, {1}, {2});
  EXPECT_EQ(run_op(make_node("Pow", 2), {&u, &u}, &y).code(), StatusCode::kUnsupported);
}

TEST(ElementwiseOpsTest, ModFollowsTheSignRules) {
  Node mod = make_node("Mod", 2);
  Node fmod = make_node("Mod", 2, 1, {{"fmod", op_test::attr_int(1)}});
  const int32_t lowest = std::numeric_limits<int32_t>::min();
  Tensor a = make<int32_t>(DType::kS32, {6}, {-4, 7, 5, 4, -7, lowest});
  Tensor b = make<int32_t>(DType::kS32, {6}, {3, -3, 8, -2, 3, -1});
  Tensor y;
  ASSERT_TRUE(run_op(mod, {&a, &b}, &y).ok());
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{2, -2, 5, 0, 2, 0}));
  ASSERT_TRUE(run_op(fmod, {&a, &b}, &y, 10).ok());
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{-1, 1, 5, 0, -1, 0}));

  Tensor u = make<uint16_t>(DType::kU16, {3}, {4, 7, 5});
  Tensor v = make<uint16_t>(DType::kU16, {}, {3});
  ASSERT_TRUE(run_op(mod, {&u, &v}, &y).ok());
  EXPECT_EQ(values<uint16_t>(y), (std::vector<uint16_t>{1, 1, 2}));

  Tensor f = Tensor::from_f32({2}, {-4.5f, 7.5f});
  Tensor g = Tensor::from_f32({2}, {2, -2});
  ASSERT_TRUE(run_op(fmod, {&f, &g}, &y).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{-0.5f, 1.5f}));
  EXPECT_EQ(run_op(mod, {&f, &g}, &y).code(), StatusCode::kInvalidInput);  // floats need fmod=1
  Tensor zero = make<int32_t>(DType::kS32, {}, {0});
  EXPECT_EQ(run_op(mod, {&a, &zero}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ElementwiseOpsTest, PReluSlopeBroadcastsToX) {
  Tensor x = Tensor::from_f32({2, 3}, {-1, 2, -3, 4, -5, 6});
  Tensor slope = Tensor::from_f32({3}, {0.5f, 1, 2});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("PRelu", 2), {&x, &slope}, &y, 7).ok());
  EXPECT_EQ(values<float>(y), (std::vector<float>{-0.5f, 2, -6, 4, -5, 6}));
  Tensor xi = Tensor::from_i64({3}, {-4, 0, 4});
  Tensor si = Tensor::from_i64({}, {3});
  ASSERT_TRUE(run_op(make_node("PRelu", 2), {&xi, &si}, &y).ok());
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{-12, 0, 4}));
  // The slope may not grow X.
  Tensor wide = Tensor::from_f32({4, 1, 3}, std::vector<float>(12, 1));
  EXPECT_EQ(run_op(make_node("PRelu", 2), {&x, &wide}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ElementwiseOpsTest, VariadicOpsBroadcastFromOpset8) {
  Tensor a = Tensor::from_f32({2, 2}, {1, 5, 3, std::nanf("")});
  Tensor b = Tensor::from_f32({2}, {2, 4});
  Tensor c = Tensor::from_f32({}, {3});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("Sum", 3), {&a, &b, &c}, &y).ok());
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(y)[0], 6.0f);
  EXPECT_EQ(values<float>(y)[2], 8.0f);
  ASSERT_TRUE(run_op(make_node("Mean", 2), {&a, &b}, &y).ok());
  EXPECT_EQ(values<float>(y)[1], 4.5f);
  ASSERT_TRUE(run_op(make_node("Max", 3), {&a, &b, &c}, &y).ok());
  EXPECT_EQ(values<float>(y)[0], 3.0f);
  EXPECT_EQ(values<float>(y)[1], 5.0f);
  EXPECT_TRUE(std::isnan(values<float>(y)[3]));  // NaN propagates, as numpy's maximum
  ASSERT_TRUE(run_op(make_node("Min", 1), {&a}, &y).ok());
  EXPECT_EQ(values<float>(y)[0], 1.0f);

  // Before opset 8 every input has one shape.
  EXPECT_EQ(run_op(make_node("Sum", 2), {&a, &b}, &y, 7).code(), StatusCode::kInvalidInput);
  ASSERT_TRUE(run_op(make_node("Sum", 2), {&a, &a}, &y, 6).ok());
  EXPECT_EQ(values<float>(y)[1], 10.0f);

  // Integer Max/Min from opset 12, exact for int64.
  const int64_t big = (int64_t{1} << 60) + 1;
  Tensor i = Tensor::from_i64({2}, {big, -3});
  Tensor j = Tensor::from_i64({2}, {big - 1, 7});
  ASSERT_TRUE(run_op(make_node("Max", 2), {&i, &j}, &y).ok());
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{big, 7}));
  ASSERT_TRUE(run_op(make_node("Min", 2), {&i, &j}, &y).ok());
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{big - 1, -3}));
  EXPECT_EQ(run_op(make_node("Max", 2), {&i, &j}, &y, 11).code(), StatusCode::kUnsupported);
  EXPECT_EQ(run_op(make_node("Max", 2), {&a, &i}, &y).code(), StatusCode::kInvalidInput);
}

TEST(ElementwiseOpsTest, CastLikeAndTheOpset1CastTakeTheirTargetType) {
  Tensor x = Tensor::from_f32({2}, {1.5f, -2.0f});
  Tensor like = Tensor::from_i64({1}, {0});
  Tensor y;
  ASSERT_TRUE(run_op(make_node("CastLike", 2), {&x, &like}, &y).ok());
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{1, -2}));

  Node named = make_node("Cast", 1, 1, {{"to", op_test::attr_string("DOUBLE")}});
  ASSERT_TRUE(run_op(named, {&x}, &y, 1).ok());
  EXPECT_EQ(y.dtype(), DType::kF64);
  Node bad = make_node("Cast", 1, 1, {{"to", op_test::attr_string("STRING")}});
  EXPECT_EQ(run_op(bad, {&x}, &y, 1).code(), StatusCode::kUnsupported);
}

TEST(ElementwiseOpsTest, ConstantScalarAttributesNeedOpset12) {
  Node cf = make_node("Constant", 0, 1, {{"value_float", op_test::attr_float(2.0f)}});
  Tensor y;
  EXPECT_EQ(run_op(cf, {}, &y, 11).code(), StatusCode::kInvalidInput);
  ASSERT_TRUE(run_op(cf, {}, &y, 12).ok());
  Node cv = make_node("Constant", 0, 1, {{"value", op_test::attr_tensor(Tensor::scalar_f32(1))}});
  ASSERT_TRUE(run_op(cv, {}, &y, 9).ok());
  Node cs = make_node("Constant", 0, 1, {{"value_string", op_test::attr_string("a")}});
  EXPECT_EQ(run_op(cs, {}, &y).code(), StatusCode::kUnsupported);
}

// A tiny GELU graph, the way PyTorch exports it at opset 13, through the executor.
TEST(ElementwiseOpsTest, GeluGraphRunsThroughExecutor) {
  auto g = std::make_shared<Graph>();
  g->inputs.push_back({"x", DType::kF32, Shape{-1, 4}});
  g->outputs.push_back({"y", DType::kF32, Shape{-1, 4}});
  g->initializers["sqrt2"] = Tensor::scalar_f32(1.4142135f);
  g->initializers["one"] = Tensor::scalar_f32(1.0f);
  g->initializers["half"] = Tensor::scalar_f32(0.5f);
  auto node = [&](const std::string& name, const std::string& op, std::vector<std::string> in,
                  const std::string& out) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {out};
    g->nodes.push_back(n);
  };
  node("div", "Div", {"x", "sqrt2"}, "a");
  node("erf", "Erf", {"a"}, "b");
  node("add", "Add", {"b", "one"}, "c");
  node("mul", "Mul", {"x", "c"}, "d");
  node("mul2", "Mul", {"d", "half"}, "y");
  auto e = Executor::create(g);
  ASSERT_TRUE(e.ok()) << e.status().message();
  std::vector<float> xs = {-2, -0.5f, 0.5f, 2, 1, 0, -1, 3};
  auto out = e->run({Tensor::from_f32({2, 4}, xs)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  for (size_t i = 0; i < xs.size(); ++i) {
    const double want = 0.5 * xs[i] * (1.0 + std::erf(xs[i] / std::sqrt(2.0)));
    EXPECT_NEAR((*out)[0].data<float>()[i], want, 1e-6);
  }
}

}  // namespace
}  // namespace qtune

namespace qtune {
namespace {

// Identity takes any value: a sequence passes through unchanged (opset 14+ schemas allow it).
TEST(ElementwiseIdentity, PassesSequencesThrough) {
  Node n = op_test::make_node("Identity", 1);
  Tensor seq = Tensor::sequence(DType::kF32, {Tensor::from_f32({2}, {1.0f, 2.0f}),
                                              Tensor::from_f32({1}, {3.0f})});
  auto out = op_test::run_node(n, {&seq}, 16, /*check_inference=*/false);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_TRUE((*out)[0].is_sequence());
  ASSERT_EQ((*out)[0].items().size(), 2u);
  EXPECT_EQ(op_test::values<float>((*out)[0].items()[1]), (std::vector<float>{3.0f}));
}

}  // namespace
}  // namespace qtune

namespace qtune {
namespace {

// Casts to and from strings write and read numbers as NumPy does (the ONNX reference).
TEST(ElementwiseCastStrings, NumbersToTextAndBack) {
  Node to_text = op_test::make_node("Cast", 1, 1, {{"to", op_test::attr_int(8)}});
  Tensor x = Tensor::from_f32({4}, {0.5f, 0.039187793f, 1e-5f, 3.0f});
  auto text = op_test::run_node(to_text, {&x}, 13);
  ASSERT_TRUE(text.ok()) << text.status().message();
  ASSERT_EQ((*text)[0].dtype(), DType::kString);
  const std::string* s = (*text)[0].data<std::string>();
  EXPECT_EQ(std::vector<std::string>(s, s + 4),
            (std::vector<std::string>{"0.5", "0.039187793", "1e-05", "3.0"}));

  Node to_float = op_test::make_node("Cast", 1, 1, {{"to", op_test::attr_int(1)}});
  Tensor words = Tensor::from_strings({4}, {"0.25", "-INF", "NaN", "+inf"});
  auto back = op_test::run_node(to_float, {&words}, 13);
  ASSERT_TRUE(back.ok()) << back.status().message();
  const auto v = op_test::values<float>((*back)[0]);
  EXPECT_EQ(v[0], 0.25f);
  EXPECT_TRUE(std::isinf(v[1]) && v[1] < 0);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_TRUE(std::isinf(v[3]) && v[3] > 0);

  Tensor bad = Tensor::from_strings({1}, {"1.5x"});
  auto err = op_test::run_node(to_float, {&bad}, 13, /*check_inference=*/false);
  EXPECT_EQ(err.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(err.status().message().find("'1.5x'"), std::string::npos);
}

}  // namespace
}  // namespace qtune
