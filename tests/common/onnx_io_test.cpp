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

TEST(OnnxIoTest, StringTensorIsUnsupportedNotACrash) {
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::STRING);
  proto.add_dims(1);
  proto.add_string_data("a");
  auto t = tensor_from_proto(proto, "initializer 's'");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(t.status().message().find("initializer 's'"), std::string::npos);
}

}  // namespace
}  // namespace qtune
