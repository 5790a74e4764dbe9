// Quantization inside subgraphs, end to end on a small If model shaped like exported recurrent
// detectors: the branches read a weight of the main graph and one of their own (a Constant), the
// calibration set takes only one branch. Capability, calibration, QDQ building, lowering onto
// the native adaptor's int8 kernels and the exported file are checked together.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <random>

#include "adaptors/adaptor.h"
#include "adaptors/capability.h"
#include "adaptors/quantize/graph_passes.h"
#include "common/onnx_io.h"
#include "runtime/executor.h"
#include "worker/quantizer.h"
#include "tests/common/graph_test_util.h"

namespace qtune {
namespace {

using test::make_node;
using test::random_f32;

using test::ints_attr;

// x [N,2,16] -> If(cond: ReduceMax(x) < 100, true for the data below):
//   then: Conv "then_conv" (W [4,2,3] of the main graph, B, pad 1) -> Relu "then_relu"
//         -> Conv "then_conv2" (W2 [3,4,1], a Constant of the branch) -> y
//   else: Conv "else_conv" (the same W and B) -> Sigmoid "else_sigmoid" -> y
Graph if_model() {
  Graph g;
  g.name = "if_model";
  g.inputs.push_back({"x", DType::kF32, Shape{-1, 2, 16}});
  g.outputs.push_back({"y", DType::kF32, std::nullopt});
  g.initializers["W"] = random_f32({4, 2, 3}, 1);
  g.initializers["B"] = random_f32({4}, 2, -0.1f, 0.1f);
  g.initializers["limit"] = Tensor::scalar_f32(100.0f);
  Node max = make_node("max", "ReduceMax", {"x"}, {"x_max"});
  max.attrs["keepdims"].kind = Attribute::Kind::kInt;
  max.attrs["keepdims"].i = 0;
  g.nodes.push_back(max);
  g.nodes.push_back(make_node("less", "Less", {"x_max", "limit"}, {"cond"}));

  auto then_g = std::make_shared<Graph>();
  then_g->name = "then";
  Node conv = make_node("then_conv", "Conv", {"x", "W", "B"}, {"then_c"});
  conv.attrs["pads"] = ints_attr({1, 1});
  then_g->nodes.push_back(conv);
  then_g->nodes.push_back(make_node("then_relu", "Relu", {"then_c"}, {"then_r"}));
  Node w2 = make_node("", "Constant", {}, {"W2"});
  w2.attrs["value"].kind = Attribute::Kind::kTensor;
  w2.attrs["value"].t = random_f32({3, 4, 1}, 3);
  then_g->nodes.push_back(w2);
  then_g->nodes.push_back(make_node("then_conv2", "Conv", {"then_r", "W2"}, {"then_y"}));
  then_g->outputs.push_back({"then_y", DType::kF32, std::nullopt});

  auto else_g = std::make_shared<Graph>();
  else_g->name = "else";
  Node conv_e = make_node("else_conv", "Conv", {"x", "W", "B"}, {"else_c"});
  conv_e.attrs["pads"] = ints_attr({1, 1});
  else_g->nodes.push_back(conv_e);
  else_g->nodes.push_back(make_node("else_sigmoid", "Sigmoid", {"else_c"}, {"else_y"}));
  else_g->outputs.push_back({"else_y", DType::kF32, std::nullopt});

  Node n = make_node("if", "If", {"cond"}, {"y"});
  n.attrs["then_branch"].kind = Attribute::Kind::kGraph;
  n.attrs["then_branch"].g = then_g;
  n.attrs["else_branch"].kind = Attribute::Kind::kGraph;
  n.attrs["else_branch"].g = else_g;
  g.nodes.push_back(n);
  return g;
}

const Graph& branch(const Graph& g, const char* attr) {
  for (const Node& n : g.nodes) {
    if (n.op_type == "If") return *n.attrs.at(attr).g;
  }
  ADD_FAILURE() << "no If";
  return g;
}

int count_ops(const Graph& g, const std::string& op, const std::string& domain = "") {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op_type == op && node.domain == domain;
  return n;
}

std::vector<Tensor> run(const Graph& g, const Tensor& x, const KernelRegistry* ops = nullptr) {
  auto exec = Executor::create(std::make_shared<const Graph>(g), ops);
  EXPECT_TRUE(exec.ok()) << exec.status().message();
  if (!exec.ok()) return {};
  auto out = exec->run({x});
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

double relative_error(const Tensor& a, const Tensor& ref) {
  double err = 0, norm = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double d = a.data<float>()[i] - ref.data<float>()[i];
    err += d * d;
    norm += static_cast<double>(ref.data<float>()[i]) * ref.data<float>()[i];
  }
  return std::sqrt(err / norm);
}

TEST(SubgraphPassesTest, BranchConstantsBecomeInitializersAndNamesAreUnique) {
  Graph g = if_model();
  // A second node named like one in a branch, and an unnamed one.
  g.nodes.insert(g.nodes.begin(), make_node("then_conv", "Identity", {"x"}, {"x_id"}));
  g.nodes.insert(g.nodes.begin(), make_node("", "Neg", {"x"}, {"x_neg"}));
  auto prepared = prepare_fp32_for_quantization(g);
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  const Graph& then_g = branch(*prepared, "then_branch");
  EXPECT_EQ(count_ops(then_g, "Constant"), 0);
  ASSERT_NE(then_g.initializer("W2"), nullptr);
  EXPECT_EQ(then_g.initializer("W2")->shape(), (Shape{3, 4, 1}));
  std::set<std::string> names;
  for (const ScopedGraph& sg : graph_tree(*prepared)) {
    for (const Node& n : sg.graph->nodes) {
      EXPECT_FALSE(n.name.empty());
      EXPECT_TRUE(names.insert(n.name).second) << n.name;
    }
  }
  EXPECT_TRUE(names.count("Neg"));
  EXPECT_TRUE(names.count("then_conv_1"));  // the branch's op; the main graph's came first
}

// Weights an exporter computes from constants (gate blocks concatenated in another order) fold
// into initializers, so the op reading them has a constant weight to quantize.
TEST(SubgraphPassesTest, ConstantExpressionsFoldIntoInitializers) {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{1, 2, 8}});
  g.outputs.push_back({"y", DType::kF32, std::nullopt});
  g.outputs.push_back({"noise", DType::kF32, std::nullopt});
  g.initializers["A"] = random_f32({2, 2, 3}, 1);
  g.initializers["B"] = random_f32({1, 2, 3}, 2);
  Node cat = make_node("cat", "Concat", {"B", "A"}, {"W"});
  cat.attrs["axis"].kind = Attribute::Kind::kInt;
  cat.attrs["axis"].i = 0;
  g.nodes.push_back(cat);
  g.nodes.push_back(make_node("conv", "Conv", {"x", "W"}, {"y"}));
  Node noise = make_node("noise", "RandomNormal", {}, {"noise"});
  noise.attrs["shape"] = ints_attr({2});
  g.nodes.push_back(noise);
  auto prepared = prepare_fp32_for_quantization(g);
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  EXPECT_EQ(count_ops(*prepared, "Concat"), 0);
  EXPECT_EQ(count_ops(*prepared, "RandomNormal"), 1);  // not a constant
  const Tensor* w = prepared->initializer("W");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape(), (Shape{3, 2, 3}));
  EXPECT_EQ(w->data<float>()[0], g.initializers["B"].data<float>()[0]);
  EXPECT_EQ(w->data<float>()[6], g.initializers["A"].data<float>()[0]);
  EXPECT_EQ(prepared->initializer("A"), nullptr);  // only the folded Concat read it
  auto made = make_adaptor("native");
  ASSERT_TRUE(made.ok());
  auto cap = (*made)->query_fw_capability(*prepared);
  ASSERT_TRUE(cap.ok());
  bool weighted = false;
  for (const auto& [key, list] : cap->opwise) {
    if (key.name == "conv") weighted = list.front().has_weight;
  }
  EXPECT_TRUE(weighted);
}

TEST(SubgraphQuantizationTest, BranchOpsQuantizeRunInInt8AndExport) {
  auto made = make_adaptor("native");
  ASSERT_TRUE(made.ok());
  std::shared_ptr<const Adaptor> native = std::move(made).value();
  auto fp32 = std::make_shared<const Graph>(if_model());

  // Before calibration both branches' ops are quantizable.
  auto prepared = prepare_fp32_for_quantization(*fp32);
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  auto full = native->query_fw_capability(*prepared);
  ASSERT_TRUE(full.ok()) << full.status().message();
  std::set<std::string> listed;
  for (const auto& [key, list] : full->opwise) listed.insert(key.name);
  for (const char* op : {"then_conv", "then_relu", "then_conv2", "else_conv", "else_sigmoid"}) {
    EXPECT_TRUE(listed.count(op)) << op;
  }

  const Tensor calib_x = random_f32({40, 2, 16}, 7);
  const Dataset calib = Dataset::of(calib_x);
  auto session = start_quantization_session(native, fp32, calib, 40, 10);
  ASSERT_TRUE(session.ok()) << session.status().message();
  // The else branch never ran on the calibration set: its ops stay fp32.
  std::set<std::string> kept;
  for (const auto& [key, list] : session->capability.opwise) kept.insert(key.name);
  EXPECT_TRUE(kept.count("then_conv") && kept.count("then_conv2") && kept.count("then_relu"));
  EXPECT_FALSE(kept.count("else_conv") || kept.count("else_sigmoid"));
  EXPECT_TRUE(session->stats.tensors.count("then_r"));
  EXPECT_FALSE(session->stats.tensors.count("else_c"));
  // Statistics from elsewhere give the same capability.
  auto again = start_quantization_session(native, fp32, session->stats);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->capability.opwise.size(), session->capability.opwise.size());

  auto cfg = default_int8_config(session->capability);
  ASSERT_TRUE(cfg.ok());
  auto q = session->quantize(*cfg);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const Graph& qdq = *q->graph;
  const Graph& then_q = branch(qdq, "then_branch");
  const Graph& else_q = branch(qdq, "else_branch");
  // The branch holds its quantized weights (the main graph's W too) and activation pairs.
  EXPECT_NE(then_q.initializer("W_quantized"), nullptr);
  EXPECT_NE(then_q.initializer("W2_quantized"), nullptr);
  EXPECT_EQ(then_q.initializer("W2"), nullptr);
  EXPECT_GE(count_ops(then_q, "QuantizeLinear"), 2);
  EXPECT_GE(count_ops(then_q, "DequantizeLinear"), 4);
  // The else branch is untouched and still reads the fp32 W, which the main graph keeps.
  EXPECT_EQ(count_ops(else_q, "QuantizeLinear"), 0);
  EXPECT_NE(qdq.initializer("W"), nullptr);

  const Tensor x = random_f32({5, 2, 16}, 9);
  const std::vector<Tensor> ref = run(*fp32, x);
  const std::vector<Tensor> fake = run(qdq, x);
  ASSERT_EQ(ref.size(), 1u);
  ASSERT_EQ(fake.size(), 1u);
  EXPECT_LT(relative_error(fake[0], ref[0]), 0.05);

  // The native adaptor lowers the branch's units onto its int8 kernels.
  auto lowered = native->prepare(q->graph, q->bf16_ops);
  ASSERT_TRUE(lowered.ok()) << lowered.status().message();
  const Graph& then_l = branch((*lowered)->graph(), "then_branch");
  EXPECT_EQ(count_ops(then_l, "QConv", "qtune"), 2);
  auto int8 = (*lowered)->run({x});
  ASSERT_TRUE(int8.ok()) << int8.status().message();
  EXPECT_LT(relative_error((*int8)[0], fake[0]), 0.02);

  // The exported file loads back and runs the same.
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / "qtune_subgraph_quantization.onnx";
  ASSERT_TRUE(save_onnx_model(qdq, file.string()).ok());
  auto loaded = load_onnx_model(file.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const std::vector<Tensor> reloaded = run(*loaded, x);
  ASSERT_EQ(reloaded.size(), 1u);
  EXPECT_EQ(relative_error(reloaded[0], fake[0]), 0.0);
}

// When both branches read the main graph's weight and both are quantized, the main graph no
// longer needs the fp32 weight.
TEST(SubgraphQuantizationTest, OuterWeightQuantizedInEveryReaderIsDropped) {
  Graph g = if_model();
  auto prepared = prepare_fp32_for_quantization(g);
  ASSERT_TRUE(prepared.ok());
  auto made = make_adaptor("native");
  ASSERT_TRUE(made.ok());
  auto cap = (*made)->query_fw_capability(*prepared);
  ASSERT_TRUE(cap.ok());
  TuneConfig cfg;
  auto all = default_int8_config(*cap);
  ASSERT_TRUE(all.ok());
  for (const char* op : {"then_conv", "else_conv"}) cfg.ops[op] = all->ops.at(op);
  auto fw = (*made)->tuning_cfg_to_fw(cfg, *prepared);
  ASSERT_TRUE(fw.ok()) << fw.status().message();
  CalibrationStats stats;
  TensorStats s;
  s.min = -1;
  s.max = 1;
  s.count = 2;
  s.hist_max = 1;
  s.histogram = {1, 1};
  stats.tensors["x"] = s;
  auto q = (*made)->quantize(cfg, *prepared, stats);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->graph->initializer("W"), nullptr);
  // Each branch holds its own copy; names are unique model-wide (else_branch is built first).
  EXPECT_NE(branch(*q->graph, "else_branch").initializer("W_quantized"), nullptr);
  EXPECT_NE(branch(*q->graph, "then_branch").initializer("W_1_quantized"), nullptr);
  EXPECT_EQ(run(*q->graph, random_f32({2, 2, 16}, 4)).size(), 1u);
}

// A Transpose whose output only a branch reads gets its output pair too, with its input's
// params, so the quantized value that crosses into the branch is explicit.
TEST(SubgraphQuantizationTest, ValueMovingOpReadByABranchGetsItsOutputPair) {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{2, 3}});
  g.inputs.push_back({"c", DType::kBool, Shape{}});
  g.outputs.push_back({"z", DType::kF32, std::nullopt});
  Node t = make_node("t", "Transpose", {"x"}, {"y"});
  t.attrs["perm"] = ints_attr({1, 0});
  g.nodes.push_back(t);
  auto branch = [](const std::string& name, const std::string& op) {
    auto b = std::make_shared<Graph>();
    b->name = name;
    b->nodes.push_back(make_node(name + "_op", op, {"y"}, {name + "_z"}));
    b->outputs.push_back({name + "_z", DType::kF32, std::nullopt});
    return b;
  };
  Node n = make_node("if", "If", {"c"}, {"z"});
  n.attrs["then_branch"].kind = Attribute::Kind::kGraph;
  n.attrs["then_branch"].g = branch("then", "Neg");
  n.attrs["else_branch"].kind = Attribute::Kind::kGraph;
  n.attrs["else_branch"].g = branch("else", "Abs");
  g.nodes.push_back(n);

  auto made = make_adaptor("native");
  ASSERT_TRUE(made.ok());
  TuneConfig cfg;
  auto cap = (*made)->query_fw_capability(g);
  ASSERT_TRUE(cap.ok()) << cap.status().message();
  auto all = default_int8_config(*cap);
  ASSERT_TRUE(all.ok());
  cfg.ops["t"] = all->ops.at("t");
  CalibrationStats stats;
  TensorStats s;
  s.min = -1;
  s.max = 1;
  s.count = 6;
  s.hist_max = 1;
  s.histogram = {3, 3};
  stats.tensors["x"] = s;
  auto q = (*made)->quantize(cfg, g, stats);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const Graph& out = *q->graph;
  const Node* transpose = nullptr;
  const Node* requant = nullptr;
  for (const Node& node : out.nodes) {
    if (node.name == "t") transpose = &node;
    if (node.name == "y_QuantizeLinear") requant = &node;
  }
  ASSERT_NE(transpose, nullptr);
  ASSERT_NE(requant, nullptr);
  EXPECT_EQ(transpose->outputs[0], "y_before_quantize");
  EXPECT_EQ(requant->inputs, (std::vector<std::string>{"y_before_quantize", "x_scale", "x_zero_point"}));
  // Values on the int8 grid pass the extra pair unchanged.
  Tensor x = Tensor::from_f32({2, 3}, {-1.0f, -0.5f, 0.0f, 0.25f, 0.5f, 1.0f});
  Tensor c(DType::kBool, Shape{});
  c.data<uint8_t>()[0] = 1;
  auto exec = Executor::create(q->graph);
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  auto z = exec->run({x, c});
  ASSERT_TRUE(z.ok()) << z.status().message();
  const float step = out.initializer("x_scale")->data<float>()[0];
  for (int64_t i = 0; i < 6; ++i) {
    const float want = -x.data<float>()[(i % 2) * 3 + i / 2];
    EXPECT_NEAR((*z)[0].data<float>()[i], want, step / 2 + 1e-6f) << i;
  }
}

}  // namespace
}  // namespace qtune
