// lower_to_runtime_opset on graphs built in memory: the runtime's opset is what the registry
// implements, nodes of subgraphs are lowered with their model, constants given as Constant nodes
// count, and what has no equivalent is refused by name. (tests/integration/check_new_opsets.sh
// compares whole models with ONNX Runtime.)
#include "common/opset_lowering.h"

#include <gtest/gtest.h>

#include <memory>

#include "runtime/kernel_registry.h"
#include "tests/common/graph_test_util.h"

namespace qtune {
namespace {

using test::make_node;

using test::ints_attr;
using test::str_attr;

TEST(OpsetLoweringTest, RuntimeOpsetIsTheRegistrys) { EXPECT_EQ(kRuntimeOpset, kLatestOpset); }

TEST(OpsetLoweringTest, OlderModelsAreLeftAlone) {
  Graph g;
  g.opset = 13;
  g.nodes.push_back(make_node("m", "ReduceMean", {"x"}, {"y"}));
  ASSERT_TRUE(lower_to_runtime_opset(g).ok());
  EXPECT_EQ(g.opset, 13);
  EXPECT_EQ(g.nodes.size(), 1u);
}

TEST(OpsetLoweringTest, AxesFromAConstantNodeBecomeTheAttributeAlsoInSubgraphs) {
  Graph body;
  body.opset = 18;
  Node c = make_node("c", "Constant", {}, {"axes"});
  Attribute v;
  v.kind = Attribute::Kind::kTensor;
  v.t = Tensor::from_i64({1}, {-1});
  c.attrs["value"] = v;
  body.nodes.push_back(c);
  body.nodes.push_back(make_node("mean", "ReduceMean", {"x", "axes"}, {"y"}));
  Graph g;
  g.opset = 18;
  Node branch = make_node("if", "If", {"cond"}, {"y"});
  Attribute then_branch;
  then_branch.kind = Attribute::Kind::kGraph;
  then_branch.g = std::make_shared<const Graph>(body);
  branch.attrs["then_branch"] = then_branch;
  branch.attrs["else_branch"] = then_branch;
  g.nodes.push_back(branch);
  ASSERT_TRUE(lower_to_runtime_opset(g).ok());
  EXPECT_EQ(g.opset, kRuntimeOpset);
  const Graph& lowered = *g.nodes[0].attrs.at("then_branch").g;
  EXPECT_EQ(lowered.opset, kRuntimeOpset);
  ASSERT_EQ(lowered.nodes.size(), 2u);
  EXPECT_EQ(lowered.nodes[1].inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(lowered.nodes[1].attr_ints("axes"), std::vector<int64_t>{-1});
}

TEST(OpsetLoweringTest, GeluBecomesItsDefinition) {
  Graph g;
  g.opset = 20;
  g.nodes.push_back(make_node("gelu", "Gelu", {"x"}, {"y"}));
  ASSERT_TRUE(lower_to_runtime_opset(g).ok());
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.push_back(n.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Div", "Erf", "Add", "Mul", "Mul"}));
  EXPECT_EQ(g.nodes.back().outputs[0], "y");
  EXPECT_EQ(g.initializers.size(), 3u);  // sqrt(2), 1, 0.5
}

TEST(OpsetLoweringTest, RefusalsNameTheNodeAndTheFeature) {
  Graph pad;
  pad.opset = 19;
  Node p = make_node("pad", "Pad", {"x", "pads"}, {"y"});
  p.attrs["mode"] = str_attr("wrap");
  pad.nodes.push_back(p);
  Status s = lower_to_runtime_opset(pad);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("node 'pad' (Pad) at opset 19: mode wrap"), std::string::npos)
      << s.message();

  Graph future;
  future.opset = kNewestKnownOpset + 1;
  s = lower_to_runtime_opset(future);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("newer than qtune knows"), std::string::npos) << s.message();

  Graph pool;
  pool.opset = 19;
  Node a = make_node("pool", "AveragePool", {"x"}, {"y"});
  a.attrs["kernel_shape"] = ints_attr({2, 2});
  a.attrs["dilations"] = ints_attr({2, 2});
  pool.nodes.push_back(a);
  s = lower_to_runtime_opset(pool);
  EXPECT_NE(s.message().find("dilated average pooling"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace qtune
