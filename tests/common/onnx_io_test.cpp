#include "common/onnx_io.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "common/size_check.h"

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


// A model proto with one f32 input whose known dims are `dims` (a leading dynamic batch
// first), feeding a Transpose; `init_dims` adds an f32 initializer with that shape and no data.
void write_hostile_model(const fs::path& path, const std::vector<int64_t>& dims,
                         const std::vector<int64_t>& init_dims = {}) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("hostile");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("N");
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  auto* n = g->add_node();
  n->set_name("t");
  n->set_op_type(init_dims.empty() ? "Transpose" : "Add");
  n->add_input("x");
  if (!init_dims.empty()) {
    n->add_input("w");
    auto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : init_dims) w->add_dims(d);
    w->set_raw_data("");
  } else {
    auto* perm = n->add_attribute();
    perm->set_name("perm");
    perm->set_type(onnx::AttributeProto::INTS);
    for (int p : {0, 3, 2, 1}) perm->add_ints(p);
  }
  n->add_output("y");
  std::ofstream f(path, std::ios::binary);
  ASSERT_TRUE(m.SerializeToOstream(&f));
}

constexpr int64_t k2to62 = int64_t{1} << 62;

// [2^62,4,1,1] f32 is 2^66 bytes, which wrapped to 0 and matched the empty raw_data.
TEST(OnnxIoTest, InitializerWhoseByteCountWrapsIsRefused) {
  const fs::path p = temp_file("wrapping_initializer.onnx");
  write_hostile_model(p, {1, 28, 28}, {k2to62, 4, 1, 1});
  auto g = load_onnx_model(p.string());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().exit_code(), 2);
  EXPECT_NE(g.status().message().find(p.string()), std::string::npos) << g.status().message();
  EXPECT_NE(g.status().message().find("initializer 'w': shape [4611686018427387904,4,1,1]"), std::string::npos)
      << g.status().message();
}

// 49 * (2^60+1) * 16 wraps to 784 = 28*28: the evaluator took it for a reshape of the images and
// the Transpose wrote far outside its buffers.
TEST(OnnxIoTest, InputDimsPastInt64AreRefused) {
  const fs::path p = temp_file("overflowing_input.onnx");
  write_hostile_model(p, {49, (int64_t{1} << 60) + 1, 16});
  auto g = load_onnx_model(p.string());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().exit_code(), 2);
  EXPECT_NE(g.status().message().find("graph input: value 'x': shape [49,1152921504606846977,16] has more "
                                      "elements than int64 can count"),
            std::string::npos)
      << g.status().message();
}

TEST(OnnxIoTest, InitializerLargerThanTheTensorLimitIsRefusedBeforeAllocating) {
  const SizeLimits saved = size_limits();
  set_size_limits({1 << 20, saved.max_model_bytes});
  onnx::TensorProto proto;
  proto.set_name("big");
  proto.set_data_type(onnx::TensorProto::FLOAT);
  proto.add_dims(int64_t{1} << 40);  // 4 TiB; the data is not there either
  auto t = tensor_from_proto(proto, "initializer 'big'");
  set_size_limits(saved);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "initializer 'big': shape [1099511627776] of f32 needs 4398046511104 bytes, "
                                  "more than the tensor size limit of 1048576 bytes (QTUNE_MAX_TENSOR_BYTES)");
}

TEST(OnnxIoTest, ModelFileLargerThanTheModelLimitIsRefused) {
  const fs::path p = temp_file("limit.onnx");
  ASSERT_TRUE(save_onnx_model(tiny_graph(), p.string()).ok());
  const SizeLimits saved = size_limits();
  set_size_limits({saved.max_tensor_bytes, 16});
  auto g = load_onnx_model(p.string());
  set_size_limits(saved);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(), p.string() + ": " + std::to_string(fs::file_size(p)) +
                                      " bytes, more than the model size limit of 16 bytes (QTUNE_MAX_MODEL_BYTES)");
}

// Runs `qtune ARGS 2>&1`; the exit code and output.
std::pair<int, std::string> run_qtune(const std::string& args) {
  std::FILE* p = ::popen((std::string(QTUNE_BINARY) + " " + args + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

// Both hostile models through `qtune eval`: exit 2 and a message, no crash.
TEST(OnnxIoTest, EvalOnHostileModelsExits2) {
  const std::string data = std::string(QTUNE_SOURCE_DIR) + "/examples/fashion_mnist/test.yaml";
  const fs::path dims = temp_file("eval_overflowing_input.onnx");
  write_hostile_model(dims, {49, (int64_t{1} << 60) + 1, 16});
  auto [code, out] = run_qtune("eval " + dims.string() + " --data " + data);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("more elements than int64 can count"), std::string::npos) << out;
  const fs::path init = temp_file("eval_wrapping_initializer.onnx");
  write_hostile_model(init, {1, 28, 28}, {k2to62, 4, 1, 1});
  std::tie(code, out) = run_qtune("eval " + init.string() + " --data " + data);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("initializer 'w'"), std::string::npos) << out;
  // The limit is configurable from the environment, and a bad value is exit 2 naming it.
  std::tie(code, out) = run_qtune("eval " + init.string() + " --data " + data + " 2>&1; QTUNE_MAX_MODEL_BYTES=x " +
                                  QTUNE_BINARY + " eval " + init.string() + " --data " + data);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("QTUNE_MAX_MODEL_BYTES: expects a positive number of bytes"), std::string::npos) << out;
}

// Exporters (spox) write `type {}` for If branch outputs whose type they leave to inference; the
// loader reads that as "not declared", like a missing type, and the model runs.
TEST(OnnxIoTest, EmptyTypeProtoOnASubgraphOutputIsUndeclared) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(16);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("g");
  auto add_input = [](onnx::GraphProto* graph, const std::string& name, int32_t elem) {
    onnx::ValueInfoProto* v = graph->add_input();
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(elem);
  };
  add_input(g, "cond", onnx::TensorProto::BOOL);
  add_input(g, "x", onnx::TensorProto::FLOAT);
  onnx::ValueInfoProto* y = g->add_output();
  y->set_name("y");
  y->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::NodeProto* n = g->add_node();
  n->set_op_type("If");
  n->set_name("if");
  n->add_input("cond");
  n->add_output("y");
  for (const char* attr : {"then_branch", "else_branch"}) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(attr);
    a->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* b = a->mutable_g();
    b->set_name(attr);
    onnx::NodeProto* id = b->add_node();
    id->set_op_type("Identity");
    id->add_input("x");
    id->add_output(std::string(attr) + "_out");
    onnx::ValueInfoProto* out = b->add_output();
    out->set_name(std::string(attr) + "_out");
    out->mutable_type();  // present but empty
  }
  const fs::path p = temp_file("empty_type.onnx");
  {
    std::ofstream out(p, std::ios::binary);
    ASSERT_TRUE(m.SerializeToOstream(&out));
  }
  auto loaded = load_onnx_model(p.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Graph& then_g = *loaded->nodes[0].attrs.at("then_branch").g;
  EXPECT_EQ(then_g.outputs[0].dtype, DType::kUndefined);
  EXPECT_FALSE(then_g.outputs[0].shape.has_value());
  EXPECT_EQ(then_g.outputs[0].kind, ValueKind::kTensor);
}

}  // namespace
}  // namespace qtune
