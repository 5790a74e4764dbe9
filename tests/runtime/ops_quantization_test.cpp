#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

Tensor ints(DType t, Shape shape, const std::vector<int64_t>& v) {
  Tensor out(t, std::move(shape));
  EXPECT_EQ(out.numel(), static_cast<int64_t>(v.size()));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t) {
      case DType::kU8: out.data<uint8_t>()[i] = static_cast<uint8_t>(v[i]); break;
      case DType::kS8: out.data<int8_t>()[i] = static_cast<int8_t>(v[i]); break;
      case DType::kS32: out.data<int32_t>()[i] = static_cast<int32_t>(v[i]); break;
      default: ADD_FAILURE() << "ints(): unsupported type";
    }
  }
  return out;
}
Tensor u8(Shape s, const std::vector<int64_t>& v) { return ints(DType::kU8, std::move(s), v); }
Tensor s8(Shape s, const std::vector<int64_t>& v) { return ints(DType::kS8, std::move(s), v); }
Tensor s32(Shape s, const std::vector<int64_t>& v) { return ints(DType::kS32, std::move(s), v); }
Tensor f32(Shape s, const std::vector<float>& v) { return Tensor::from_f32(std::move(s), v); }

// Runs one op through the executor, as a one-node graph whose inputs are the given tensors
// (an empty Tensor marks an omitted optional input).
struct OpRun {
  Status status;
  std::vector<Tensor> outputs;
};
OpRun run_op(const std::string& op, const std::vector<Tensor>& inputs,
             std::map<std::string, Attribute> attrs = {}, size_t num_outputs = 1,
             int64_t opset = 13) {
  auto g = std::make_shared<Graph>();
  g->opset = opset;
  Node n;
  n.name = "q_node";
  n.op_type = op;
  n.attrs = std::move(attrs);
  std::vector<Tensor> feed;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].empty()) {
      n.inputs.push_back("");
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    n.inputs.push_back(name);
    g->inputs.push_back({name, inputs[i].dtype(), inputs[i].shape()});
    feed.push_back(inputs[i]);
  }
  for (size_t i = 0; i < num_outputs; ++i) {
    n.outputs.push_back("out" + std::to_string(i));
    g->outputs.push_back({n.outputs.back(), DType::kUndefined, std::nullopt});
  }
  g->nodes.push_back(std::move(n));
  auto exec = Executor::create(g);
  if (!exec.ok()) return {exec.status(), {}};
  auto out = exec->run(feed);
  if (!out.ok()) return {out.status(), {}};
  return {Status::Ok(), std::move(out).value()};
}

std::vector<int64_t> values(const Tensor& t) { return t.to_i64_vector(); }

void expect_invalid_naming_node(const Status& s, const std::string& what) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput) << s.message();
  EXPECT_NE(s.message().find("node 'q_node'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
}

// ---------------------------------------------------------------- QuantizeLinear

TEST(QuantizeLinearOpTest, TiesRoundToEven) {
  auto r = run_op("QuantizeLinear", {f32({6}, {2.5f, 3.5f, -2.5f, 0.5f, 1.5f, -0.5f}),
                                     Tensor::scalar_f32(1.0f), s8({}, {0})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dtype(), DType::kS8);
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{2, 4, -2, 0, 2, 0}));
}

TEST(QuantizeLinearOpTest, SaturatesAndDefaultsToU8WithoutZeroPoint) {
  auto r = run_op("QuantizeLinear",
                  {f32({5}, {0.0f, 2.0f, 1000.0f, -254.0f, -1000.0f}), Tensor::scalar_f32(2.0f),
                   u8({}, {128})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{128, 129, 255, 1, 0}));

  r = run_op("QuantizeLinear", {f32({4}, {-3.0f, 1.0f, 3.0f, 600.0f}), Tensor::scalar_f32(2.0f)});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dtype(), DType::kU8);
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{0, 0, 2, 255}));

  r = run_op("QuantizeLinear", {f32({3}, {300.0f, -300.0f, 63.0f}), Tensor::scalar_f32(0.5f),
                                s8({}, {1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{127, -128, 127}));
}

TEST(QuantizeLinearOpTest, PerAxisWithZeroPoints) {
  // x [2, 3, 2], axis 1: channel c uses scale[c], zp[c].
  const Tensor x = f32({2, 3, 2}, {1, 3, 2, 6, 4, 10, -1, -3, -2, -6, -4, -12});
  const Tensor scale = f32({3}, {2.0f, 4.0f, 8.0f});
  const Tensor zp = u8({3}, {0, 10, 20});
  const std::vector<int64_t> want = {0, 2, 10, 12, 20, 21, 0, 0, 10, 8, 20, 18};
  auto r = run_op("QuantizeLinear", {x, scale, zp}, {{"axis", op_test::attr_int(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]), want);
  r = run_op("QuantizeLinear", {x, scale, zp}, {{"axis", op_test::attr_int(-2)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]), want);
  r = run_op("QuantizeLinear", {x, scale, zp});  // axis defaults to 1
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]), want);
}

TEST(QuantizeLinearOpTest, PerAxisOnTheLastAxis) {
  const Tensor x = f32({2, 2}, {1.0f, 1.0f, 3.0f, 3.0f});
  auto r = run_op("QuantizeLinear", {x, f32({2}, {1.0f, 2.0f}), s8({2}, {0, -1})},
                  {{"axis", op_test::attr_int(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{1, -1, 3, 1}));  // 0.5 -> 0, 1.5 -> 2
}

TEST(QuantizeLinearOpTest, LargeTensorSplitAcrossTasksMatchesScalarRule) {
  std::vector<float> xs(100000);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-300.0f, 300.0f);
  for (auto& v : xs) v = std::round(dist(rng)) * 0.5f;  // many exact .5 ties
  auto r = run_op("QuantizeLinear",
                  {f32({100000}, xs), Tensor::scalar_f32(1.0f), s8({}, {3})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const auto got = values(r.outputs[0]);
  for (size_t i = 0; i < xs.size(); ++i) {
    const double q = std::nearbyint(static_cast<double>(xs[i])) + 3;  // default mode: ties-even
    ASSERT_EQ(got[i], static_cast<int64_t>(std::min(127.0, std::max(-128.0, q)))) << i;
  }
}

TEST(QuantizeLinearOpTest, ScaleNotMatchingTheAxisIsInvalidInput) {
  const Tensor x = f32({2, 3}, {0, 0, 0, 0, 0, 0});
  auto r = run_op("QuantizeLinear", {x, f32({4}, {1, 1, 1, 1}), u8({4}, {0, 0, 0, 0})},
                  {{"axis", op_test::attr_int(1)}});
  expect_invalid_naming_node(r.status, "y_scale shape [4]");
  r = run_op("QuantizeLinear", {x, f32({3}, {1, 1, 1}), u8({2}, {0, 0})}, {{"axis", op_test::attr_int(1)}});
  expect_invalid_naming_node(r.status, "zero point shape");
  r = run_op("QuantizeLinear", {x, f32({3}, {1, 1, 1})}, {{"axis", op_test::attr_int(2)}});
  expect_invalid_naming_node(r.status, "axis 2");
  r = run_op("QuantizeLinear", {x, f32({1, 3}, {1, 1, 1})});
  expect_invalid_naming_node(r.status, "scalar or 1-D");
  r = run_op("QuantizeLinear", {x});
  expect_invalid_naming_node(r.status, "y_scale");
}

TEST(QuantizeLinearOpTest, UnimplementedTypesAreUnsupported) {
  Tensor x64(DType::kF64, {2});
  auto r = run_op("QuantizeLinear", {x64, Tensor::scalar_f32(1.0f)});
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  Tensor zp16(DType::kU16, {});
  r = run_op("QuantizeLinear", {f32({1}, {1.0f}), Tensor::scalar_f32(1.0f), zp16});
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
}

// ---------------------------------------------------------------- DequantizeLinear

TEST(DequantizeLinearOpTest, PerTensorPerAxisAndS32) {
  auto r = run_op("DequantizeLinear", {u8({4}, {0, 3, 128, 255}), Tensor::scalar_f32(2.0f),
                                       u8({}, {128})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].span<float>()[0], -256.0f);
  EXPECT_EQ(r.outputs[0].span<float>()[3], 254.0f);

  r = run_op("DequantizeLinear",
             {s8({2, 2}, {-128, 127, 10, -10}), f32({2}, {0.5f, 2.0f}), s8({2}, {0, 10})},
             {{"axis", op_test::attr_int(-1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  auto y = r.outputs[0].span<float>();
  EXPECT_EQ(std::vector<float>(y.begin(), y.end()), (std::vector<float>{-64.0f, 234.0f, 5.0f, -40.0f}));

  r = run_op("DequantizeLinear", {s32({3}, {-1000000, 0, 7}), Tensor::scalar_f32(0.25f)});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  y = r.outputs[0].span<float>();
  EXPECT_EQ(std::vector<float>(y.begin(), y.end()), (std::vector<float>{-250000.0f, 0.0f, 1.75f}));
}

TEST(DequantizeLinearOpTest, BadInputs) {
  auto r = run_op("DequantizeLinear", {u8({2}, {1, 2}), Tensor::scalar_f32(1.0f), s8({}, {0})});
  expect_invalid_naming_node(r.status, "x_zero_point has type s8");
  r = run_op("DequantizeLinear", {u8({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 1})},
             {{"axis", op_test::attr_int(1)}});
  expect_invalid_naming_node(r.status, "x_scale shape [2]");
}

TEST(DynamicQuantizeLinearOpTest, MatchesTheSpecFormula) {
  auto r = run_op("DynamicQuantizeLinear", {f32({6}, {0.0f, 2.0f, -3.0f, -2.5f, 1.34f, 0.5f})}, {}, 3);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{153, 255, 0, 26, 221, 179}));
  EXPECT_FLOAT_EQ(r.outputs[1].span<float>()[0], 5.0f / 255.0f);
  EXPECT_EQ(values(r.outputs[2]), (std::vector<int64_t>{153}));
}

// ---------------------------------------------------------------- Conv family

struct ConvCase {
  int64_t n, c, h, w, m, kh, kw, group;
  std::vector<int64_t> strides, pads, dilations;
};

// Float reference of QLinearConv: dequantize, convolve in double, quantize.
// Returns the pre-rounding value for each output so ties can be recognised.
std::vector<double> float_conv_ref(const ConvCase& cc, const std::vector<int64_t>& x, double xs,
                                   int64_t xzp, const std::vector<int64_t>& w,
                                   const std::vector<double>& ws, const std::vector<int64_t>& wzp,
                                   const std::vector<int64_t>& bias, double ys, int64_t* oh_out,
                                   int64_t* ow_out) {
  const int64_t oh = (cc.h + cc.pads[0] + cc.pads[2] - ((cc.kh - 1) * cc.dilations[0] + 1)) / cc.strides[0] + 1;
  const int64_t ow = (cc.w + cc.pads[1] + cc.pads[3] - ((cc.kw - 1) * cc.dilations[1] + 1)) / cc.strides[1] + 1;
  *oh_out = oh;
  *ow_out = ow;
  const int64_t cg = cc.c / cc.group, mg = cc.m / cc.group;
  std::vector<double> out;
  for (int64_t b = 0; b < cc.n; ++b)
    for (int64_t oc = 0; oc < cc.m; ++oc) {
      const int64_t g = oc / mg;
      const double wsc = ws.size() == 1 ? ws[0] : ws[oc];
      const int64_t wz = wzp.size() == 1 ? wzp[0] : wzp[oc];
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double s = bias.empty() ? 0.0 : bias[oc] * xs * wsc;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t ki = 0; ki < cc.kh; ++ki)
              for (int64_t kj = 0; kj < cc.kw; ++kj) {
                const int64_t y = i * cc.strides[0] - cc.pads[0] + ki * cc.dilations[0];
                const int64_t xx = j * cc.strides[1] - cc.pads[1] + kj * cc.dilations[1];
                if (y < 0 || y >= cc.h || xx < 0 || xx >= cc.w) continue;
                const double xv = (x[((b * cc.c + g * cg + ic) * cc.h + y) * cc.w + xx] - xzp) * xs;
                const double wv = (w[((oc * cg + ic) * cc.kh + ki) * cc.kw + kj] - wz) * wsc;
                s += xv * wv;
              }
          out.push_back(s / ys);
        }
    }
  return out;
}

std::vector<int64_t> random_ints(size_t n, int lo, int hi, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int64_t> v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

// Compares against the float reference; a value within 1e-3 of a .5 tie may land either side.
void expect_matches_float(const std::vector<int64_t>& got, const std::vector<double>& pre_round,
                          int64_t zp, int64_t lo, int64_t hi) {
  ASSERT_EQ(got.size(), pre_round.size());
  int exact = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double v = pre_round[i];
    const double frac = v - std::floor(v);
    auto sat = [&](double q) { return std::min<double>(hi, std::max<double>(lo, q + zp)); };
    const double want = sat(std::nearbyint(v));
    if (std::fabs(frac - 0.5) < 1e-3) {
      EXPECT_TRUE(got[i] == sat(std::floor(v)) || got[i] == sat(std::ceil(v))) << i;
    } else {
      EXPECT_EQ(got[i], want) << "output " << i << " pre-round " << v;
      ++exact;
    }
  }
  EXPECT_GT(exact, static_cast<int>(got.size()) / 2);
}

TEST(QLinearConvOpTest, MatchesFloatReferencePerChannelWithBiasPadsStrides) {
  std::mt19937 rng(7);
  ConvCase cc{2, 4, 6, 5, 6, 3, 3, 2, {2, 1}, {1, 2, 0, 1}, {1, 2}};
  const auto x = random_ints(cc.n * cc.c * cc.h * cc.w, 0, 255, rng);
  const auto w = random_ints(cc.m * (cc.c / cc.group) * cc.kh * cc.kw, -128, 127, rng);
  const std::vector<double> ws = {0.011, 0.02, 0.005, 0.017, 0.03, 0.008};
  const std::vector<int64_t> wzp = {0, 0, 0, 0, 0, 0};
  const auto bias = random_ints(cc.m, -2000, 2000, rng);
  const double xs = 0.05, ys = 0.9;
  const int64_t xzp = 120, yzp = 100;
  int64_t oh, ow;
  const auto pre = float_conv_ref(cc, x, xs, xzp, w, ws, wzp, bias, ys, &oh, &ow);

  std::vector<float> wsf(ws.begin(), ws.end());
  auto r = run_op("QLinearConv",
                  {u8({cc.n, cc.c, cc.h, cc.w}, x), Tensor::scalar_f32(static_cast<float>(xs)),
                   u8({}, {xzp}), s8({cc.m, cc.c / cc.group, cc.kh, cc.kw}, w), f32({cc.m}, wsf),
                   s8({cc.m}, wzp), Tensor::scalar_f32(static_cast<float>(ys)), u8({}, {yzp}),
                   s32({cc.m}, bias)},
                  {{"strides", op_test::attr_ints(cc.strides)},
                   {"pads", op_test::attr_ints(cc.pads)},
                   {"dilations", op_test::attr_ints(cc.dilations)},
                   {"group", op_test::attr_int(cc.group)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{cc.n, cc.m, oh, ow}));
  EXPECT_EQ(r.outputs[0].dtype(), DType::kU8);
  expect_matches_float(values(r.outputs[0]), pre, yzp, 0, 255);
}

TEST(QLinearConvOpTest, SignedInputPerTensorWeightZeroPointAndSameUpper) {
  std::mt19937 rng(11);
  // 4x4 input, 2x2 kernel, stride 1, SAME_UPPER: one pixel of padding at the end.
  ConvCase cc{1, 2, 4, 4, 3, 2, 2, 1, {1, 1}, {0, 0, 1, 1}, {1, 1}};
  const auto x = random_ints(cc.n * cc.c * cc.h * cc.w, -128, 127, rng);
  const auto w = random_ints(cc.m * cc.c * cc.kh * cc.kw, 0, 255, rng);
  const double xs = 0.1, ws = 0.02, ys = 0.5;
  const int64_t xzp = -5, wzp = 130, yzp = -3;
  int64_t oh, ow;
  const auto pre = float_conv_ref(cc, x, xs, xzp, w, {ws}, {wzp}, {}, ys, &oh, &ow);
  auto r = run_op("QLinearConv",
                  {s8({1, 2, 4, 4}, x), Tensor::scalar_f32(0.1f), s8({}, {xzp}),
                   u8({3, 2, 2, 2}, w), Tensor::scalar_f32(0.02f), u8({}, {wzp}),
                   Tensor::scalar_f32(0.5f), s8({}, {yzp})},
                  {{"auto_pad", op_test::attr_string("SAME_UPPER")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 3, 4, 4}));
  EXPECT_EQ(r.outputs[0].dtype(), DType::kS8);
  expect_matches_float(values(r.outputs[0]), pre, yzp, -128, 127);
}

TEST(QLinearConvOpTest, HandComputedOneByOne) {
  // y = round((x - 2) * 0.5 * (w - 1) * 1 / 0.25) + 10 with w = 3: (x - 2) * 4 + 10.
  auto r = run_op("QLinearConv",
                  {u8({1, 1, 1, 3}, {2, 3, 5}), Tensor::scalar_f32(0.5f), u8({}, {2}),
                   u8({1, 1, 1, 1}, {3}), f32({1}, {1.0f}), u8({1}, {1}),
                   Tensor::scalar_f32(0.25f), u8({}, {10})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{10, 14, 22}));
}

TEST(QLinearConvOpTest, BadInputsNameTheNode) {
  const Tensor x = u8({1, 2, 3, 3}, std::vector<int64_t>(18, 1));
  const Tensor w = s8({4, 2, 1, 1}, std::vector<int64_t>(8, 1));
  auto base = [&](Tensor wscale, Tensor wzp) {
    return std::vector<Tensor>{x, Tensor::scalar_f32(1.0f), u8({}, {0}), w, std::move(wscale),
                               std::move(wzp), Tensor::scalar_f32(1.0f), u8({}, {0})};
  };
  auto r = run_op("QLinearConv", base(f32({3}, {1, 1, 1}), s8({}, {0})));
  expect_invalid_naming_node(r.status, "w_scale shape [3]");
  r = run_op("QLinearConv", base(Tensor::scalar_f32(1.0f), s8({2}, {0, 0})));
  expect_invalid_naming_node(r.status, "w_zero_point shape [2]");
  r = run_op("QLinearConv", base(Tensor::scalar_f32(1.0f), u8({}, {0})));
  expect_invalid_naming_node(r.status, "w_zero_point has type u8");
  auto in = base(Tensor::scalar_f32(1.0f), s8({}, {0}));
  in.push_back(s32({3}, {0, 0, 0}));
  r = run_op("QLinearConv", in);
  expect_invalid_naming_node(r.status, "bias");
  r = run_op("QLinearConv", base(Tensor::scalar_f32(1.0f), s8({}, {0})), {{"group", op_test::attr_int(3)}});
  expect_invalid_naming_node(r.status, "group");
  r = run_op("QLinearConv", base(Tensor::scalar_f32(1.0f), s8({}, {0})),
             {{"kernel_shape", op_test::attr_ints({3, 3})}});
  expect_invalid_naming_node(r.status, "kernel_shape");
  r = run_op("QLinearConv", base(Tensor::scalar_f32(1.0f), s8({}, {0})),
             {{"strides", op_test::attr_ints({1})}});
  expect_invalid_naming_node(r.status, "strides");
}

TEST(ConvIntegerOpTest, GroupedConvMatchesIntegerReference) {
  // Depthwise (group = C = 2), 1-D spatial, per-channel weight zero points, no x zero point.
  auto r = run_op("ConvInteger",
                  {u8({1, 2, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50}),
                   u8({2, 1, 2}, {1, 2, 3, 5}), Tensor(), u8({2}, {1, 4})},
                  {{"group", op_test::attr_int(2)}, {"pads", op_test::attr_ints({1, 0})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dtype(), DType::kS32);
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 2, 5}));
  // channel 0: w - 1 = [0, 1]: y[i] = x[i] (pad in front shifts by one).
  // channel 1: w - 4 = [-1, 1]: y[i] = x[i] - x[i-1], x[-1] = 0.
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{1, 2, 3, 4, 5, 10, 10, 10, 10, 10}));
}

TEST(ConvIntegerOpTest, OnnxExampleWithPadding) {
  auto r = run_op("ConvInteger",
                  {u8({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10}), u8({1, 1, 2, 2}, {1, 1, 1, 1}),
                   u8({}, {1})},
                  {{"pads", op_test::attr_ints({1, 1, 1, 1})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values(r.outputs[0]),
            (std::vector<int64_t>{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}));
}

// Direct N-d integer convolution, the definition itself.
std::vector<int64_t> direct_conv(const Shape& xs, const std::vector<int64_t>& x, int64_t xzp,
                                 const Shape& ws, const std::vector<int64_t>& w,
                                 const std::vector<int64_t>& wzp, int64_t group,
                                 const std::vector<int64_t>& strides,
                                 const std::vector<int64_t>& pads,
                                 const std::vector<int64_t>& dil, Shape* out_shape) {
  const size_t r = xs.size() - 2;
  Shape os{xs[0], ws[0]};
  for (size_t d = 0; d < r; ++d) {
    os.push_back((xs[d + 2] + pads[d] + pads[d + r] - ((ws[d + 2] - 1) * dil[d] + 1)) / strides[d] + 1);
  }
  *out_shape = os;
  const int64_t cg = xs[1] / group, mg = ws[0] / group;
  std::vector<int64_t> y;
  std::vector<int64_t> o(r), k(r);
  for (int64_t n = 0; n < os[0]; ++n)
    for (int64_t m = 0; m < os[1]; ++m) {
      std::fill(o.begin(), o.end(), 0);
      for (bool more_o = true; more_o;) {
        int64_t acc = 0;
        for (int64_t ci = 0; ci < cg; ++ci) {
          std::fill(k.begin(), k.end(), 0);
          for (bool more_k = true; more_k;) {
            int64_t xoff = n * xs[1] + (m / mg) * cg + ci, woff = m * cg + ci;
            bool inside = true;
            for (size_t d = 0; d < r; ++d) {
              const int64_t pos = o[d] * strides[d] - pads[d] + k[d] * dil[d];
              inside = inside && pos >= 0 && pos < xs[d + 2];
              xoff = xoff * xs[d + 2] + pos;
              woff = woff * ws[d + 2] + k[d];
            }
            const int64_t xv = inside ? x[xoff] - xzp : 0;
            acc += xv * (w[woff] - wzp[wzp.size() == 1 ? 0 : m]);
            more_k = false;
            for (size_t d = r; d-- > 0;) {
              if (++k[d] < ws[d + 2]) { more_k = true; break; }
              k[d] = 0;
            }
          }
        }
        y.push_back(acc);
        more_o = false;
        for (size_t d = r; d-- > 0;) {
          if (++o[d] < os[d + 2]) { more_o = true; break; }
          o[d] = 0;
        }
      }
    }
  return y;
}

TEST(ConvIntegerOpTest, RandomConfigsMatchDirectConvolution) {
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int iter = 0; iter < 60; ++iter) {
    const size_t r = static_cast<size_t>(pick(1, 3));
    const int64_t group = pick(1, 2), cg = pick(1, 3), mg = pick(1, 3);
    const bool xu8 = pick(0, 1), wu8 = pick(0, 1), per_channel = pick(0, 1);
    Shape xs{pick(1, 2), group * cg}, ws{group * mg, cg};
    std::vector<int64_t> strides, dil, pads(2 * r);
    for (size_t d = 0; d < r; ++d) {
      ws.push_back(pick(1, 3));
      strides.push_back(pick(1, 2));
      dil.push_back(pick(1, 2));
      pads[d] = pick(0, 2);
      pads[d + r] = pick(0, 2);
      xs.push_back((ws.back() - 1) * dil.back() + 1 + pick(0, 4 - static_cast<int>(r)));
    }
    const DType xt = xu8 ? DType::kU8 : DType::kS8, wt = wu8 ? DType::kU8 : DType::kS8;
    const auto x = random_ints(shape_numel(xs), xu8 ? 0 : -128, xu8 ? 255 : 127, rng);
    const auto w = random_ints(shape_numel(ws), wu8 ? 0 : -128, wu8 ? 255 : 127, rng);
    const int64_t xzp = xu8 ? pick(0, 255) : pick(-128, 127);
    std::vector<int64_t> wzp = random_ints(per_channel ? ws[0] : 1, wu8 ? 0 : -128, wu8 ? 255 : 127, rng);
    Shape want_shape;
    const auto want = direct_conv(xs, x, xzp, ws, w, wzp, group, strides, pads, dil, &want_shape);
    auto res = run_op("ConvInteger",
                      {ints(xt, xs, x), ints(wt, ws, w), ints(xt, {}, {xzp}),
                       per_channel ? ints(wt, {ws[0]}, wzp) : ints(wt, {}, wzp)},
                      {{"group", op_test::attr_int(group)}, {"strides", op_test::attr_ints(strides)},
                       {"pads", op_test::attr_ints(pads)}, {"dilations", op_test::attr_ints(dil)}});
    ASSERT_TRUE(res.status.ok()) << res.status.message();
    ASSERT_EQ(res.outputs[0].shape(), want_shape) << "iteration " << iter;
    ASSERT_EQ(values(res.outputs[0]), want) << "iteration " << iter << " x " << shape_str(xs)
                                            << " w " << shape_str(ws) << " group " << group;
  }
}

// ---------------------------------------------------------------- MatMul family

TEST(QLinearMatMulOpTest, BatchedBroadcastMatchesFloatReference) {
  std::mt19937 rng(3);
  // a [2, 1, 3, 4] x b [3, 4, 5] -> [2, 3, 3, 5]; per-column b scale and zero point.
  const auto a = random_ints(2 * 1 * 3 * 4, 0, 255, rng);
  const auto b = random_ints(3 * 4 * 5, -128, 127, rng);
  const std::vector<float> bs = {0.01f, 0.02f, 0.03f, 0.015f, 0.025f};
  const std::vector<int64_t> bzp = {0, 1, -1, 2, -2};
  const float as = 0.04f, ys = 0.3f;
  const int64_t azp = 128, yzp = 5;
  auto r = run_op("QLinearMatMul",
                  {u8({2, 1, 3, 4}, a), Tensor::scalar_f32(as), u8({}, {azp}), s8({3, 4, 5}, b),
                   f32({5}, bs), s8({5}, bzp), Tensor::scalar_f32(ys), s8({}, {yzp})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.outputs[0].shape(), (Shape{2, 3, 3, 5}));
  std::vector<double> pre;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t m = 0; m < 3; ++m)
        for (int64_t n = 0; n < 5; ++n) {
          double s = 0;
          for (int64_t k = 0; k < 4; ++k) {
            s += (a[(i * 3 + m) * 4 + k] - azp) * double{as} *
                 ((b[(j * 4 + k) * 5 + n] - bzp[n]) * double{bs[n]});
          }
          pre.push_back(s / ys);
        }
  expect_matches_float(values(r.outputs[0]), pre, yzp, -128, 127);
}

TEST(QLinearMatMulOpTest, OneDimensionalOperandsFollowNumpy) {
  // [3] x [3, 2] -> [2]; [2, 3] x [3] -> [2].
  auto r = run_op("QLinearMatMul",
                  {u8({3}, {1, 2, 3}), Tensor::scalar_f32(1.0f), u8({}, {0}),
                   u8({3, 2}, {1, 0, 0, 1, 1, 1}), Tensor::scalar_f32(1.0f), u8({}, {0}),
                   Tensor::scalar_f32(1.0f), u8({}, {0})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2}));
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{4, 5}));
  r = run_op("QLinearMatMul",
             {u8({2, 3}, {1, 2, 3, 4, 5, 6}), Tensor::scalar_f32(1.0f), u8({}, {0}),
              u8({3}, {1, 1, 1}), Tensor::scalar_f32(1.0f), u8({}, {0}),
              Tensor::scalar_f32(2.0f), u8({}, {0})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2}));
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{3, 8}));  // 6/2 = 3, 15/2 = 7.5 -> 8
}

TEST(QLinearMatMulOpTest, InnerDimensionMismatchIsInvalid) {
  auto r = run_op("QLinearMatMul",
                  {u8({2, 3}, {1, 2, 3, 4, 5, 6}), Tensor::scalar_f32(1.0f), u8({}, {0}),
                   u8({2, 2}, {1, 1, 1, 1}), Tensor::scalar_f32(1.0f), u8({}, {0}),
                   Tensor::scalar_f32(1.0f), u8({}, {0})});
  expect_invalid_naming_node(r.status, "inner dimensions");
  r = run_op("QLinearMatMul",
             {u8({2, 3}, {1, 2, 3, 4, 5, 6}), Tensor::scalar_f32(1.0f), u8({}, {0}),
              u8({3, 2}, {1, 1, 1, 1, 1, 1}), f32({3}, {1, 1, 1}), u8({3}, {0, 0, 0}),
              Tensor::scalar_f32(1.0f), u8({}, {0})});
  expect_invalid_naming_node(r.status, "b_scale shape [3]");
}

TEST(MatMulIntegerOpTest, PerRowAndPerColumnZeroPoints) {
  // A [2, 2] - [1, 2] per row; B [2, 3] - [0, 1, 2] per column.
  auto r = run_op("MatMulInteger",
                  {u8({2, 2}, {2, 3, 4, 5}), u8({2, 3}, {1, 2, 3, 4, 5, 6}), u8({2}, {1, 2}),
                   u8({3}, {0, 1, 2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  // A' = [[1,2],[2,3]], B' = [[1,1,1],[4,4,4]]
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{9, 9, 9, 14, 14, 14}));
}

TEST(MatMulIntegerOpTest, BatchedZeroPointsOfShapeDM1And1N) {
  // A [2, 1, 2] with a_zero_point [2, 1, 1]; B [2, 2] shared; b_zero_point [1, 2] (rank of B).
  auto r = run_op("MatMulInteger",
                  {s8({2, 1, 2}, {1, 1, 5, 5}), s8({2, 2}, {1, 0, 0, 1}), s8({2, 1, 1}, {0, 4}),
                   s8({1, 2}, {0, -1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 1, 2}));
  // batch 0: [1,1] x [[1,1],[0,2]] = [1,3]; batch 1: [1,1] x same = [1,3]
  EXPECT_EQ(values(r.outputs[0]), (std::vector<int64_t>{1, 3, 1, 3}));
}

TEST(MatMulIntegerOpTest, RandomBatchedShapesMatchNaiveProduct) {
  std::mt19937 rng(99);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int iter = 0; iter < 40; ++iter) {
    const int64_t m = pick(1, 5), k = pick(1, 40), n = pick(1, 5), b0 = pick(1, 3);
    const bool au8 = pick(0, 1), bu8 = pick(0, 1), b_batched = pick(0, 1);
    const Shape as{b0, m, k};
    const Shape bs = b_batched ? Shape{b0, k, n} : Shape{k, n};
    const auto a = random_ints(shape_numel(as), au8 ? 0 : -128, au8 ? 255 : 127, rng);
    const auto b = random_ints(shape_numel(bs), bu8 ? 0 : -128, bu8 ? 255 : 127, rng);
    const int64_t azp = au8 ? pick(0, 255) : pick(-128, 127);
    const auto bzp = random_ints(n, bu8 ? 0 : -128, bu8 ? 255 : 127, rng);
    const DType at = au8 ? DType::kU8 : DType::kS8, bt = bu8 ? DType::kU8 : DType::kS8;
    std::vector<int64_t> want;
    for (int64_t i = 0; i < b0; ++i)
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < n; ++c) {
          int64_t acc = 0;
          for (int64_t p = 0; p < k; ++p) {
            acc += (a[(i * m + r) * k + p] - azp) *
                   (b[((b_batched ? i : 0) * k + p) * n + c] - bzp[c]);
          }
          want.push_back(acc);
        }
    auto res = run_op("MatMulInteger", {ints(at, as, a), ints(bt, bs, b), ints(at, {}, {azp}),
                                        ints(bt, {n}, bzp)});
    ASSERT_TRUE(res.status.ok()) << res.status.message();
    ASSERT_EQ(res.outputs[0].shape(), (Shape{b0, m, n}));
    ASSERT_EQ(values(res.outputs[0]), want) << "iteration " << iter;
  }
}

TEST(MatMulIntegerOpTest, BadZeroPointShapeIsInvalid) {
  auto r = run_op("MatMulInteger",
                  {u8({2, 2}, {1, 2, 3, 4}), u8({2, 2}, {1, 2, 3, 4}), u8({3}, {1, 2, 3})});
  expect_invalid_naming_node(r.status, "a_zero_point shape [3]");
}

// ---------------------------------------------------------------- versioned registrations

// One node through the registry at `opset`, checked against libonnx's inference.
Result<std::vector<Tensor>> run_versioned(const std::string& op, std::vector<const Tensor*> inputs,
                                          int64_t opset, size_t num_outputs = 1,
                                          std::map<std::string, Attribute> attrs = {}) {
  Node n = op_test::make_node(op, inputs.size(), num_outputs, std::move(attrs));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) n.inputs[i].clear();
  }
  return op_test::run_node(n, std::move(inputs), opset);
}

TEST(QuantizationVersionsTest, QuantizeAndDequantizeArePerTensorBeforeOpset13) {
  const Tensor x = f32({2, 2}, {0.0f, 1.0f, 2.0f, 3.0f});
  const Tensor s = Tensor::scalar_f32(0.5f), zp = u8({}, {10});
  auto r = run_versioned("QuantizeLinear", {&x, &s, &zp}, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{10, 12, 14, 16}));
  auto d = run_versioned("DequantizeLinear", {&(*r)[0], &s, &zp}, 10);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(op_test::values<float>((*d)[0]), (std::vector<float>{0, 1, 2, 3}));
  // A per-channel scale needs opset 13's axis.
  const Tensor sc = f32({2}, {0.5f, 1.0f}), zc = u8({2}, {10, 0});
  auto bad = run_versioned("QuantizeLinear", {&x, &sc, &zc}, 12);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
  r = run_versioned("QuantizeLinear", {&x, &sc, &zc}, 13, 1, {{"axis", op_test::attr_int(0)}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{10, 12, 2, 3}));
  EXPECT_EQ(run_versioned("DequantizeLinear", {&(*r)[0], &sc, &zc}, 11).status().code(),
            StatusCode::kInvalidInput);
  d = run_versioned("DequantizeLinear", {&(*r)[0], &sc, &zc}, 13, 1, {{"axis", op_test::attr_int(0)}});
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(op_test::values<float>((*d)[0]), (std::vector<float>{0, 1, 2, 3}));
  // s32 dequantizes without a zero point; f64 is not a QuantizeLinear input type.
  const Tensor acc = s32({2}, {-4, 6});
  d = run_versioned("DequantizeLinear", {&acc, &s}, 10);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(op_test::values<float>((*d)[0]), (std::vector<float>{-2, 3}));
  const Tensor xd(DType::kF64, {2});
  EXPECT_EQ(run_versioned("QuantizeLinear", {&xd, &s}, 13).status().code(), StatusCode::kUnsupported);
}

TEST(QuantizationVersionsTest, DynamicQuantizeLinearAtOpset11) {
  const Tensor x = f32({3}, {0.0f, 2.55f, -2.55f});
  auto r = run_versioned("DynamicQuantizeLinear", {&x}, 11, 3);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{128, 255, 0}));
  EXPECT_FLOAT_EQ((*r)[1].data<float>()[0], 0.02f);
  EXPECT_EQ(values((*r)[2]), (std::vector<int64_t>{128}));
}

TEST(QuantizationVersionsTest, IntegerProductsAtOpset10) {
  // MatMulInteger with u8 A and s8 B.
  const Tensor a = u8({2, 2}, {1, 2, 3, 4}), b = s8({2, 2}, {-1, 2, 3, -4}), azp = u8({}, {1});
  auto r = run_versioned("MatMulInteger", {&a, &b, &azp}, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{3, -4, 7, -8}));
  // QLinearMatMul: (a - 1) x b with every scale 1, output zero point 10.
  const Tensor one = Tensor::scalar_f32(1.0f), bzp = s8({}, {0}), yzp = u8({}, {10});
  r = run_versioned("QLinearMatMul", {&a, &one, &azp, &b, &one, &bzp, &one, &yzp}, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{13, 6, 17, 2}));
  // ConvInteger over one spatial dim and QLinearConv over three.
  const Tensor x1 = u8({1, 1, 4}, {1, 2, 3, 4}), w1 = s8({1, 1, 2}, {1, -1});
  r = run_versioned("ConvInteger", {&x1, &w1}, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{-1, -1, -1}));
  const Tensor x3 = u8({1, 1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const Tensor w3 = s8({1, 1, 2, 2, 2}, {1, 1, 1, 1, 1, 1, 1, 1}), xzp = u8({}, {0});
  r = run_versioned("QLinearConv", {&x3, &one, &xzp, &w3, &one, &bzp, &one, &yzp}, 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{46}));
  const Tensor xf = f32({1, 1, 4}, {1, 2, 3, 4});
  EXPECT_EQ(run_versioned("ConvInteger", {&xf, &w1}, 10).status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace qtune
