#include "common/graph.h"

#include <gtest/gtest.h>

namespace qtune {
namespace {

Node make_node(const std::string& name, const std::string& op, std::vector<std::string> in,
               std::vector<std::string> out) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

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

}  // namespace
}  // namespace qtune
