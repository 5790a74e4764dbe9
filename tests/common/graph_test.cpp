#include "common/graph.h"
#include "tests/common/graph_test_util.h"

#include <gtest/gtest.h>

namespace qtune {
namespace {

using test::make_node;

TEST(GraphTest, TopologicalSortOrdersProducersFirst) {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{1}});
  g.nodes.push_back(make_node("c", "Relu", {"b"}, {"c_out"}));
  g.nodes.push_back(make_node("a", "Relu", {"x"}, {"a_out"}));
  g.nodes.push_back(make_node("b", "Add", {"a_out", "x"}, {"b"}));
  ASSERT_TRUE(g.topological_sort().ok());
  EXPECT_EQ(g.nodes[0].name, "a");
  EXPECT_EQ(g.nodes[1].name, "b");
  EXPECT_EQ(g.nodes[2].name, "c");
}

TEST(GraphTest, CycleIsAnErrorNamingTheNode) {
  Graph g;
  g.nodes.push_back(make_node("p", "Relu", {"q_out"}, {"p_out"}));
  g.nodes.push_back(make_node("q", "Relu", {"p_out"}, {"q_out"}));
  Status s = g.topological_sort();
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("cycle"), std::string::npos);
}

TEST(GraphTest, DanglingInputIsAnErrorNamingNodeAndValue) {
  Graph g;
  g.nodes.push_back(make_node("lonely", "Relu", {"nowhere"}, {"y"}));
  Status s = g.topological_sort();
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("'lonely' (Relu)"), std::string::npos);
  EXPECT_NE(s.message().find("'nowhere'"), std::string::npos);
}

TEST(GraphTest, DuplicateOutputIsAnError) {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{1}});
  g.nodes.push_back(make_node("a", "Relu", {"x"}, {"y"}));
  g.nodes.push_back(make_node("b", "Relu", {"x"}, {"y"}));
  EXPECT_EQ(g.topological_sort().code(), StatusCode::kInvalidInput);
}

TEST(GraphTest, AttributeAccessorsFallBack) {
  Node n = make_node("n", "Conv", {}, {});
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = {2, 2};
  n.attrs["strides"] = a;
  EXPECT_EQ(n.attr_ints("strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(n.attr_int("group", 1), 1);
  EXPECT_EQ(n.attr_string("auto_pad", "NOTSET"), "NOTSET");
}

// main: x, W (initializer) -> If "outer" { then: inner If { then: Neg(W), else: Identity(W) }
// with a local W in the else branch of "outer" shadowing nothing, just its own }.
TEST(GraphTest, GraphTreeVisitsSubgraphsAfterTheirGraphWithWhatEnclosesThem) {
  auto leaf = [](const std::string& name, const std::string& op) {
    auto g = std::make_shared<Graph>();
    g->name = name;
    Node n;
    n.name = name + "_op";
    n.op_type = op;
    n.inputs = {"W"};
    n.outputs = {name + "_y"};
    g->nodes.push_back(n);
    g->outputs.push_back({name + "_y", DType::kF32, std::nullopt});
    return g;
  };
  auto graph_attr = [](std::shared_ptr<Graph> g) {
    Attribute a;
    a.kind = Attribute::Kind::kGraph;
    a.g = std::move(g);
    return a;
  };
  auto then_g = std::make_shared<Graph>();
  then_g->name = "then";
  Node inner;
  inner.name = "inner";
  inner.op_type = "If";
  inner.inputs = {"c"};
  inner.outputs = {"then_y"};
  inner.attrs["then_branch"] = graph_attr(leaf("deep_then", "Neg"));
  inner.attrs["else_branch"] = graph_attr(leaf("deep_else", "Identity"));
  then_g->nodes.push_back(inner);
  then_g->outputs.push_back({"then_y", DType::kF32, std::nullopt});
  auto else_g = leaf("else", "Relu");
  else_g->initializers["W"] = Tensor::from_f32({1}, {7});  // its own W
  Graph g;
  g.inputs.push_back({"c", DType::kBool, Shape{}});
  g.initializers["W"] = Tensor::from_f32({1}, {3});
  Node outer;
  outer.name = "outer";
  outer.op_type = "If";
  outer.inputs = {"c"};
  outer.outputs = {"y"};
  outer.attrs["else_branch"] = graph_attr(else_g);
  outer.attrs["then_branch"] = graph_attr(then_g);
  g.nodes.push_back(outer);

  const std::vector<ScopedGraph> tree = graph_tree(g);
  std::vector<std::string> order;
  for (const ScopedGraph& sg : tree) order.push_back(sg.graph->name);
  // Attributes in name order: else_branch before then_branch.
  EXPECT_EQ(order, (std::vector<std::string>{"", "else", "then", "deep_else", "deep_then"}));
  EXPECT_EQ(tree[0].owner, nullptr);
  EXPECT_EQ(tree[3].owner->name, "inner");
  EXPECT_EQ(tree[3].enclosing.size(), 2u);
  // The deep branch sees the main graph's W; the else branch its own.
  EXPECT_EQ(tree[3].initializer("W")->data<float>()[0], 3.0f);
  EXPECT_EQ(tree[1].initializer("W")->data<float>()[0], 7.0f);
  EXPECT_EQ(tree[3].initializer("c"), nullptr);  // an input, not a constant
  EXPECT_TRUE(tree[3].outer_names().count("then_y"));

  // rewrite_subgraphs replaces each branch with the rewritten copy.
  ASSERT_TRUE(rewrite_subgraphs(g, [](Graph& sub) {
                sub.name += "_seen";
                return Status::Ok();
              }).ok());
  EXPECT_EQ(g.nodes[0].attrs.at("then_branch").g->name, "then_seen");
  EXPECT_EQ(g.nodes[0].attrs.at("else_branch").g->name, "else_seen");
  EXPECT_FALSE(rewrite_subgraphs(g, [](Graph&) { return Status::InvalidInput("no"); }).ok());
}

}  // namespace
}  // namespace qtune
