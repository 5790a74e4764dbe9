#include "op_test_util.h"

#include "runtime/executor.h"

namespace qtune {
namespace {

using namespace op_test;

Node node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
          std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = op + "_" + (out.empty() ? std::string() : out.front());
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.attrs = std::move(attrs);
  return n;
}

Attribute attr_graph(Graph g) {
  Attribute a;
  a.kind = Attribute::Kind::kGraph;
  a.g = std::make_shared<const Graph>(std::move(g));
  return a;
}

Tensor bool_scalar(bool v) {
  Tensor t(DType::kBool, {});
  t.data<uint8_t>()[0] = v;
  return t;
}

// A branch returning one constant f32 vector.
Graph constant_branch(const std::string& name, std::vector<float> v) {
  Graph g;
  g.name = name;
  const int64_t n = static_cast<int64_t>(v.size());
  g.nodes.push_back(node("Constant", {}, {name + "_out"},
                         {{"value", attr_tensor(Tensor::from_f32({n}, v))}}));
  g.outputs.push_back({name + "_out", DType::kF32, Shape{n}});
  return g;
}

TEST(ControlFlowOpsTest, IfRunsTheBranchCondSelects) {
  Node n = make_node("If", 1, 1,
                     {{"then_branch", attr_graph(constant_branch("then", {1, 2}))},
                      {"else_branch", attr_graph(constant_branch("else", {3, 4}))}});
  for (bool cond : {true, false}) {
    const Tensor c = bool_scalar(cond);
    auto out = run_node(n, {&c}, 16);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(values<float>((*out)[0]), cond ? (std::vector<float>{1, 2})
                                             : (std::vector<float>{3, 4}));
  }
}

TEST(ControlFlowOpsTest, IfWithoutABranchIsInvalid) {
  Node n = make_node("If", 1, 1, {{"then_branch", attr_graph(constant_branch("then", {1}))}});
  const Tensor c = bool_scalar(false);
  auto out = run_node(n, {&c}, 13, false);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(out.status().message().find("else_branch"), std::string::npos);
}

// Body: sum += x[i-th value 'add'], cond stays true; scans out the running sum.
Graph accumulate_body() {
  Graph g;
  g.name = "body";
  g.inputs = {{"i", DType::kS64, Shape{}}, {"c_in", DType::kBool, Shape{}},
              {"sum_in", DType::kF32, Shape{2}}};
  g.nodes.push_back(node("Cast", {"i"}, {"i_f"}, {{"to", attr_int(1)}}));
  g.nodes.push_back(node("Add", {"sum_in", "i_f"}, {"sum_out"}));
  g.nodes.push_back(node("Identity", {"c_in"}, {"c_out"}));
  g.nodes.push_back(node("Identity", {"sum_out"}, {"scan"}));
  g.outputs = {{"c_out", DType::kBool, Shape{}}, {"sum_out", DType::kF32, Shape{2}},
               {"scan", DType::kF32, Shape{2}}};
  return g;
}

TEST(ControlFlowOpsTest, LoopCarriesValuesAndStacksScanOutputs) {
  Node n = make_node("Loop", 3, 2, {{"body", attr_graph(accumulate_body())}});
  const Tensor m = Tensor::from_i64({}, {3});
  const Tensor cond = bool_scalar(true);
  const Tensor init = Tensor::from_f32({2}, {10, 20});
  for (int64_t opset : {11, 13, 16}) {
    auto out = run_node(n, {&m, &cond, &init}, opset);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{13, 23}));  // + 0 + 1 + 2
    EXPECT_EQ((*out)[1].shape(), (Shape{3, 2}));
    EXPECT_EQ(values<float>((*out)[1]), (std::vector<float>{10, 20, 11, 21, 13, 23}));
  }
}

TEST(ControlFlowOpsTest, LoopWithFalseCondRunsNoIteration) {
  Node n = make_node("Loop", 3, 2, {{"body", attr_graph(accumulate_body())}});
  n.inputs[0] = "";  // no trip count: cond alone decides
  const Tensor cond = bool_scalar(false);
  const Tensor init = Tensor::from_f32({2}, {10, 20});
  auto out = run_node(n, {nullptr, &cond, &init}, 13, false);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{10, 20}));
  EXPECT_EQ((*out)[1].shape(), (Shape{0, 2}));
}

TEST(ControlFlowOpsTest, LoopBodyThatDoesNotFitIsInvalid) {
  Graph body = accumulate_body();
  body.inputs.pop_back();  // no input for the carried value
  Node n = make_node("Loop", 3, 2, {{"body", attr_graph(body)}});
  const Tensor m = Tensor::from_i64({}, {1});
  const Tensor cond = bool_scalar(true);
  const Tensor init = Tensor::from_f32({2}, {0, 0});
  auto out = run_node(n, {&m, &cond, &init}, 13, false);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(out.status().message().find("body takes 2 inputs"), std::string::npos);

  const Tensor float_m = Tensor::scalar_f32(1);
  out = run_node(make_node("Loop", 3, 2, {{"body", attr_graph(accumulate_body())}}),
                 {&float_m, &cond, &init}, 13, false);
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidInput);
}

// Scan body: state += x_t; scans out the state.
Graph sum_body() {
  Graph g;
  g.name = "body";
  g.inputs = {{"s_in", DType::kF32, Shape{2}}, {"x_t", DType::kF32, Shape{2}}};
  g.nodes.push_back(node("Add", {"s_in", "x_t"}, {"s_out"}));
  g.nodes.push_back(node("Identity", {"s_out"}, {"y_t"}));
  g.outputs = {{"s_out", DType::kF32, Shape{2}}, {"y_t", DType::kF32, Shape{2}}};
  return g;
}

TEST(ControlFlowOpsTest, ScanSumsAlongAxisAndDirection) {
  Node n = make_node("Scan", 2, 2,
                     {{"body", attr_graph(sum_body())}, {"num_scan_inputs", attr_int(1)}});
  const Tensor init = Tensor::from_f32({2}, {0, 0});
  const Tensor x = Tensor::from_f32({3, 2}, {1, 2, 3, 4, 5, 6});
  auto out = run_node(n, {&init, &x}, 16);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{9, 12}));
  EXPECT_EQ(values<float>((*out)[1]), (std::vector<float>{1, 2, 4, 6, 9, 12}));

  // Scanning x backwards along axis 0, stacking outputs along axis 1.
  n.attrs["scan_input_directions"] = attr_ints({1});
  n.attrs["scan_output_axes"] = attr_ints({1});
  out = run_node(n, {&init, &x}, 11);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[1].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>((*out)[1]), (std::vector<float>{5, 8, 9, 6, 10, 12}));
}

TEST(ControlFlowOpsTest, Scan8HasABatchAxisAndSequenceLengths) {
  Node n = make_node("Scan", 3, 2,
                     {{"body", attr_graph(sum_body())}, {"num_scan_inputs", attr_int(1)}});
  const Tensor lens = Tensor::from_i64({2}, {2, 1});
  const Tensor init = Tensor::from_f32({2, 2}, {0, 0, 100, 100});
  const Tensor x = Tensor::from_f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto out = run_node(n, {&lens, &init, &x}, 8);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{4, 6, 105, 106}));
  EXPECT_EQ((*out)[1].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values<float>((*out)[1]), (std::vector<float>{1, 2, 4, 6, 105, 106, 0, 0}));
}

TEST(ControlFlowOpsTest, SequenceMapAppliesTheBodyPerElement) {
  Graph body;
  body.name = "body";
  body.inputs = {{"x", DType::kF32, std::nullopt}, {"y", DType::kF32, std::nullopt}};
  body.nodes.push_back(node("Add", {"x", "y"}, {"z"}));
  body.outputs = {{"z", DType::kF32, std::nullopt}};
  Node n = make_node("SequenceMap", 2, 1, {{"body", attr_graph(body)}});
  const Tensor seq = Tensor::sequence(
      DType::kF32, {Tensor::from_f32({1}, {1}), Tensor::from_f32({2}, {2, 3})});
  const Tensor ten = Tensor::from_f32({1}, {10});
  auto out = run_node(n, {&seq, &ten}, 17);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_TRUE((*out)[0].is_sequence());
  ASSERT_EQ((*out)[0].items().size(), 2u);
  EXPECT_EQ(values<float>((*out)[0].items()[1]), (std::vector<float>{12, 13}));
}

// A Loop whose body reads a value of the enclosing graph and a nested If reading it too.
TEST(ControlFlowOpsTest, SubgraphsReadOuterScopeValues) {
  Graph then_g;
  then_g.name = "then";
  then_g.nodes.push_back(node("Mul", {"sum_in", "scale"}, {"t_out"}));
  then_g.outputs = {{"t_out", DType::kF32, std::nullopt}};
  Graph else_g = constant_branch("else", {0, 0});
  Graph body;
  body.name = "body";
  body.inputs = {{"i", DType::kS64, Shape{}}, {"c_in", DType::kBool, Shape{}},
                 {"sum_in", DType::kF32, Shape{2}}};
  body.nodes.push_back(node("If", {"c_in"}, {"sum_out"},
                            {{"then_branch", attr_graph(then_g)},
                             {"else_branch", attr_graph(else_g)}}));
  body.nodes.push_back(node("Identity", {"c_in"}, {"c_out"}));
  body.outputs = {{"c_out", DType::kBool, Shape{}}, {"sum_out", DType::kF32, Shape{2}}};
  auto g = std::make_shared<Graph>();
  g->opset = 16;
  g->inputs = {{"x", DType::kF32, Shape{2}}, {"scale", DType::kF32, Shape{}}};
  g->initializers["m"] = Tensor::from_i64({}, {2});
  g->nodes.push_back(node("Loop", {"m", "", "x"}, {"y"}, {{"body", attr_graph(body)}}));
  g->outputs = {{"y", DType::kF32, Shape{2}}};
  ASSERT_TRUE(g->topological_sort().ok());
  EXPECT_EQ(g->nodes[0].implicit_inputs(), (std::vector<std::string>{"scale"}));
  auto e = Executor::create(g);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto out = e->run({Tensor::from_f32({2}, {1, 2}), Tensor::scalar_f32(3)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{9, 18}));
}

}  // namespace
}  // namespace qtune
