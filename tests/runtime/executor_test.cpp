#include "runtime/executor.h"

#include <gtest/gtest.h>

namespace qtune {
namespace {

std::shared_ptr<const Graph> relu_graph(const std::string& op = "Relu") {
  auto g = std::make_shared<Graph>();
  g->inputs.push_back({"x", DType::kF32, Shape{-1, 2}});
  g->outputs.push_back({"y", DType::kF32, Shape{-1, 2}});
  Node n;
  n.name = "act";
  n.op_type = op;
  n.inputs = {"x"};
  n.outputs = {"y"};
  g->nodes.push_back(n);
  return g;
}

TEST(ExecutorTest, UnsupportedOpIsNamedWithNodeAndType) {
  auto e = Executor::create(relu_graph("FancyOp"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(e.status().message().find("node 'act' (FancyOp)"), std::string::npos);
  EXPECT_EQ(e.status().exit_code(), 2);
  EXPECT_EQ(unsupported_nodes(*relu_graph("FancyOp")).size(), 1u);
}

TEST(ExecutorTest, RunsAndChecksInputShapes) {
  auto e = Executor::create(relu_graph());
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto out = e->run({Tensor::from_f32({2, 2}, {-1, 2, 3, -4})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[0], 0.0f);
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[1], 2.0f);

  auto bad = e->run({Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(bad.status().message().find("input 'x'"), std::string::npos);

  auto wrong_count = e->run({});
  EXPECT_EQ(wrong_count.status().code(), StatusCode::kInvalidInput);
}

TEST(ExecutorTest, ObserverSeesEveryProducedValue) {
  auto e = Executor::create(relu_graph());
  ASSERT_TRUE(e.ok());
  std::vector<std::string> seen;
  auto out = e->run({Tensor::from_f32({1, 2}, {1, 2})},
                    [&](const std::string& name, const Tensor&) { seen.push_back(name); });
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"y"}));
}

// Relu then Neg: replacing Relu's output changes what Neg reads and what the graph returns.
TEST(ExecutorTest, InterceptorReplacesAValueBeforeItsConsumersRead) {
  auto g = std::make_shared<Graph>(*relu_graph());
  g->nodes[0].outputs = {"r"};
  Node neg;
  neg.name = "neg";
  neg.op_type = "Neg";
  neg.inputs = {"r"};
  neg.outputs = {"y"};
  g->nodes.push_back(neg);
  auto e = Executor::create(g);
  ASSERT_TRUE(e.ok()) << e.status().message();
  std::vector<std::string> seen;
  auto out = e->run_intercepted({Tensor::from_f32({1, 2}, {-1, 2})},
                                [&](const std::string& name, Tensor& v) {
                                  seen.push_back(name);
                                  if (name == "r") v = Tensor::from_f32({1, 2}, {5, 7});
                                });
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(seen, (std::vector<std::string>{"r", "y"}));
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[0], -5.0f);
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[1], -7.0f);
}

TEST(ExecutorTest, ProfileIsEmptyUntilEnabledThenCountsEveryNode) {
  auto e = Executor::create(relu_graph());
  ASSERT_TRUE(e.ok());
  const Tensor x = Tensor::from_f32({1, 2}, {1, 2});
  ASSERT_TRUE(e->run({x}).ok());
  EXPECT_TRUE(e->profile().empty());
  e->enable_profiling();
  ASSERT_TRUE(e->run({x}).ok());
  ASSERT_TRUE(e->run({x}).ok());
  auto by_type = e->profile();
  ASSERT_EQ(by_type.size(), 1u);
  EXPECT_EQ(by_type[0].op_type, "Relu");
  EXPECT_EQ(by_type[0].calls, 2);
  EXPECT_GE(by_type[0].ms, 0.0);
  auto by_node = e->profile(true);
  ASSERT_EQ(by_node.size(), 1u);
  EXPECT_EQ(by_node[0].op_type, "act (Relu)");
}

// Values are freed after their last reader; a value read later and a graph output both survive.
TEST(ExecutorTest, IntermediatesLiveUntilTheirLastReader) {
  auto g = std::make_shared<Graph>();
  g->inputs.push_back({"x", DType::kF32, Shape{2}});
  g->outputs.push_back({"s", DType::kF32, std::nullopt});
  g->outputs.push_back({"r", DType::kF32, std::nullopt});
  g->initializers["c"] = Tensor::from_f32({2}, {10, 20});
  auto node = [&](const std::string& op, std::vector<std::string> in, std::string out) {
    Node n;
    n.name = out;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    g->nodes.push_back(n);
  };
  node("Relu", {"x"}, "r");
  node("Sigmoid", {"r"}, "unused");
  node("Add", {"r", "c"}, "a");
  node("Add", {"a", "x"}, "s");
  auto e = Executor::create(g);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto out = e->run({Tensor::from_f32({2}, {-1, 2})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[0], 9.0f);   // relu(-1) + 10 - 1
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[1], 24.0f);  // 2 + 20 + 2
  EXPECT_FLOAT_EQ((*out)[1].data<float>()[1], 2.0f);
}

TEST(ExecutorTest, MissingInputIsReportedAtRun) {
  auto g = std::make_shared<Graph>();
  g->inputs.push_back({"x", DType::kF32, Shape{2}});
  g->outputs.push_back({"y", DType::kF32, std::nullopt});
  Node n;
  n.name = "add";
  n.op_type = "Add";
  n.inputs = {"x", "nowhere"};
  n.outputs = {"y"};
  g->nodes.push_back(n);
  auto e = Executor::create(g);
  ASSERT_TRUE(e.ok());
  auto out = e->run({Tensor::from_f32({2}, {1, 2})});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("input 'nowhere' has no value"), std::string::npos);
}

// A graph whose input is a sequence of f32 tensors, fed through one node `op`.
std::shared_ptr<Graph> sequence_graph(const std::string& op, int64_t opset) {
  auto g = std::make_shared<Graph>();
  g->opset = opset;
  g->inputs.push_back({"s", DType::kF32, std::nullopt, ValueKind::kSequence});
  g->outputs.push_back({"y", DType::kUndefined, std::nullopt});
  Node n;
  n.name = "n";
  n.op_type = op;
  n.inputs = {"s"};
  n.outputs = {"y"};
  g->nodes.push_back(n);
  return g;
}

TEST(ExecutorTest, SequencesFlowOnlyWhereTheSchemaTakesThem) {
  const Tensor seq = Tensor::sequence(DType::kF32, {Tensor::from_f32({1}, {1})});
  auto len = Executor::create(sequence_graph("SequenceLength", 11));
  ASSERT_TRUE(len.ok()) << len.status().message();
  auto out = len->run({seq});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].get_i64(0), 1);

  // A tensor is not a sequence, and the other way round.
  auto wrong = len->run({Tensor::from_f32({1}, {1})});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("expected a sequence"), std::string::npos);

  // Relu takes tensors only, and so does Identity before opset 14.
  for (auto [op, opset] : {std::pair<const char*, int64_t>{"Relu", 14}, {"Identity", 13}}) {
    auto e = Executor::create(sequence_graph(op, opset));
    ASSERT_TRUE(e.ok()) << e.status().message();
    auto bad = e->run({seq});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(bad.status().message().find("must be a tensor at opset"), std::string::npos);
  }
}

TEST(ExecutorTest, OptionalInputTakesAPlainValueOfWhatItHolds) {
  auto g = sequence_graph("OptionalHasElement", 15);
  g->inputs[0].kind = ValueKind::kOptional;
  g->inputs[0].optional_of = ValueKind::kSequence;
  auto e = Executor::create(g);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto out = e->run({Tensor::sequence(DType::kF32, {})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].get_i64(0), 1);
  out = e->run({Tensor::none(ValueKind::kSequence, DType::kF32)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].get_i64(0), 0);
  EXPECT_FALSE(e->run({Tensor::from_f32({1}, {1})}).ok());  // holds sequences, not tensors
}

TEST(ExecutorTest, UnsupportedOpInASubgraphIsReportedAtCreate) {
  auto body = std::make_shared<Graph>();
  body->outputs.push_back({"z", DType::kF32, std::nullopt});
  Node inner;
  inner.name = "inner";
  inner.op_type = "FancyOp";
  inner.outputs = {"z"};
  body->nodes.push_back(inner);
  auto g = relu_graph("If");
  auto& n = std::const_pointer_cast<Graph>(g)->nodes[0];
  Attribute a;
  a.kind = Attribute::Kind::kGraph;
  a.g = body;
  n.attrs["then_branch"] = a;
  n.attrs["else_branch"] = a;
  EXPECT_EQ(unsupported_nodes(*g).size(), 2u);
  auto e = Executor::create(g);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(e.status().message().find("node 'inner' (FancyOp) in a subgraph of node 'act' (If)"),
            std::string::npos);
}

// An If whose branches apply `op` to the outer value x: y = op(x) in either branch.
std::shared_ptr<const Graph> if_graph(const std::string& op, const std::string& domain = "") {
  auto branch = [&](const std::string& name) {
    auto b = std::make_shared<Graph>();
    b->name = name;
    b->outputs.push_back({name + "_y", DType::kF32, std::nullopt});
    Node inner;
    inner.name = name + "_op";
    inner.op_type = op;
    inner.domain = domain;
    inner.inputs = {"x"};
    inner.outputs = {name + "_y"};
    b->nodes.push_back(inner);
    return b;
  };
  auto g = std::make_shared<Graph>();
  g->inputs.push_back({"cond", DType::kBool, Shape{}});
  g->inputs.push_back({"x", DType::kF32, Shape{-1, 2}});
  g->outputs.push_back({"y", DType::kF32, std::nullopt});
  Node n;
  n.name = "if";
  n.op_type = "If";
  n.inputs = {"cond"};
  n.outputs = {"y"};
  for (const char* attr : {"then_branch", "else_branch"}) {
    Attribute a;
    a.kind = Attribute::Kind::kGraph;
    a.g = branch(attr);
    n.attrs[attr] = a;
  }
  g->nodes.push_back(n);
  return g;
}

Tensor bool_scalar(bool v) {
  Tensor t(DType::kBool, Shape{});
  t.data<uint8_t>()[0] = v;
  return t;
}

TEST(ExecutorTest, ObserverSeesTheValuesOfTheBranchThatRuns) {
  auto e = Executor::create(if_graph("Relu"));
  ASSERT_TRUE(e.ok()) << e.status().message();
  std::vector<std::string> seen;
  auto observe = [&](const std::string& name, const Tensor&) { seen.push_back(name); };
  ASSERT_TRUE(e->run({bool_scalar(false), Tensor::from_f32({1, 2}, {-1, 2})}, observe).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"else_branch_y", "y"}));
  seen.clear();
  // The branch executors are cached in the node; the observer of each run still reaches them.
  ASSERT_TRUE(e->run({bool_scalar(true), Tensor::from_f32({1, 2}, {-1, 2})}, observe).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"then_branch_y", "y"}));
  ASSERT_TRUE(e->run({bool_scalar(true), Tensor::from_f32({1, 2}, {-1, 2})}).ok());
}

// A fused op of an adaptor's domain inside a branch runs with the executor's extra ops.
TEST(ExecutorTest, SubgraphsRunTheExtraOpsOfTheirExecutor) {
  static KernelRegistry* extra = [] {
    auto* r = new KernelRegistry();
    r->add({"test", "Twice", 1, kLatestOpset, {}, 0}, [](OpContext& ctx) {
      Tensor y = *ctx.input(0);
      for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] *= 2.0f;
      ctx.outputs[0] = std::move(y);
      return Status::Ok();
    });
    return r;
  }();
  auto g = if_graph("Twice", "test");
  EXPECT_EQ(unsupported_nodes(*g).size(), 2u);
  EXPECT_TRUE(unsupported_nodes(*g, extra).empty());
  EXPECT_FALSE(Executor::create(g).ok());
  auto e = Executor::create(g, extra);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto out = e->run({bool_scalar(true), Tensor::from_f32({1, 2}, {-1, 2})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[1], 4.0f);
}

}  // namespace
}  // namespace qtune
