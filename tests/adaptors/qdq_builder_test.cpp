#include "adaptors/quantize/qdq_builder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <set>

#include "adaptors/quantize/graph_passes.h"
#include "runtime/executor.h"
#include "common/data_config.h"
#include "common/dataset.h"
#include "common/onnx_io.h"
#include "kernels/quantize_ref.h"
#include "worker/evaluator.h"
#include "tests/common/graph_test_util.h"

namespace qtune {
namespace {

const std::string kSource = QTUNE_SOURCE_DIR;

using test::make_node;
using test::random_f32;

using test::int_attr;
using test::ints_attr;


// x [N,1,4,4] -> Conv "conv" (W [2,1,3,3], B [2], pad 1) -> Relu -> MaxPool 2x2 -> Flatten
// -> Gemm "fc" (W [3,8], transB=1, B [3]) -> y [N,3].
Graph conv_gemm_graph() {
  Graph g;
  g.name = "small";
  g.inputs.push_back({"x", DType::kF32, Shape{-1, 1, 4, 4}});
  g.outputs.push_back({"y", DType::kF32, Shape{-1, 3}});
  // Power-of-two scales make the hand-checked values exact: channel 0 max|w| = 127/128
  // (scale 1/128), channel 1 max|w| = 127/32 (scale 1/32).
  Tensor w = random_f32({2, 1, 3, 3}, 11, -0.9f, 0.9f);
  float* wd = w.data<float>();
  wd[0] = 127.0f / 128;
  wd[1] = 2.5f / 128;   // a tie: quantizes to 2
  wd[2] = 3.5f / 128;   // a tie: quantizes to 4
  wd[3] = -0.3f;        // 38.4 -> -38
  wd[9] = -127.0f / 32;
  wd[10] = 1.0f;        // 32 exactly
  g.initializers["conv.w"] = w;
  // With x scale 1/64 the bias grids are 1/8192 and 1/2048: 2.5 -> 2 and -3.5 -> -4.
  g.initializers["conv.b"] = Tensor::from_f32({2}, {2.5f / 8192, -3.5f / 2048});
  Node conv = make_node("conv", "Conv", {"x", "conv.w", "conv.b"}, {"conv_out"});
  conv.attrs["pads"] = ints_attr({1, 1, 1, 1});
  g.nodes.push_back(conv);
  g.nodes.push_back(make_node("relu", "Relu", {"conv_out"}, {"relu_out"}));
  Node pool = make_node("pool", "MaxPool", {"relu_out"}, {"pool_out"});
  pool.attrs["kernel_shape"] = ints_attr({2, 2});
  pool.attrs["strides"] = ints_attr({2, 2});
  g.nodes.push_back(pool);
  g.nodes.push_back(make_node("flat", "Flatten", {"pool_out"}, {"flat_out"}));
  g.initializers["fc.w"] = random_f32({3, 8}, 12);
  g.initializers["fc.b"] = random_f32({3}, 13, -0.1f, 0.1f);
  Node fc = make_node("fc", "Gemm", {"flat_out", "fc.w", "fc.b"}, {"y"});
  fc.attrs["transB"] = int_attr(1);
  g.nodes.push_back(fc);
  return g;
}

QuantizeConfig::OpWise op_wise(DType act, QuantScheme scheme, bool per_channel, bool weight) {
  QuantizeConfig::OpWise w;
  w.is_perchannel = per_channel;
  w.is_asymmetric = scheme == QuantScheme::kAsym;
  w.algorithm = CalibAlgorithm::kMinMax;
  w.config.precision = OpPrecision::kInt8;
  w.config.has_weight = weight;
  w.config.weight.granularity =
      per_channel ? QuantGranularity::kPerChannel : QuantGranularity::kPerTensor;
  w.config.activation.dtype = act;
  w.config.activation.scheme = scheme;
  return w;
}

TensorStats range_stats(float lo, float hi) {
  TensorStats s;
  s.min = lo;
  s.max = hi;
  s.count = 10;
  s.hist_max = std::max(std::fabs(lo), std::fabs(hi));
  s.histogram = {5, 5};
  return s;
}

const Node* find_node(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes) if (n.name == name) return &n;
  return nullptr;
}

void expect_topologically_sorted(const Graph& g) {
  std::set<std::string> have;
  for (const auto& v : g.inputs) have.insert(v.name);
  for (const auto& [n, t] : g.initializers) have.insert(n);
  for (const auto& n : g.nodes) {
    for (const auto& in : n.inputs) {
      if (in.empty()) continue;
      EXPECT_TRUE(have.count(in)) << n.describe() << " reads '" << in << "' early";
    }
    for (const auto& o : n.outputs) have.insert(o);
  }
}

std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs) {
  auto exec = Executor::create(std::make_shared<const Graph>(g));
  EXPECT_TRUE(exec.ok()) << exec.status().message();
  if (!exec.ok()) return {};
  auto out = exec->run(inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

// ---------------------------------------------------------------------------------------------

TEST(QdqBuilderTest, ConvGemmStructureNamesTypesAndHandCheckedValues) {
  const Graph g = conv_gemm_graph();
  QuantizeConfig q;
  q.op_wise_config["conv"] = op_wise(DType::kS8, QuantScheme::kSym, true, true);
  q.op_wise_config["fc"] = op_wise(DType::kU8, QuantScheme::kAsym, false, true);
  q.bf16_ops = {"something"};
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(-1.0f, 127.0f / 64);  // s8 sym: scale 1/64
  stats.tensors["flat_out"] = range_stats(-1.0f, 3.0f);   // u8 asym: scale 4/255, zp 64
  stats.tensors["unused"] = range_stats(0.0f, 0.0f);      // zero range, but not used: no note

  EXPECT_EQ(calibration_tensors(g, q), (std::vector<std::string>{"x", "flat_out"}));
  auto m = build_qdq_model(g, q, stats);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const Graph& out = *m->graph;
  EXPECT_EQ(m->bf16_ops, q.bf16_ops);
  EXPECT_TRUE(m->notes.empty()) << m->notes[0];
  EXPECT_EQ(out.opset, 13);
  ASSERT_EQ(out.inputs.size(), 1u);
  EXPECT_EQ(out.inputs[0].name, "x");
  ASSERT_EQ(out.outputs.size(), 1u);
  EXPECT_EQ(out.outputs[0].name, "y");
  expect_topologically_sorted(out);
  // 5 original nodes + Q/DQ for x and flat_out + DQ for two weights and two biases.
  EXPECT_EQ(out.nodes.size(), 5u + 4u + 4u);

  // Conv: activation pair, per-channel weight on axis 0, per-channel int32 bias.
  const Node* conv = find_node(out, "conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->inputs, (std::vector<std::string>{"x_dequantized", "conv.w_dequantized",
                                                    "conv.b_dequantized"}));
  const Node* xq = find_node(out, "x_QuantizeLinear");
  const Node* xdq = find_node(out, "x_DequantizeLinear");
  ASSERT_NE(xq, nullptr);
  ASSERT_NE(xdq, nullptr);
  EXPECT_EQ(xq->op_type, "QuantizeLinear");
  EXPECT_EQ(xq->inputs, (std::vector<std::string>{"x", "x_scale", "x_zero_point"}));
  EXPECT_EQ(xq->outputs, (std::vector<std::string>{"x_quantized"}));
  EXPECT_EQ(xdq->inputs, (std::vector<std::string>{"x_quantized", "x_scale", "x_zero_point"}));
  EXPECT_EQ(xdq->outputs, (std::vector<std::string>{"x_dequantized"}));
  EXPECT_FALSE(xdq->has_attr("axis"));
  const Tensor* x_scale = out.initializer("x_scale");
  const Tensor* x_zp = out.initializer("x_zero_point");
  ASSERT_NE(x_scale, nullptr);
  ASSERT_NE(x_zp, nullptr);
  EXPECT_EQ(x_scale->dtype(), DType::kF32);
  EXPECT_EQ(x_scale->shape(), Shape{});
  EXPECT_EQ(x_scale->data<float>()[0], 1.0f / 64);
  EXPECT_EQ(x_zp->dtype(), DType::kS8);
  EXPECT_EQ(x_zp->shape(), Shape{});
  EXPECT_EQ(x_zp->data<int8_t>()[0], 0);

  EXPECT_EQ(out.initializer("conv.w"), nullptr);
  EXPECT_EQ(out.initializer("conv.b"), nullptr);
  const Node* wdq = find_node(out, "conv.w_DequantizeLinear");
  ASSERT_NE(wdq, nullptr);
  EXPECT_EQ(wdq->inputs, (std::vector<std::string>{"conv.w_quantized", "conv.w_scale",
                                                   "conv.w_zero_point"}));
  EXPECT_EQ(wdq->outputs, (std::vector<std::string>{"conv.w_dequantized"}));
  ASSERT_TRUE(wdq->has_attr("axis"));
  EXPECT_EQ(wdq->attr_int("axis", -1), 0);
  const Tensor& wq = *out.initializer("conv.w_quantized");
  EXPECT_EQ(wq.dtype(), DType::kS8);
  EXPECT_EQ(wq.shape(), (Shape{2, 1, 3, 3}));
  EXPECT_EQ(wq.data<int8_t>()[0], 127);
  EXPECT_EQ(wq.data<int8_t>()[1], 2);
  EXPECT_EQ(wq.data<int8_t>()[2], 4);
  EXPECT_EQ(wq.data<int8_t>()[3], -38);
  EXPECT_EQ(wq.data<int8_t>()[9], -127);
  EXPECT_EQ(wq.data<int8_t>()[10], 32);
  const Tensor& ws = *out.initializer("conv.w_scale");
  EXPECT_EQ(ws.dtype(), DType::kF32);
  EXPECT_EQ(ws.shape(), (Shape{2}));
  EXPECT_EQ(ws.data<float>()[0], 1.0f / 128);
  EXPECT_EQ(ws.data<float>()[1], 1.0f / 32);
  const Tensor& wz = *out.initializer("conv.w_zero_point");
  EXPECT_EQ(wz.dtype(), DType::kS8);
  EXPECT_EQ(wz.shape(), (Shape{2}));
  EXPECT_EQ(wz.data<int8_t>()[0], 0);
  EXPECT_EQ(wz.data<int8_t>()[1], 0);

  const Node* bdq = find_node(out, "conv.b_DequantizeLinear");
  ASSERT_NE(bdq, nullptr);
  EXPECT_EQ(bdq->inputs, (std::vector<std::string>{"conv.b_quantized", "conv.b_scale",
                                                   "conv.b_zero_point"}));
  EXPECT_EQ(bdq->attr_int("axis", -1), 0);
  const Tensor& bq = *out.initializer("conv.b_quantized");
  EXPECT_EQ(bq.dtype(), DType::kS32);
  EXPECT_EQ(bq.shape(), (Shape{2}));
  EXPECT_EQ(bq.data<int32_t>()[0], 2);   // 2.5 rounds half to even
  EXPECT_EQ(bq.data<int32_t>()[1], -4);  // -3.5 rounds half to even
  const Tensor& bs = *out.initializer("conv.b_scale");
  EXPECT_EQ(bs.shape(), (Shape{2}));
  EXPECT_EQ(bs.data<float>()[0], 1.0f / 8192);
  EXPECT_EQ(bs.data<float>()[1], 1.0f / 2048);
  const Tensor& bz = *out.initializer("conv.b_zero_point");
  EXPECT_EQ(bz.dtype(), DType::kS32);
  EXPECT_EQ(bz.shape(), (Shape{2}));

  // Gemm: u8 asym activation, per-tensor weight (no axis), scalar bias grid.
  const Node* fc = find_node(out, "fc");
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(fc->inputs, (std::vector<std::string>{"flat_out_dequantized", "fc.w_dequantized",
                                                  "fc.b_dequantized"}));
  EXPECT_EQ(fc->attr_int("transB", 0), 1);
  const Tensor& fz = *out.initializer("flat_out_zero_point");
  EXPECT_EQ(fz.dtype(), DType::kU8);
  EXPECT_EQ(fz.data<uint8_t>()[0], 64);  // round(1 / (4/255)) = round(63.75)
  const float fx_scale = out.initializer("flat_out_scale")->data<float>()[0];
  EXPECT_FLOAT_EQ(fx_scale, 4.0f / 255);
  EXPECT_FALSE(find_node(out, "fc.w_DequantizeLinear")->has_attr("axis"));
  EXPECT_FALSE(find_node(out, "fc.b_DequantizeLinear")->has_attr("axis"));
  const Tensor& fws = *out.initializer("fc.w_scale");
  EXPECT_EQ(fws.shape(), Shape{});
  EXPECT_EQ(out.initializer("fc.w_zero_point")->shape(), Shape{});
  const Tensor& fw = *g.initializer("fc.w");
  float absmax = 0;
  for (float v : fw.span<float>()) absmax = std::max(absmax, std::fabs(v));
  EXPECT_EQ(fws.data<float>()[0], absmax / 127.0f);
  const Tensor& fbs = *out.initializer("fc.b_scale");
  EXPECT_EQ(fbs.shape(), Shape{});
  EXPECT_EQ(fbs.data<float>()[0], fx_scale * fws.data<float>()[0]);
  const Tensor& fbq = *out.initializer("fc.b_quantized");
  ASSERT_EQ(fbq.shape(), (Shape{3}));
  for (int64_t c = 0; c < 3; ++c) {
    const float b = g.initializer("fc.b")->data<float>()[c];
    EXPECT_EQ(fbq.data<int32_t>()[c],
              static_cast<int32_t>(round_half_even(b / fbs.data<float>()[0])));
  }
  // The untouched ops keep their wiring.
  EXPECT_EQ(find_node(out, "relu")->inputs[0], "conv_out");
  EXPECT_EQ(find_node(out, "pool")->inputs[0], "relu_out");
}

// x [N,4] -> Gemm "g0" (W [4,3] transB=0, B [3]) -> h -> MatMul "mm" (W2 [3,2]) -> y.
Graph gemm_matmul_graph() {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{-1, 4}});
  g.outputs.push_back({"y", DType::kF32, Shape{-1, 2}});
  g.initializers["w0"] = random_f32({4, 3}, 21);
  g.initializers["b0"] = random_f32({3}, 22);
  g.initializers["w1"] = random_f32({3, 2}, 23);
  g.nodes.push_back(make_node("g0", "Gemm", {"x", "w0", "b0"}, {"h"}));
  g.nodes.push_back(make_node("mm", "MatMul", {"h", "w1"}, {"y"}));
  return g;
}

TEST(QdqBuilderTest, KnLayoutWeightsArePerChannelOnAxisOne) {
  const Graph g = gemm_matmul_graph();
  QuantizeConfig q;
  q.op_wise_config["g0"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  q.op_wise_config["mm"] = op_wise(DType::kS8, QuantScheme::kSym, true, true);
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(-2.0f, 2.0f);
  stats.tensors["h"] = range_stats(-3.0f, 1.0f);
  auto m = build_qdq_model(g, q, stats);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const Graph& out = *m->graph;
  expect_topologically_sorted(out);
  EXPECT_EQ(find_node(out, "w0_DequantizeLinear")->attr_int("axis", -1), 1);
  EXPECT_EQ(out.initializer("w0_scale")->shape(), (Shape{3}));
  EXPECT_EQ(find_node(out, "b0_DequantizeLinear")->attr_int("axis", -1), 0);
  EXPECT_EQ(out.initializer("b0_scale")->shape(), (Shape{3}));
  EXPECT_EQ(find_node(out, "w1_DequantizeLinear")->attr_int("axis", -1), 1);
  EXPECT_EQ(out.initializer("w1_scale")->shape(), (Shape{2}));
  EXPECT_EQ(find_node(out, "mm")->inputs,
            (std::vector<std::string>{"h_dequantized", "w1_dequantized"}));
  // Column c of a [K,N] weight has its own scale.
  const Tensor& w1 = *g.initializer("w1");
  for (int64_t c = 0; c < 2; ++c) {
    float absmax = 0;
    for (int64_t k = 0; k < 3; ++k) absmax = std::max(absmax, std::fabs(w1.data<float>()[k * 2 + c]));
    EXPECT_EQ(out.initializer("w1_scale")->data<float>()[c], absmax / 127.0f);
  }
  const auto y = run(out, {random_f32({5, 4}, 24, -2.0f, 2.0f)});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].shape(), (Shape{5, 2}));
}

TEST(QdqBuilderTest, PairsAreSharedPerParamsAndSuffixedWhenParamsDiffer) {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{-1, 1, 4, 4}});
  g.initializers["c"] = Tensor::scalar_f32(1.0f);
  for (const char* p : {"p1", "p2", "p3"}) {
    Node pool = make_node(p, "MaxPool", {"x"}, {std::string(p) + "_out"});
    pool.attrs["kernel_shape"] = ints_attr({2, 2});
    g.nodes.push_back(pool);
    g.outputs.push_back({std::string(p) + "_out", DType::kF32, std::nullopt});
  }
  g.nodes.push_back(make_node("add", "Add", {"x", "c"}, {"add_out"}));
  g.outputs.push_back({"add_out", DType::kF32, std::nullopt});
  QuantizeConfig q;
  q.op_wise_config["p1"] = op_wise(DType::kS8, QuantScheme::kSym, false, false);
  q.op_wise_config["p2"] = op_wise(DType::kS8, QuantScheme::kSym, false, false);
  q.op_wise_config["p3"] = op_wise(DType::kU8, QuantScheme::kAsym, false, false);
  q.op_wise_config["add"] = op_wise(DType::kS8, QuantScheme::kSym, false, false);
  EXPECT_EQ(calibration_tensors(g, q), (std::vector<std::string>{"x"}));  // not the constant
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(-1.0f, 3.0f);
  auto m = build_qdq_model(g, q, stats);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const Graph& out = *m->graph;
  EXPECT_EQ(out.nodes.size(), 4u + 4u);
  EXPECT_EQ(find_node(out, "p1")->inputs[0], "x_dequantized");
  EXPECT_EQ(find_node(out, "p2")->inputs[0], "x_dequantized");
  EXPECT_EQ(find_node(out, "p3")->inputs[0], "x_1_dequantized");
  EXPECT_EQ(find_node(out, "add")->inputs, (std::vector<std::string>{"x_dequantized", "c"}));
  ASSERT_NE(find_node(out, "x_1_QuantizeLinear"), nullptr);
  ASSERT_NE(find_node(out, "x_1_DequantizeLinear"), nullptr);
  EXPECT_EQ(out.initializer("x_1_zero_point")->dtype(), DType::kU8);
  EXPECT_EQ(find_node(out, "x_1_DequantizeLinear")->inputs,
            (std::vector<std::string>{"x_1_quantized", "x_1_scale", "x_1_zero_point"}));
  expect_topologically_sorted(out);
}

TEST(QdqBuilderTest, MissingStatsIsInvalidInputNamingTheTensor) {
  const Graph g = conv_gemm_graph();
  QuantizeConfig q;
  q.op_wise_config["conv"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  q.op_wise_config["fc"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(-1.0f, 1.0f);
  auto m = build_qdq_model(g, q, stats);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(m.status().message().find("'flat_out'"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("node 'fc' (Gemm)"), std::string::npos);
}

TEST(QdqBuilderTest, BadConfigsAreErrorsNamingTheNode) {
  const Graph g = conv_gemm_graph();
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(-1.0f, 1.0f);
  stats.tensors["conv_out"] = range_stats(-1.0f, 1.0f);

  QuantizeConfig q;
  q.op_wise_config["nope"] = op_wise(DType::kU8, QuantScheme::kAsym, false, false);
  auto m = build_qdq_model(g, q, stats);
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(m.status().message().find("'nope'"), std::string::npos);

  q.op_wise_config.clear();
  Graph with_erf = g;
  with_erf.nodes.push_back(make_node("erf", "Erf", {"relu_out"}, {"erf_out"}));
  q.op_wise_config["erf"] = op_wise(DType::kU8, QuantScheme::kAsym, false, false);
  m = build_qdq_model(with_erf, q, stats);
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(m.status().message().find("node 'erf' (Erf)"), std::string::npos);

  q.op_wise_config.clear();
  q.op_wise_config["conv"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  q.op_wise_config["conv"].config.weight.dtype = DType::kU8;
  m = build_qdq_model(g, q, stats);
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(m.status().message().find("node 'conv' (Conv)"), std::string::npos);
}

// Relu right after a quantized Conv is computed by the Conv's int8 kernel: no pair of its own;
// with the Conv left fp32 it is an ordinary quantized op with a pair on its input.
TEST(QdqBuilderTest, ReluAfterAQuantizedConvGetsNoPairOfItsOwn) {
  const Graph g = conv_gemm_graph();
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(-1.0f, 1.0f);
  stats.tensors["conv_out"] = range_stats(-2.0f, 2.0f);
  auto quantizes = [](const Graph& out, const std::string& tensor) {
    for (const Node& n : out.nodes) {
      if (n.op_type == "QuantizeLinear" && n.inputs[0] == tensor) return true;
    }
    return false;
  };
  QuantizeConfig q;
  q.op_wise_config["conv"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  q.op_wise_config["relu"] = op_wise(DType::kU8, QuantScheme::kAsym, false, false);
  auto fused = build_qdq_model(g, q, stats);
  ASSERT_TRUE(fused.ok()) << fused.status().message();
  EXPECT_FALSE(quantizes(*fused->graph, "conv_out"));
  // Observed anyway: a config with the Conv in fp32 quantizes the Relu's input.
  EXPECT_EQ(calibration_tensors(g, q), (std::vector<std::string>{"x", "conv_out"}));

  q.op_wise_config.erase("conv");
  auto alone = build_qdq_model(g, q, stats);
  ASSERT_TRUE(alone.ok()) << alone.status().message();
  EXPECT_TRUE(quantizes(*alone->graph, "conv_out"));
  EXPECT_EQ(calibration_tensors(g, q), (std::vector<std::string>{"conv_out"}));
}

// Raising a model's opset would change what its own ops mean: an opset 11 model keeps 11 and
// gets per-tensor weights (per-axis DequantizeLinear is opset 13) with a note; below 10 there is
// no QuantizeLinear at all.
TEST(QdqBuilderTest, OlderOpsetsKeepTheirOpsetAndGetPerTensorWeights) {
  Graph g = conv_gemm_graph();
  g.opset = 11;
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(-1.0f, 1.0f);
  QuantizeConfig q;
  q.op_wise_config["conv"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  auto m = build_qdq_model(g, q, stats);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->graph->opset, 11);
  for (const Node& n : m->graph->nodes) EXPECT_FALSE(n.has_attr("axis")) << n.describe();
  EXPECT_EQ(m->graph->initializer("conv.w_scale")->numel(), 1);
  bool noted = false;
  for (const auto& note : m->notes) noted = noted || note.find("opset 13") != std::string::npos;
  EXPECT_TRUE(noted);

  g.opset = 9;
  auto old = build_qdq_model(g, q, stats);
  EXPECT_EQ(old.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(old.status().message().find("opset 9"), std::string::npos);
}

TEST(QdqBuilderTest, DynamicOpsStayFp32WithANote) {
  const Graph g = gemm_matmul_graph();
  QuantizeConfig q;
  q.op_wise_config["g0"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  q.op_wise_config["mm"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  q.op_wise_config["mm"].config.mode = QuantMode::kDynamic;
  EXPECT_EQ(calibration_tensors(g, q), (std::vector<std::string>{"x"}));
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(-2.0f, 2.0f);
  auto m = build_qdq_model(g, q, stats);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(find_node(*m->graph, "mm")->inputs, (std::vector<std::string>{"h", "w1"}));
  ASSERT_NE(m->graph->initializer("w1"), nullptr);
  ASSERT_EQ(m->notes.size(), 1u);
  EXPECT_NE(m->notes[0].find("node 'mm' (MatMul)"), std::string::npos);
  EXPECT_NE(m->notes[0].find("dynamic"), std::string::npos);
}

TEST(QdqBuilderTest, CalibrationWarningsOfUsedTensorsBecomeNotes) {
  const Graph g = gemm_matmul_graph();
  QuantizeConfig q;
  q.op_wise_config["g0"] = op_wise(DType::kU8, QuantScheme::kAsym, true, true);
  CalibrationStats stats;
  stats.tensors["x"] = range_stats(0.0f, 0.0f);  // zero range
  stats.tensors["h"] = range_stats(0.0f, 0.0f);  // not used by this config
  auto m = build_qdq_model(g, q, stats);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_FALSE(m->notes.empty());
  for (const auto& n : m->notes) EXPECT_EQ(n.find("'h'"), std::string::npos) << n;
  EXPECT_NE(m->notes[0].find("x"), std::string::npos) << m->notes[0];
}

// Calibrates conv_gemm_graph on random images the way the tuner does.
CalibrationStats calibrate(const Graph& g, const std::vector<std::string>& tensors) {
  auto exec = Executor::create(std::make_shared<const Graph>(g));
  EXPECT_TRUE(exec.ok()) << exec.status().message();
  const Dataset data = Dataset::of(random_f32({64, 1, 4, 4}, 31));
  auto stats = collect_calibration_stats(*exec, data, 64, 16, tensors);
  EXPECT_TRUE(stats.ok()) << stats.status().message();
  return stats.ok() ? std::move(stats).value() : CalibrationStats{};
}

QuantizeConfig all_ops_config(DType act, QuantScheme scheme, bool per_channel) {
  QuantizeConfig q;
  q.op_wise_config["conv"] = op_wise(act, scheme, per_channel, true);
  q.op_wise_config["pool"] = op_wise(act, scheme, false, false);
  q.op_wise_config["fc"] = op_wise(act, scheme, per_channel, true);
  return q;
}

TEST(QdqBuilderTest, ReferenceExecutorOutputsStayWithinTheFakeQuantErrorBound) {
  const Graph g = conv_gemm_graph();
  for (auto [act, scheme] : {std::pair{DType::kU8, QuantScheme::kAsym},
                             std::pair{DType::kS8, QuantScheme::kSym}}) {
    for (bool per_channel : {true, false}) {
      SCOPED_TRACE(std::string(dtype_name(act)) + (per_channel ? " per-channel" : " per-tensor"));
      const QuantizeConfig q = all_ops_config(act, scheme, per_channel);
      const auto tensors = calibration_tensors(g, q);
      EXPECT_EQ(tensors, (std::vector<std::string>{"x", "relu_out", "flat_out"}));
      auto m = build_qdq_model(g, q, calibrate(g, tensors));
      ASSERT_TRUE(m.ok()) << m.status().message();
      const Tensor x = random_f32({16, 1, 4, 4}, 32);
      const auto want = run(g, {x});
      const auto got = run(*m->graph, {x});
      ASSERT_EQ(want.size(), 1u);
      ASSERT_EQ(got.size(), 1u);
      ASSERT_EQ(got[0].shape(), want[0].shape());
      float ymax = 0, max_err = 0, sum_err = 0;
      for (int64_t i = 0; i < want[0].numel(); ++i) {
        const float a = want[0].data<float>()[i], b = got[0].data<float>()[i];
        ymax = std::max(ymax, std::fabs(a));
        max_err = std::max(max_err, std::fabs(a - b));
        sum_err += std::fabs(a - b);
      }
      // Three 8-bit rounding points (input, pooled activation, fc input) plus 8-bit weights:
      // a few grid steps of the output range at worst.
      EXPECT_GT(max_err, 0.0f);  // it really is quantized
      EXPECT_LT(max_err, 0.03f * ymax) << "ymax " << ymax;
      EXPECT_LT(sum_err / want[0].numel(), 0.01f * ymax);
    }
  }
}

TEST(QdqBuilderTest, SaveLoadRoundTripGivesIdenticalOutputs) {
  const Graph g = conv_gemm_graph();
  const QuantizeConfig q = all_ops_config(DType::kU8, QuantScheme::kAsym, true);
  auto m = build_qdq_model(g, q, calibrate(g, calibration_tensors(g, q)));
  ASSERT_TRUE(m.ok()) << m.status().message();
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("qtune_qdq_roundtrip_" + std::to_string(getpid()) + ".onnx"))
                               .string();
  ASSERT_TRUE(save_onnx_model(*m->graph, path).ok());
  auto loaded = load_onnx_model(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->opset, 13);
  EXPECT_EQ(loaded->nodes.size(), m->graph->nodes.size());
  for (const auto& [name, t] : m->graph->initializers) {
    const Tensor* l = loaded->initializer(name);
    ASSERT_NE(l, nullptr) << name;
    EXPECT_EQ(l->dtype(), t.dtype()) << name;
    EXPECT_EQ(l->shape(), t.shape()) << name;
  }
  const Tensor x = random_f32({8, 1, 4, 4}, 33);
  const auto a = run(*m->graph, {x});
  const auto b = run(*loaded, {x});
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  ASSERT_EQ(a[0].shape(), b[0].shape());
  for (int64_t i = 0; i < a[0].numel(); ++i) {
    EXPECT_EQ(a[0].data<float>()[i], b[0].data<float>()[i]) << i;
  }
}

// The bundled models quantized (every Conv/Gemm/MatMul/Add/pool int8, u8 asym minmax,
// per-channel weights) keep their accuracy under the reference executor. Set
// QTUNE_QDQ_EXPORT_DIR to keep the QDQ files (e.g. for tools/ort_eval.js).
class BundledQdqTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BundledQdqTest, QdqModelKeepsAccuracyOnTheReferenceExecutor) {
  auto calib_cfg = load_data_config(kSource + "/examples/fashion_mnist/calib.yaml");
  auto test_cfg = load_data_config(kSource + "/examples/fashion_mnist/test.yaml");
  ASSERT_TRUE(calib_cfg.ok()) << calib_cfg.status().message();
  ASSERT_TRUE(test_cfg.ok()) << test_cfg.status().message();
  if (!std::filesystem::exists(calib_cfg->dataset.inputs[0].path) ||
      !std::filesystem::exists(test_cfg->dataset.inputs[0].path)) {
    GTEST_SKIP() << "Fashion-MNIST missing (Debian package dataset-fashion-mnist)";
  }
  calib_cfg->dataset.limit = 300;
  test_cfg->dataset.limit = 1000;
  auto calib = load_dataset(*calib_cfg);
  auto test = load_dataset(*test_cfg);
  ASSERT_TRUE(calib.ok()) << calib.status().message();
  ASSERT_TRUE(test.ok()) << test.status().message();

  auto loaded = load_onnx_model(kSource + "/models/fashion_mnist/" + GetParam() + ".onnx");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto prepared = prepare_fp32_for_quantization(*loaded);
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  auto fp32 = std::make_shared<const Graph>(std::move(prepared).value());

  QuantizeConfig q;
  for (const auto& n : fp32->nodes) {
    const bool weighted = n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul";
    const bool act_only = n.op_type == "Add" || n.op_type == "MaxPool" ||
                          n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool";
    if (weighted || act_only) {
      q.op_wise_config[n.name] = op_wise(DType::kU8, QuantScheme::kAsym, true, weighted);
    }
  }
  auto fp32_exec = Executor::create(fp32);
  ASSERT_TRUE(fp32_exec.ok()) << fp32_exec.status().message();
  auto stats = collect_calibration_stats(*fp32_exec, *calib, calib->size(), 100,
                                         calibration_tensors(*fp32, q));
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  auto m = build_qdq_model(*fp32, q, *stats);
  ASSERT_TRUE(m.ok()) << m.status().message();
  expect_topologically_sorted(*m->graph);

  auto qdq_exec = Executor::create(m->graph);
  ASSERT_TRUE(qdq_exec.ok()) << qdq_exec.status().message();
  auto want = evaluate_top1(*fp32_exec, *test, 100);
  auto got = evaluate_top1(*qdq_exec, *test, 100);
  ASSERT_TRUE(want.ok()) << want.status().message();
  ASSERT_TRUE(got.ok()) << got.status().message();
  std::printf("%s on %lld test images: fp32 %.2f%%, QDQ (reference executor) %.2f%%\n",
              GetParam().c_str(), static_cast<long long>(test->size()), want->top1, got->top1);
  EXPECT_NEAR(got->top1, want->top1, 1.5);

  if (const char* dir = std::getenv("QTUNE_QDQ_EXPORT_DIR")) {
    const std::string path = std::string(dir) + "/" + GetParam() + ".qdq.onnx";
    ASSERT_TRUE(save_onnx_model(*m->graph, path).ok());
    std::printf("wrote %s\n", path.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(FashionMnist, BundledQdqTest,
                         ::testing::Values("lenet", "resnet", "vit"));

}  // namespace
}  // namespace qtune
