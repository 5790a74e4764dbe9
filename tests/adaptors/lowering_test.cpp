// QDQ pattern matching and the lowering rewrite (adaptors/lowering.h), on hand-built graphs.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "adaptors/lowering.h"
#include "adaptors/native/native_lowering.h"
#include "adaptors/native/native_ops.h"
#include "tests/adaptors/fused_op_test_util.h"

namespace qtune {
namespace {

using fused_op_test::int_attr;
using fused_op_test::ints_attr;
using fused_op_test::scalar_q;

// Graphs in the QDQ builder's convention, with fixed small weights (values do not matter here).
struct G {
  Graph g;
  Node& node(const std::string& name, const std::string& op, std::vector<std::string> in,
             std::vector<std::string> out, std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = std::move(attrs);
    g.nodes.push_back(std::move(n));
    return g.nodes.back();
  }
  // x -> Q -> DQ; returns the DQ output.
  std::string act(const std::string& x, DType t = DType::kU8, float scale = 0.1f, int32_t zp = 0) {
    g.initializers[x + "_scale"] = Tensor::scalar_f32(scale);
    g.initializers[x + "_zero_point"] = scalar_q(t, zp);
    node(x + "_Q", "QuantizeLinear", {x, x + "_scale", x + "_zero_point"}, {x + "_q"});
    node(x + "_DQ", "DequantizeLinear", {x + "_q", x + "_scale", x + "_zero_point"}, {x + "_dq"});
    return x + "_dq";
  }
  // s8 weight of `shape`, per channel on `axis` (channels = shape[axis]) with scale 0.5.
  std::string weight(const std::string& w, Shape shape, int64_t axis, bool per_channel = true,
                     int8_t zero_point = 0) {
    const int64_t c = per_channel ? shape[axis] : 1;
    g.initializers[w + "_quantized"] = Tensor(DType::kS8, shape);
    g.initializers[w + "_scale"] = per_channel ? Tensor::from_f32({c}, std::vector<float>(c, 0.5f))
                                               : Tensor::scalar_f32(0.5f);
    Tensor zp(DType::kS8, per_channel ? Shape{c} : Shape{});
    zp.data<int8_t>()[0] = zero_point;
    g.initializers[w + "_zero_point"] = zp;
    node(w + "_DQ", "DequantizeLinear", {w + "_quantized", w + "_scale", w + "_zero_point"},
         {w + "_dequantized"}, {{"axis", int_attr(axis)}});
    return w + "_dequantized";
  }
  std::string bias(const std::string& b, int64_t n, float scale) {
    g.initializers[b + "_quantized"] = Tensor(DType::kS32, {n});
    g.initializers[b + "_scale"] = Tensor::from_f32({n}, std::vector<float>(n, scale));
    g.initializers[b + "_zero_point"] = Tensor(DType::kS32, {n});
    node(b + "_DQ", "DequantizeLinear", {b + "_quantized", b + "_scale", b + "_zero_point"},
         {b + "_dequantized"}, {{"axis", int_attr(0)}});
    return b + "_dequantized";
  }
  std::string quant(const std::string& y, DType t = DType::kU8) {
    g.initializers[y + "_scale"] = Tensor::scalar_f32(0.2f);
    g.initializers[y + "_zero_point"] = scalar_q(t, 0);
    node(y + "_Q", "QuantizeLinear", {y, y + "_scale", y + "_zero_point"}, {y + "_q"});
    return y + "_q";
  }
  void input(const std::string& name, Shape s) { g.inputs.push_back({name, DType::kF32, s}); }
  void output(const std::string& name) {
    g.outputs.push_back({name, DType::kUndefined, std::nullopt});
  }
};

// x -> Q/DQ -> Conv(w, b) -> Relu -> Q -> DQ -> y
G conv_relu_q() {
  G b;
  b.input("x", {1, 2, 6, 6});
  const std::string x = b.act("x");
  const std::string w = b.weight("w", {4, 2, 3, 3}, 0);
  const std::string bias = b.bias("b", 4, 0.1f * 0.5f);
  b.node("conv", "Conv", {x, w, bias}, {"c"}, {{"pads", ints_attr({1, 1, 1, 1})}});
  b.node("relu", "Relu", {"c"}, {"r"});
  const std::string q = b.quant("r");
  b.node("out_DQ", "DequantizeLinear", {q, "r_scale", "r_zero_point"}, {"y"});
  b.output("y");
  return b;
}

std::vector<std::string> op_types(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& n : g.nodes) out.push_back(n.op_type);
  return out;
}

void expect_same_graph(const Graph& a, const Graph& b) {
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].name, b.nodes[i].name);
    EXPECT_EQ(a.nodes[i].op_type, b.nodes[i].op_type);
    EXPECT_EQ(a.nodes[i].domain, b.nodes[i].domain);
    EXPECT_EQ(a.nodes[i].inputs, b.nodes[i].inputs);
    EXPECT_EQ(a.nodes[i].outputs, b.nodes[i].outputs);
    EXPECT_EQ(a.nodes[i].attrs.size(), b.nodes[i].attrs.size());
  }
  EXPECT_EQ(a.initializers.size(), b.initializers.size());
  EXPECT_EQ(a.value_info.size(), b.value_info.size());
}

TEST(LoweringTest, FindsConvUnitWithEverythingFused) {
  const G b = conv_relu_q();
  auto units = find_quantized_units(b.g);
  ASSERT_EQ(units.size(), 1u);
  const QuantizedUnit& u = units[0];
  EXPECT_EQ(b.g.nodes[u.node].name, "conv");
  EXPECT_EQ(u.kind, UnitKind::kConv);
  EXPECT_EQ(u.x_q, "x_q");
  EXPECT_EQ(u.x_scale, "x_scale");
  EXPECT_EQ(u.x_zero_point, "x_zero_point");
  EXPECT_EQ(u.x_type, DType::kU8);
  EXPECT_FLOAT_EQ(u.x_scale_value, 0.1f);
  EXPECT_EQ(u.w_q, "w_quantized");
  EXPECT_EQ(u.w_scale, "w_scale");
  EXPECT_TRUE(u.w_per_channel);
  EXPECT_EQ(u.bias, "b_quantized");
  EXPECT_EQ(u.bias_type, DType::kS32);
  EXPECT_EQ(u.activation, FusedActivation::kRelu);
  EXPECT_EQ(u.output, "r_q");
  EXPECT_EQ(u.out_type, DType::kU8);
  EXPECT_EQ(u.y_scale, "r_scale");
  EXPECT_FLOAT_EQ(u.y_scale_value, 0.2f);
  EXPECT_EQ(u.fused.size(), 3u);  // conv, relu, Q
}

TEST(LoweringTest, RewritesUnitIntoOneFusedNode) {
  const G b = conv_relu_q();
  auto lowered = lower_qdq(b.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok()) << lowered.status().message();
  const Graph& g = lowered.value();
  // The input Q stays (the graph input is f32), the output DQ stays (the graph output is f32).
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"QuantizeLinear", "QConv", "DequantizeLinear"}));
  const Node& q = g.nodes[1];
  EXPECT_EQ(q.name, "conv");
  EXPECT_EQ(q.domain, kNativeDomain);
  EXPECT_EQ(q.inputs, (std::vector<std::string>{"x_q", "w_quantized", "w_scale", "b_quantized",
                                                "x_scale", "x_zero_point", "r_scale",
                                                "r_zero_point"}));
  EXPECT_EQ(q.outputs, (std::vector<std::string>{"r_q"}));
  EXPECT_EQ(q.attr_string("activation", ""), "relu");
  EXPECT_EQ(q.attr_string("out_dtype", ""), "u8");
  EXPECT_EQ(q.attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  // Initializers only the removed DQs read are gone; the ones the fused node reads stay.
  EXPECT_EQ(g.initializer("w_zero_point"), nullptr);
  EXPECT_EQ(g.initializer("b_scale"), nullptr);
  EXPECT_NE(g.initializer("w_quantized"), nullptr);
  EXPECT_NE(g.initializer("x_scale"), nullptr);
  // And the lowered graph runs.
  EXPECT_TRUE(Executor::create(std::make_shared<const Graph>(g), &native_ops()).ok());
}

TEST(LoweringTest, GraphsWithoutMatchesAreUnchanged) {
  // fp32 only.
  G f;
  f.input("x", {1, 2, 6, 6});
  f.g.initializers["w"] = Tensor(DType::kF32, {4, 2, 3, 3});
  f.node("conv", "Conv", {"x", "w"}, {"c"});
  f.node("relu", "Relu", {"c"}, {"r"});
  f.output("r");
  f.g.value_info["c"] = {"c", DType::kF32, Shape{1, 4, 4, 4}};
  LoweringTarget int8_only = native_lowering_target();
  int8_only.f32_conv = int8_only.f32_gemm = false;
  auto lowered = lower_qdq(f.g, int8_only, {});
  ASSERT_TRUE(lowered.ok());
  expect_same_graph(f.g, lowered.value());

  // QDQ patterns the kernels cannot take: a weight with a non-zero zero point, a per-channel
  // activation scale, a bias at the wrong scale, a weight that is not constant.
  G zp;
  zp.input("x", {1, 2, 6, 6});
  zp.node("conv", "Conv", {zp.act("x"), zp.weight("w", {4, 2, 3, 3}, 0, false, 3)}, {"c"});
  zp.output("c");
  EXPECT_TRUE(find_quantized_units(zp.g).empty());
  lowered = lower_qdq(zp.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  expect_same_graph(zp.g, lowered.value());

  G pc;
  pc.input("x", {1, 2, 6, 6});
  const std::string x = pc.act("x");
  pc.g.initializers["x_scale"] = Tensor::from_f32({2}, {0.1f, 0.2f});
  pc.node("conv", "Conv", {x, pc.weight("w", {4, 2, 3, 3}, 0)}, {"c"});
  pc.output("c");
  EXPECT_TRUE(find_quantized_units(pc.g).empty());

  G bs;
  bs.input("x", {1, 2, 6, 6});
  const std::string bx = bs.act("x");
  const std::string bw = bs.weight("w", {4, 2, 3, 3}, 0);
  bs.node("conv", "Conv", {bx, bw, bs.bias("b", 4, 0.3f)}, {"c"});
  bs.output("c");
  EXPECT_TRUE(find_quantized_units(bs.g).empty());

  G dyn;
  dyn.input("x", {1, 2, 6, 6});
  dyn.input("w", {4, 2, 3, 3});
  const std::string dx = dyn.act("x");
  const std::string dw = dyn.act("w", DType::kS8);
  dyn.node("conv", "Conv", {dx, dw}, {"c"});
  dyn.output("c");
  EXPECT_TRUE(find_quantized_units(dyn.g).empty());
  lowered = lower_qdq(dyn.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  expect_same_graph(dyn.g, lowered.value());
}

TEST(LoweringTest, TargetWithoutSupportLeavesUnits) {
  const G b = conv_relu_q();
  LoweringTarget t = native_lowering_target();
  t.conv = false;
  auto lowered = lower_qdq(b.g, t, {});
  ASSERT_TRUE(lowered.ok());
  expect_same_graph(b.g, lowered.value());
}

TEST(LoweringTest, SharedIntermediatesStopTheFusion) {
  // The Relu's output is also a graph output: the unit ends at the Relu (f32), the Q stays.
  G b = conv_relu_q();
  b.output("r");
  auto units = find_quantized_units(b.g);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].output, "r");
  EXPECT_EQ(units[0].out_type, DType::kF32);
  EXPECT_EQ(units[0].activation, FusedActivation::kRelu);
  auto lowered = lower_qdq(b.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()),
            (std::vector<std::string>{"QuantizeLinear", "QConv", "QuantizeLinear",
                                      "DequantizeLinear"}));

  // The conv output has two readers: nothing after the conv fuses.
  G two = conv_relu_q();
  two.node("sig", "Sigmoid", {"c"}, {"s"});
  two.output("s");
  units = find_quantized_units(two.g);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].output, "c");
  EXPECT_EQ(units[0].activation, FusedActivation::kNone);
  EXPECT_EQ(units[0].fused.size(), 1u);
}

TEST(LoweringTest, ChainedConvsPass8BitTensorsDirectly) {
  G b;
  b.input("x", {1, 2, 6, 6});
  b.node("conv1", "Conv", {b.act("x"), b.weight("w1", {4, 2, 1, 1}, 0)}, {"c1"});
  b.quant("c1");
  b.node("c1_DQ", "DequantizeLinear", {"c1_q", "c1_scale", "c1_zero_point"}, {"c1_dq"});
  // The next conv uses the same Q/DQ pair, as ONNX Runtime emits it.
  b.node("conv2", "Conv", {"c1_dq", b.weight("w2", {3, 4, 1, 1}, 0)}, {"c2"});
  b.node("clip", "Clip", {"c2", "lo", "hi"}, {"k"});
  b.g.initializers["lo"] = Tensor::scalar_f32(0.0f);
  b.g.initializers["hi"] = Tensor::scalar_f32(6.0f);
  b.output("k");
  auto lowered = lower_qdq(b.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  const Graph& g = lowered.value();
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"QuantizeLinear", "QConv", "QConv"}));
  EXPECT_EQ(g.nodes[1].outputs[0], "c1_q");
  EXPECT_EQ(g.nodes[2].inputs[0], "c1_q");
  EXPECT_EQ(g.nodes[2].outputs[0], "k");
  EXPECT_EQ(g.nodes[2].attr_string("activation", ""), "clip");
  EXPECT_FLOAT_EQ(g.nodes[2].attr_float("clip_max", 0.0f), 6.0f);
  EXPECT_EQ(g.nodes[2].attr_string("out_dtype", ""), "f32");
  EXPECT_EQ(g.nodes[2].inputs[6], "");
}

TEST(LoweringTest, GemmAndMatMulUnits) {
  G b;
  b.input("x", {3, 8});
  const std::string x = b.act("x", DType::kS8);
  b.node("fc", "Gemm", {x, b.weight("w", {5, 8}, 0), b.bias("b", 5, 0.05f)}, {"y"},
         {{"transB", int_attr(1)}});
  const std::string xs = b.act("y");
  b.node("mm", "MatMul", {xs, b.weight("v", {5, 6}, 1, false)}, {"z"});
  b.output(b.quant("z", DType::kS8));
  // A Gemm with alpha != 1 is left alone.
  b.input("x2", {3, 8});
  b.node("fc2", "Gemm", {b.act("x2"), b.weight("w2", {8, 4}, 1)}, {"y2"},
         {{"alpha", [] { Attribute a; a.kind = Attribute::Kind::kFloat; a.f = 2.0f; return a; }()}});
  b.output("y2");
  auto units = find_quantized_units(b.g);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].kind, UnitKind::kGemm);
  EXPECT_TRUE(units[0].trans_b);
  EXPECT_EQ(units[0].x_type, DType::kS8);
  EXPECT_EQ(units[0].out_type, DType::kU8);  // the MatMul's input Q fuses into the Gemm
  EXPECT_EQ(units[0].output, "y_q");
  EXPECT_EQ(units[1].x_q, "y_q");
  EXPECT_EQ(units[1].kind, UnitKind::kMatMul);
  EXPECT_FALSE(units[1].trans_b);
  EXPECT_FALSE(units[1].w_per_channel);
  EXPECT_EQ(units[1].out_type, DType::kS8);
  auto lowered = lower_qdq(b.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  int qgemm = 0, gemm = 0;
  for (const auto& n : lowered->nodes) {
    qgemm += n.op_type == kQGemmOp;
    gemm += n.op_type == "Gemm";
  }
  EXPECT_EQ(qgemm, 2);
  EXPECT_EQ(gemm, 1);
}

// x -> Q/DQ -> MatMul(w) -> Q -> DQ -> Add(f32 bias) -> Q: one unit ending at the last Q.
G matmul_bias_add(bool mid) {
  G b;
  b.input("x", {2, 3, 8});
  const std::string x = b.act("x");
  const std::string w = b.weight("w", {8, 4}, 1);
  b.node("mm", "MatMul", {x, w}, {"m"});
  const std::string m = mid ? b.act("m") : "m";
  b.g.initializers["bias"] = Tensor(DType::kF32, {4});
  b.node("add", "Add", {m, "bias"}, {"a"});
  b.output(b.quant("a"));
  return b;
}

TEST(LoweringTest, BiasAddAfterMatMulJoinsTheUnit) {
  for (bool mid : {true, false}) {
    SCOPED_TRACE(mid);
    const G b = matmul_bias_add(mid);
    auto units = find_quantized_units(b.g);
    ASSERT_EQ(units.size(), 1u);
    const QuantizedUnit& u = units[0];
    EXPECT_EQ(u.bias, "bias");
    EXPECT_EQ(u.bias_type, DType::kF32);
    EXPECT_EQ(u.bias_add, "add");
    EXPECT_EQ(u.mid_scale, mid ? "m_scale" : "");
    EXPECT_EQ(u.mid_type, mid ? DType::kU8 : DType::kUndefined);
    EXPECT_EQ(u.output, "a_q");
    EXPECT_EQ(u.fused.size(), mid ? 5u : 3u);  // MatMul, [Q, DQ,] Add, output Q

    auto lowered = lower_qdq(b.g, native_lowering_target(), {});
    ASSERT_TRUE(lowered.ok());
    EXPECT_EQ(op_types(*lowered), (std::vector<std::string>{"QuantizeLinear", "QGemm"}));
    const Node& q = lowered->nodes[1];
    EXPECT_EQ(q.name, "mm");
    EXPECT_EQ(q.attr_string("bias_add", ""), "add");
    EXPECT_EQ(q.inputs[3], "bias");
    ASSERT_EQ(q.inputs.size(), mid ? 10u : 8u);
    if (mid) EXPECT_EQ(q.inputs[8], "m_scale");

    // A target without the fusion keeps the Add apart (and the QGemm ends at the mid Q).
    LoweringTarget plain = native_lowering_target();
    plain.bias_add = false;
    auto apart = lower_qdq(b.g, plain, {});
    ASSERT_TRUE(apart.ok());
    EXPECT_EQ(apart->nodes[1].op_type, "QGemm");
    EXPECT_FALSE(apart->nodes[1].has_attr("bias_add"));
    EXPECT_EQ(apart->nodes[1].inputs.size(), 8u);
    // Rounding in between needs its own flag.
    plain.bias_add = true;
    plain.requant_bias_add = false;
    auto no_mid = lower_qdq(b.g, plain, {});
    ASSERT_TRUE(no_mid.ok());
    EXPECT_EQ(no_mid->nodes[1].has_attr("bias_add"), !mid);
  }
  // A bias that is not a constant of N values, or a product read twice, stays an Add.
  G wide = matmul_bias_add(true);
  wide.g.initializers["bias"] = Tensor(DType::kF32, {3, 4});
  EXPECT_TRUE(find_quantized_units(wide.g)[0].bias_add.empty());
  G shared = matmul_bias_add(false);
  shared.output("m");
  EXPECT_TRUE(find_quantized_units(shared.g)[0].bias_add.empty());
}

TEST(LoweringTest, Int8MaxPoolNeedsIdenticalQuantization) {
  auto make = [](float out_scale) {
    G b;
    b.input("x", {1, 2, 4, 4});
    b.node("pool", "MaxPool", {b.act("x")}, {"p"}, {{"kernel_shape", ints_attr({2, 2})}});
    b.g.initializers["p_scale"] = Tensor::scalar_f32(out_scale);
    b.g.initializers["p_zero_point"] = scalar_q(DType::kU8, 0);
    b.node("p_Q", "QuantizeLinear", {"p", "p_scale", "p_zero_point"}, {"p_q"});
    b.output("p_q");
    return b;
  };
  const G same = make(0.1f);
  auto pools = find_int8_pools(same.g);
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(pools[0].x_q, "x_q");
  EXPECT_EQ(pools[0].output, "p_q");
  auto lowered = lower_qdq(same.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()), (std::vector<std::string>{"QuantizeLinear", "MaxPool"}));
  EXPECT_EQ(lowered->nodes[1].inputs, (std::vector<std::string>{"x_q"}));
  EXPECT_EQ(lowered->nodes[1].attr_ints("kernel_shape"), (std::vector<int64_t>{2, 2}));

  const G other = make(0.2f);
  EXPECT_TRUE(find_int8_pools(other.g).empty());
  lowered = lower_qdq(other.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  expect_same_graph(other.g, lowered.value());

  // Before opset 12 MaxPool takes no 8-bit tensors: the pool stays in f32 between its Q/DQ.
  G old = make(0.1f);
  old.g.opset = 11;
  lowered = lower_qdq(old.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  expect_same_graph(old.g, lowered.value());
}

TEST(LoweringTest, DataMovementRunsOnInt8WithEqualQuantization) {
  auto make = [](float out_scale, const char* op) {
    G b;
    b.input("x", {1, 2, 4, 4});
    if (std::string(op) == "Transpose") {
      b.node("t", "Transpose", {b.act("x")}, {"p"}, {{"perm", ints_attr({0, 2, 3, 1})}});
    } else {
      b.g.initializers["shape"] = Tensor::from_i64({2}, {2, 16});
      b.node("t", "Reshape", {b.act("x"), "shape"}, {"p"});
    }
    b.g.initializers["p_scale"] = Tensor::scalar_f32(out_scale);
    b.g.initializers["p_zero_point"] = scalar_q(DType::kU8, 0);
    b.node("p_Q", "QuantizeLinear", {"p", "p_scale", "p_zero_point"}, {"p_q"});
    b.output("p_q");
    return b;
  };
  for (const char* op : {"Transpose", "Reshape"}) {
    // The Q's output is a graph output: the op writes it under that name.
    const G same = make(0.1f, op);
    auto lowered = lower_qdq(same.g, native_lowering_target(), {});
    ASSERT_TRUE(lowered.ok());
    EXPECT_EQ(op_types(lowered.value()), (std::vector<std::string>{"QuantizeLinear", op})) << op;
    EXPECT_EQ(lowered->nodes[1].inputs[0], "x_q");
    EXPECT_EQ(lowered->nodes[1].outputs[0], "p_q");
    EXPECT_EQ(lowered->find_value("p"), nullptr);  // the f32 name is gone

    // A requantization: the op runs on the 8-bit tensor, a table requantizes after it.
    const G other = make(0.2f, op);
    lowered = lower_qdq(other.g, native_lowering_target(), {});
    ASSERT_TRUE(lowered.ok());
    EXPECT_EQ(op_types(lowered.value()),
              (std::vector<std::string>{"QuantizeLinear", op, "QLut"})) << op;
    EXPECT_EQ(lowered->nodes[1].inputs[0], "x_q");
  }
  // Reshape takes 8-bit tensors from opset 5 on: below, the graph stays as it was.
  G old = make(0.1f, "Reshape");
  old.g.opset = 4;
  auto lowered = lower_qdq(old.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  expect_same_graph(old.g, lowered.value());
}

// Two graph outputs quantize the same op's output: only one name can be the op's, so the op
// stays in f32 between its DQ and the two Qs.
TEST(LoweringTest, DataMovementBeforeTwoGraphOutputQsStays) {
  G b;
  b.input("x", {1, 2, 4, 4});
  b.node("t", "Transpose", {b.act("x")}, {"p"}, {{"perm", ints_attr({0, 2, 3, 1})}});
  b.g.initializers["p_scale"] = Tensor::scalar_f32(0.1f);
  b.g.initializers["p_zero_point"] = scalar_q(DType::kU8, 0);
  b.node("p_Q", "QuantizeLinear", {"p", "p_scale", "p_zero_point"}, {"p_q"});
  b.node("p_Q2", "QuantizeLinear", {"p", "p_scale", "p_zero_point"}, {"p_q2"});
  b.output("p_q");
  b.output("p_q2");
  auto lowered = lower_qdq(b.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()),
            (std::vector<std::string>{"QuantizeLinear", "DequantizeLinear", "Transpose",
                                      "QuantizeLinear", "QuantizeLinear"}));
}

TEST(LoweringTest, Int8AddOnlyForTargetsThatRunIt) {
  G b;
  b.input("x", {2, 4});
  b.input("y", {2, 4});
  b.node("add", "Add", {b.act("x"), b.act("y", DType::kS8)}, {"s"});
  b.node("relu", "Relu", {"s"}, {"r"});
  b.output(b.quant("r"));
  auto adds = find_int8_adds(b.g);
  ASSERT_EQ(adds.size(), 1u);
  // Only the DQ reads each Q: the Add takes the f32 inputs and fake-quantizes them itself.
  EXPECT_EQ(adds[0].a.tensor, "x");
  EXPECT_TRUE(adds[0].a.fake_quant);
  EXPECT_TRUE(adds[0].b.quantized);
  EXPECT_EQ(adds[0].b.zero_point, "y_zero_point");
  EXPECT_EQ(adds[0].activation, FusedActivation::kRelu);
  EXPECT_EQ(adds[0].output, "r_q");
  EXPECT_EQ(adds[0].out_type, DType::kU8);

  LoweringTarget plain;  // int8_add is opt-in
  auto lowered = lower_qdq(b.g, plain, {});
  ASSERT_TRUE(lowered.ok());
  expect_same_graph(b.g, lowered.value());
  lowered = lower_qdq(b.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()), (std::vector<std::string>{"QAdd"}));
  EXPECT_EQ(lowered->nodes[0].inputs,
            (std::vector<std::string>{"x", "x_scale", "x_zero_point", "y", "y_scale",
                                      "y_zero_point", "r_scale", "r_zero_point"}));
  // With the 8-bit tensor read elsewhere too, the Q stays and the Add reads its output.
  b.output("x_q");
  adds = find_int8_adds(b.g);
  ASSERT_EQ(adds.size(), 1u);
  EXPECT_EQ(adds[0].a.tensor, "x_q");
  EXPECT_FALSE(adds[0].a.fake_quant);
  EXPECT_EQ(adds[0].b.tensor, "y");
  lowered = lower_qdq(b.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()), (std::vector<std::string>{"QuantizeLinear", "QAdd"}));

  // A Q that a QGemm ends with is its output: the Add reads the 8-bit tensor, not the f32 one.
  G mm;
  mm.input("x", {2, 8});
  mm.input("y", {2, 4});
  mm.node("mm", "MatMul", {mm.act("x"), mm.weight("w", {8, 4}, 1)}, {"m"});
  mm.node("add", "Add", {mm.act("m"), mm.act("y")}, {"s"});
  mm.output("s");
  lowered = lower_qdq(mm.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()),
            (std::vector<std::string>{"QuantizeLinear", "QGemm", "QAdd"}));
  EXPECT_EQ(lowered->nodes[2].inputs[0], "m_q");
  EXPECT_EQ(lowered->nodes[2].inputs[3], "y");

  // Nothing 8-bit to read: left alone.
  G f;
  f.input("x", {2, 4});
  f.g.initializers["c"] = Tensor(DType::kF32, {4});
  f.node("add", "Add", {"x", "c"}, {"s"});
  f.output("s");
  EXPECT_TRUE(find_int8_adds(f.g).empty());
}

TEST(LoweringTest, Bf16OpsByName) {
  G b;
  b.input("x", {2, 8});
  b.g.initializers["w"] = Tensor(DType::kF32, {8, 4});
  b.g.initializers["c"] = Tensor(DType::kF32, {4});
  b.node("fc", "Gemm", {"x", "w", "c"}, {"y"});
  b.node("relu", "Relu", {"y"}, {"r"});
  b.g.initializers["w2"] = Tensor(DType::kF32, {4, 3});
  b.node("mm", "MatMul", {"r", "w2"}, {"z"});
  b.g.initializers["full_c"] = Tensor(DType::kF32, {2, 3});
  b.node("fc_full", "Gemm", {"z", "w3", "full_c"}, {"v"});  // [M, N] C: stays fp32
  b.g.initializers["w3"] = Tensor(DType::kF32, {3, 3});
  b.output("v");
  auto lowered = lower_qdq(b.g, native_lowering_target(), {"fc", "fc_full", "not_a_node"});
  ASSERT_TRUE(lowered.ok());
  // The MatMul not named runs on the fp32 kernels; a Gemm with a full [M, N] C fuses nowhere.
  EXPECT_EQ(op_types(lowered.value()), (std::vector<std::string>{"Bf16Gemm", "F32Gemm", "Gemm"}));
  const Node& n = lowered->nodes[0];
  EXPECT_EQ(n.domain, kNativeDomain);
  EXPECT_EQ(n.inputs, (std::vector<std::string>{"x", "w", "c"}));
  EXPECT_EQ(n.outputs, (std::vector<std::string>{"r"}));
  EXPECT_EQ(n.attr_string("activation", ""), "relu");
  EXPECT_EQ(n.attr_int("trans_b", -1), 0);
}

// What stays fp32 becomes F32Conv/F32Gemm: a residual Add joins the conv as its sum input (the
// node then runs where the Add was), a constant [N] Add after a MatMul becomes its bias, and the
// Relu after either is fused.
TEST(LoweringTest, Fp32ResidualAndBiasAddsJoinTheirOp) {
  G f;
  f.input("x", {2, 4, 6, 6});
  f.g.initializers["w1"] = Tensor(DType::kF32, {4, 4, 3, 3});
  f.g.initializers["w2"] = Tensor(DType::kF32, {4, 4, 3, 3});
  f.node("conv1", "Conv", {"x", "w1"}, {"c1"}, {{"pads", ints_attr({1, 1, 1, 1})}});
  f.node("other", "Relu", {"x"}, {"rx"});  // the residual operand comes after conv1
  f.node("add", "Add", {"rx", "c1"}, {"s"});
  f.node("relu", "Relu", {"s"}, {"r"});
  f.node("flat", "Flatten", {"r"}, {"v"});
  f.g.initializers["wm"] = Tensor(DType::kF32, {144, 10});
  f.g.initializers["bm"] = Tensor(DType::kF32, {10});
  f.node("mm", "MatMul", {"v", "wm"}, {"m"});
  f.node("bias", "Add", {"m", "bm"}, {"y"});
  f.output("y");
  auto lowered = lower_qdq(f.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok()) << lowered.status().message();
  EXPECT_EQ(op_types(lowered.value()),
            (std::vector<std::string>{"Relu", "F32Conv", "Flatten", "F32Gemm"}));
  const Node& conv = lowered->nodes[1];
  EXPECT_EQ(conv.name, "conv1");
  EXPECT_EQ(conv.inputs, (std::vector<std::string>{"x", "w1", "", "rx"}));
  EXPECT_EQ(conv.outputs, (std::vector<std::string>{"r"}));
  EXPECT_EQ(conv.attr_string("activation", ""), "relu");
  const Node& gemm = lowered->nodes[3];
  EXPECT_EQ(gemm.inputs, (std::vector<std::string>{"v", "wm", "bm"}));
  EXPECT_EQ(gemm.outputs, (std::vector<std::string>{"y"}));

  // Not fused: an Add whose other operand is not a constant [N] (after a MatMul), an Add of the
  // conv's output with itself, and any Add where the target does not take a sum.
  G g;
  g.input("x", {2, 8});
  g.g.initializers["w"] = Tensor(DType::kF32, {8, 4});
  g.g.initializers["wide"] = Tensor(DType::kF32, {2, 4});
  g.node("mm", "MatMul", {"x", "w"}, {"m"});
  g.node("add", "Add", {"m", "wide"}, {"y"});
  g.output("y");
  lowered = lower_qdq(g.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()), (std::vector<std::string>{"F32Gemm", "Add"}));

  G twice;
  twice.input("x", {1, 2, 5, 5});
  twice.g.initializers["w"] = Tensor(DType::kF32, {2, 2, 1, 1});
  twice.node("conv", "Conv", {"x", "w"}, {"c"});
  twice.node("add", "Add", {"c", "c"}, {"y"});
  twice.output("y");
  lowered = lower_qdq(twice.g, native_lowering_target(), {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()), (std::vector<std::string>{"F32Conv", "Add"}));

  LoweringTarget no_sum = native_lowering_target();
  no_sum.f32_sum = false;
  lowered = lower_qdq(f.g, no_sum, {});
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(op_types(lowered.value()),
            (std::vector<std::string>{"F32Conv", "Relu", "Add", "Relu", "Flatten", "F32Gemm"}));
}

}  // namespace
}  // namespace qtune
