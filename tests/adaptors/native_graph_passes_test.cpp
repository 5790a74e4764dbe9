// The native adaptor's graph passes (fuse_conv_add, use_channels_last, fuse_layer_norm_and_gelu)
// and the ops they lean on
// (QLut, channels-last MaxPool, Transpose): the rewritten graph keeps channels-last tensors
// between int8 ops, transposes only at the boundaries with the rest, and computes the same bytes
// as the graph lower_qdq alone makes.
#include "adaptors/native/native_graph_passes.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "adaptors/adaptor.h"
#include "adaptors/capability.h"
#include "adaptors/fused_fp32_patterns.h"
#include "adaptors/lowering.h"
#include "adaptors/native/native_lowering.h"
#include "adaptors/native/native_ops.h"
#include "common/data_config.h"
#include "common/onnx_io.h"
#include "runtime/executor.h"
#include "tests/adaptors/fused_op_test_util.h"
#include "worker/quantizer.h"

namespace qtune {
namespace {

using namespace fused_op_test;

const std::string kSource = QTUNE_SOURCE_DIR;

// lower_qdq alone: NCHW QConvs, no fused Adds.
std::vector<Tensor> run_plain_lowering(const Graph& g, const std::vector<Tensor>& in) {
  auto lowered = lower_qdq(g, native_lowering_target(), {});
  EXPECT_TRUE(lowered.ok()) << lowered.status().message();
  if (!lowered.ok()) return {};
  return run_exec(Executor::create(std::make_shared<const Graph>(std::move(lowered).value()),
                                   &native_ops()),
                  in, nullptr);
}

std::vector<Tensor> run_native(const Graph& g, const std::vector<Tensor>& in, Graph* lowered) {
  return run_exec(prepare_native(std::make_shared<const Graph>(g), {}), in, lowered);
}

// Runs g on the native adaptor (its lowered graph into *lowered) and on the reference ops: one
// f32 output each, within 1e-5 of each other.
void expect_native_matches_reference_f32(const Graph& g, const std::vector<Tensor>& in,
                                         Graph* lowered) {
  const auto got = run_native(g, in, lowered);
  ASSERT_EQ(got.size(), 1u);
  expect_f32_close(run_reference(g, in)[0], got[0], 1e-5f);
}

void expect_same_bytes(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].dtype(), b[i].dtype());
    ASSERT_EQ(a[i].shape(), b[i].shape());
    EXPECT_EQ(std::memcmp(a[i].raw(), b[i].raw(), a[i].nbytes()), 0) << "output " << i;
  }
}

// The int8 ops that may run channels-last.
bool channels_last_op(const Node& n) {
  if (n.domain != kNativeDomain) return false;
  return n.op_type == kQConvOp || n.op_type == kQAddOp || n.op_type == kQLutOp ||
         n.op_type == kMaxPoolNhwcOp;
}

// Every Transpose either reads what a non-int8 op (or the graph) made or feeds only non-int8 ops.
void expect_no_transpose_between_int8_ops(const Graph& g) {
  std::map<std::string, const Node*> producer;
  std::map<std::string, std::vector<const Node*>> readers;
  for (const Node& n : g.nodes) {
    for (const auto& o : n.outputs) producer[o] = &n;
    for (const auto& in : n.inputs) readers[in].push_back(&n);
  }
  for (const Node& n : g.nodes) {
    if (n.op_type != "Transpose") continue;
    auto p = producer.find(n.inputs[0]);
    const bool from_int8 = p != producer.end() && channels_last_op(*p->second);
    bool to_int8 = false;
    for (const Node* r : readers[n.outputs[0]]) to_int8 = to_int8 || channels_last_op(*r);
    EXPECT_FALSE(from_int8 && to_int8) << n.describe() << " sits between two int8 ops";
  }
}

// ------------------------------------------------------- LayerNorm and GELU decompositions

Tensor f32_scalar(float v) { return Tensor::from_f32({}, {v}); }

// x [2, 5, 24] -> LayerNorm over the last `axes` dims as exported before opset 17 (with the
// Pow or the Mul square, with or without Scale and B) -> exact GELU in one of its two orders
// -> out; eps and the GELU constants as initializers.
Graph decomposed_block(std::mt19937& rng, bool pow_square, bool affine, bool half_first,
                       int axes) {
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 5, 24});
  std::vector<int64_t> ax = axes == 1 ? std::vector<int64_t>{-1} : std::vector<int64_t>{-2, -1};
  b.node("ReduceMean", {"x"}, {"mean"}, {{"axes", ints_attr(ax)}});
  b.node("Sub", {"x", "mean"}, {"centred"});
  if (pow_square) {
    b.g.initializers["two"] = f32_scalar(2.0f);
    b.node("Pow", {"centred", "two"}, {"sq"});
  } else {
    b.node("Mul", {"centred", "centred"}, {"sq"});
  }
  b.node("ReduceMean", {"sq"}, {"var"}, {{"axes", ints_attr(ax)}});
  b.g.initializers["eps"] = f32_scalar(1e-5f);
  b.node("Add", {"var", "eps"}, {"var_eps"});
  b.node("Sqrt", {"var_eps"}, {"dev"});
  b.node("Div", {"centred", "dev"}, {"normed"});
  std::string y = "normed";
  if (affine) {
    b.g.initializers["gamma"] = random_f32({24}, rng, 0.5f, 1.5f);
    b.g.initializers["beta"] = random_f32({24}, rng);
    b.node("Mul", {y, "gamma"}, {"scaled"});
    b.node("Add", {"beta", "scaled"}, {"ln"});
    y = "ln";
  }
  b.g.initializers["sqrt2"] = f32_scalar(1.4142135f);
  b.g.initializers["one"] = f32_scalar(1.0f);
  b.g.initializers["half"] = f32_scalar(0.5f);
  b.node("Div", {y, "sqrt2"}, {"g_div"});
  b.node("Erf", {"g_div"}, {"g_erf"});
  b.node("Add", {"g_erf", "one"}, {"g_add"});
  if (half_first) {
    b.node("Mul", {y, "half"}, {"g_half"});
    b.node("Mul", {"g_half", "g_add"}, {"out"});
  } else {
    b.node("Mul", {y, "g_add"}, {"g_mul"});
    b.node("Mul", {"g_mul", "half"}, {"out"});
  }
  b.output("out");
  return b.g;
}

TEST(NativeGraphPassesTest, LayerNormAndGeluDecompositionsFuseAndAgree) {
  for (int variant = 0; variant < 8; ++variant) {
    SCOPED_TRACE(variant);
    std::mt19937 rng(11 + variant);
    const Graph g = decomposed_block(rng, variant & 1, variant & 2, variant & 4, variant < 4 ? 1 : 2);
    const std::vector<Tensor> in{random_f32({2, 5, 24}, rng, -3.0f, 3.0f)};
    Graph lowered;
    ASSERT_NO_FATAL_FAILURE(expect_native_matches_reference_f32(g, in, &lowered));
    EXPECT_EQ(count_ops(lowered, kLayerNormOp, kNativeDomain), 1);
    EXPECT_EQ(count_ops(lowered, kGeluOp, kNativeDomain), 1);
    EXPECT_EQ(lowered.nodes.size(), 2u);
  }
}

// GELU's tanh form as torch exports it (0.5 * x first) and as the opset-20 Gelu lowers to
// (x * (tanh + 1), then * 0.5): one fused Gelu with approximate = tanh each.
TEST(NativeGraphPassesTest, TanhGeluDecompositionsFuseAndAgree) {
  for (bool half_first : {true, false}) {
    SCOPED_TRACE(half_first);
    std::mt19937 rng(21);
    QdqBuilder b;
    b.input("x", DType::kF32, {3, 7, 20});
    b.g.initializers["three"] = f32_scalar(3.0f);
    b.g.initializers["k3"] = f32_scalar(0.044715f);
    b.g.initializers["k"] = f32_scalar(0.7978845608f);
    b.g.initializers["one"] = f32_scalar(1.0f);
    b.g.initializers["half"] = f32_scalar(0.5f);
    if (half_first) b.node("Mul", {"half", "x"}, {"h"});
    b.node("Pow", {"x", "three"}, {"cube"});
    b.node("Mul", {"k3", "cube"}, {"cubic"});
    b.node("Add", {"x", "cubic"}, {"sum"});
    b.node("Mul", {"k", "sum"}, {"arg"});
    b.node("Tanh", {"arg"}, {"t"});
    b.node("Add", {"one", "t"}, {"u"});
    if (half_first) {
      b.node("Mul", {"h", "u"}, {"out"});
    } else {
      b.node("Mul", {"x", "u"}, {"xu"});
      b.node("Mul", {"xu", "half"}, {"out"});
    }
    b.output("out");
    const std::vector<Tensor> in{random_f32({3, 7, 20}, rng, -5.0f, 5.0f)};
    Graph lowered;
    ASSERT_NO_FATAL_FAILURE(expect_native_matches_reference_f32(b.g, in, &lowered));
    ASSERT_EQ(lowered.nodes.size(), 1u);
    EXPECT_EQ(lowered.nodes[0].op_type, kGeluOp);
    EXPECT_EQ(lowered.nodes[0].attr_string("approximate", ""), "tanh");
  }
}

// Where inference cannot tell x's shape (dynamic dims behind an Expand, say), axes counted from
// the end still fuse; positive ones need the rank.
TEST(NativeGraphPassesTest, LayerNormOfUnknownShapeFusesOnNegativeAxes) {
  std::mt19937 rng(17);
  Graph g = decomposed_block(rng, true, true, false, 2);
  g.inputs[0].shape = std::nullopt;
  const std::vector<Tensor> in{random_f32({2, 5, 24}, rng, -3.0f, 3.0f)};
  Graph lowered;
  ASSERT_NO_FATAL_FAILURE(expect_native_matches_reference_f32(g, in, &lowered));
  EXPECT_EQ(count_ops(lowered, kLayerNormOp, kNativeDomain), 1);
  for (const Node& n : lowered.nodes) {
    if (n.op_type == kLayerNormOp) EXPECT_EQ(n.attr_int("axis", 0), -2);
  }
  for (Node& n : g.nodes) {
    if (n.op_type == "ReduceMean") n.attrs["axes"] = ints_attr({1, 2});
  }
  run_native(g, in, &lowered);
  EXPECT_EQ(count_ops(lowered, kLayerNormOp, kNativeDomain), 0);
}

// An intermediate someone else reads (here the mean, also a graph output) keeps the chain as it
// is; a Mul by a tensor that varies along an unnormalised dim stays a Mul after the LayerNorm.
TEST(NativeGraphPassesTest, LayerNormChainWithOutsideReadersStays) {
  std::mt19937 rng(7);
  Graph g = decomposed_block(rng, true, false, false, 1);
  g.outputs.push_back({"mean", DType::kUndefined, std::nullopt});
  const std::vector<Tensor> in{random_f32({2, 5, 24}, rng, -3.0f, 3.0f)};
  Graph lowered;
  const auto got = run_native(g, in, &lowered);
  const auto want = run_reference(g, in);
  ASSERT_EQ(got.size(), 2u);
  expect_f32_close(want[0], got[0], 1e-5f);
  EXPECT_EQ(count_ops(lowered, kLayerNormOp, kNativeDomain), 0);
  EXPECT_EQ(count_ops(lowered, kGeluOp, kNativeDomain), 1);

  Graph h = decomposed_block(rng, true, true, false, 1);
  h.initializers["gamma"] = random_f32({5, 1}, rng, 0.5f, 1.5f);  // per row, not per column
  ASSERT_NO_FATAL_FAILURE(expect_native_matches_reference_f32(h, in, &lowered));
  EXPECT_EQ(count_ops(lowered, kLayerNormOp, kNativeDomain), 1);
  EXPECT_EQ(count_ops(lowered, "Mul"), 1);
  EXPECT_EQ(count_ops(lowered, "Add"), 1);
}

// A standard LayerNormalization (opset 17) over the last two dims runs on the same kernel, Scale
// and B broadcast over the normalised dims.
TEST(NativeGraphPassesTest, StandardLayerNormalizationRunsFused) {
  std::mt19937 rng(9);
  QdqBuilder b;
  b.g.opset = 17;
  b.input("x", DType::kF32, {3, 4, 10});
  b.g.initializers["scale"] = random_f32({1, 10}, rng, 0.5f, 1.5f);
  b.g.initializers["bias"] = random_f32({10}, rng);
  b.node("LayerNormalization", {"x", "scale", "bias"}, {"out"},
         {{"axis", int_attr(-2)}, {"epsilon", float_attr(1e-3f)}});
  b.output("out");
  const std::vector<Tensor> in{random_f32({3, 4, 10}, rng, -2.0f, 2.0f)};
  Graph lowered;
  ASSERT_NO_FATAL_FAILURE(expect_native_matches_reference_f32(b.g, in, &lowered));
  EXPECT_EQ(count_ops(lowered, kLayerNormOp, kNativeDomain), 1);
}

// ------------------------------------------------------------------ a residual block

// x -> Q/DQ -> Conv+Relu -> Q -> DQ -> Conv -> Q -> DQ -> Add(with the first conv's DQ) -> Q ->
// DQ -> Relu -> Q -> DQ -> MaxPool -> Q -> DQ -> Flatten -> out: the int8 chain of a ResNet block
// between an f32 input and an f32 reader.
Graph residual_block(std::mt19937& rng, DType act) {
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 8, 9, 10});
  const int32_t zp = act == DType::kU8 ? 128 : 0;
  std::string cur = b.quant_act("x", 0.02f, zp, act);
  std::vector<float> ws;
  auto conv = [&](const std::string& in, float in_scale, const std::string& name, bool relu) {
    const std::string w = b.quant_weight(name + "_w", random_f32({8, 8, 3, 3}, rng, -0.3f, 0.3f), 0,
                                         true, &ws);
    const std::string bias = b.quant_bias(name + "_b", random_f32({8}, rng), in_scale, ws);
    b.node("Conv", {in, w, bias}, {name + "_y"},
           {{"pads", ints_attr({1, 1, 1, 1})}, {"kernel_shape", ints_attr({3, 3})}}, name);
    std::string y = name + "_y";
    if (relu) {
      b.node("Relu", {y}, {name + "_relu"});
      y = name + "_relu";
    }
    return b.quant_act(y, 0.05f, act == DType::kU8 ? 10 : -3, act);
  };
  const std::string c1 = conv(cur, 0.02f, "c1", true);
  const std::string c2 = conv(c1, 0.05f, "c2", false);
  b.node("Add", {c2, c1}, {"sum"});
  cur = b.quant_act("sum", 0.07f, act == DType::kU8 ? 90 : 2, act);
  b.node("Relu", {cur}, {"relu"});
  cur = b.quant_act("relu", 0.04f, act == DType::kU8 ? 0 : -128, act);
  b.node("MaxPool", {cur}, {"pool"},
         {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}});
  cur = b.quant_act("pool", 0.04f, act == DType::kU8 ? 0 : -128, act);
  b.node("Flatten", {cur}, {"out"});
  b.output("out");
  return b.g;
}

TEST(NativeGraphPassesTest, ResidualBlockStaysChannelsLastWithTheSameBytes) {
  for (DType act : {DType::kU8, DType::kS8}) {
    std::mt19937 rng(3);
    const Graph g = residual_block(rng, act);
    const std::vector<Tensor> in{random_f32({2, 8, 9, 10}, rng, -1.0f, 1.0f)};
    Graph lowered;
    const auto got = run_native(g, in, &lowered);
    expect_same_bytes(run_plain_lowering(g, in), got);
    expect_close(run_reference(g, in)[0], got[0]);
    EXPECT_EQ(count_ops(lowered, kQConvOp, kNativeDomain), 2);
    EXPECT_EQ(count_ops(lowered, kQAddOp, kNativeDomain), 0);  // fused into the second QConv
    EXPECT_EQ(count_ops(lowered, kQLutOp, kNativeDomain), 1);
    EXPECT_EQ(count_ops(lowered, kMaxPoolNhwcOp, kNativeDomain), 1);
    // One Transpose into the int8 chain (after the input's Q), one out of it (before the DQ).
    EXPECT_EQ(count_ops(lowered, "Transpose"), 2);
    int sums = 0;
    for (const Node& n : lowered.nodes) {
      if (n.op_type != kQConvOp) continue;
      EXPECT_EQ(n.attr_int("channels_last", 0), 1) << n.describe();
      sums += n.inputs.size() > 8 && !n.inputs[8].empty();
    }
    EXPECT_EQ(sums, 1);
    expect_no_transpose_between_int8_ops(lowered);
  }
}

// A QConv feeding both a channels-last op and a channels-first reader (and the graph output)
// is transposed back once; a 1-D QConv stays channels-first.
TEST(NativeGraphPassesTest, MixedReadersGetOneTransposeBack) {
  std::mt19937 rng(5);
  QdqBuilder b;
  b.input("x", DType::kF32, {1, 4, 6, 6});
  const std::string x = b.quant_act("x", 0.02f, 128, DType::kU8);
  std::vector<float> ws;
  const std::string w = b.quant_weight("w", random_f32({4, 4, 1, 1}, rng), 0, false, &ws);
  b.node("Conv", {x, w}, {"c"}, {}, "conv");
  const std::string c = b.quant_act("c", 0.05f, 128, DType::kU8);
  b.node("Relu", {c}, {"r"});
  const std::string r = b.quant_act("r", 0.05f, 0, DType::kU8);
  // An f32 reader of the conv's output, through a DequantizeLinear of its own.
  b.node("DequantizeLinear", {"c_q", "c_scale", "c_zero_point"}, {"c_dq2"});
  b.node("Sigmoid", {"c_dq2"}, {"s"});
  b.output(r);
  b.output("s");
  const Graph g = b.g;
  const std::vector<Tensor> in{random_f32({1, 4, 6, 6}, rng)};
  Graph lowered;
  const auto got = run_native(g, in, &lowered);
  expect_same_bytes(run_plain_lowering(g, in), got);
  int to_first = 0;
  for (const Node& n : lowered.nodes) {
    if (n.op_type == "Transpose" && n.attr_ints("perm") == std::vector<int64_t>{0, 3, 1, 2}) ++to_first;
  }
  EXPECT_EQ(to_first, 2);  // the conv's output (DQ -> Sigmoid) and the LUT's (graph output)
  expect_no_transpose_between_int8_ops(lowered);
}

// ------------------------------------------------------------------ QLut

TEST(NativeGraphPassesTest, LookupTablesEqualTheReferenceOps) {
  for (const char* op : {"Sigmoid", "Relu", "Clip", "LeakyRelu", "Elu", "Tanh"}) {
    for (DType t : {DType::kU8, DType::kS8}) {
      std::mt19937 rng(9);
      QdqBuilder b;
      b.input("x", DType::kF32, {3, 70});
      const std::string x = b.quant_act("x", 0.03f, t == DType::kU8 ? 120 : -7, t);
      std::vector<std::string> in{x};
      if (std::string(op) == "Clip") {
        b.g.initializers["lo"] = Tensor::scalar_f32(-0.5f);
        b.g.initializers["hi"] = Tensor::scalar_f32(1.25f);
        in = {x, "lo", "hi"};
      }
      b.node(op, in, {"y"});
      b.output(b.quant_act("y", 0.011f, t == DType::kU8 ? 40 : 5, t));
      const std::vector<Tensor> input{random_f32({3, 70}, rng, -4.0f, 4.0f)};
      Graph lowered;
      const auto got = run_native(b.g, input, &lowered);
      EXPECT_EQ(count_ops(lowered, kQLutOp, kNativeDomain), 1) << op;
      expect_same_bytes(run_reference(b.g, input), got);
    }
  }
}

// Reshape/Transpose and Concat between QDQ run on the 8-bit tensors: a Concat input with other
// parameters than the Concat's Q is requantized by a table, so is a Q of other parameters after
// data movement, and Shape reads the 8-bit tensor; the bytes stay those of the reference ops.
TEST(NativeGraphPassesTest, DataMovementAndConcatRunOnInt8WithTheSameBytes) {
  for (DType t : {DType::kU8, DType::kS8}) {
    const int32_t zp = t == DType::kU8 ? 128 : 3;
    std::mt19937 rng(4);
    QdqBuilder b;
    b.input("a", DType::kF32, {2, 4, 3, 5});
    b.input("b", DType::kF32, {2, 6, 3, 5});
    const std::string a = b.quant_act("a", 0.04f, zp, t);      // the Concat's own parameters
    const std::string bb = b.quant_act("b", 0.05f, zp - 9, t);  // requantized first
    b.node("Concat", {a, bb}, {"c"}, {{"axis", int_attr(1)}});
    b.node("Shape", {"c"}, {"c_shape"});
    const std::string c = b.quant_act("c", 0.04f, zp, t);
    b.g.initializers["shape"] = Tensor::from_i64({4}, {2, 2, 5, 15});
    b.node("Reshape", {c, "shape"}, {"r"});
    b.node("Transpose", {"r"}, {"tr"}, {{"perm", ints_attr({0, 2, 1, 3})}});
    b.output(b.quant_act("tr", 0.06f, zp + 2, t));  // a requantization after the Transpose
    b.output("c_shape");
    // What an exporter declares of the intermediates stays true of the 8-bit tensors.
    b.g.value_info["c"] = {"c", DType::kF32, Shape{2, 10, 3, 5}};
    b.g.value_info["r"] = {"r", DType::kF32, Shape{2, 2, 5, 15}};
    const std::vector<Tensor> input{random_f32({2, 4, 3, 5}, rng, -5.0f, 5.0f),
                                    random_f32({2, 6, 3, 5}, rng, -6.0f, 6.0f)};
    Graph lowered;
    const auto got = run_native(b.g, input, &lowered);
    EXPECT_EQ(count_ops(lowered, "QuantizeLinear"), 2);    // the inputs'
    EXPECT_EQ(count_ops(lowered, "DequantizeLinear"), 1);  // the output's
    EXPECT_EQ(count_ops(lowered, kQLutOp, kNativeDomain), 2);
    for (const char* name : {"c", "r"}) {
      const ValueInfo* vi = lowered.find_value(name);
      if (vi) EXPECT_EQ(vi->dtype, t) << name;
    }
    expect_same_bytes(run_reference(b.g, input), got);
  }
}

// A reader that needs f32 keeps the op in f32 between its DQ and Q.
TEST(NativeGraphPassesTest, DataMovementWithAnF32ReaderStays) {
  std::mt19937 rng(5);
  QdqBuilder b;
  b.input("x", DType::kF32, {2, 3, 4});
  b.node("Transpose", {b.quant_act("x", 0.03f, 128, DType::kU8)}, {"t"},
         {{"perm", ints_attr({0, 2, 1})}});
  b.node("Relu", {"t"}, {"relu"});
  b.output("relu");
  b.output(b.quant_act("t", 0.03f, 128, DType::kU8));
  const std::vector<Tensor> input{random_f32({2, 3, 4}, rng, -3.0f, 3.0f)};
  Graph lowered;
  const auto got = run_native(b.g, input, &lowered);
  EXPECT_EQ(count_ops(lowered, "DequantizeLinear"), 2);
  expect_same_bytes(run_reference(b.g, input), got);
}

// HardSwish as opset-13 exporters write it, x * HardSigmoid(x) with QDQ around each op, is one
// table: the whole chain (two DQs of x, HardSigmoid, its Q -> DQ, Mul, Q) is a function of x's
// byte. A Mul of two different 8-bit tensors is not, and stays as written.
TEST(NativeGraphPassesTest, LookupTableCoversAnElementwiseChainOfOneTensor) {
  for (DType t : {DType::kU8, DType::kS8}) {
    std::mt19937 rng(17);
    QdqBuilder b;
    b.input("x", DType::kF32, {2, 5, 7});
    const std::string x = b.quant_act("x", 0.035f, t == DType::kU8 ? 110 : -3, t);
    b.node("HardSigmoid", {x}, {"h"}, {{"alpha", float_attr(1.0f / 6)}});
    const std::string h = b.quant_act("h", 1.0f / 255, t == DType::kU8 ? 0 : -128, t);
    b.node("Mul", {x, h}, {"m"});
    b.output(b.quant_act("m", 0.02f, t == DType::kU8 ? 30 : -100, t));
    const std::vector<Tensor> input{random_f32({2, 5, 7}, rng, -4.5f, 4.5f)};
    Graph lowered;
    const auto got = run_native(b.g, input, &lowered);
    EXPECT_EQ(count_ops(lowered, kQLutOp, kNativeDomain), 1);
    EXPECT_EQ(count_ops(lowered, "HardSigmoid"), 0);
    EXPECT_EQ(count_ops(lowered, "Mul"), 0);
    expect_same_bytes(run_reference(b.g, input), got);

    QdqBuilder two;
    two.input("x", DType::kF32, {2, 5, 7});
    two.input("y", DType::kF32, {2, 5, 7});
    const std::string xa = two.quant_act("x", 0.035f, 0, DType::kU8);
    const std::string ya = two.quant_act("y", 0.025f, 0, DType::kU8);
    two.node("Mul", {xa, ya}, {"m"});
    two.output(two.quant_act("m", 0.02f, 0, DType::kU8));
    EXPECT_TRUE(find_int8_luts(two.g).empty());
  }
}

// ------------------------------------------------------------------ MaxPool

struct PoolCase {
  Shape x;
  std::vector<int64_t> kernel, strides, pads, dilations;
  int64_t ceil_mode;
};

TEST(NativeGraphPassesTest, ChannelsLastMaxPoolEqualsMaxPool) {
  const std::vector<PoolCase> cases = {
      {{2, 5, 9, 8}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0},
      {{1, 70, 7, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
      {{1, 3, 10, 9}, {3, 2}, {2, 3}, {2, 0, 1, 1}, {2, 1}, 1},
      {{3, 16, 5, 6}, {3, 3}, {1, 1}, {2, 2, 2, 2}, {1, 1}, 0},
  };
  for (const PoolCase& c : cases) {
    for (DType t : {DType::kU8, DType::kS8}) {
      std::mt19937 rng(17);
      Tensor x(t, c.x);
      for (int64_t i = 0; i < x.numel(); ++i) static_cast<uint8_t*>(x.raw())[i] = static_cast<uint8_t>(rng());
      Node pool;
      pool.op_type = "MaxPool";
      pool.inputs = {"x"};
      pool.outputs = {"y"};
      pool.attrs = {{"kernel_shape", ints_attr(c.kernel)}, {"strides", ints_attr(c.strides)},
                    {"pads", ints_attr(c.pads)}, {"dilations", ints_attr(c.dilations)},
                    {"ceil_mode", int_attr(c.ceil_mode)}};
      Graph ref;
      ref.opset = 13;
      ref.inputs.push_back({"x", t, c.x});
      ref.outputs.push_back({"y", DType::kUndefined, std::nullopt});
      ref.nodes = {pool};
      // The same pool channels-last, between two transposes.
      Graph nhwc = ref;
      Node to_last;
      to_last.op_type = "Transpose";
      to_last.inputs = {"x"};
      to_last.outputs = {"x_nhwc"};
      to_last.attrs["perm"] = ints_attr({0, 2, 3, 1});
      Node p = pool;
      p.domain = kNativeDomain;
      p.op_type = kMaxPoolNhwcOp;
      p.inputs = {"x_nhwc"};
      p.outputs = {"y_nhwc"};
      Node to_first;
      to_first.op_type = "Transpose";
      to_first.inputs = {"y_nhwc"};
      to_first.outputs = {"y"};
      to_first.attrs["perm"] = ints_attr({0, 3, 1, 2});
      nhwc.nodes = {to_last, p, to_first};
      const auto want = run_reference(ref, {x});
      const auto got = run_exec(Executor::create(std::make_shared<const Graph>(nhwc), &native_ops()),
                                {x}, nullptr);
      expect_same_bytes(want, got);
    }
  }
}

// ------------------------------------------------------------------ bundled models

class NativeGraphPassesBundled : public ::testing::TestWithParam<std::string> {};

TEST_P(NativeGraphPassesBundled, ChannelsLastBetweenInt8OpsSameOutputs) {
  auto calib_cfg = load_data_config(kSource + "/examples/fashion_mnist/calib.yaml");
  ASSERT_TRUE(calib_cfg.ok());
  if (!std::filesystem::exists(calib_cfg->dataset.inputs[0].path)) {
    GTEST_SKIP() << calib_cfg->dataset.inputs[0].path << " missing (dataset-fashion-mnist)";
  }
  calib_cfg->dataset.limit = 20;
  auto calib = load_dataset(*calib_cfg);
  ASSERT_TRUE(calib.ok());
  auto loaded = load_onnx_model(kSource + "/models/fashion_mnist/" + GetParam() + ".onnx");
  ASSERT_TRUE(loaded.ok());
  auto model = std::make_shared<const Graph>(std::move(loaded).value());
  auto native = make_adaptor("native");
  ASSERT_TRUE(native.ok());
  std::shared_ptr<const Adaptor> quantizer = std::move(native).value();
  auto session = start_quantization_session(quantizer, model, *calib, 20, 10);
  ASSERT_TRUE(session.ok()) << session.status().message();
  auto cfg = default_int8_config(session->capability);
  ASSERT_TRUE(cfg.ok());
  auto q = session->quantize(*cfg);
  ASSERT_TRUE(q.ok()) << q.status().message();

  const std::vector<Tensor> batch = calib->batch(0, 6);
  Graph lowered;
  const auto got = run_native(*q->graph, batch, &lowered);
  expect_same_bytes(run_plain_lowering(*q->graph, batch), got);
  expect_no_transpose_between_int8_ops(lowered);
  int convs = 0, sums = 0;
  for (const Node& n : lowered.nodes) {
    if (n.op_type != kQConvOp) continue;
    ++convs;
    EXPECT_EQ(n.attr_int("channels_last", 0), 1) << n.describe();
    sums += n.inputs.size() > 8 && !n.inputs[8].empty();
  }
  EXPECT_GT(convs, 0);
  if (GetParam() == "resnet") {
    EXPECT_EQ(sums, 3);  // every residual Add
    // Into the int8 body after the input's Q, out of it before the pooling's DQ.
    EXPECT_EQ(count_ops(lowered, "Transpose"), 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Bundled, NativeGraphPassesBundled, ::testing::Values("lenet", "resnet", "vit"));

}  // namespace
}  // namespace qtune
