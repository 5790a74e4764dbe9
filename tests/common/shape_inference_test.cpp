#include "common/shape_inference.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/onnx_io.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute ints_attr(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute tensor_attr(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}

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
  Status infer() { return infer_shapes(g); }
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

TEST(ShapeInferenceTest, LeNetLikeChainKeepsTheDynamicBatch) {
  G m;
  m.input("x", Shape{-1, 1, 28, 28})
      .init("w1", zeros(DType::kF32, {16, 1, 5, 5}))
      .init("b1", zeros(DType::kF32, {16}))
      .init("w2", zeros(DType::kF32, {10, 2304}))
      .init("b2", zeros(DType::kF32, {10}))
      .node("Conv", {"x", "w1", "b1"}, {"c1"})
      .node("Relu", {"c1"}, {"r1"})
      .node("MaxPool", {"r1"}, {"p1"}, {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}})
      .node("Flatten", {"p1"}, {"f"}, {{"axis", int_attr(1)}})
      .node("Gemm", {"f", "w2", "b2"}, {"y"}, {{"transB", int_attr(1)}});
  m.g.outputs.push_back({"y", DType::kF32, std::nullopt});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("c1"), (Shape{-1, 16, 24, 24}));
  EXPECT_EQ(m.shape("p1"), (Shape{-1, 16, 12, 12}));
  EXPECT_EQ(m.shape("f"), (Shape{-1, 2304}));
  EXPECT_EQ(m.shape("y"), (Shape{-1, 10}));
  EXPECT_EQ(m.dtype("y"), DType::kF32);
}

TEST(ShapeInferenceTest, ConvPoolGeometry) {
  G m;
  m.input("x", Shape{2, 4, 9, 8})
      .init("w", zeros(DType::kF32, {6, 2, 3, 3}))
      .node("Conv", {"x", "w"}, {"same"}, {{"group", int_attr(2)}, {"strides", ints_attr({2, 2})}});
  m.g.nodes.back().attrs["auto_pad"].kind = Attribute::Kind::kString;
  m.g.nodes.back().attrs["auto_pad"].s = "SAME_UPPER";
  m.node("Conv", {"x", "w"}, {"dil"},
         {{"group", int_attr(2)}, {"dilations", ints_attr({2, 1})}, {"pads", ints_attr({1, 0, 1, 0})}})
      .node("AveragePool", {"x"}, {"ceil"},
            {{"kernel_shape", ints_attr({2, 3})}, {"strides", ints_attr({2, 2})}, {"ceil_mode", int_attr(1)}})
      .node("GlobalAveragePool", {"x"}, {"gap"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("same"), (Shape{2, 6, 5, 4}));   // ceil(9/2), ceil(8/2)
  EXPECT_EQ(m.shape("dil"), (Shape{2, 6, 7, 6}));    // 9+2-5+1, 8-3+1
  EXPECT_EQ(m.shape("ceil"), (Shape{2, 4, 5, 4}));   // ceil(7/2)+1, ceil(5/2)+1
  EXPECT_EQ(m.shape("gap"), (Shape{2, 4, 1, 1}));
}

TEST(ShapeInferenceTest, ReshapeFromInitializerKeepsDynamicBatch) {
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

TEST(ShapeInferenceTest, ReshapeFromConstantNodeAndStaticInput) {
  G m;
  m.input("x", Shape{2, 3, 4})
      .node("Constant", {}, {"t"}, {{"value", tensor_attr(i64({4, -1}))}})
      .node("Reshape", {"x", "t"}, {"y"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("t"), (Shape{2}));
  EXPECT_EQ(m.dtype("t"), DType::kS64);
  EXPECT_EQ(m.shape("y"), (Shape{4, 6}));
}

TEST(ShapeInferenceTest, ReshapeTargetFoldedFromShapeGatherUnsqueezeConcat) {
  G m;
  m.input("x", Shape{-1, 32, 4, 4})
      .init("zero", Tensor::from_i64({}, {0}))
      .init("axes0", i64({0}))
      .init("minus1", i64({-1}))
      .node("Shape", {"x"}, {"s"})
      .node("Gather", {"s", "zero"}, {"batch"}, {{"axis", int_attr(0)}})
      .node("Unsqueeze", {"batch", "axes0"}, {"batch1"})
      .node("Concat", {"batch1", "minus1"}, {"target"}, {{"axis", int_attr(0)}})
      .node("Reshape", {"x", "target"}, {"y"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("s"), (Shape{4}));
  EXPECT_EQ(m.shape("batch"), (Shape{}));
  EXPECT_EQ(m.shape("batch1"), (Shape{1}));
  EXPECT_EQ(m.shape("target"), (Shape{2}));
  // The batch stays unknown, but it is x's own dim 0, so 512 still follows.
  EXPECT_EQ(m.shape("y"), (Shape{-1, 512}));

  // With a static batch the whole chain folds.
  G s;
  s.input("x", Shape{3, 32, 4, 4})
      .init("zero", Tensor::from_i64({}, {0}))
      .init("axes0", i64({0}))
      .init("minus1", i64({-1}))
      .node("Shape", {"x"}, {"s"})
      .node("Gather", {"s", "zero"}, {"batch"}, {{"axis", int_attr(0)}})
      .node("Unsqueeze", {"batch", "axes0"}, {"batch1"})
      .node("Concat", {"batch1", "minus1"}, {"target"}, {{"axis", int_attr(0)}})
      .node("Reshape", {"x", "target"}, {"y"});
  ASSERT_TRUE(s.infer().ok());
  EXPECT_EQ(s.shape("y"), (Shape{3, 512}));
}

TEST(ShapeInferenceTest, ReshapeWithRuntimeTargetRecordsOnlyTheRank) {
  G m;
  m.input("x", Shape{2, 6}).input("t", Shape{3}, DType::kS64).node("Reshape", {"x", "t"}, {"y"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("y"), (Shape{-1, -1, -1}));
}

TEST(ShapeInferenceTest, BadReshapeIsInvalid) {
  G m;
  m.input("x", Shape{2, 6}).init("t", i64({5, -1})).node("Reshape", {"x", "t"}, {"y"});
  Status s = m.infer();
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("node 'Reshape_0' (Reshape)"), std::string::npos) << s.message();
}

TEST(ShapeInferenceTest, MatMulBroadcastAndKMismatch) {
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
  EXPECT_NE(s.message().find("node 'MatMul_0' (MatMul)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("inner dimensions"), std::string::npos) << s.message();
}

TEST(ShapeInferenceTest, InconsistentShapesNameTheNode) {
  G gemm;
  gemm.input("a", Shape{2, 3}).init("w", zeros(DType::kF32, {4, 5}))
      .node("Gemm", {"a", "w"}, {"y"}, {{"transB", int_attr(1)}});
  EXPECT_EQ(gemm.infer().code(), StatusCode::kInvalidInput);

  G conv;
  conv.input("x", Shape{1, 3, 8, 8}).init("w", zeros(DType::kF32, {4, 2, 3, 3}))
      .node("Conv", {"x", "w"}, {"y"});
  Status s = conv.infer();
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("(Conv)"), std::string::npos) << s.message();

  G add;
  add.input("a", Shape{2, 3}).input("b", Shape{4}).node("Add", {"a", "b"}, {"y"});
  EXPECT_EQ(add.infer().code(), StatusCode::kInvalidInput);

  G cat;
  cat.input("a", Shape{2, 3}).input("b", Shape{2, 4})
      .node("Concat", {"a", "b"}, {"y"}, {{"axis", int_attr(0)}});
  EXPECT_EQ(cat.infer().code(), StatusCode::kInvalidInput);

  G tr;
  tr.input("a", Shape{2, 3}).node("Transpose", {"a"}, {"y"}, {{"perm", ints_attr({0, 0})}});
  EXPECT_EQ(tr.infer().code(), StatusCode::kInvalidInput);
}

TEST(ShapeInferenceTest, UnknownShapesAreNotGuessed) {
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
  EXPECT_EQ(m.shape("fx"), (Shape{-1, -1}));
  EXPECT_EQ(m.shape("sq"), std::nullopt);
  EXPECT_EQ(m.shape("sum"), std::nullopt);
  EXPECT_EQ(m.shape("shp"), (Shape{-1}));
}

TEST(ShapeInferenceTest, ShapeOps) {
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
      .node("Gather", {"x", "idx"}, {"ga"}, {{"axis", int_attr(1)}})
      .node("Transpose", {"x"}, {"tr"}, {{"perm", ints_attr({2, 0, 1})}})
      .node("Concat", {"x", "x"}, {"ca"}, {{"axis", int_attr(-1)}})
      .node("Concat", {"x", "x"}, {"cb"}, {{"axis", int_attr(0)}})
      .node("Shape", {"x"}, {"sh"}, {{"start", int_attr(1)}})
      .node("ReduceMean", {"x"}, {"rm"}, {{"axes", ints_attr({-1})}, {"keepdims", int_attr(0)}})
      .node("Softmax", {"x"}, {"sm"})
      .node("Cast", {"x"}, {"ci"}, {{"to", int_attr(7)}})
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
  EXPECT_EQ(m.dtype("ci"), DType::kS64);
  EXPECT_EQ(m.shape("wh"), (Shape{-1, 3, 8}));
  EXPECT_EQ(m.dtype("wh"), DType::kF32);
}

TEST(ShapeInferenceTest, NormalizationOps) {
  G m;
  m.g.opset = 17;
  m.input("x", Shape{-1, 4, 5})
      .init("s", zeros(DType::kF32, {4}))
      .init("g", zeros(DType::kF32, {5}))
      .node("BatchNormalization", {"x", "s", "s", "s", "s"}, {"bn"})
      .node("LayerNormalization", {"x", "g"}, {"ln", "mean", "istd"}, {{"axis", int_attr(-1)}});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("bn"), (Shape{-1, 4, 5}));
  EXPECT_EQ(m.shape("ln"), (Shape{-1, 4, 5}));
  EXPECT_EQ(m.shape("mean"), (Shape{-1, 4, 1}));
}

TEST(ShapeInferenceTest, QuantizationOps) {
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
            {{"pads", ints_attr({1, 1, 1, 1})}})
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

TEST(ShapeInferenceTest, DeclaredInfoFillsGapsAndUnknownOpsPassThrough) {
  G m;
  m.input("x", Shape{-1, 4})
      .node("MyOp", {"x"}, {"h"})
      .node("Relu", {"h"}, {"y"})
      .node("OtherOp", {"y"}, {"z"});
  m.g.nodes[0].domain = "com.example";
  m.g.value_info["h"] = {"h", DType::kF32, Shape{-1, 7}};
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.shape("h"), (Shape{-1, 7}));
  EXPECT_EQ(m.shape("y"), (Shape{-1, 7}));
  EXPECT_EQ(m.g.value_info.count("z"), 0u);  // nothing known, nothing recorded
  EXPECT_FALSE(shape_inference_supports(m.g.nodes[0]));
  EXPECT_TRUE(shape_inference_supports(m.g.nodes[1]));
}

TEST(ShapeInferenceTest, NodeOrderIsLeftAlone) {
  G m;
  m.input("x", Shape{2})
      .node("Relu", {"a"}, {"b"})
      .node("Relu", {"x"}, {"a"});
  ASSERT_TRUE(m.infer().ok());
  EXPECT_EQ(m.g.nodes[0].outputs[0], "b");
  EXPECT_EQ(m.shape("b"), (Shape{2}));
}

// ---------------------------------------------------------------- ONNX node tests

TEST(ShapeInferenceTest, OnnxNodeTestsOutputShapes) {
  const fs::path root = "/usr/share/libonnx-testdata/data/node";
  if (!fs::exists(root)) GTEST_SKIP() << root << " not installed (Debian libonnx-testdata)";
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int models = 0, compared = 0;
  for (const auto& dir : dirs) {
    auto loaded = load_onnx_model((dir / "model.onnx").string());
    if (!loaded.ok()) continue;
    Graph g = std::move(loaded).value();
    bool all = true;
    for (const auto& n : g.nodes) all = all && shape_inference_supports(n);
    if (!all || g.nodes.empty()) continue;
    // Forget every declared intermediate and output so only inference speaks.
    g.value_info.clear();
    for (auto& o : g.outputs) {
      o.dtype = DType::kUndefined;
      o.shape.reset();
    }
    Status s = infer_shapes(g);
    EXPECT_TRUE(s.ok()) << dir.filename() << ": " << s.message();
    if (!s.ok()) continue;
    ++models;
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      const fs::path pb = dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb");
      auto it = g.value_info.find(g.outputs[i].name);
      if (!fs::exists(pb) || it == g.value_info.end()) continue;
      auto want = load_tensor_pb(pb.string());
      if (!want.ok()) continue;
      const ValueInfo& got = it->second;
      // The 1.12 test data stores bfloat16 results as raw uint16 tensors.
      const bool bf16_as_u16 = got.dtype == DType::kBF16 && want->dtype() == DType::kU16;
      if (got.dtype != DType::kUndefined && !bf16_as_u16) {
        EXPECT_EQ(got.dtype, want->dtype()) << dir.filename() << " output " << i;
      }
      if (!got.shape) continue;
      // Known dims must be right even when others are unknown.
      ASSERT_EQ(got.shape->size(), want->shape().size())
          << dir.filename() << " output " << i << ": " << shape_str(*got.shape) << " vs "
          << shape_str(want->shape());
      bool full = true;
      for (size_t d = 0; d < got.shape->size(); ++d) {
        if ((*got.shape)[d] < 0) {
          full = false;
          continue;
        }
        EXPECT_EQ((*got.shape)[d], want->shape()[d])
            << dir.filename() << " output " << i << ": " << shape_str(*got.shape) << " vs "
            << shape_str(want->shape());
      }
      if (full) ++compared;
    }
  }
  EXPECT_GT(models, 200);
  EXPECT_GT(compared, 200);
  std::cout << "shape inference checked " << compared << " fully known outputs of " << models
            << " ONNX node test models\n";
}

// ---------------------------------------------------------------- bundled models

TEST(ShapeInferenceTest, BundledFashionMnistModelsGiveBatchByTen) {
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
    Status s = infer_shapes(g);
    ASSERT_TRUE(s.ok()) << f << ": " << s.message();
    ASSERT_TRUE(g.value_info.count(out)) << f;
    EXPECT_EQ(g.value_info[out].shape, (Shape{-1, 10})) << f;
    EXPECT_EQ(g.value_info[out].dtype, DType::kF32) << f;
  }
}

}  // namespace
}  // namespace qtune
