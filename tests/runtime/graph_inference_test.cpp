#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/onnx_io.h"
#include "runtime/onnx_inference.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;
using op_test::attr_int;
using op_test::attr_ints;
using op_test::attr_tensor;

// A graph assembled in code, one node at a time.
struct G {
  Graph g;
  G() { g.opset = 13; }
  G& input(const std::string& name, std::optional<Shape> shape, DType t = DType::kF32) {
    g.inputs.push_back({name, t, std::move(shape)});
    return *this;
  }
  G& init(const std::string& name, Tensor t) {
    g.initializers[name] = std::move(t);
    return *this;
  }
  G& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
          std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = op + "_" + std::to_string(g.nodes.size());
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = std::move(attrs);
    g.nodes.push_back(std::move(n));
    return *this;
  }
  Status infer() { return infer_graph_types(g); }
  std::optional<Shape> shape(const std::string& v) const {
    auto it = g.value_info.find(v);
    return it == g.value_info.end() ? std::optional<Shape>() : it->second.shape;
  }
  DType dtype(const std::string& v) const {
    auto it = g.value_info.find(v);
    return it == g.value_info.end() ? DType::kUndefined : it->second.dtype;
  }
};

Tensor zeros(DType t, Shape s) { return Tensor(t, std::move(s)); }
Tensor i64(std::vector<int64_t> v) { return Tensor::from_i64({static_cast<int64_t>(v.size())}, v); }

TEST(GraphInference, LeNetLikeChainKeepsTheDynamicBatch) {
  G m;
  m.input("x", Shape{-1, 1, 28, 28})
      .init("w1", zeros(DType::kF32, {16, 1, 5, 5}))
      .init("b1", zeros(DType::kF32, {16}))
      .init("w2", zeros(DType::kF32, {10, 2304}))
      .init("b2", zeros(DType::kF32, {10}))
      .node("Conv", {"x", "w1", "b1"}, {"c1"})
      .node("Relu", {"c1"}, {"r1"})
      .node("MaxPool", {"r1"}, {"p1"}, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}})
      .node("Flatten", {"p1"}, {"f"}, {{"axis", attr_int(1)}})
      .node("Gemm", {"f", "w2", "b2"}, {"y"}, {{"transB", attr_int(1)}});
  m.g.outputs.push_back({"y", DType::kF32, std::nullopt});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("c1"), (Shape{-1, 16, 24, 24}));
  EXPECT_EQ(m.shape("p1"), (Shape{-1, 16, 12, 12}));
  EXPECT_EQ(m.shape("f"), (Shape{-1, 2304}));
  EXPECT_EQ(m.shape("y"), (Shape{-1, 10}));
  EXPECT_EQ(m.dtype("y"), DType::kF32);
}

TEST(GraphInference, ConvPoolGeometry) {
  G m;
  m.input("x", Shape{2, 4, 9, 8})
      .init("w", zeros(DType::kF32, {6, 2, 3, 3}))
      .node("Conv", {"x", "w"}, {"same"}, {{"group", attr_int(2)}, {"strides", attr_ints({2, 2})}});
  m.g.nodes.back().attrs["auto_pad"].kind = Attribute::Kind::kString;
  m.g.nodes.back().attrs["auto_pad"].s = "SAME_UPPER";
  m.node("Conv", {"x", "w"}, {"dil"},
         {{"group", attr_int(2)}, {"dilations", attr_ints({2, 1})}, {"pads", attr_ints({1, 0, 1, 0})}})
      .node("AveragePool", {"x"}, {"ceil"},
            {{"kernel_shape", attr_ints({2, 3})}, {"strides", attr_ints({2, 2})}, {"ceil_mode", attr_int(1)}})
      .node("GlobalAveragePool", {"x"}, {"gap"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("same"), (Shape{2, 6, 5, 4}));   // ceil(9/2), ceil(8/2)
  EXPECT_EQ(m.shape("dil"), (Shape{2, 6, 7, 6}));    // 9+2-5+1, 8-3+1
  EXPECT_EQ(m.shape("ceil"), (Shape{2, 4, 5, 4}));   // ceil(7/2)+1, ceil(5/2)+1
  EXPECT_EQ(m.shape("gap"), (Shape{2, 4, 1, 1}));
}

TEST(GraphInference, ReshapeFromInitializerKeepsDynamicBatch) {
  G m;
  m.input("x", Shape{-1, 32, 4, 4})
      .init("t1", i64({-1, 512}))
      .init("t2", i64({0, -1}))
      .init("t3", i64({0, 8, -1, 2}))
      .node("Reshape", {"x", "t1"}, {"a"})
      .node("Reshape", {"x", "t2"}, {"b"})
      .node("Reshape", {"x", "t3"}, {"c"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("a"), (Shape{-1, 512}));
  EXPECT_EQ(m.shape("b"), (Shape{-1, 512}));
  EXPECT_EQ(m.shape("c"), (Shape{-1, 8, 32, 2}));
}

TEST(GraphInference, ReshapeFromConstantNodeAndStaticInput) {
  G m;
  m.input("x", Shape{2, 3, 4})
      .node("Constant", {}, {"t"}, {{"value", attr_tensor(i64({4, -1}))}})
      .node("Reshape", {"x", "t"}, {"y"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("t"), (Shape{2}));
  EXPECT_EQ(m.dtype("t"), DType::kS64);
  EXPECT_EQ(m.shape("y"), (Shape{4, 6}));
}

TEST(GraphInference, BadReshapeIsInvalid) {
  G m;
  m.input("x", Shape{2, 6}).init("t", i64({5, -1})).node("Reshape", {"x", "t"}, {"y"});
  Status s = m.infer();
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("node name: Reshape_0"), std::string::npos) << s.message();
}

TEST(GraphInference, MatMulBroadcastAndKMismatch) {
  G m;
  m.input("a", Shape{-1, 1, 3, 4}).input("b", Shape{5, 4, 7}).input("v", Shape{4})
      .node("MatMul", {"a", "b"}, {"ab"})
      .node("MatMul", {"v", "b"}, {"vb"})
      .node("MatMul", {"a", "v"}, {"av"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("ab"), (Shape{-1, 5, 3, 7}));
  EXPECT_EQ(m.shape("vb"), (Shape{5, 7}));
  EXPECT_EQ(m.shape("av"), (Shape{-1, 1, 3}));

  G bad;
  bad.input("a", Shape{2, 3}).input("b", Shape{4, 5}).node("MatMul", {"a", "b"}, {"y"});
  Status s = bad.infer();
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("node name: MatMul_0"), std::string::npos) << s.message();
  }

TEST(GraphInference, InconsistentShapesNameTheNode) {
  G add;
  add.input("a", Shape{2, 3}).input("b", Shape{4}).node("Add", {"a", "b"}, {"y"});
  EXPECT_EQ(add.infer().code(), StatusCode::kInvalidInput);

  G cat;
  cat.input("a", Shape{2, 3}).input("b", Shape{2, 4})
      .node("Concat", {"a", "b"}, {"y"}, {{"axis", attr_int(0)}});
  EXPECT_EQ(cat.infer().code(), StatusCode::kInvalidInput);

  G tr;
  tr.input("a", Shape{2, 3}).node("Transpose", {"a"}, {"y"}, {{"perm", attr_ints({0, 0})}});
  EXPECT_EQ(tr.infer().code(), StatusCode::kInvalidInput);
}

TEST(GraphInference, UnknownShapesAreNotGuessed) {
  G m;
  m.input("x", std::nullopt)
      .input("y", Shape{-1, 1, 3})
      .node("Relu", {"x"}, {"rx"})
      .node("Flatten", {"x"}, {"fx"})
      .node("Squeeze", {"y"}, {"sq"})          // is dim 0 also 1? unknown
      .node("Add", {"x", "y"}, {"sum"})
      .node("Shape", {"x"}, {"shp"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("rx"), std::nullopt);
  EXPECT_EQ(m.dtype("rx"), DType::kF32);
  EXPECT_EQ(m.shape("fx"), std::nullopt);  // libonnx needs the rank to place the axis
  EXPECT_EQ(m.shape("sq"), std::nullopt);
  EXPECT_EQ(m.shape("sum"), std::nullopt);
  EXPECT_EQ(m.shape("shp"), (Shape{-1}));
}

TEST(GraphInference, ShapeOps) {
  G m;
  m.g.opset = 15;
  m.input("x", Shape{-1, 3, 8})
      .init("starts", i64({1, 0}))
      .init("ends", i64({100, -2}))
      .init("axes", i64({1, 2}))
      .init("steps", i64({1, 3}))
      .init("uaxes", i64({0, -1}))
      .init("idx", Tensor::from_i64({2, 2}, {0, 1, 1, 2}))
      .node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"sl"})
      .node("Unsqueeze", {"x", "uaxes"}, {"un"})
      .node("Gather", {"x", "idx"}, {"ga"}, {{"axis", attr_int(1)}})
      .node("Transpose", {"x"}, {"tr"}, {{"perm", attr_ints({2, 0, 1})}})
      .node("Concat", {"x", "x"}, {"ca"}, {{"axis", attr_int(-1)}})
      .node("Concat", {"x", "x"}, {"cb"}, {{"axis", attr_int(0)}})
      .node("Shape", {"x"}, {"sh"}, {{"start", attr_int(1)}})
      .node("ReduceMean", {"x"}, {"rm"}, {{"axes", attr_ints({-1})}, {"keepdims", attr_int(0)}})
      .node("Softmax", {"x"}, {"sm"})
      .node("Cast", {"x"}, {"ci"}, {{"to", attr_int(9)}})
      .node("Where", {"ci", "x", "sm"}, {"wh"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("sl"), (Shape{-1, 2, 2}));  // [1,3) -> 2; [0,6) step 3 -> 2
  EXPECT_EQ(m.shape("un"), (Shape{1, -1, 3, 8, 1}));
  EXPECT_EQ(m.shape("ga"), (Shape{-1, 2, 2, 8}));
  EXPECT_EQ(m.shape("tr"), (Shape{8, -1, 3}));
  EXPECT_EQ(m.shape("ca"), (Shape{-1, 3, 16}));
  EXPECT_EQ(m.shape("cb"), (Shape{-1, 3, 8}));
  EXPECT_EQ(m.shape("sh"), (Shape{2}));
  EXPECT_EQ(m.shape("rm"), (Shape{-1, 3}));
  EXPECT_EQ(m.shape("sm"), (Shape{-1, 3, 8}));
  EXPECT_EQ(m.dtype("ci"), DType::kBool);
  EXPECT_EQ(m.shape("wh"), (Shape{-1, 3, 8}));
  EXPECT_EQ(m.dtype("wh"), DType::kF32);
}

TEST(GraphInference, NormalizationOps) {
  G m;
  m.g.opset = 17;
  m.input("x", Shape{-1, 4, 5})
      .init("s", zeros(DType::kF32, {4}))
      .init("g", zeros(DType::kF32, {5}))
      .node("BatchNormalization", {"x", "s", "s", "s", "s"}, {"bn"})
      .node("LayerNormalization", {"x", "g"}, {"ln", "mean", "istd"}, {{"axis", attr_int(-1)}});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("bn"), (Shape{-1, 4, 5}));
  EXPECT_EQ(m.shape("ln"), (Shape{-1, 4, 5}));
  EXPECT_EQ(m.shape("mean"), (Shape{-1, 4, 1}));
}

TEST(GraphInference, QuantizationOps) {
  G m;
  m.input("x", Shape{-1, 3, 8, 8})
      .init("s", Tensor::scalar_f32(0.1f))
      .init("zp_s8", zeros(DType::kS8, {}))
      .init("zp_u8", zeros(DType::kU8, {}))
      .init("w", zeros(DType::kS8, {5, 3, 3, 3}))
      .init("wmm", zeros(DType::kS8, {8, 6}))
      .node("QuantizeLinear", {"x", "s"}, {"q_u8"})
      .node("QuantizeLinear", {"x", "s", "zp_s8"}, {"q_s8"})
      .node("DequantizeLinear", {"q_s8", "s", "zp_s8"}, {"dq"})
      .node("QLinearConv", {"q_u8", "s", "zp_u8", "w", "s", "zp_s8", "s", "zp_s8"}, {"qc"},
            {{"pads", attr_ints({1, 1, 1, 1})}})
      .node("ConvInteger", {"q_u8", "w", "zp_u8"}, {"ci"})
      .node("QLinearMatMul", {"q_u8", "s", "zp_u8", "wmm", "s", "zp_s8", "s", "zp_u8"}, {"qm"})
      .node("MatMulInteger", {"q_s8", "wmm"}, {"mi"})
      .node("DynamicQuantizeLinear", {"x"}, {"dy", "dys", "dyz"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.dtype("q_u8"), DType::kU8);
  EXPECT_EQ(m.dtype("q_s8"), DType::kS8);
  EXPECT_EQ(m.shape("q_s8"), (Shape{-1, 3, 8, 8}));
  EXPECT_EQ(m.dtype("dq"), DType::kF32);
  EXPECT_EQ(m.shape("qc"), (Shape{-1, 5, 8, 8}));
  EXPECT_EQ(m.dtype("qc"), DType::kS8);
  EXPECT_EQ(m.shape("ci"), (Shape{-1, 5, 6, 6}));
  EXPECT_EQ(m.dtype("ci"), DType::kS32);
  EXPECT_EQ(m.shape("qm"), (Shape{-1, 3, 8, 6}));
  EXPECT_EQ(m.dtype("qm"), DType::kU8);
  EXPECT_EQ(m.dtype("mi"), DType::kS32);
  EXPECT_EQ(m.shape("dys"), (Shape{}));
  EXPECT_EQ(m.dtype("dyz"), DType::kU8);

  G bad;
  bad.input("a", Shape{2, 3}, DType::kU8)
      .init("b", zeros(DType::kU8, {4, 2}))
      .node("MatMulInteger", {"a", "b"}, {"y"});
  EXPECT_EQ(bad.infer().code(), StatusCode::kInvalidInput);
}

// ---------------------------------------------------------------- bundled models

TEST(GraphInference, BundledFashionMnistModelsGiveBatchByTen) {
  const fs::path dir = fs::path(QTUNE_SOURCE_DIR) / "models" / "fashion_mnist";
  std::vector<fs::path> files;
  if (fs::exists(dir)) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".onnx") files.push_back(e.path());
    }
  }
  if (files.empty()) GTEST_SKIP() << "no models in " << dir;
  for (const auto& f : files) {
    auto loaded = load_onnx_model(f.string());
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    Graph g = std::move(loaded).value();
    g.value_info.clear();
    ASSERT_EQ(g.outputs.size(), 1u) << f;
    const std::string out = g.outputs[0].name;
    g.outputs[0].shape.reset();  // inference alone must find it
    Status s = infer_graph_types(g);
    ASSERT_TRUE(s.ok()) << f << ": " << s.message();
    ASSERT_TRUE(g.value_info.count(out)) << f;
    EXPECT_EQ(g.value_info[out].shape, (Shape{-1, 10})) << f;
    EXPECT_EQ(g.value_info[out].dtype, DType::kF32) << f;
  }
}

}  // namespace
}  // namespace qtune
