#include "common/onnx_io.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

namespace qtune {
namespace {

namespace fs = std::filesystem;

fs::path temp_file(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "qtune_onnx_io_test";
  fs::create_directories(dir);
  return dir / name;
}

Graph tiny_graph() {
  Graph g;
  g.name = "tiny";
  g.inputs.push_back({"x", DType::kF32, Shape{-1, 3}});
  g.outputs.push_back({"y", DType::kF32, Shape{-1, 3}});
  g.initializers["w"] = Tensor::from_f32({3}, {1.0f, -2.0f, 0.5f});
  Node n;
  n.name = "mul";
  n.op_type = "Mul";
  n.inputs = {"x", "w"};
  n.outputs = {"y"};
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = {1, 2};
  n.attrs["some_ints"] = a;
  g.nodes.push_back(n);
  return g;
}

TEST(OnnxIoTest, SaveThenLoadRoundTrips) {
  const fs::path p = temp_file("tiny.onnx");
  ASSERT_TRUE(save_onnx_model(tiny_graph(), p.string()).ok());
  auto g = load_onnx_model(p.string());
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->opset, 13);
  ASSERT_EQ(g->inputs.size(), 1u);
  EXPECT_EQ(g->inputs[0].name, "x");
  EXPECT_EQ(*g->inputs[0].shape, (Shape{-1, 3}));
  ASSERT_EQ(g->nodes.size(), 1u);
  EXPECT_EQ(g->nodes[0].op_type, "Mul");
  EXPECT_EQ(g->nodes[0].attr_ints("some_ints"), (std::vector<int64_t>{1, 2}));
  const Tensor* w = g->initializer("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape(), (Shape{3}));
  EXPECT_FLOAT_EQ(w->data<float>()[1], -2.0f);
}

TEST(OnnxIoTest, GarbageFileIsInvalidInputNamingTheFile) {
  const fs::path p = temp_file("garbage.onnx");
  std::ofstream(p, std::ios::binary) << "this is not a protobuf \xff\xff\xff\xff\xff";
  auto g = load_onnx_model(p.string());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(g.status().message().find(p.string()), std::string::npos);
  EXPECT_EQ(g.status().exit_code(), 2);
}

TEST(OnnxIoTest, MissingFileIsInvalidInput) {
  auto g = load_onnx_model("/nonexistent/model.onnx");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(g.status().message().find("/nonexistent/model.onnx"), std::string::npos);
}

TEST(OnnxIoTest, TruncatedModelIsInvalidInput) {
  const fs::path full = temp_file("full.onnx");
  ASSERT_TRUE(save_onnx_model(tiny_graph(), full.string()).ok());
  std::ifstream in(full, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path cut = temp_file("cut.onnx");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto g = load_onnx_model(cut.string());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().exit_code(), 2);
}

TEST(OnnxIoTest, DanglingNodeInputIsReportedWithNodeName) {
  Graph g = tiny_graph();
  g.nodes[0].inputs[1] = "missing_weight";
  const fs::path p = temp_file("dangling.onnx");
  ASSERT_TRUE(save_onnx_model(g, p.string()).ok());
  auto loaded = load_onnx_model(p.string());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("'mul' (Mul)"), std::string::npos);
  EXPECT_NE(loaded.status().message().find("missing_weight"), std::string::npos);
}

TEST(OnnxIoTest, TensorPbRawDataSizeMismatchIsInvalidInput) {
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::FLOAT);
  proto.add_dims(2);
  proto.add_dims(2);
  const float three[3] = {1, 2, 3};
  proto.set_raw_data(three, sizeof(three));
  const fs::path p = temp_file("bad_tensor.pb");
  {
    std::ofstream out(p, std::ios::binary);
    ASSERT_TRUE(proto.SerializeToOstream(&out));
  }
  auto t = load_tensor_pb(p.string());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(t.status().message().find("12 bytes"), std::string::npos) << t.status().message();
}

TEST(OnnxIoTest, TensorProtoTypedFieldsConvert) {
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::INT8);
  proto.add_dims(3);
  for (int v : {-128, 0, 127}) proto.add_int32_data(v);
  auto t = tensor_from_proto(proto, "test");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dtype(), DType::kS8);
  EXPECT_EQ(t->data<int8_t>()[0], -128);
  EXPECT_EQ(t->data<int8_t>()[2], 127);
}

TEST(OnnxIoTest, ComplexTensorIsUnsupportedNotACrash) {
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::COMPLEX64);
  proto.add_dims(1);
  proto.add_float_data(1);
  proto.add_float_data(2);
  auto t = tensor_from_proto(proto, "initializer 'c'");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(t.status().message().find("initializer 'c'"), std::string::npos);
}

TEST(OnnxIoTest, StringTensorsRoundTrip) {
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::STRING);
  proto.add_dims(2);
  proto.add_string_data("a");
  proto.add_string_data("bc");
  auto t = tensor_from_proto(proto, "s");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->dtype(), DType::kString);
  EXPECT_EQ(t->data<std::string>()[1], "bc");
  Tensor copy = t->clone();
  EXPECT_EQ(copy.data<std::string>()[0], "a");
  onnx::TensorProto back;
  tensor_to_proto(copy, "s", &back);
  ASSERT_EQ(back.string_data_size(), 2);
  EXPECT_EQ(back.string_data(1), "bc");

  proto.add_string_data("extra");
  EXPECT_EQ(tensor_from_proto(proto, "s").status().code(), StatusCode::kInvalidInput);
}

// A model with an If whose branches read an outer value and return a sequence survives a save
// and load with its subgraphs, value types and opsets.
TEST(OnnxIoTest, SubgraphsAndSequenceTypesRoundTrip) {
  auto branch = [](const std::string& name) {
    auto g = std::make_shared<Graph>();
    g->name = name;
    Node n;
    n.name = name + "_seq";
    n.op_type = "SequenceConstruct";
    n.inputs = {"x"};
    n.outputs = {name + "_out"};
    g->nodes.push_back(n);
    g->outputs.push_back({name + "_out", DType::kF32, Shape{2}, ValueKind::kSequence});
    return g;
  };
  Graph g;
  g.opset = 16;
  g.inputs = {{"cond", DType::kBool, Shape{}}, {"x", DType::kF32, Shape{2}}};
  g.outputs = {{"y", DType::kF32, Shape{2}, ValueKind::kSequence}};
  Node n;
  n.name = "if";
  n.op_type = "If";
  n.inputs = {"cond"};
  n.outputs = {"y"};
  Attribute then_a, else_a;
  then_a.kind = else_a.kind = Attribute::Kind::kGraph;
  then_a.g = branch("then");
  else_a.g = branch("else");
  n.attrs["then_branch"] = then_a;
  n.attrs["else_branch"] = else_a;
  g.nodes.push_back(n);
  fs::path p = temp_file("if_seq.onnx");
  ASSERT_TRUE(save_onnx_model(g, p.string()).ok());
  auto loaded = load_onnx_model(p.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->outputs[0].kind, ValueKind::kSequence);
  const Node& got = loaded->nodes[0];
  ASSERT_EQ(got.subgraphs().size(), 2u);
  const Graph& sub = *got.attrs.at("then_branch").g;
  EXPECT_EQ(sub.opset, 16);
  EXPECT_EQ(sub.outer_scope_names(), (std::vector<std::string>{"x"}));
  EXPECT_EQ(got.implicit_inputs(), (std::vector<std::string>{"x"}));
  EXPECT_EQ(sub.outputs[0].kind, ValueKind::kSequence);

  // A branch reading a name no scope defines is reported with the node.
  then_a.g = std::make_shared<Graph>(*branch("then"));
  auto bad = std::make_shared<Graph>(*then_a.g);
  bad->nodes[0].inputs = {"nowhere"};
  then_a.g = bad;
  g.nodes[0].attrs["then_branch"] = then_a;
  ASSERT_TRUE(save_onnx_model(g, p.string()).ok());
  auto dangling = load_onnx_model(p.string());
  ASSERT_FALSE(dangling.ok());
  EXPECT_NE(dangling.status().message().find("nowhere"), std::string::npos);
}

}  // namespace
}  // namespace qtune
