// The native adaptor's fused ops against the reference ONNX path: hand-built QDQ graphs run once
// through the reference executor (Q/DQ + fp32 ops) and once lowered onto native_ops().
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adaptors/lowering.h"
#include "adaptors/native/native_lowering.h"
#include "adaptors/native/native_ops.h"
#include "runtime/executor.h"
#include "kernels/quantize_ref.h"
#include "tests/adaptors/fused_op_test_util.h"

namespace qtune {
namespace {

using namespace fused_op_test;

std::vector<std::string> op_types_of(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& n : g.nodes) out.push_back(n.op_type);
  return out;
}

std::vector<Tensor> run_native(const Graph& g, const std::vector<Tensor>& in,
                               const std::vector<std::string>& bf16_ops = {},
                               Graph* lowered = nullptr) {
  return run_exec(prepare_native(std::make_shared<const Graph>(g), bf16_ops), in, lowered);
}

// ------------------------------------------------------------------ QConv

struct ConvCase {
  const char* name;
  Shape x_shape;   // [N, C, (H,) W]
  Shape w_shape;   // [M, C/group, (kh,) kw]
  int64_t group;
  std::vector<int64_t> strides, pads;
  DType act_type;  // activation u8/s8
  bool per_channel, bias;
  std::string activation;  // "", "Relu", "Clip"
  DType out_type;  // u8, s8 or f32 (no Q)
  std::vector<int64_t> dilations = {};
};

Graph conv_graph(const ConvCase& c, std::mt19937& rng) {
  QdqBuilder b;
  b.input("x", DType::kF32, c.x_shape);
  const float xs = 0.01f;
  const int32_t xzp = c.act_type == DType::kU8 ? 128 : 0;
  const std::string xdq = b.quant_act("x", xs, xzp, c.act_type);
  std::vector<float> ws;
  const std::string wdq = b.quant_weight("w", random_f32(c.w_shape, rng), 0, c.per_channel, &ws);
  std::vector<std::string> in{xdq, wdq};
  if (c.bias) in.push_back(b.quant_bias("b", random_f32({c.w_shape[0]}, rng), xs, ws));
  std::map<std::string, Attribute> attrs{{"group", int_attr(c.group)},
                                         {"strides", ints_attr(c.strides)},
                                         {"pads", ints_attr(c.pads)}};
  if (!c.dilations.empty()) attrs["dilations"] = ints_attr(c.dilations);
  b.node("Conv", in, {"conv_out"}, attrs, "conv");
  std::string y = "conv_out";
  if (!std::string(c.activation).empty()) {
    std::vector<std::string> ain{y};
    if (std::string(c.activation) == "Clip") {
      b.g.initializers["lo"] = Tensor::scalar_f32(-0.2f);
      b.g.initializers["hi"] = Tensor::scalar_f32(0.3f);
      ain = {y, "lo", "hi"};
    }
    b.node(c.activation, ain, {"act_out"});
    y = "act_out";
  }
  if (c.out_type != DType::kF32) {
    y = b.quant_out(y, 0.02f, c.out_type == DType::kU8 ? 3 : -5, c.out_type);
  }
  b.output(y);
  return b.g;
}

TEST(NativeQConvTest, MatchesReferenceQdqPath) {
  const ConvCase cases[] = {
      {"relu_u8_per_channel_bias", {2, 3, 9, 9}, {8, 3, 3, 3}, 1, {1, 1}, {1, 1, 1, 1},
       DType::kU8, true, true, "Relu", DType::kU8},
      {"strided_s8_in_s8_out", {1, 4, 11, 10}, {6, 4, 3, 3}, 1, {2, 2}, {1, 0, 1, 2}, DType::kS8,
       true, true, "", DType::kS8},
      {"depthwise_clip", {1, 8, 7, 7}, {8, 1, 3, 3}, 8, {1, 1}, {1, 1, 1, 1}, DType::kU8, true,
       false, "Clip", DType::kU8},
      {"grouped_per_tensor_f32_out", {2, 6, 5, 6}, {4, 3, 1, 1}, 2, {1, 1}, {0, 0, 0, 0},
       DType::kU8, false, true, "", DType::kF32},
      {"conv1d_relu", {2, 5, 17}, {7, 5, 3}, 1, {2}, {1, 1}, DType::kU8, true, true, "Relu",
       DType::kU8},
      {"pointwise_wide", {1, 40, 6, 6}, {70, 40, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, DType::kU8, true,
       true, "Relu", DType::kU8},
      // Big enough that im2col splits its rows over tasks.
      {"large_image_parallel_im2col", {1, 16, 40, 40}, {24, 16, 3, 3}, 1, {1, 1}, {1, 1, 1, 1},
       DType::kU8, true, true, "Relu", DType::kU8},
      {"dilated_grouped_s8", {3, 6, 12, 12}, {6, 3, 3, 3}, 2, {1, 2}, {2, 2, 2, 2}, DType::kS8,
       true, true, "", DType::kS8, {2, 2}},
      {"strided_pointwise", {2, 8, 9, 9}, {16, 8, 1, 1}, 1, {2, 2}, {0, 0, 0, 0}, DType::kU8, true,
       true, "Relu", DType::kU8},
  };
  std::mt19937 rng(7);
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Graph g = conv_graph(c, rng);
    const std::vector<Tensor> in{random_f32(c.x_shape, rng, -1.2f, 1.2f)};
    Graph lowered;
    auto ref = run_reference(g, in);
    auto got = run_native(g, in, {}, &lowered);
    ASSERT_EQ(ref.size(), 1u);
    ASSERT_EQ(got.size(), 1u);
    // One fused node does it all: no Q/DQ or fp32 Conv left.
    EXPECT_EQ(count_ops(lowered, "QConv"), 1);
    EXPECT_EQ(count_ops(lowered, "Conv"), 0);
    EXPECT_EQ(count_ops(lowered, "DequantizeLinear"), 0);
    EXPECT_EQ(count_ops(lowered, "Relu") + count_ops(lowered, "Clip"), 0);
    if (c.out_type == DType::kF32) {
      expect_f32_close(ref[0], got[0], kF32OutputTol);
    } else {
      expect_q8_close(ref[0], got[0]);
    }
  }
}

// ------------------------------------------------------------------ QGemm

TEST(NativeQGemmTest, GemmMatchesReference) {
  std::mt19937 rng(11);
  for (int trans_b : {1, 0}) {
    SCOPED_TRACE(trans_b);
    QdqBuilder b;
    b.input("x", DType::kF32, {5, 20});
    const float xs = 0.01f;
    const std::string xdq = b.quant_act("x", xs, trans_b ? 120 : 0, trans_b ? DType::kU8 : DType::kS8);
    std::vector<float> ws;
    const Shape w_shape = trans_b ? Shape{12, 20} : Shape{20, 12};
    const std::string wdq = b.quant_weight("w", random_f32(w_shape, rng), trans_b ? 0 : 1,
                                           trans_b != 0, &ws);
    const std::string bdq = b.quant_bias("b", random_f32({12}, rng), xs, ws);
    b.node("Gemm", {xdq, wdq, bdq}, {"y"}, {{"transB", int_attr(trans_b)}}, "fc");
    std::string out = "y";
    if (trans_b) out = b.quant_out("y", 0.03f, -3, DType::kS8);  // else f32 output
    b.output(out);
    const std::vector<Tensor> in{random_f32({5, 20}, rng, -1.0f, 1.0f)};
    Graph lowered;
    auto ref = run_reference(b.g, in);
    auto got = run_native(b.g, in, {}, &lowered);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(count_ops(lowered, "QGemm"), 1);
    EXPECT_EQ(count_ops(lowered, "Gemm"), 0);
    if (trans_b) {
      expect_q8_close(ref[0], got[0]);
    } else {
      expect_f32_close(ref[0], got[0], kF32OutputTol);
    }
  }
}

TEST(NativeQGemmTest, MatMulWith3dInputMatchesReference) {
  std::mt19937 rng(12);
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 7, 16});
  const std::string xdq = b.quant_act("x", 0.008f, 131, DType::kU8);
  std::vector<float> ws;
  const std::string wdq = b.quant_weight("w", random_f32({16, 24}, rng), 1, true, &ws);
  b.node("MatMul", {xdq, wdq}, {"y"}, {}, "mm");
  b.node("Relu", {"y"}, {"r"});
  b.output(b.quant_out("r", 0.01f, 0, DType::kU8));
  const std::vector<Tensor> in{random_f32({2, 7, 16}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_native(b.g, in, {}, &lowered);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(count_ops(lowered, "QGemm"), 1);
  EXPECT_EQ(got[0].shape(), (Shape{2, 7, 24}));
  expect_q8_close(ref[0], got[0]);
}

// MatMul -> [Q -> DQ] -> Add(bias) -> [Relu] -> [Q]: the Add folds into the QGemm, which keeps
// the Q -> DQ's rounding (mid_scale) so the values are the graph's.
TEST(NativeQGemmTest, BiasAddFusedWithAndWithoutRequantization) {
  std::mt19937 rng(14);
  for (int variant = 0; variant < 4; ++variant) {
    SCOPED_TRACE(variant);
    const bool mid = variant % 2 == 0, q_out = variant < 2;
    QdqBuilder b;
    b.input("x", DType::kF32, {2, 7, 16});
    const std::string xdq = b.quant_act("x", 0.008f, 131, DType::kU8);
    std::vector<float> ws;
    const std::string wdq = b.quant_weight("w", random_f32({16, 24}, rng), 1, true, &ws);
    b.node("MatMul", {xdq, wdq}, {"y"}, {}, "mm");
    std::string y = "y";
    if (mid) y = b.quant_act("y", 0.015f, variant == 0 ? 128 : 0, variant == 0 ? DType::kU8 : DType::kS8);
    b.g.initializers["bias"] = random_f32({24}, rng);
    b.node("Add", {"bias", y}, {"a"}, {}, "bias_add");
    std::string out = "a";
    if (variant == 2) {
      b.node("Relu", {"a"}, {"r"});
      out = "r";
    }
    if (q_out) out = b.quant_out(out, 0.02f, 100, DType::kU8);
    b.output(out);
    const std::vector<Tensor> in{random_f32({2, 7, 16}, rng)};
    Graph lowered;
    auto ref = run_reference(b.g, in);
    auto got = run_native(b.g, in, {}, &lowered);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(lowered.nodes.size(), 2u);  // the input's Q and the QGemm
    const Node& fused = lowered.nodes[1];
    EXPECT_EQ(fused.op_type, "QGemm");
    EXPECT_EQ(fused.name, "mm");
    EXPECT_EQ(fused.attr_string("bias_add", ""), "bias_add");
    EXPECT_EQ(fused.inputs.size(), mid ? 10u : 8u);
    EXPECT_EQ(got[0].shape(), (Shape{2, 7, 24}));
    if (q_out) {
      expect_q8_close(ref[0], got[0]);
    } else {
      // Without rounding in between, only accumulation order differs; with it, a product on a
      // tie may land one mid step away.
      expect_f32_close(ref[0], got[0], mid ? 0.016f : kF32OutputTol);
    }
  }
}

// ------------------------------------------------------------------ int8 MaxPool

TEST(NativeInt8PoolTest, MaxPoolOnInt8IsExact) {
  std::mt19937 rng(13);
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 3, 8, 8});
  const std::string xdq = b.quant_act("x", 0.01f, 100, DType::kU8);
  b.node("MaxPool", {xdq}, {"p"},
         {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})},
          {"pads", ints_attr({1, 1, 1, 1})}});
  // The same scale and zero point on both sides, as the builder shares them across MaxPool.
  b.g.initializers["p_scale"] = Tensor::scalar_f32(0.01f);
  b.g.initializers["p_zero_point"] = scalar_q(DType::kU8, 100);
  b.node("QuantizeLinear", {"p", "p_scale", "p_zero_point"}, {"p_q"});
  b.node("DequantizeLinear", {"p_q", "p_scale", "p_zero_point"}, {"p_dq"});
  b.output("p_dq");
  const std::vector<Tensor> in{random_f32({2, 3, 8, 8}, rng, -1.5f, 1.5f)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_native(b.g, in, {}, &lowered);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(count_ops(lowered, "DequantizeLinear"), 1);  // only the graph output's
  EXPECT_EQ(count_ops(lowered, "QuantizeLinear"), 1);    // only the input's
  ASSERT_EQ(ref[0].shape(), got[0].shape());
  for (int64_t i = 0; i < ref[0].numel(); ++i) {
    ASSERT_EQ(ref[0].data<float>()[i], got[0].data<float>()[i]) << i;
  }
}

// ------------------------------------------------------------------ QAdd

// Exactly the reference arithmetic (dequantize, f32 add, clamp, quantize), so exactly its bits.
void expect_identical(const Tensor& ref, const Tensor& got) {
  ASSERT_EQ(ref.dtype(), got.dtype());
  ASSERT_EQ(ref.shape(), got.shape());
  for (int64_t i = 0; i < ref.numel(); ++i) {
    if (ref.dtype() == DType::kF32) {
      ASSERT_EQ(ref.data<float>()[i], got.data<float>()[i]) << i;
    } else {
      ASSERT_EQ(ref.get_i64(i), got.get_i64(i)) << i;
    }
  }
}

TEST(NativeQAddTest, ResidualAddReluQuantizeMatchesReferenceExactly) {
  std::mt19937 rng(61);
  for (DType t : {DType::kU8, DType::kS8}) {
    SCOPED_TRACE(dtype_name(t));
    QdqBuilder b;
    b.input("a", DType::kF32, {2, 8, 5, 7});
    b.input("c", DType::kF32, {2, 8, 5, 7});
    const std::string adq = b.quant_act("a", 0.013f, t == DType::kU8 ? 120 : 3, t);
    const std::string cdq = b.quant_act("c", 0.021f, t == DType::kU8 ? 90 : -7, t);
    b.node("Add", {adq, cdq}, {"s"}, {}, "add");
    b.node("Relu", {"s"}, {"r"});
    b.output(b.quant_out("r", 0.017f, t == DType::kU8 ? 0 : -128, t));
    const std::vector<Tensor> in{random_f32({2, 8, 5, 7}, rng, -2.0f, 2.0f),
                                 random_f32({2, 8, 5, 7}, rng, -2.0f, 2.0f)};
    Graph lowered;
    auto ref = run_reference(b.g, in);
    auto got = run_native(b.g, in, {}, &lowered);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(count_ops(lowered, "QAdd"), 1);
    EXPECT_EQ(count_ops(lowered, "DequantizeLinear") + count_ops(lowered, "Relu"), 0);
    // The inputs' Qs run inside the QAdd: nothing else reads their 8-bit tensors.
    EXPECT_EQ(count_ops(lowered, "QuantizeLinear"), 0);
    expect_identical(ref[0], got[0]);
  }
}

// A Q whose 8-bit tensor has another reader stays, and the QAdd reads that tensor.
TEST(NativeQAddTest, SharedQuantizedInputIsStoredOnce) {
  std::mt19937 rng(63);
  QdqBuilder b;
  b.input("a", DType::kF32, {3, 10});
  b.input("c", DType::kF32, {3, 10});
  const std::string adq = b.quant_act("a", 0.013f, 120, DType::kU8);
  const std::string cdq = b.quant_act("c", 0.021f, -7, DType::kS8);
  b.node("Add", {adq, cdq}, {"s"}, {}, "add");
  b.output("s");
  b.output("a_q");
  const std::vector<Tensor> in{random_f32({3, 10}, rng, -2.0f, 2.0f),
                               random_f32({3, 10}, rng, -2.0f, 2.0f)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_native(b.g, in, {}, &lowered);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(count_ops(lowered, "QuantizeLinear"), 1);
  ASSERT_EQ(count_ops(lowered, "QAdd"), 1);
  for (const auto& n : lowered.nodes) {
    if (n.op_type == "QAdd") EXPECT_EQ(n.inputs[0], "a_q");
    if (n.op_type == "QAdd") EXPECT_EQ(n.inputs[3], "c");
  }
  expect_identical(ref[0], got[0]);
  expect_identical(ref[1], got[1]);
}

TEST(NativeQAddTest, BroadcastsLikeAdd) {
  std::mt19937 rng(62);
  struct Case {
    const char* name;
    Shape a, b;
    bool b_quantized;
  };
  const Case cases[] = {
      {"bias_row_f32", {2, 5, 12}, {12}, false},
      {"row_8bit_first_smaller", {1, 12}, {3, 4, 12}, true},
      {"scalar", {3, 4}, {}, true},
      {"position_table_f32", {4, 3, 5}, {1, 3, 5}, false},
      {"trailing_block_8bit", {2, 3, 5}, {3, 5}, true},
      {"inner_broadcast", {2, 3, 5}, {3, 1}, true},
      {"general_broadcast", {2, 3, 1}, {1, 4}, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    QdqBuilder b;
    b.input("a", DType::kF32, c.a);
    std::string bin = "bconst";
    if (c.b_quantized) {
      b.input("b", DType::kF32, c.b);
      bin = b.quant_act("b", 0.02f, 128, DType::kU8);
    } else {
      b.g.initializers["bconst"] = random_f32(c.b, rng);
    }
    b.node("Add", {b.quant_act("a", 0.01f, 100, DType::kU8), bin}, {"s"}, {}, "add");
    b.output("s");
    std::vector<Tensor> in{random_f32(c.a, rng)};
    if (c.b_quantized) in.push_back(random_f32(c.b, rng));
    Graph lowered;
    auto ref = run_reference(b.g, in);
    auto got = run_native(b.g, in, {}, &lowered);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(count_ops(lowered, "QAdd"), 1);
    expect_identical(ref[0], got[0]);
  }
}

// ------------------------------------------------------------------ chains

// conv -> relu -> Q -> DQ -> conv -> Q -> DQ -> pool -> Q -> DQ -> flatten -> gemm: the u8
// tensors flow between fused nodes without a round trip through f32.
Graph small_cnn(std::mt19937& rng, int64_t batch, int64_t width) {
  QdqBuilder b;
  const int64_t c1 = width, c2 = 2 * width;
  b.input("x", DType::kF32, {batch, 3, 32, 32});
  std::vector<float> ws;
  std::string t = b.quant_act("x", 0.01f, 128, DType::kU8);
  std::string w = b.quant_weight("w1", random_f32({c1, 3, 3, 3}, rng), 0, true, &ws);
  std::string bias = b.quant_bias("b1", random_f32({c1}, rng, -0.1f, 0.1f), 0.01f, ws);
  b.node("Conv", {t, w, bias}, {"c1"}, {{"pads", ints_attr({1, 1, 1, 1})}}, "conv1");
  b.node("Relu", {"c1"}, {"r1"});
  b.quant_out("r1", 0.02f, 0, DType::kU8);
  t = b.fresh("r1_dq");
  b.node("DequantizeLinear", {"r1_q", "r1_scale", "r1_zero_point"}, {t});
  w = b.quant_weight("w2", random_f32({c2, c1, 3, 3}, rng, -0.2f, 0.2f), 0, true, &ws);
  bias = b.quant_bias("b2", random_f32({c2}, rng, -0.1f, 0.1f), 0.02f, ws);
  b.node("Conv", {t, w, bias}, {"c2"},
         {{"pads", ints_attr({1, 1, 1, 1})}, {"strides", ints_attr({2, 2})}}, "conv2");
  b.node("Relu", {"c2"}, {"r2"});
  b.quant_out("r2", 0.03f, 0, DType::kU8);
  b.node("DequantizeLinear", {"r2_q", "r2_scale", "r2_zero_point"}, {"r2_dq"});
  b.node("MaxPool", {"r2_dq"}, {"p"},
         {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}});
  b.node("QuantizeLinear", {"p", "r2_scale", "r2_zero_point"}, {"p_q"});
  b.node("DequantizeLinear", {"p_q", "r2_scale", "r2_zero_point"}, {"p_dq"});
  b.g.initializers["flat_shape"] = Tensor::from_i64({2}, {batch, c2 * 8 * 8});
  b.node("Reshape", {"p_dq", "flat_shape"}, {"flat"});
  const std::string fq = b.quant_act("flat", 0.03f, 0, DType::kU8);
  w = b.quant_weight("w3", random_f32({10, c2 * 8 * 8}, rng, -0.05f, 0.05f), 0, true, &ws);
  bias = b.quant_bias("b3", random_f32({10}, rng), 0.03f, ws);
  b.node("Gemm", {fq, w, bias}, {"logits"}, {{"transB", int_attr(1)}}, "fc");
  b.output("logits");
  return b.g;
}

TEST(NativeChainTest, ConsecutiveFusedOpsKeep8BitTensors) {
  std::mt19937 rng(21);
  const Graph g = small_cnn(rng, 2, 8);
  const std::vector<Tensor> in{random_f32({2, 3, 32, 32}, rng)};
  Graph lowered;
  auto ref = run_reference(g, in);
  auto got = run_native(g, in, {}, &lowered);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(count_ops(lowered, "QConv"), 2);
  EXPECT_EQ(count_ops(lowered, "QGemm"), 1);
  EXPECT_EQ(count_ops(lowered, "MaxPool"), 1);
  // Left: the input's Q; the Reshape between its equal Q/DQ pairs moves the 8-bit tensor.
  EXPECT_EQ(count_ops(lowered, "QuantizeLinear"), 1);
  EXPECT_EQ(count_ops(lowered, "DequantizeLinear"), 0);
  EXPECT_EQ(count_ops(lowered, "Reshape"), 1);
  // The ties that differ upstream can move a logit by a few steps of the layers before it.
  expect_f32_close(ref[0], got[0], 0.05f);
}

// Not an assertion: prints how the lowered int8 model compares with fp32 in qtune's executor.
TEST(NativeChainTest, ReportsInt8VersusFp32Speed) {
  std::mt19937 rng(22);
  const Graph qdq = small_cnn(rng, 8, 32);
  // The fp32 model: the same graph with every Q/DQ pair on activations dropped and f32 weights.
  Graph fp32 = qdq;
  {
    std::map<std::string, std::string> alias;
    std::vector<Node> nodes;
    for (const Node& n : qdq.nodes) {
      if (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear") {
        const Tensor* c = qdq.initializer(n.inputs[0]);
        if (n.op_type == "DequantizeLinear" && c) {
          auto r = run_reference([&] {
            Graph one;
            one.nodes.push_back(n);
            one.outputs.push_back({n.outputs[0], DType::kUndefined, std::nullopt});
            for (const auto& in : n.inputs) one.initializers[in] = *qdq.initializer(in);
            return one;
          }(), {});
          fp32.initializers[n.outputs[0]] = r.at(0);
          continue;
        }
        const std::string src = alias.count(n.inputs[0]) ? alias[n.inputs[0]] : n.inputs[0];
        alias[n.outputs[0]] = src;
        continue;
      }
      Node m = n;
      for (auto& in : m.inputs) {
        if (alias.count(in)) in = alias[in];
      }
      nodes.push_back(m);
    }
    fp32.nodes = nodes;
  }
  const std::vector<Tensor> in{random_f32({8, 3, 32, 32}, rng)};
  auto f_exec = Executor::create(std::make_shared<const Graph>(fp32));
  auto q_exec = prepare_native(std::make_shared<const Graph>(qdq), {});
  ASSERT_TRUE(f_exec.ok()) << f_exec.status().message();
  ASSERT_TRUE(q_exec.ok()) << q_exec.status().message();
  // Interleaved and best-of: the machine is shared, so single timings are noise.
  double f_ms = 1e30, q_ms = 1e30;
  ASSERT_TRUE(f_exec->run(in).ok());
  ASSERT_TRUE(q_exec->run(in).ok());  // warm-up: packs the weights
  for (int rep = 0; rep < 15; ++rep) {
    for (int which = 0; which < 2; ++which) {
      const Executor& e = which == 0 ? f_exec.value() : q_exec.value();
      const auto t0 = std::chrono::steady_clock::now();
      const bool ok = e.run(in).ok();
      const auto t1 = std::chrono::steady_clock::now();
      EXPECT_TRUE(ok);
      double& best = which == 0 ? f_ms : q_ms;
      best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  std::printf("[ timing ] small CNN, batch 8: fp32 %.3f ms, int8 lowered %.3f ms (%.2fx)\n", f_ms,
              q_ms, f_ms / q_ms);
}

// ------------------------------------------------------------------ bf16

TEST(NativeBf16Test, Bf16OpsCloseToFp32) {
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
  const std::vector<Tensor> in{random_f32({2, 4, 10, 10}, rng), random_f32({3, 5, 33}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_native(b.g, in, {"conv", "fc", "mm"}, &lowered);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(count_ops(lowered, "Bf16Conv"), 1);
  EXPECT_EQ(count_ops(lowered, "Bf16Gemm"), 2);
  // The fused node produces "r" itself, graph output or not.
  EXPECT_EQ(count_ops(lowered, "Relu"), 0);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    expect_f32_close(ref[i], got[i], kBf16RelTol);
  }
}

TEST(NativeBf16Test, FusedReluAndBiasAgainstFp32) {
  std::mt19937 rng(32);
  QdqBuilder b;
  b.input("x", DType::kF32, {1, 3, 12, 12});
  b.g.initializers["w"] = random_f32({16, 3, 5, 5}, rng);
  b.g.initializers["bias"] = random_f32({16}, rng);
  b.node("Conv", {"x", "w", "bias"}, {"c"}, {{"strides", ints_attr({2, 2})}}, "conv");
  b.node("Relu", {"c"}, {"r"});
  b.output("r");
  const std::vector<Tensor> in{random_f32({1, 3, 12, 12}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_native(b.g, in, {"conv"}, &lowered);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(lowered.nodes.size(), 1u);
  EXPECT_EQ(lowered.nodes[0].op_type, "Bf16Conv");
  EXPECT_EQ(lowered.nodes[0].attr_string("activation", ""), "relu");
  expect_f32_close(ref[0], got[0], kBf16RelTol);
  for (float v : got[0].span<float>()) EXPECT_GE(v, 0.0f);
}

// ------------------------------------------------------------------ fp32

// An fp32 residual block: the native adaptor runs every Conv/Gemm/MatMul on its fp32 kernels,
// the residual Add and the Relus in their epilogues, and matches the reference ops.
TEST(NativeF32Test, ResidualBlockAndBiasAddMatchReference) {
  std::mt19937 rng(51);
  QdqBuilder b;
  b.input("x", DType::kF32, {3, 8, 9, 9});
  b.g.initializers["w1"] = random_f32({8, 8, 3, 3}, rng, -0.3f, 0.3f);
  b.g.initializers["b1"] = random_f32({8}, rng);
  b.g.initializers["w2"] = random_f32({8, 8, 3, 3}, rng, -0.3f, 0.3f);
  b.g.initializers["b2"] = random_f32({8}, rng);
  const auto pads = std::map<std::string, Attribute>{{"pads", ints_attr({1, 1, 1, 1})}};
  b.node("Conv", {"x", "w1", "b1"}, {"c1"}, pads, "conv1");
  b.node("Relu", {"c1"}, {"r1"});
  b.node("Conv", {"r1", "w2", "b2"}, {"c2"}, pads, "conv2");
  b.node("Add", {"x", "c2"}, {"s"});
  b.node("Relu", {"s"}, {"r2"});
  b.g.initializers["shape"] = Tensor::from_i64({3}, {3, 8, 81});
  b.node("Reshape", {"r2", "shape"}, {"seq"});
  b.g.initializers["wm"] = random_f32({81, 20}, rng, -0.2f, 0.2f);
  b.node("MatMul", {"seq", "wm"}, {"m"}, {}, "mm");
  b.g.initializers["bm"] = random_f32({20}, rng);
  b.node("Add", {"m", "bm"}, {"mb"});
  b.output("mb");
  const std::vector<Tensor> in{random_f32({3, 8, 9, 9}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_native(b.g, in, {}, &lowered);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(op_types_of(lowered),
            (std::vector<std::string>{"F32Conv", "F32Conv", "Reshape", "F32Gemm"}));
  EXPECT_EQ(lowered.nodes[1].inputs,
            (std::vector<std::string>{"r1", "w2", "b2", "x"}));  // the residual as its sum
  EXPECT_EQ(lowered.nodes[1].attr_string("activation", ""), "relu");
  EXPECT_EQ(lowered.nodes[3].inputs, (std::vector<std::string>{"seq", "wm", "bm"}));
  expect_f32_close(ref[0], got[0], kF32OutputTol);
}

// Two convolutions meeting in one Add (a residual with a downsampling branch): one takes the
// Add, the other stays a plain F32Conv, and the fused node runs after both.
TEST(NativeF32Test, AddOfTwoConvsFusesIntoOne) {
  std::mt19937 rng(52);
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 4, 8, 8});
  b.g.initializers["wa"] = random_f32({6, 4, 3, 3}, rng, -0.3f, 0.3f);
  b.g.initializers["wb"] = random_f32({6, 4, 1, 1}, rng);
  b.node("Conv", {"x", "wb"}, {"cb"}, {{"strides", ints_attr({2, 2})}}, "down");
  b.node("Conv", {"x", "wa"}, {"ca"}, {{"strides", ints_attr({2, 2})}, {"pads", ints_attr({1, 1, 1, 1})}},
         "main");
  b.node("Add", {"ca", "cb"}, {"s"});
  b.output("s");
  const std::vector<Tensor> in{random_f32({2, 4, 8, 8}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_native(b.g, in, {}, &lowered);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(count_ops(lowered, "F32Conv"), 2);
  EXPECT_EQ(count_ops(lowered, "Add"), 0);
  expect_f32_close(ref[0], got[0], kF32OutputTol);
}

// A sum that is not of the output's shape broadcasts as the Add did, larger result included.
TEST(NativeF32Test, ConvSumBroadcastsLikeAdd) {
  std::mt19937 rng(53);
  for (const Shape& other : {Shape{1, 5, 1, 1}, Shape{6}, Shape{2, 3, 5, 6, 6}}) {
    SCOPED_TRACE(shape_str(other));
    QdqBuilder b;
    b.input("x", DType::kF32, {3, 2, 6, 6});
    b.input("o", DType::kF32, other);
    b.g.initializers["w"] = random_f32({5, 2, 3, 3}, rng);
    b.node("Conv", {"x", "w"}, {"c"}, {{"pads", ints_attr({1, 1, 1, 1})}}, "conv");
    b.node("Add", {"c", "o"}, {"s"});
    b.node("Relu", {"s"}, {"r"});
    b.output("r");
    const std::vector<Tensor> in{random_f32({3, 2, 6, 6}, rng), random_f32(other, rng)};
    Graph lowered;
    auto ref = run_reference(b.g, in);
    auto got = run_native(b.g, in, {}, &lowered);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(op_types_of(lowered), (std::vector<std::string>{"F32Conv"}));
    expect_f32_close(ref[0], got[0], kF32OutputTol);
  }
}

// Conv [-> Relu] -> 2x2 stride-2 MaxPool becomes one F32Conv that pools in its epilogue (the
// single-channel conv on the pixel-lane kernel, the 6-channel one through the conv-then-pool
// fallback, odd sizes flooring as MaxPool does); a pool of another geometry, or one after a
// sum that broadcasts, stays or pools after the sum; every result matches the reference ops.
TEST(NativeF32Test, ConvMaxPoolFusesIntoTheConv) {
  std::mt19937 rng(54);
  QdqBuilder b;
  b.input("x", DType::kF32, {3, 1, 13, 15});
  b.input("o", DType::kF32, {1, 4, 1, 1});
  b.g.initializers["w1"] = random_f32({6, 1, 3, 3}, rng);
  b.g.initializers["b1"] = random_f32({6}, rng);
  b.g.initializers["w2"] = random_f32({4, 6, 3, 3}, rng, -0.3f, 0.3f);
  b.g.initializers["w3"] = random_f32({4, 4, 1, 1}, rng);
  const auto pool2 = std::map<std::string, Attribute>{{"kernel_shape", ints_attr({2, 2})},
                                                      {"strides", ints_attr({2, 2})}};
  b.node("Conv", {"x", "w1", "b1"}, {"c1"}, {}, "conv1");
  b.node("Relu", {"c1"}, {"r1"});
  b.node("MaxPool", {"r1"}, {"p1"}, pool2);
  b.node("Conv", {"p1", "w2"}, {"c2"}, {{"pads", ints_attr({1, 1, 1, 1})}}, "conv2");
  b.node("Add", {"c2", "o"}, {"s2"});
  b.node("MaxPool", {"s2"}, {"p2"}, pool2);
  b.node("Conv", {"p2", "w3"}, {"c3"}, {}, "conv3");
  b.node("MaxPool", {"c3"}, {"p3"}, {{"kernel_shape", ints_attr({2, 2})}});  // stride 1
  b.output("p3");
  const std::vector<Tensor> in{random_f32({3, 1, 13, 15}, rng), random_f32({1, 4, 1, 1}, rng)};
  Graph lowered;
  auto ref = run_reference(b.g, in);
  auto got = run_native(b.g, in, {}, &lowered);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(op_types_of(lowered),
            (std::vector<std::string>{"F32Conv", "F32Conv", "F32Conv", "MaxPool"}));
  EXPECT_EQ(lowered.nodes[0].attr_int("max_pool_2x2", 0), 1);
  EXPECT_EQ(lowered.nodes[0].attr_string("activation", ""), "relu");
  EXPECT_EQ(lowered.nodes[1].attr_int("max_pool_2x2", 0), 1);
  EXPECT_EQ(lowered.nodes[1].inputs.size(), 4u);  // the broadcast sum, then the pool
  EXPECT_EQ(lowered.nodes[2].attr_int("max_pool_2x2", 0), 0);
  ASSERT_EQ(ref[0].shape(), (Shape{3, 4, 1, 2}));
  expect_f32_close(ref[0], got[0], kF32OutputTol);
}

// A MaxPool that asks for more than a 2x2, stride-2 floor pool keeps its own node.
TEST(NativeF32Test, OtherMaxPoolsStayOnTheirOwn) {
  std::mt19937 rng(55);
  const std::vector<std::map<std::string, Attribute>> pools = {
      {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})},
       {"pads", ints_attr({0, 0, 1, 1})}},
      {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})},
       {"ceil_mode", int_attr(1)}},
      {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})},
       {"dilations", ints_attr({2, 2})}},
      {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}},
      {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})},
       {"auto_pad", str_attr("SAME_UPPER")}},
  };
  for (size_t i = 0; i < pools.size(); ++i) {
    SCOPED_TRACE(i);
    QdqBuilder b;
    b.input("x", DType::kF32, {2, 1, 11, 11});
    b.g.initializers["w"] = random_f32({4, 1, 3, 3}, rng);
    b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
    b.node("MaxPool", {"c"}, {"p"}, pools[i]);
    b.output("p");
    const std::vector<Tensor> in{random_f32({2, 1, 11, 11}, rng)};
    Graph lowered;
    auto ref = run_reference(b.g, in);
    auto got = run_native(b.g, in, {}, &lowered);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(op_types_of(lowered), (std::vector<std::string>{"F32Conv", "MaxPool"}));
    expect_f32_close(ref[0], got[0], kF32OutputTol);
  }
}

// ------------------------------------------------------------------ packing once

TEST(NativePackingTest, WeightsArePackedOncePerModel) {
  std::mt19937 rng(41);
  const Graph g = small_cnn(rng, 1, 4);
  auto exec = prepare_native(std::make_shared<const Graph>(g), {});
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  const std::vector<Tensor> in{random_f32({1, 3, 32, 32}, rng)};
  const uint64_t before = native_weight_pack_count();
  auto first = exec->run(in);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(native_weight_pack_count() - before, 3u);  // conv1, conv2, fc
  auto second = exec->run(in);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(native_weight_pack_count() - before, 3u);
  for (int64_t i = 0; i < first->at(0).numel(); ++i) {
    ASSERT_EQ(first->at(0).data<float>()[i], second->at(0).data<float>()[i]);
  }
}

// The op itself: with the same NodeCache and a constant weight it packs once; without a cache,
// or with a weight that is not a graph constant, it packs on every call.
TEST(NativePackingTest, CacheKeyedByConstantWeight) {
  const OpFn* fn = native_ops().find(kNativeDomain, kQGemmOp);
  ASSERT_NE(fn, nullptr);
  Node n;
  n.name = "fc";
  n.op_type = kQGemmOp;
  n.domain = kNativeDomain;
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
    OpContext ctx{n,  13, {&x, &w, &ws, nullptr, &xs, &xz, nullptr, nullptr}, {}, c,
                  {false, constant, true, false, true, true, false, false}};
    ctx.outputs.resize(1);
    Status s = (*fn)(ctx);
    EXPECT_TRUE(s.ok()) << s.message();
    return ctx.outputs[0];
  };
  uint64_t before = native_weight_pack_count();
  const Tensor y1 = call(&cache, true);
  const Tensor y2 = call(&cache, true);
  EXPECT_EQ(native_weight_pack_count() - before, 1u);
  before = native_weight_pack_count();
  call(&cache, false);
  call(nullptr, true);
  EXPECT_EQ(native_weight_pack_count() - before, 2u);
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

// ------------------------------------------------------------------ per-tensor Q/DQ

// native_ops() also carries vectorised per-tensor QuantizeLinear/DequantizeLinear: they must give
// the reference op's exact bits, and hand every other form to the reference op.
// Scales whose reciprocal is inexact, on values a few ulps around every half step: the fast
// path multiplies by the reciprocal and must still round exactly like the division.
TEST(NativeQdqTest, QuantizeNearTiesWithInexactReciprocalsMatchesReference) {
  const OpFn* fast_q = native_ops().find("", "QuantizeLinear");
  const OpFn* ref_q = KernelRegistry::instance().find("", "QuantizeLinear");
  ASSERT_TRUE(fast_q && ref_q);
  Node q;
  q.name = "q";
  q.op_type = "QuantizeLinear";
  std::mt19937 rng(52);
  for (float sv : {0.1f, 0.0137f, 3.3e-3f, 0.7f, 1.9e-5f, 12.3f}) {
    SCOPED_TRACE(sv);
    std::vector<float> v;
    for (int k = -140; k <= 140; ++k) {
      float t = (static_cast<float>(k) + 0.5f) * sv;
      for (int step = 0; step < 6; ++step) t = std::nextafter(t, -1e30f);
      for (int step = 0; step < 13; ++step, t = std::nextafter(t, 1e30f)) v.push_back(t);
    }
    std::uniform_real_distribution<float> d(-200.0f * sv, 200.0f * sv);
    for (int i = 0; i < 5001; ++i) v.push_back(d(rng));
    const Tensor x = Tensor::from_f32({static_cast<int64_t>(v.size())}, v);
    const Tensor scale = Tensor::scalar_f32(sv), z = scalar_q(DType::kU8, 128);
    auto run = [&](const OpFn* fn) {
      OpContext ctx{q, 13, {&x, &scale, &z}, {}, nullptr, {}};
      ctx.outputs.resize(1);
      EXPECT_TRUE((*fn)(ctx).ok());
      return ctx.outputs[0];
    };
    const Tensor want = run(ref_q), got = run(fast_q);
    for (int64_t i = 0; i < x.numel(); ++i) {
      ASSERT_EQ(want.data<uint8_t>()[i], got.data<uint8_t>()[i]) << "x = " << v[i];
    }
  }
}

TEST(NativeQdqTest, PerTensorQuantizeAndDequantizeMatchReferenceBitForBit) {
  const OpFn* fast_q = native_ops().find("", "QuantizeLinear");
  const OpFn* fast_dq = native_ops().find("", "DequantizeLinear");
  const OpFn* ref_q = KernelRegistry::instance().find("", "QuantizeLinear");
  const OpFn* ref_dq = KernelRegistry::instance().find("", "DequantizeLinear");
  ASSERT_TRUE(fast_q && fast_dq && ref_q && ref_dq);
  std::mt19937 rng(51);
  // Ties at every half step, saturation both ways, NaN/Inf, and a length with a ragged tail.
  std::vector<float> v;
  for (int i = -600; i <= 600; ++i) v.push_back(static_cast<float>(i) * 0.25f);
  for (float f : {1e9f, -1e9f, std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), std::nanf(""), 0.0f, -0.0f}) {
    v.push_back(f);
  }
  std::uniform_real_distribution<float> d(-40.0f, 40.0f);
  for (int i = 0; i < 40003; ++i) v.push_back(d(rng));
  const Tensor x = Tensor::from_f32({static_cast<int64_t>(v.size())}, v);
  auto run = [](const OpFn* fn, const Node& n, std::vector<const Tensor*> in) {
    OpContext ctx{n, 13, std::move(in), {}, nullptr, {}};
    ctx.outputs.resize(1);
    const Status s = (*fn)(ctx);
    EXPECT_TRUE(s.ok()) << s.message();
    return ctx.outputs[0];
  };
  Node q;
  q.name = "q";
  q.op_type = "QuantizeLinear";
  Node dq;
  dq.name = "dq";
  dq.op_type = "DequantizeLinear";
  for (DType t : {DType::kU8, DType::kS8}) {
    for (int32_t zp : {0, 3, t == DType::kU8 ? 255 : -128}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " zp " + std::to_string(zp));
      const Tensor scale = Tensor::scalar_f32(0.5f), z = scalar_q(t, zp);
      const Tensor want = run(ref_q, q, {&x, &scale, &z});
      const Tensor got = run(fast_q, q, {&x, &scale, &z});
      ASSERT_EQ(want.dtype(), got.dtype());
      ASSERT_EQ(0, std::memcmp(want.raw(), got.raw(), want.nbytes()));
      const Tensor back_want = run(ref_dq, dq, {&want, &scale, &z});
      const Tensor back_got = run(fast_dq, dq, {&want, &scale, &z});
      ASSERT_EQ(0, std::memcmp(back_want.raw(), back_got.raw(), back_want.nbytes()));
    }
  }
  // Without a zero point: u8, zero point 0.
  const Tensor scale = Tensor::scalar_f32(0.125f);
  const Tensor want = run(ref_q, q, {&x, &scale, nullptr});
  const Tensor got = run(fast_q, q, {&x, &scale, nullptr});
  ASSERT_EQ(got.dtype(), DType::kU8);
  ASSERT_EQ(0, std::memcmp(want.raw(), got.raw(), want.nbytes()));
  // Per-axis goes to the reference op (same result, and its errors).
  const Tensor x2 = random_f32({2, 3, 4}, rng, -2.0f, 2.0f);
  const Tensor axis_scale = Tensor::from_f32({3}, {0.01f, 0.02f, 0.03f});
  Tensor axis_zp(DType::kU8, {3});
  const Tensor pa_want = run(ref_q, q, {&x2, &axis_scale, &axis_zp});
  const Tensor pa_got = run(fast_q, q, {&x2, &axis_scale, &axis_zp});
  ASSERT_EQ(0, std::memcmp(pa_want.raw(), pa_got.raw(), pa_want.nbytes()));
  const Tensor short_zp(DType::kU8, {2});
  OpContext bad{q, 13, {&x2, &axis_scale, &short_zp}, {}, nullptr, {}};
  bad.outputs.resize(1);
  EXPECT_EQ((*fast_q)(bad).code(), StatusCode::kInvalidInput);
}

// ------------------------------------------------------------------ malformed inputs

struct BadCase {
  const char* what;       // expected in the message
  std::string op;
  std::vector<Tensor> inputs;  // empty Tensor: omitted
  std::map<std::string, Attribute> attrs;
};

Status run_fused(const BadCase& c) {
  auto g = std::make_shared<Graph>();
  Node n;
  n.name = "bad_node";
  n.op_type = c.op;
  n.domain = kNativeDomain;
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
  auto exec = Executor::create(g, &native_ops());
  if (!exec.ok()) return exec.status();
  return exec->run(feed).status();
}

TEST(NativeOpsTest, MalformedInputsAreInvalidInput) {
  const Tensor x(DType::kU8, {1, 2, 5, 5});
  const Tensor w(DType::kS8, {3, 2, 3, 3});
  const Tensor ws = Tensor::scalar_f32(0.1f), xs = Tensor::scalar_f32(0.1f);
  const Tensor xz = scalar_q(DType::kU8, 0), yz = scalar_q(DType::kU8, 0);
  const Tensor none;
  const Tensor xf(DType::kF32, {1, 2, 5, 5});
  auto u8_out = std::map<std::string, Attribute>{{"out_dtype", str_attr("u8")}};
  const std::vector<BadCase> cases = {
      {"x_q has type f32", kQConvOp, {xf, w, ws, none, xs, xz, xs, yz}, u8_out},
      {"w_q has type u8", kQConvOp, {x, Tensor(DType::kU8, {3, 2, 3, 3}), ws, none, xs, xz, xs, yz}, u8_out},
      {"w_scale must be f32 with 1 or 3", kQConvOp, {x, w, Tensor(DType::kF32, {2}), none, xs, xz, xs, yz}, u8_out},
      {"bias shape [4]", kQConvOp, {x, w, ws, Tensor(DType::kS32, {4}), xs, xz, xs, yz}, u8_out},
      {"bias has type s8", kQConvOp, {x, w, ws, Tensor(DType::kS8, {3}), xs, xz, xs, yz}, u8_out},
      {"x_zero_point must be a u8 scalar", kQConvOp, {x, w, ws, none, xs, scalar_q(DType::kS8, 0), xs, yz}, u8_out},
      {"x_scale must be an f32 scalar", kQConvOp, {x, w, ws, none, Tensor(DType::kF32, {2}), xz, xs, yz}, u8_out},
      {"channels do not fit group", kQConvOp, {x, Tensor(DType::kS8, {3, 4, 3, 3}), ws, none, xs, xz, xs, yz}, u8_out},
      {"does not match x", kQConvOp, {x, Tensor(DType::kS8, {3, 2, 3}), ws, none, xs, xz, xs, yz}, u8_out},
      {"kernel extent", kQConvOp, {x, Tensor(DType::kS8, {3, 2, 7, 7}), ws, none, xs, xz, xs, yz}, u8_out},
      {"needs y_scale", kQConvOp, {x, w, ws, none, xs, xz, none, yz}, u8_out},
      {"y_zero_point must be a u8 scalar", kQConvOp, {x, w, ws, none, xs, xz, xs, scalar_q(DType::kS8, 0)}, u8_out},
      {"unknown out_dtype", kQConvOp, {x, w, ws, none, xs, xz, xs, yz}, {{"out_dtype", str_attr("u16")}}},
      {"unknown activation", kQConvOp, {x, w, ws, none, xs, xz, xs, yz},
       {{"out_dtype", str_attr("u8")}, {"activation", str_attr("gelu")}}},
      {"clip bounds", kQConvOp, {x, w, ws, none, xs, xz, xs, yz},
       {{"out_dtype", str_attr("u8")}, {"activation", str_attr("clip")}, {"clip_min", float_attr(1.0f)},
        {"clip_max", float_attr(0.0f)}}},
      {"missing required input 'w_q'", kQConvOp, {x, none, ws, none, xs, xz, xs, yz}, u8_out},
      {"missing required input 'x_scale'", kQGemmOp, {Tensor(DType::kU8, {2, 4}), Tensor(DType::kS8, {4, 3}), ws}, {}},
      {"inner dimensions differ", kQGemmOp,
       {Tensor(DType::kU8, {2, 4}), Tensor(DType::kS8, {5, 3}), ws, none, xs, xz}, {}},
      {"is not 2-D", kQGemmOp,
       {Tensor(DType::kU8, {2, 4}), Tensor(DType::kS8, {4, 3, 1}), ws, none, xs, xz}, {}},
      {"x has type u8, expected f32", kBf16GemmOp,
       {Tensor(DType::kU8, {2, 4}), Tensor(DType::kF32, {4, 3})}, {}},
      {"bias has type s32, expected f32", kBf16ConvOp,
       {xf, Tensor(DType::kF32, {3, 2, 3, 3}), Tensor(DType::kS32, {3})}, {}},
      {"x has shape [1,2]", kBf16ConvOp, {Tensor(DType::kF32, {1, 2}), Tensor(DType::kF32, {3, 2})}, {}},
      {"a has type s32, expected u8, s8 or f32 with a_scale", kQAddOp,
       {Tensor(DType::kS32, {1, 2, 4, 4}), xs, none, x, xs, xz}, {}},
      {"a_zero_point has type s32, expected u8 or s8", kQAddOp,
       {xf, xs, scalar_q(DType::kS32, 0), x, xs, xz}, {}},
      {"b has type u8 and no scale, expected f32", kQAddOp, {x, xs, xz, x}, {}},
      {"b_zero_point must be a u8 scalar", kQAddOp, {x, xs, xz, x, xs, scalar_q(DType::kS8, 1)}, {}},
      {"a_zero_point given without a scale", kQAddOp, {xf, none, xz, xf}, {}},
      {"do not broadcast", kQAddOp, {x, xs, xz, Tensor(DType::kU8, {3, 5}), xs, xz}, {}},
      {"w has type s8, expected f32", kF32ConvOp, {xf, Tensor(DType::kS8, {3, 2, 3, 3})}, {}},
      {"x has shape [1,2]", kF32ConvOp, {Tensor(DType::kF32, {1, 2}), Tensor(DType::kF32, {3, 2})}, {}},
      {"bias shape [4]", kF32ConvOp, {xf, Tensor(DType::kF32, {3, 2, 3, 3}), Tensor(DType::kF32, {4})}, {}},
      {"sum has type u8, expected f32", kF32ConvOp,
       {xf, Tensor(DType::kF32, {3, 2, 3, 3}), none, Tensor(DType::kU8, {1, 3, 3, 3})}, {}},
      {"does not broadcast with the output", kF32ConvOp,
       {xf, Tensor(DType::kF32, {3, 2, 3, 3}), none, Tensor(DType::kF32, {2, 3, 3})}, {}},
      {"inner dimensions differ", kF32GemmOp, {Tensor(DType::kF32, {2, 4}), Tensor(DType::kF32, {5, 3})}, {}},
      {"x has type s32, expected f32", kF32GemmOp, {Tensor(DType::kS32, {2, 4}), Tensor(DType::kF32, {4, 3})}, {}},
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
