#include "adaptors/quantize/graph_passes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>

#include "runtime/executor.h"
#include "common/data_config.h"
#include "common/dataset.h"
#include "common/onnx_io.h"
#include "tests/common/graph_test_util.h"

namespace qtune {
namespace {

const std::string kSource = QTUNE_SOURCE_DIR;

using test::make_node;
using test::random_f32;

// x [N,2,5,5] -> Conv "conv" (W [3,2,3,3], optional bias, pad 1) -> BN "bn" -> Relu -> y.
Graph conv_bn_graph(bool conv_bias) {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{-1, 2, 5, 5}});
  g.outputs.push_back({"y", DType::kF32, Shape{-1, 3, 5, 5}});
  g.initializers["conv.weight"] = random_f32({3, 2, 3, 3}, 1);
  std::vector<std::string> conv_in = {"x", "conv.weight"};
  if (conv_bias) {
    g.initializers["conv.bias"] = random_f32({3}, 2);
    conv_in.push_back("conv.bias");
  }
  Node conv = make_node("conv", "Conv", conv_in, {"conv_out"});
  Attribute pads;
  pads.kind = Attribute::Kind::kInts;
  pads.ints = {1, 1, 1, 1};
  conv.attrs["pads"] = pads;
  g.nodes.push_back(conv);
  g.initializers["bn.weight"] = random_f32({3}, 3, 0.5f, 2.0f);
  g.initializers["bn.bias"] = random_f32({3}, 4);
  g.initializers["bn.running_mean"] = random_f32({3}, 5);
  g.initializers["bn.running_var"] = random_f32({3}, 6, 0.1f, 3.0f);
  Node bn = make_node("bn", "BatchNormalization",
                      {"conv_out", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"},
                      {"bn_out"});
  Attribute eps;
  eps.kind = Attribute::Kind::kFloat;
  eps.f = 1e-3f;
  bn.attrs["epsilon"] = eps;
  g.nodes.push_back(bn);
  g.nodes.push_back(make_node("relu", "Relu", {"bn_out"}, {"y"}));
  return g;
}

std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs) {
  auto exec = Executor::create(std::make_shared<const Graph>(g));
  EXPECT_TRUE(exec.ok()) << exec.status().message();
  if (!exec.ok()) return {};
  auto out = exec->run(inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float d = 0;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i) {
    d = std::max(d, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  }
  return d;
}

int count_op(const Graph& g, const std::string& op) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(),
                                        [&](const Node& n) { return n.op_type == op; }));
}

TEST(FoldBatchNormTest, FoldsIntoConvWithAndWithoutBias) {
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "conv with bias" : "conv without bias");
    const Graph g = conv_bn_graph(bias);
    Graph folded = g;
    ASSERT_TRUE(fold_batch_norm(folded).ok());
    ASSERT_EQ(folded.nodes.size(), 2u);
    EXPECT_EQ(count_op(folded, "BatchNormalization"), 0);
    const Node& conv = folded.nodes[0];
    EXPECT_EQ(conv.name, "conv");
    EXPECT_EQ(conv.outputs, (std::vector<std::string>{"bn_out"}));
    ASSERT_EQ(conv.inputs.size(), 3u);
    EXPECT_EQ(conv.inputs[1], "conv.weight");  // sole reader: the name is kept
    // Without a conv bias, the BN's beta name carries the folded bias.
    EXPECT_EQ(conv.inputs[2], bias ? "conv.bias" : "bn.bias");
    for (const char* gone : {"bn.weight", "bn.running_mean", "bn.running_var"}) {
      EXPECT_EQ(folded.initializer(gone), nullptr) << gone;
    }
    EXPECT_EQ(folded.initializers.size(), 2u);

    // Hand-check one folded weight and bias value.
    const float gamma = g.initializer("bn.weight")->data<float>()[1];
    const float var = g.initializer("bn.running_var")->data<float>()[1];
    const float mean = g.initializer("bn.running_mean")->data<float>()[1];
    const float beta = g.initializer("bn.bias")->data<float>()[1];
    const double s = gamma / std::sqrt(static_cast<double>(var) + 1e-3);
    const float w = g.initializer("conv.weight")->data<float>()[18 + 4];  // channel 1
    EXPECT_FLOAT_EQ(folded.initializer("conv.weight")->data<float>()[18 + 4], w * s);
    const float b = bias ? g.initializer("conv.bias")->data<float>()[1] : 0.0f;
    EXPECT_FLOAT_EQ(folded.initializer(conv.inputs[2])->data<float>()[1], (b - mean) * s + beta);

    const Tensor x = random_f32({2, 2, 5, 5}, 7, -3.0f, 3.0f);
    auto want = run(g, {x});
    auto got = run(folded, {x});
    ASSERT_EQ(want.size(), 1u);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_LT(max_abs_diff(want[0], got[0]), 1e-5f);
  }
}

TEST(FoldBatchNormTest, LeavesBnWhenTheConvOutputHasOtherReaders) {
  Graph g = conv_bn_graph(true);
  g.outputs.push_back({"conv_out", DType::kF32, std::nullopt});
  Graph folded = g;
  ASSERT_TRUE(fold_batch_norm(folded).ok());
  EXPECT_EQ(count_op(folded, "BatchNormalization"), 1);

  g = conv_bn_graph(true);
  g.nodes.push_back(make_node("side", "Relu", {"conv_out"}, {"side_out"}));
  g.outputs.push_back({"side_out", DType::kF32, std::nullopt});
  folded = g;
  ASSERT_TRUE(fold_batch_norm(folded).ok());
  EXPECT_EQ(count_op(folded, "BatchNormalization"), 1);
  EXPECT_EQ(folded.initializers.size(), g.initializers.size());
}

TEST(FoldBatchNormTest, LeavesBnWithNonConstantParametersOrNoConv) {
  Graph g = conv_bn_graph(true);
  g.initializers.erase("bn.running_var");
  g.inputs.push_back({"bn.running_var", DType::kF32, Shape{3}});
  Graph folded = g;
  ASSERT_TRUE(fold_batch_norm(folded).ok());
  EXPECT_EQ(count_op(folded, "BatchNormalization"), 1);

  // BN right after the graph input: nothing to fold into.
  g = conv_bn_graph(true);
  g.nodes[1].inputs[0] = "x";
  g.nodes[2].inputs[0] = "bn_out";
  g.nodes[0].outputs[0] = "unused";
  folded = g;
  ASSERT_TRUE(fold_batch_norm(folded).ok());
  EXPECT_EQ(count_op(folded, "BatchNormalization"), 1);
}

TEST(FoldBatchNormTest, SharedWeightGetsANewNameAndTheOtherConvKeepsTheOriginal) {
  Graph g = conv_bn_graph(false);
  g.nodes.push_back(make_node("conv2", "Conv", {"x", "conv.weight"}, {"y2"}));
  g.nodes.back().attrs["pads"] = g.nodes[0].attrs["pads"];
  g.outputs.push_back({"y2", DType::kF32, std::nullopt});
  Graph folded = g;
  ASSERT_TRUE(fold_batch_norm(folded).ok());
  EXPECT_EQ(count_op(folded, "BatchNormalization"), 0);
  EXPECT_EQ(folded.nodes[0].inputs[1], "conv.weight_folded");
  EXPECT_EQ(folded.nodes[2].inputs[1], "conv.weight");
  ASSERT_NE(folded.initializer("conv.weight"), nullptr);
  const Tensor x = random_f32({1, 2, 5, 5}, 8);
  auto want = run(g, {x});
  auto got = run(folded, {x});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_LT(max_abs_diff(want[0], got[0]), 1e-5f);
  EXPECT_EQ(max_abs_diff(want[1], got[1]), 0.0f);
}

TEST(FoldBatchNormTest, MismatchedParameterIsInvalidInputNamingTheNode) {
  Graph g = conv_bn_graph(true);
  g.initializers["bn.running_mean"] = random_f32({4}, 9);
  Status s = fold_batch_norm(g);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("node 'bn' (BatchNormalization)"), std::string::npos) << s.message();
}

TEST(RemoveIdentityTest, RewiresConsumersAndKeepsGraphOutputNames) {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{2}});
  g.outputs.push_back({"y", DType::kF32, Shape{2}});
  g.nodes.push_back(make_node("r1", "Relu", {"x"}, {"a"}));
  g.nodes.push_back(make_node("id1", "Identity", {"a"}, {"b"}));
  g.nodes.push_back(make_node("id2", "Identity", {"b"}, {"c"}));
  g.nodes.push_back(make_node("sig", "Sigmoid", {"c"}, {"d"}));
  g.nodes.push_back(make_node("id3", "Identity", {"d"}, {"y"}));
  Graph out = g;
  ASSERT_TRUE(remove_identity(out).ok());
  ASSERT_EQ(out.nodes.size(), 2u);
  EXPECT_EQ(out.nodes[0].outputs[0], "a");
  EXPECT_EQ(out.nodes[1].inputs[0], "a");
  EXPECT_EQ(out.nodes[1].name, "sig");
  EXPECT_EQ(out.nodes[1].outputs[0], "y");  // the output name survives
  const Tensor x = Tensor::from_f32({2}, {-1.0f, 2.0f});
  EXPECT_EQ(max_abs_diff(run(g, {x})[0], run(out, {x})[0]), 0.0f);
}

// Regression: a value an If branch reads from the outer graph must keep its name (the passes do
// not rewrite subgraphs), so the Identity producing it stays and the model still runs.
TEST(RemoveIdentityTest, KeepsValuesThatASubgraphReads) {
  Graph then_branch;
  then_branch.outputs.push_back({"t", DType::kF32, Shape{2}});
  then_branch.nodes.push_back(make_node("neg", "Neg", {"b"}, {"t"}));  // reads outer "b"
  Graph else_branch;
  else_branch.outputs.push_back({"e", DType::kF32, Shape{2}});
  else_branch.nodes.push_back(make_node("abs", "Abs", {"b"}, {"e"}));
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{2}});
  g.inputs.push_back({"c", DType::kBool, Shape{}});
  g.outputs.push_back({"y", DType::kF32, Shape{2}});
  g.nodes.push_back(make_node("r", "Relu", {"x"}, {"a"}));
  g.nodes.push_back(make_node("id", "Identity", {"a"}, {"b"}));
  Node branch = make_node("if", "If", {"c"}, {"y"});
  for (auto [name, body] : {std::pair{"then_branch", &then_branch}, {"else_branch", &else_branch}}) {
    Attribute a;
    a.kind = Attribute::Kind::kGraph;
    a.g = std::make_shared<const Graph>(*body);
    branch.attrs[name] = a;
  }
  g.nodes.push_back(branch);
  Graph out = g;
  ASSERT_TRUE(remove_identity(out).ok());
  ASSERT_EQ(out.nodes.size(), 3u);
  Tensor x = Tensor::from_f32({2}, {-1.0f, 2.0f});
  Tensor c(DType::kBool, {});
  c.data<uint8_t>()[0] = 1;
  EXPECT_EQ(max_abs_diff(run(g, {x, c})[0], run(out, {x, c})[0]), 0.0f);
}

TEST(RemoveIdentityTest, KeepsAnIdentityFromGraphInputToGraphOutput) {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{2}});
  g.outputs.push_back({"y", DType::kF32, Shape{2}});
  g.outputs.push_back({"z", DType::kF32, Shape{2}});
  g.nodes.push_back(make_node("id", "Identity", {"x"}, {"y"}));
  g.nodes.push_back(make_node("r", "Relu", {"x"}, {"r_out"}));
  g.nodes.push_back(make_node("id2", "Identity", {"r_out"}, {"z"}));
  ASSERT_TRUE(remove_identity(g).ok());
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op_type, "Identity");
  EXPECT_EQ(g.nodes[1].outputs[0], "z");
}

TEST(PrepareFp32Test, FoldedResnetMatchesUnfoldedOnRealImages) {
  auto cfg = load_data_config(kSource + "/examples/fashion_mnist/test.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  if (!std::filesystem::exists(cfg->dataset.inputs[0].path)) {
    GTEST_SKIP() << cfg->dataset.inputs[0].path << " missing (Debian package dataset-fashion-mnist)";
  }
  cfg->dataset.limit = 16;
  auto data = load_dataset(*cfg);
  ASSERT_TRUE(data.ok()) << data.status().message();
  auto graph = load_onnx_model(kSource + "/models/fashion_mnist/resnet.onnx");
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  ASSERT_GT(count_op(*graph, "BatchNormalization"), 0);
  auto prepared = prepare_fp32_for_quantization(*graph);
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  EXPECT_EQ(count_op(*prepared, "BatchNormalization"), 0);
  EXPECT_EQ(prepared->inputs[0].name, graph->inputs[0].name);
  EXPECT_EQ(prepared->outputs[0].name, graph->outputs[0].name);
  // Every Conv keeps its name.
  for (const auto& n : graph->nodes) {
    if (n.op_type != "Conv") continue;
    EXPECT_TRUE(std::any_of(prepared->nodes.begin(), prepared->nodes.end(),
                            [&](const Node& p) { return p.name == n.name; }))
        << n.name;
  }
  const Tensor batch = data->batch(0, 16)[0];
  auto want = run(*graph, {batch});
  auto got = run(*prepared, {batch});
  ASSERT_EQ(want.size(), 1u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LT(max_abs_diff(want[0], got[0]), 1e-4f);
  for (int64_t i = 0; i < 16; ++i) {
    int64_t a = 0, b = 0;
    for (int64_t k = 1; k < 10; ++k) {
      if (want[0].data<float>()[i * 10 + k] > want[0].data<float>()[i * 10 + a]) a = k;
      if (got[0].data<float>()[i * 10 + k] > got[0].data<float>()[i * 10 + b]) b = k;
    }
    EXPECT_EQ(a, b) << "image " << i;
  }
}

TEST(FoldConstantTransposesTest, MatchesTheExecutorsTransposeAndDropsTheOriginal) {
  for (const std::vector<int64_t>& perm : std::vector<std::vector<int64_t>>{{}, {1, 2, 0}, {2, 0, 1}}) {
    Graph g;
    g.inputs.push_back({"x", DType::kF32, Shape{2, 3, 4}});
    g.outputs.push_back({"y", DType::kF32, std::nullopt});
    g.initializers["w"] = random_f32({2, 3, 4}, 11);
    Node t = make_node("t", "Transpose", {"w"}, {"wt"});
    if (!perm.empty()) {
      Attribute a;
      a.kind = Attribute::Kind::kInts;
      a.ints = perm;
      t.attrs["perm"] = a;
    }
    g.nodes.push_back(t);
    g.nodes.push_back(make_node("add", "Add", {"wt", "wt"}, {"y"}));
    const std::vector<Tensor> want = run(g, {random_f32({2, 3, 4}, 12)});

    Graph folded = g;
    ASSERT_TRUE(fold_constant_transposes(folded).ok());
    EXPECT_EQ(count_op(folded, "Transpose"), 0);
    EXPECT_FALSE(folded.initializers.count("w"));
    ASSERT_TRUE(folded.initializers.count("wt"));
    const std::vector<Tensor> got = run(folded, {random_f32({2, 3, 4}, 12)});
    ASSERT_EQ(want.size(), 1u);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(max_abs_diff(want[0], got[0]), 0.0f);
  }
}

TEST(FoldConstantTransposesTest, BadPermIsInvalidInputNamingTheNode) {
  Graph g;
  g.outputs.push_back({"y", DType::kF32, std::nullopt});
  g.initializers["w"] = random_f32({2, 3}, 1);
  Node t = make_node("bad_t", "Transpose", {"w"}, {"wt"});
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = {0, 0};
  t.attrs["perm"] = a;
  g.nodes.push_back(t);
  g.nodes.push_back(make_node("relu", "Relu", {"wt"}, {"y"}));
  Status s = fold_constant_transposes(g);
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("bad_t"), std::string::npos);
}

TEST(PrepareFp32Test, VitLinearWeightsBecomeConstant) {
  auto graph = load_onnx_model(kSource + "/models/fashion_mnist/vit.onnx");
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto prepared = prepare_fp32_for_quantization(*graph);
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  int constant_weight = 0;
  for (const Node& n : prepared->nodes) {
    constant_weight += n.op_type == "MatMul" && prepared->initializers.count(n.inputs[1]);
  }
  EXPECT_EQ(constant_weight, 8);  // qkv, proj, fc1, fc2 in each of the two blocks
}

}  // namespace
}  // namespace qtune
