// The onednn adaptor's fused ops (oneDNN primitives) against the reference ONNX path and against
// qtune's native kernels: hand-built QDQ graphs run through the reference executor (Q/DQ + fp32
// ops), lowered onto onednn_ops(), and lowered onto native_ops(); fp32 graphs on F32Conv/F32Gemm
// against the reference fp32 ops, down to the bundled models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "adaptors/adaptor.h"
#include "adaptors/lowering.h"
#include "adaptors/native/native_lowering.h"
#include "adaptors/native/native_ops.h"
#include "adaptors/onednn/onednn_ops.h"
#include "runtime/executor.h"
#include "kernels/cpu_features.h"
#include "common/onnx_io.h"
#include "kernels/quantize_ref.h"
#include "tests/adaptors/fused_op_test_util.h"

namespace qtune {
namespace {

// f32 on f32: only the summation order differs (oneDNN blocks and vectorizes the reduction).
constexpr float kF32RelTol = 1e-5f;

using namespace fused_op_test;

Result<Executor> prepare_onednn(const Graph& g, const std::vector<std::string>& bf16_ops) {
  QT_ASSIGN_OR_RETURN(Graph lowered, lower_qdq(g, onednn_lowering_target(), bf16_ops));
  return Executor::create(std::make_shared<const Graph>(std::move(lowered)), &onednn_ops());
}

std::vector<Tensor> run_onednn(const Graph& g, const std::vector<Tensor>& in,
                               const std::vector<std::string>& bf16_ops = {},
                               Graph* lowered = nullptr) {
  return run_exec(prepare_onednn(g, bf16_ops), in, lowered);
}

std::vector<Tensor> run_native(const Graph& g, const std::vector<Tensor>& in,
                               const std::vector<std::string>& bf16_ops = {}) {
  return run_exec(prepare_native(std::make_shared<const Graph>(g), bf16_ops), in, nullptr);
}

// oneDNN would emulate bf16 (or refuse) without the instructions; the comparison is about the
// real path.
bool has_bf16() { return cpu_features_detected().avx512bf16; }

// ------------------------------------------------------------------ QConv

struct ConvCase {
  const char* name;
  Shape x_shape;  // [N, C, (H,) W]
  Shape w_shape;  // [M, C/group, (kh,) kw]
  int64_t group;
  std::vector<int64_t> strides, pads, dilations;
  DType act_type;  // u8 or s8
  int32_t x_zp;
  bool per_channel, bias;
  std::string activation;  // "", "Relu", "Clip"
  DType out_type;          // u8, s8 or f32 (no Q)
  std::string auto_pad = "";
};

// Conv attributes of a case: group, strides, dilations, and pads or auto_pad.
std::map<std::string, Attribute> conv_attrs(int64_t group, const std::vector<int64_t>& strides,
                                            const std::vector<int64_t>& pads,
                                            const std::vector<int64_t>& dilations,
                                            const std::string& auto_pad) {
  std::map<std::string, Attribute> attrs{{"group", int_attr(group)},
                                         {"strides", ints_attr(strides)},
                                         {"dilations", ints_attr(dilations)}};
  if (auto_pad.empty()) {
    attrs["pads"] = ints_attr(pads);
  } else {
    attrs["auto_pad"] = str_attr(auto_pad);
  }
  return attrs;
}

// `activation` ("", "Relu" or "Clip" to [lo, hi]) applied to y as node output `out`; the name
// of the result.
std::string add_activation(QdqBuilder& b, const std::string& activation, const std::string& y,
                           float lo, float hi, const std::string& out) {
  if (activation.empty()) return y;
  std::vector<std::string> ain{y};
  if (activation == "Clip") {
    b.g.initializers["lo"] = Tensor::scalar_f32(lo);
    b.g.initializers["hi"] = Tensor::scalar_f32(hi);
    ain = {y, "lo", "hi"};
  }
  b.node(activation, ain, {out});
  return out;
}

Graph conv_graph(const ConvCase& c, std::mt19937& rng) {
  QdqBuilder b;
  b.input("x", DType::kF32, c.x_shape);
  const float xs = 0.01f;
  const std::string xdq = b.quant_act("x", xs, c.x_zp, c.act_type);
  std::vector<float> ws;
  const std::string wdq = b.quant_weight("w", random_f32(c.w_shape, rng), 0, c.per_channel, &ws);
  std::vector<std::string> in{xdq, wdq};
  if (c.bias) in.push_back(b.quant_bias("b", random_f32({c.w_shape[0]}, rng), xs, ws));
  b.node("Conv", in, {"conv_out"},
         conv_attrs(c.group, c.strides, c.pads, c.dilations, c.auto_pad), "conv");
  std::string y = add_activation(b, c.activation, "conv_out", -0.2f, 0.3f, "act_out");
  if (c.out_type != DType::kF32) {
    y = b.quant_out(y, 0.02f, c.out_type == DType::kU8 ? 3 : -5, c.out_type);
  }
  b.output(y);
  return b.g;
}

TEST(OneDnnQConvTest, MatchesReferenceAndNative) {
  const ConvCase cases[] = {
      {"relu_u8_per_channel_bias", {2, 3, 9, 9}, {8, 3, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1},
       DType::kU8, 128, true, true, "Relu", DType::kU8},
      {"strided_s8_in_s8_out", {1, 4, 11, 10}, {6, 4, 3, 3}, 1, {2, 2}, {1, 0, 1, 2}, {1, 1},
       DType::kS8, 0, true, true, "", DType::kS8},
      {"s8_in_with_zero_point", {1, 5, 8, 8}, {7, 5, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1},
       DType::kS8, -9, true, true, "Relu", DType::kU8},
      {"depthwise_clip", {1, 8, 7, 7}, {8, 1, 3, 3}, 8, {1, 1}, {1, 1, 1, 1}, {1, 1}, DType::kU8,
       128, true, false, "Clip", DType::kU8},
      {"grouped_per_tensor_f32_out", {2, 6, 5, 6}, {4, 3, 1, 1}, 2, {1, 1}, {0, 0, 0, 0}, {1, 1},
       DType::kU8, 128, false, true, "", DType::kF32},
      {"dilated_padded", {1, 4, 12, 12}, {5, 4, 3, 3}, 1, {1, 1}, {2, 2, 2, 2}, {2, 2},
       DType::kU8, 100, true, true, "Relu", DType::kU8},
      {"conv1d_relu", {2, 5, 17}, {7, 5, 3}, 1, {2}, {1, 1}, {1}, DType::kU8, 128, true, true,
       "Relu", DType::kU8},
      {"same_upper_clip_f32_out", {1, 3, 10, 9}, {4, 3, 3, 3}, 1, {2, 2}, {}, {1, 1}, DType::kU8,
       128, true, true, "Clip", DType::kF32, "SAME_UPPER"},
      {"pointwise_wide", {1, 40, 6, 6}, {70, 40, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1},
       DType::kU8, 128, true, true, "Relu", DType::kU8},
  };
  std::mt19937 rng(7);
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Graph g = conv_graph(c, rng);
    const std::vector<Tensor> in{random_f32(c.x_shape, rng, -1.2f, 1.2f)};
    Graph lowered;
    auto ref = run_reference(g, in);
    auto got = run_onednn(g, in, {}, &lowered);
    auto native = run_native(g, in);
    ASSERT_EQ(ref.size(), 1u);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(native.size(), 1u);
    // One fused node in the onednn domain does it all: no Q/DQ or fp32 Conv left.
    EXPECT_EQ(count_ops(lowered, kQConvOp, kOneDnnDomain), 1);
    EXPECT_EQ(count_ops(lowered, "Conv"), 0);
    EXPECT_EQ(count_ops(lowered, "DequantizeLinear"), 0);
    EXPECT_EQ(count_ops(lowered, "Relu") + count_ops(lowered, "Clip"), 0);
    {
      SCOPED_TRACE("against reference");
      expect_close(ref[0], got[0]);
    }
    {
      SCOPED_TRACE("against native");
      expect_close(native[0], got[0]);
    }
  }
}

// ------------------------------------------------------------------ QGemm

TEST(OneDnnQGemmTest, GemmMatchesReferenceAndNative) {
  std::mt19937 rng(11);
  for (int trans_b : {1, 0}) {
    SCOPED_TRACE(trans_b);
    QdqBuilder b;
    b.input("x", DType::kF32, {5, 20});
    const float xs = 0.01f;
    const std::string xdq =
        b.quant_act("x", xs, trans_b ? 120 : 0, trans_b ? DType::kU8 : DType::kS8);
    std::vector<float> ws;
    const Shape w_shape = trans_b ? Shape{12, 20} : Shape{20, 12};
    const std::string wdq =
        b.quant_weight("w", random_f32(w_shape, rng), trans_b ? 0 : 1, trans_b != 0, &ws);
    const std::string bdq = b.quant_bias("b", random_f32({12}, rng), xs, ws);
    b.node("Gemm", {xdq, wdq, bdq}, {"y"}, {{"transB", int_attr(trans_b)}}, "fc");
    std::string out = "y";
    if (trans_b) out = b.quant_out("y", 0.03f, -3, DType::kS8);  // else f32 output
    b.output(out);
    const std::vector<Tensor> in{random_f32({5, 20}, rng)};
    Graph lowered;
    auto ref = run_reference(b.g, in);
    auto got = run_onednn(b.g, in, {}, &lowered);
    auto native = run_native(b.g, in);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(native.size(), 1u);
    EXPECT_EQ(count_ops(lowered, kQGemmOp, kOneDnnDomain), 1);
    EXPECT_EQ(count_ops(lowered, "Gemm"), 0);
    expect_close(ref[0], got[0]);
    expect_close(native[0], got[0]);
  }
}

TEST(OneDnnQGemmTest, MatMulWith3dInputMatchesReferenceAndNative) {
  std::mt19937 rng(12);
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 7, 16});
  const std::string xdq = b.quant_act("x", 0.008f, 131, DType::kU8);
  std::vector<float> ws;
  const std::string wdq = b.quant_weight("w", random_f32({16, 24}, rng), 1, true, &ws);
  b.node("MatMul", {xdq, wdq}, {"y"}, {}, "mm");
  b.g.initializers["lo"] = Tensor::scalar_f32(-0.1f);
  b.g.initializers["hi"] = Tensor::scalar_f32(0.25f);
  b.node("Clip", {"y", "lo", "hi"}, {"r"});
  b.output(b.quant_out("r", 0.01f, 10, DType::kU8));
  const std::vector<Tensor> in{random_f32({2, 7, 16}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_onednn(b.g, in, {}, &lowered);
  auto native = run_native(b.g, in);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(native.size(), 1u);
  EXPECT_EQ(count_ops(lowered, kQGemmOp, kOneDnnDomain), 1);
  EXPECT_EQ(got[0].shape(), (Shape{2, 7, 24}));
  expect_q8_close(ref[0], got[0]);
  expect_q8_close(native[0], got[0]);
}

// A float bias (not quantized) and relu with an f32 output: the bias enters oneDNN's accumulator
// pre-divided by x_scale * w_scale.
TEST(OneDnnQGemmTest, FloatBiasAndReluF32Output) {
  std::mt19937 rng(13);
  QdqBuilder b;
  b.input("x", DType::kF32, {9, 33});
  const std::string xdq = b.quant_act("x", 0.01f, 128, DType::kU8);
  std::vector<float> ws;
  const std::string wdq = b.quant_weight("w", random_f32({17, 33}, rng), 0, true, &ws);
  b.g.initializers["bias"] = random_f32({17}, rng);
  b.node("Gemm", {xdq, wdq, "bias"}, {"y"}, {{"transB", int_attr(1)}}, "fc");
  b.node("Relu", {"y"}, {"r"});
  b.output("r");
  const std::vector<Tensor> in{random_f32({9, 33}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_onednn(b.g, in, {}, &lowered);
  auto native = run_native(b.g, in);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(native.size(), 1u);
  EXPECT_EQ(count_ops(lowered, kQGemmOp, kOneDnnDomain), 1);
  expect_f32_close(ref[0], got[0], kF32OutputTol);
  expect_f32_close(native[0], got[0], kF32OutputTol);
  for (float v : got[0].span<float>()) EXPECT_GE(v, 0.0f);
}

// No input columns / channels: every accumulator is 0, so outputs are the epilogue of the bias.
TEST(OneDnnQGemmTest, EmptyReductionGivesBiasEpilogue) {
  const OpFn* gemm = onednn_ops().find(kOneDnnDomain, kQGemmOp);
  const OpFn* conv = onednn_ops().find(kOneDnnDomain, kQConvOp);
  ASSERT_NE(gemm, nullptr);
  ASSERT_NE(conv, nullptr);
  Node n;
  n.name = "empty";
  n.domain = kOneDnnDomain;
  n.attrs["activation"] = str_attr("relu");
  const Tensor ws = Tensor::scalar_f32(0.5f), xs = Tensor::scalar_f32(0.25f);
  {
    n.op_type = kQGemmOp;
    n.attrs["out_dtype"] = str_attr("f32");
    const Tensor x(DType::kU8, {3, 0}), w(DType::kS8, {0, 4});
    const Tensor b = Tensor::from_f32({4}, {1.0f, -2.0f, 3.0f, -4.0f});
    OpContext ctx{n, 13, {&x, &w, &ws, &b, &xs, nullptr, nullptr, nullptr}, {}, nullptr, {}};
    ctx.outputs.resize(1);
    const Status s = (*gemm)(ctx);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(ctx.outputs[0].shape(), (Shape{3, 4}));
    const float want[4] = {1.0f, 0.0f, 3.0f, 0.0f};
    for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(ctx.outputs[0].data<float>()[i], want[i % 4]);
  }
  {
    n.op_type = kQConvOp;
    n.attrs["out_dtype"] = str_attr("u8");
    const Tensor x(DType::kU8, {1, 0, 4, 4}), w(DType::kS8, {2, 0, 3, 3});
    Tensor b(DType::kS32, {2});
    b.data<int32_t>()[0] = 40;  // 40 * 0.25 * 0.5 = 5 -> 5 / 0.5 + 3 = 13
    b.data<int32_t>()[1] = -8;  // relu -> 0 -> the zero point
    const Tensor ys = Tensor::scalar_f32(0.5f), yz = scalar_q(DType::kU8, 3);
    OpContext ctx{n, 13, {&x, &w, &ws, &b, &xs, nullptr, &ys, &yz}, {}, nullptr, {}};
    ctx.outputs.resize(1);
    const Status s = (*conv)(ctx);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(ctx.outputs[0].shape(), (Shape{1, 2, 2, 2}));
    for (int64_t i = 0; i < 8; ++i) {
      EXPECT_EQ(ctx.outputs[0].data<uint8_t>()[i], i < 4 ? 13 : 3) << i;
    }
  }
}

// ------------------------------------------------------------------ bf16

TEST(OneDnnBf16Test, Bf16OpsCloseToFp32AndNative) {
  if (!has_bf16()) GTEST_SKIP() << "CPU lacks avx512_bf16; oneDNN would not run real bf16";
  std::mt19937 rng(31);
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 4, 10, 10});
  b.g.initializers["wc"] = random_f32({6, 4, 3, 3}, rng);
  b.g.initializers["bc"] = random_f32({6}, rng);
  b.node("Conv", {"x", "wc", "bc"}, {"c"}, {{"pads", ints_attr({1, 1, 1, 1})}}, "conv");
  b.node("Relu", {"c"}, {"r"});
  b.output("r");
  b.g.initializers["shape"] = Tensor::from_i64({2}, {2, 600});
  b.node("Reshape", {"r", "shape"}, {"flat"});
  b.g.initializers["wg"] = random_f32({9, 600}, rng, -0.1f, 0.1f);
  b.g.initializers["bg"] = random_f32({9}, rng);
  b.node("Gemm", {"flat", "wg", "bg"}, {"g"}, {{"transB", int_attr(1)}}, "fc");
  b.output("g");
  b.input("seq", DType::kF32, {3, 5, 33});
  b.g.initializers["wm"] = random_f32({33, 17}, rng);
  b.node("MatMul", {"seq", "wm"}, {"m"}, {}, "mm");
  b.output("m");
  b.input("img", DType::kF32, {1, 6, 9, 9});
  b.g.initializers["wd"] = random_f32({6, 1, 3, 3}, rng);
  b.node("Conv", {"img", "wd"}, {"d"},
         {{"group", int_attr(6)}, {"strides", ints_attr({2, 2})}, {"pads", ints_attr({1, 1, 1, 1})}},
         "dwconv");
  b.g.initializers["lo"] = Tensor::scalar_f32(-0.5f);
  b.g.initializers["hi"] = Tensor::scalar_f32(0.5f);
  b.node("Clip", {"d", "lo", "hi"}, {"dc"});
  b.output("dc");
  const std::vector<Tensor> in{random_f32({2, 4, 10, 10}, rng), random_f32({3, 5, 33}, rng),
                               random_f32({1, 6, 9, 9}, rng)};
  const std::vector<std::string> bf16_ops{"conv", "fc", "mm", "dwconv"};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_onednn(b.g, in, bf16_ops, &lowered);
  auto native = run_native(b.g, in, bf16_ops);
  ASSERT_EQ(got.size(), 4u);
  ASSERT_EQ(native.size(), 4u);
  EXPECT_EQ(count_ops(lowered, kBf16ConvOp, kOneDnnDomain), 2);
  EXPECT_EQ(count_ops(lowered, kBf16GemmOp, kOneDnnDomain), 2);
  EXPECT_EQ(count_ops(lowered, "Clip"), 0);
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    expect_f32_close(ref[i], got[i], kBf16RelTol);
    expect_f32_close(native[i], got[i], kBf16RelTol);
  }
  for (float v : got[3].span<float>()) {
    EXPECT_GE(v, -0.5f);
    EXPECT_LE(v, 0.5f);
  }
}

// ------------------------------------------------------------------ caching and threads

// conv -> relu -> Q -> DQ -> conv -> Q -> DQ -> flatten -> gemm.
Graph small_cnn(std::mt19937& rng, int64_t batch) {
  QdqBuilder b;
  b.input("x", DType::kF32, {batch, 3, 16, 16});
  std::vector<float> ws;
  std::string t = b.quant_act("x", 0.01f, 128, DType::kU8);
  std::string w = b.quant_weight("w1", random_f32({8, 3, 3, 3}, rng), 0, true, &ws);
  std::string bias = b.quant_bias("b1", random_f32({8}, rng, -0.1f, 0.1f), 0.01f, ws);
  b.node("Conv", {t, w, bias}, {"c1"}, {{"pads", ints_attr({1, 1, 1, 1})}}, "conv1");
  b.node("Relu", {"c1"}, {"r1"});
  b.quant_out("r1", 0.02f, 0, DType::kU8);
  b.node("DequantizeLinear", {"r1_q", "r1_scale", "r1_zero_point"}, {"r1_dq"});
  w = b.quant_weight("w2", random_f32({16, 8, 3, 3}, rng, -0.2f, 0.2f), 0, true, &ws);
  bias = b.quant_bias("b2", random_f32({16}, rng, -0.1f, 0.1f), 0.02f, ws);
  b.node("Conv", {"r1_dq", w, bias}, {"c2"},
         {{"pads", ints_attr({1, 1, 1, 1})}, {"strides", ints_attr({2, 2})}}, "conv2");
  b.node("Relu", {"c2"}, {"r2"});
  b.quant_out("r2", 0.03f, 0, DType::kU8);
  b.node("DequantizeLinear", {"r2_q", "r2_scale", "r2_zero_point"}, {"r2_dq"});
  b.g.initializers["flat_shape"] = Tensor::from_i64({2}, {-1, 16 * 8 * 8});
  b.node("Reshape", {"r2_dq", "flat_shape"}, {"flat"});
  const std::string fq = b.quant_act("flat", 0.03f, 0, DType::kU8);
  w = b.quant_weight("w3", random_f32({10, 16 * 8 * 8}, rng, -0.05f, 0.05f), 0, true, &ws);
  bias = b.quant_bias("b3", random_f32({10}, rng), 0.03f, ws);
  b.node("Gemm", {fq, w, bias}, {"logits"}, {{"transB", int_attr(1)}}, "fc");
  b.output("logits");
  return b.g;
}

TEST(OneDnnCacheTest, WeightsAreReorderedOncePerModel) {
  std::mt19937 rng(41);
  const Graph g = small_cnn(rng, 2);
  auto exec = prepare_onednn(g, {});
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  EXPECT_EQ(count_ops(exec->graph(), kQConvOp, kOneDnnDomain), 2);
  EXPECT_EQ(count_ops(exec->graph(), kQGemmOp, kOneDnnDomain), 1);
  const std::vector<Tensor> in{random_f32({2, 3, 16, 16}, rng)};
  const uint64_t before = onednn_weight_reorders();
  auto first = exec->run(in);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(onednn_weight_reorders() - before, 3u);  // conv1, conv2, fc
  auto second = exec->run(in);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(onednn_weight_reorders() - before, 3u);
  for (int64_t i = 0; i < first->at(0).numel(); ++i) {
    ASSERT_EQ(first->at(0).data<float>()[i], second->at(0).data<float>()[i]);
  }
  // The same model on the reference path, through every fused node at once.
  auto ref = run_reference(g, in);
  ASSERT_EQ(ref.size(), 1u);
  expect_f32_close(ref[0], first->at(0), 0.05f);
}

// A new batch size builds a new primitive; the result matches a fresh executor's.
TEST(OneDnnCacheTest, ChangingBatchSizeStaysCorrect) {
  std::mt19937 rng(42);
  Graph g = small_cnn(rng, 1);
  g.inputs[0].shape = Shape{-1, 3, 16, 16};
  auto exec = prepare_onednn(g, {});
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  for (int64_t batch : {1, 3, 1, 4}) {
    SCOPED_TRACE(batch);
    const std::vector<Tensor> in{random_f32({batch, 3, 16, 16}, rng)};
    auto got = exec->run(in);
    ASSERT_TRUE(got.ok()) << got.status().message();
    auto fresh = run_onednn(g, in);
    ASSERT_EQ(fresh.size(), 1u);
    ASSERT_EQ(got->at(0).shape(), (Shape{batch, 10}));
    for (int64_t i = 0; i < fresh[0].numel(); ++i) {
      ASSERT_EQ(fresh[0].data<float>()[i], got->at(0).data<float>()[i]) << i;
    }
  }
}

TEST(OneDnnCacheTest, ConcurrentRunsAgree) {
  std::mt19937 rng(43);
  const Graph g = small_cnn(rng, 2);
  auto exec = prepare_onednn(g, {});
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  const std::vector<Tensor> in{random_f32({2, 3, 16, 16}, rng)};
  auto expect = exec->run(in);
  ASSERT_TRUE(expect.ok());
  std::vector<std::vector<Tensor>> outs(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < outs.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        auto r = exec->run(in);
        if (r.ok()) outs[t] = std::move(r).value();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& o : outs) {
    ASSERT_EQ(o.size(), 1u);
    for (int64_t i = 0; i < o[0].numel(); ++i) {
      ASSERT_EQ(o[0].data<float>()[i], expect->at(0).data<float>()[i]);
    }
  }
}

// The op itself: with the same NodeCache and a constant weight it reorders once; without a
// cache, or with a weight that is not a graph constant, on every call.
TEST(OneDnnCacheTest, CacheKeyedByConstantWeight) {
  const OpFn* fn = onednn_ops().find(kOneDnnDomain, kQGemmOp);
  ASSERT_NE(fn, nullptr);
  Node n;
  n.name = "fc";
  n.op_type = kQGemmOp;
  n.domain = kOneDnnDomain;
  n.attrs["trans_b"] = int_attr(1);
  n.attrs["out_dtype"] = str_attr("f32");
  n.inputs = {"x", "w", "ws", "", "xs", "xz", "", ""};
  n.outputs = {"y"};
  Tensor x(DType::kU8, {3, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<uint8_t>()[i] = static_cast<uint8_t>(i * 7);
  Tensor w(DType::kS8, {5, 8});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = static_cast<int8_t>(i % 11 - 5);
  const Tensor ws = Tensor::scalar_f32(0.5f), xs = Tensor::scalar_f32(0.25f);
  const Tensor xz = scalar_q(DType::kU8, 10);
  NodeCache cache;
  auto call = [&](NodeCache* c, bool constant) {
    OpContext ctx{n, 13, {&x, &w, &ws, nullptr, &xs, &xz, nullptr, nullptr}, {}, c,
                  {false, constant, true, false, true, true, false, false}};
    ctx.outputs.resize(1);
    Status s = (*fn)(ctx);
    EXPECT_TRUE(s.ok()) << s.message();
    return ctx.outputs[0];
  };
  uint64_t before = onednn_weight_reorders();
  const Tensor y1 = call(&cache, true);
  const Tensor y2 = call(&cache, true);
  EXPECT_EQ(onednn_weight_reorders() - before, 1u);
  before = onednn_weight_reorders();
  call(&cache, false);
  call(nullptr, true);
  EXPECT_EQ(onednn_weight_reorders() - before, 2u);
  // y = 0.25 * 0.5 * sum_k (x - 10) * w
  for (int64_t m = 0; m < 3; ++m) {
    for (int64_t j = 0; j < 5; ++j) {
      int64_t acc = 0;
      for (int64_t k = 0; k < 8; ++k) {
        acc += (x.data<uint8_t>()[m * 8 + k] - 10) * w.data<int8_t>()[j * 8 + k];
      }
      EXPECT_FLOAT_EQ(y1.data<float>()[m * 5 + j], 0.125f * static_cast<float>(acc));
      EXPECT_EQ(y1.data<float>()[m * 5 + j], y2.data<float>()[m * 5 + j]);
    }
  }
}

// ------------------------------------------------------------------ fp32 (F32Conv / F32Gemm)

struct F32ConvCase {
  const char* name;
  Shape x_shape, w_shape;
  int64_t group;
  std::vector<int64_t> strides, pads, dilations;
  bool bias;
  std::string activation;  // "", "Relu", "Clip"
  std::string auto_pad = "";
};

Graph f32_conv_graph(const F32ConvCase& c, std::mt19937& rng) {
  QdqBuilder b;
  b.input("x", DType::kF32, c.x_shape);
  b.g.initializers["w"] = random_f32(c.w_shape, rng);
  std::vector<std::string> in{"x", "w"};
  if (c.bias) {
    b.g.initializers["b"] = random_f32({c.w_shape[0]}, rng);
    in.push_back("b");
  }
  b.node("Conv", in, {"y"}, conv_attrs(c.group, c.strides, c.pads, c.dilations, c.auto_pad),
         "conv");
  const std::string y = add_activation(b, c.activation, "y", -0.7f, 0.9f, "act");
  b.output(y);
  return b.g;
}

TEST(OneDnnF32Test, ConvMatchesReferenceOverOddShapes) {
  const F32ConvCase cases[] = {
      {"batch3_relu_bias", {3, 3, 9, 11}, {8, 3, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, true,
       "Relu"},
      {"strided_asymmetric_pads", {2, 5, 13, 10}, {7, 5, 3, 2}, 1, {2, 3}, {1, 0, 2, 1}, {1, 1},
       true, ""},
      {"grouped_clip", {2, 6, 7, 8}, {9, 2, 3, 3}, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, false, "Clip"},
      {"depthwise_strided", {4, 8, 9, 9}, {8, 1, 3, 3}, 8, {2, 2}, {1, 1, 1, 1}, {1, 1}, true,
       "Relu"},
      {"dilated_no_bias", {1, 4, 15, 12}, {5, 4, 3, 3}, 1, {1, 1}, {2, 2, 2, 2}, {2, 3}, false,
       ""},
      {"single_channel_5x5", {5, 1, 28, 28}, {6, 1, 5, 5}, 1, {1, 1}, {2, 2, 2, 2}, {1, 1}, true,
       "Relu"},
      {"pointwise_wide", {2, 37, 5, 5}, {70, 37, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, true, ""},
      {"same_upper", {2, 3, 10, 9}, {4, 3, 3, 3}, 1, {2, 2}, {}, {1, 1}, true, "Clip",
       "SAME_UPPER"},
      {"conv1d_grouped", {3, 6, 17}, {4, 3, 3}, 2, {2}, {1, 2}, {1}, true, "Relu"},
  };
  std::mt19937 rng(51);
  for (const F32ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Graph g = f32_conv_graph(c, rng);
    const std::vector<Tensor> in{random_f32(c.x_shape, rng, -2.0f, 2.0f)};
    Graph lowered;
    auto ref = run_reference(g, in);
    auto got = run_onednn(g, in, {}, &lowered);
    ASSERT_EQ(ref.size(), 1u);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(count_ops(lowered, kF32ConvOp, kOneDnnDomain), 1);
    EXPECT_EQ(count_ops(lowered, "Conv"), 0);
    EXPECT_EQ(count_ops(lowered, "Relu") + count_ops(lowered, "Clip"), 0);
    expect_f32_close(ref[0], got[0], kF32RelTol);
  }
}

TEST(OneDnnF32Test, GemmAndMatMulMatchReference) {
  std::mt19937 rng(52);
  QdqBuilder b;
  // Gemm transB=1, [1, N] bias, relu.
  b.input("a", DType::kF32, {7, 33});
  b.g.initializers["wa"] = random_f32({19, 33}, rng);
  b.g.initializers["ba"] = random_f32({1, 19}, rng);
  b.node("Gemm", {"a", "wa", "ba"}, {"ga"}, {{"transB", int_attr(1)}}, "fc_t");
  b.node("Relu", {"ga"}, {"ra"});
  b.output("ra");
  // Gemm transB=0, no bias, beta != 1 (ignored without C).
  b.input("c", DType::kF32, {1, 20});
  b.g.initializers["wc"] = random_f32({20, 13}, rng);
  b.node("Gemm", {"c", "wc"}, {"gc"}, {{"beta", float_attr(0.5f)}}, "fc_n");
  b.output("gc");
  // MatMul over a 3-D activation, clipped.
  b.input("s", DType::kF32, {3, 5, 24});
  b.g.initializers["wm"] = random_f32({24, 11}, rng);
  b.node("MatMul", {"s", "wm"}, {"m"}, {}, "mm");
  b.g.initializers["lo"] = Tensor::scalar_f32(-1.0f);
  b.g.initializers["hi"] = Tensor::scalar_f32(1.5f);
  b.node("Clip", {"m", "lo", "hi"}, {"mc"});
  b.output("mc");
  // MatMul of a vector.
  b.input("v", DType::kF32, {24});
  b.node("MatMul", {"v", "wm"}, {"mv"}, {}, "mv");
  b.output("mv");
  const std::vector<Tensor> in{random_f32({7, 33}, rng), random_f32({1, 20}, rng),
                               random_f32({3, 5, 24}, rng), random_f32({24}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_onednn(b.g, in, {}, &lowered);
  ASSERT_EQ(ref.size(), 4u);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(count_ops(lowered, kF32GemmOp, kOneDnnDomain), 4);
  EXPECT_EQ(count_ops(lowered, "Gemm") + count_ops(lowered, "MatMul"), 0);
  EXPECT_EQ(count_ops(lowered, "Relu") + count_ops(lowered, "Clip"), 0);
  EXPECT_EQ(got[2].shape(), (Shape{3, 5, 11}));
  EXPECT_EQ(got[3].shape(), (Shape{11}));
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    expect_f32_close(ref[i], got[i], kF32RelTol);
  }
}

// What F32Gemm cannot express stays on the reference ops, and native lowers no fp32 op.
TEST(OneDnnF32Test, LowersOnlyWhatFits) {
  std::mt19937 rng(53);
  QdqBuilder b;
  b.input("x", DType::kF32, {4, 6});
  b.g.initializers["w"] = random_f32({6, 5}, rng);
  b.g.initializers["full_c"] = random_f32({4, 5}, rng);
  b.node("Gemm", {"x", "w", "full_c"}, {"g1"}, {}, "full_bias");  // [M, N] C
  b.output("g1");
  b.g.initializers["c"] = random_f32({5}, rng);
  b.node("Gemm", {"x", "w", "c"}, {"g2"}, {{"beta", float_attr(2.0f)}}, "scaled_bias");
  b.output("g2");
  b.input("y", DType::kF32, {6, 4});
  b.node("Gemm", {"y", "w"}, {"g3"}, {{"transA", int_attr(1)}}, "trans_a");
  b.output("g3");
  b.node("MatMul", {"x", "y"}, {"g4"}, {}, "no_constant");
  b.output("g4");
  const std::vector<Tensor> in{random_f32({4, 6}, rng), random_f32({6, 4}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_onednn(b.g, in, {}, &lowered);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(count_ops(lowered, kF32GemmOp, kOneDnnDomain), 0);
  for (size_t i = 0; i < 4; ++i) expect_f32_close(ref[i], got[i], kF32RelTol);

  const Graph conv = f32_conv_graph(
      {"c", {1, 3, 8, 8}, {4, 3, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, true, "Relu"}, rng);
  // The native adaptor has fp32 kernels of its own: the Conv lowers there too, in its domain.
  auto native = lower_qdq(conv, native_lowering_target(), {});
  ASSERT_TRUE(native.ok());
  EXPECT_EQ(count_ops(*native, kF32ConvOp, kNativeDomain), 1);
  EXPECT_EQ(count_ops(*native, "Relu"), 0);
  LoweringTarget off = onednn_lowering_target();
  off.f32_conv = off.f32_gemm = false;
  auto unlowered = lower_qdq(conv, off, {});
  ASSERT_TRUE(unlowered.ok());
  EXPECT_EQ(count_ops(*unlowered, "Conv"), 1);
}

// In a QDQ graph int8 units and bf16 ops come first; only what is left in fp32 becomes F32*.
TEST(OneDnnF32Test, MixedGraphLowersLeftoverFp32Ops) {
  std::mt19937 rng(54);
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 3, 8, 8});
  std::vector<float> ws;
  const std::string xdq = b.quant_act("x", 0.01f, 128, DType::kU8);
  const std::string wdq = b.quant_weight("w1", random_f32({4, 3, 3, 3}, rng), 0, true, &ws);
  b.node("Conv", {xdq, wdq}, {"c1"}, {{"pads", ints_attr({1, 1, 1, 1})}}, "int8_conv");
  b.g.initializers["w2"] = random_f32({5, 4, 3, 3}, rng);
  b.node("Conv", {"c1", "w2"}, {"c2"}, {}, "fp32_conv");
  b.node("Relu", {"c2"}, {"r2"});
  b.g.initializers["w3"] = random_f32({6, 5, 1, 1}, rng);
  b.node("Conv", {"r2", "w3"}, {"c3"}, {}, "bf16_conv");
  b.output("c3");
  const std::vector<Tensor> in{random_f32({2, 3, 8, 8}, rng)};
  auto lowered = lower_qdq(b.g, onednn_lowering_target(), {"bf16_conv"});
  ASSERT_TRUE(lowered.ok()) << lowered.status().message();
  EXPECT_EQ(count_ops(*lowered, kQConvOp, kOneDnnDomain), 1);
  EXPECT_EQ(count_ops(*lowered, kF32ConvOp, kOneDnnDomain), 1);
  EXPECT_EQ(count_ops(*lowered, kBf16ConvOp, kOneDnnDomain), 1);
  EXPECT_EQ(count_ops(*lowered, "Conv") + count_ops(*lowered, "Relu"), 0);
  if (!has_bf16()) return;
  auto ref = run_reference(b.g, in);
  auto got = run_onednn(b.g, in, {"bf16_conv"});
  ASSERT_EQ(got.size(), 1u);
  expect_f32_close(ref[0], got[0], kBf16RelTol);
}

TEST(OneDnnF32Test, WeightsReorderedOncePerModelAndBatchChangesStayExact) {
  std::mt19937 rng(55);
  const F32ConvCase c{"c", {-1, 3, 12, 12}, {8, 3, 3, 3}, 1, {2, 2}, {1, 1, 1, 1}, {1, 1}, true,
                      "Relu"};
  Graph g = f32_conv_graph(c, rng);
  g.initializers["flat_shape"] = Tensor::from_i64({2}, {0, -1});
  g.nodes.push_back({});
  g.nodes.back().name = "flatten";
  g.nodes.back().op_type = "Reshape";
  g.nodes.back().inputs = {"act", "flat_shape"};
  g.nodes.back().outputs = {"flat"};
  g.initializers["wf"] = random_f32({8 * 6 * 6, 10}, rng, -0.1f, 0.1f);
  g.initializers["bf"] = random_f32({10}, rng);
  g.nodes.push_back({});
  g.nodes.back().name = "fc";
  g.nodes.back().op_type = "Gemm";
  g.nodes.back().inputs = {"flat", "wf", "bf"};
  g.nodes.back().outputs = {"logits"};
  g.outputs = {{"logits", DType::kUndefined, std::nullopt}};
  auto exec = prepare_onednn(g, {});
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  EXPECT_EQ(count_ops(exec->graph(), kF32ConvOp, kOneDnnDomain), 1);
  EXPECT_EQ(count_ops(exec->graph(), kF32GemmOp, kOneDnnDomain), 1);
  const std::vector<Tensor> in{random_f32({2, 3, 12, 12}, rng)};
  const uint64_t before = onednn_weight_reorders();
  ASSERT_TRUE(exec->run(in).ok());
  ASSERT_TRUE(exec->run(in).ok());
  EXPECT_EQ(onednn_weight_reorders() - before, 2u);  // conv, fc: once each
  for (int64_t batch : {1, 5, 2}) {
    SCOPED_TRACE(batch);
    const std::vector<Tensor> x{random_f32({batch, 3, 12, 12}, rng)};
    auto got = exec->run(x);
    ASSERT_TRUE(got.ok()) << got.status().message();
    auto ref = run_reference(g, x);
    ASSERT_EQ(ref.size(), 1u);
    expect_f32_close(ref[0], got->at(0), kF32RelTol);
  }
}

// The bundled models in fp32 through the onednn adaptor: every Conv/Gemm and constant-weight
// MatMul on oneDNN, outputs as the reference executor's.
TEST(OneDnnF32Test, BundledModelsMatchReference) {
  std::mt19937 rng(56);
  auto adaptor = make_adaptor("onednn");
  ASSERT_TRUE(adaptor.ok());
  for (const char* name : {"lenet", "resnet", "vit"}) {
    SCOPED_TRACE(name);
    auto loaded = load_onnx_model(std::string(QTUNE_SOURCE_DIR) + "/models/fashion_mnist/" +
                                  name + ".onnx");
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    auto model = std::make_shared<const Graph>(std::move(loaded).value());
    auto prepared = (*adaptor)->prepare(model, {});
    ASSERT_TRUE(prepared.ok()) << prepared.status().message();
    const Graph& lowered = (*prepared)->graph();
    EXPECT_EQ(count_ops(lowered, "Conv") + count_ops(lowered, "Gemm"), 0);
    EXPECT_GT(count_ops(lowered, kF32ConvOp, kOneDnnDomain) +
                  count_ops(lowered, kF32GemmOp, kOneDnnDomain),
              0);
    for (const Node& n : lowered.nodes) {
      if (n.op_type == "MatMul") EXPECT_EQ(model->initializer(n.inputs.at(1)), nullptr) << n.name;
    }
    Shape shape = model->inputs.at(0).shape.value_or(Shape{-1, 1, 28, 28});
    if (shape[0] <= 0) shape[0] = 3;
    const std::vector<Tensor> in{random_f32(shape, rng, -1.0f, 2.5f)};
    auto got = (*prepared)->run(in);
    ASSERT_TRUE(got.ok()) << got.status().message();
    auto ref = run_reference(*model, in);
    ASSERT_EQ(ref.size(), 1u);
    expect_f32_close(ref[0], got->at(0), 1e-4f);
  }
}

// ------------------------------------------------------------------ malformed inputs

struct BadCase {
  const char* what;  // expected in the message
  std::string op;
  std::vector<Tensor> inputs;  // empty Tensor: omitted
  std::map<std::string, Attribute> attrs;
};

Status run_fused(const BadCase& c) {
  auto g = std::make_shared<Graph>();
  Node n;
  n.name = "bad_node";
  n.op_type = c.op;
  n.domain = kOneDnnDomain;
  n.attrs = c.attrs;
  std::vector<Tensor> feed;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (c.inputs[i].empty()) {
      n.inputs.push_back("");
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    n.inputs.push_back(name);
    g->inputs.push_back({name, c.inputs[i].dtype(), c.inputs[i].shape()});
    feed.push_back(c.inputs[i]);
  }
  n.outputs = {"y"};
  g->outputs.push_back({"y", DType::kUndefined, std::nullopt});
  g->nodes.push_back(n);
  auto exec = Executor::create(g, &onednn_ops());
  if (!exec.ok()) return exec.status();
  return exec->run(feed).status();
}

TEST(OneDnnOpsTest, MalformedInputsAreInvalidInput) {
  const Tensor x(DType::kU8, {1, 2, 5, 5});
  const Tensor w(DType::kS8, {3, 2, 3, 3});
  const Tensor ws = Tensor::scalar_f32(0.1f), xs = Tensor::scalar_f32(0.1f);
  const Tensor xz = scalar_q(DType::kU8, 0), yz = scalar_q(DType::kU8, 0);
  const Tensor none;
  const Tensor xf(DType::kF32, {1, 2, 5, 5});
  auto u8_out = std::map<std::string, Attribute>{{"out_dtype", str_attr("u8")}};
  const std::vector<BadCase> cases = {
      {"x_q has type f32", kQConvOp, {xf, w, ws, none, xs, xz, xs, yz}, u8_out},
      {"w_q has type u8", kQConvOp,
       {x, Tensor(DType::kU8, {3, 2, 3, 3}), ws, none, xs, xz, xs, yz}, u8_out},
      {"w_scale must be f32 with 1 or 3", kQConvOp,
       {x, w, Tensor(DType::kF32, {2}), none, xs, xz, xs, yz}, u8_out},
      {"bias shape [4]", kQConvOp, {x, w, ws, Tensor(DType::kS32, {4}), xs, xz, xs, yz}, u8_out},
      {"bias has type s8", kQConvOp, {x, w, ws, Tensor(DType::kS8, {3}), xs, xz, xs, yz}, u8_out},
      {"x_zero_point must be a u8 scalar", kQConvOp,
       {x, w, ws, none, xs, scalar_q(DType::kS8, 0), xs, yz}, u8_out},
      {"x_scale must be an f32 scalar", kQConvOp,
       {x, w, ws, none, Tensor(DType::kF32, {2}), xz, xs, yz}, u8_out},
      {"x_scale must be positive", kQConvOp,
       {x, w, ws, none, Tensor::scalar_f32(0.0f), xz, xs, yz}, u8_out},
      {"y_scale must be positive", kQConvOp,
       {x, w, ws, none, xs, xz, Tensor::scalar_f32(-1.0f), yz}, u8_out},
      {"channels do not fit group", kQConvOp,
       {x, Tensor(DType::kS8, {3, 4, 3, 3}), ws, none, xs, xz, xs, yz}, u8_out},
      {"does not match x", kQConvOp, {x, Tensor(DType::kS8, {3, 2, 3}), ws, none, xs, xz, xs, yz},
       u8_out},
      {"kernel extent", kQConvOp, {x, Tensor(DType::kS8, {3, 2, 7, 7}), ws, none, xs, xz, xs, yz},
       u8_out},
      {"needs y_scale", kQConvOp, {x, w, ws, none, xs, xz, none, yz}, u8_out},
      {"y_zero_point must be a u8 scalar", kQConvOp,
       {x, w, ws, none, xs, xz, xs, scalar_q(DType::kS8, 0)}, u8_out},
      {"unknown out_dtype", kQConvOp, {x, w, ws, none, xs, xz, xs, yz},
       {{"out_dtype", str_attr("u16")}}},
      {"unknown activation", kQConvOp, {x, w, ws, none, xs, xz, xs, yz},
       {{"out_dtype", str_attr("u8")}, {"activation", str_attr("gelu")}}},
      {"clip bounds", kQConvOp, {x, w, ws, none, xs, xz, xs, yz},
       {{"out_dtype", str_attr("u8")},
        {"activation", str_attr("clip")},
        {"clip_min", float_attr(1.0f)},
        {"clip_max", float_attr(0.0f)}}},
      {"missing required input 'w_q'", kQConvOp, {x, none, ws, none, xs, xz, xs, yz}, u8_out},
      {"x_scale must be an f32 scalar", kQGemmOp,
       {Tensor(DType::kU8, {2, 4}), Tensor(DType::kS8, {4, 3}), ws}, {}},
      {"inner dimensions differ", kQGemmOp,
       {Tensor(DType::kU8, {2, 4}), Tensor(DType::kS8, {5, 3}), ws, none, xs, xz}, {}},
      {"is not 2-D", kQGemmOp,
       {Tensor(DType::kU8, {2, 4}), Tensor(DType::kS8, {4, 3, 1}), ws, none, xs, xz}, {}},
      {"x has type u8, expected f32", kBf16GemmOp,
       {Tensor(DType::kU8, {2, 4}), Tensor(DType::kF32, {4, 3})}, {}},
      {"bias has type s32, expected f32", kBf16ConvOp,
       {xf, Tensor(DType::kF32, {3, 2, 3, 3}), Tensor(DType::kS32, {3})}, {}},
      {"x has shape [1,2]", kBf16ConvOp,
       {Tensor(DType::kF32, {1, 2}), Tensor(DType::kF32, {3, 2})}, {}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    const Status s = run_fused(c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidInput) << s.message();
    EXPECT_NE(s.message().find("node 'bad_node'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.what), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace qtune
