#include "adaptors/capability.h"

#include "adaptors/quantize/op_roles.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "adaptors/fused_fp32_patterns.h"
#include "adaptors/quantize/graph_passes.h"
#include "common/onnx_io.h"

namespace qtune {
namespace {

const std::string kSource = QTUNE_SOURCE_DIR;
const std::string kFixtures = kSource + "/tests/data/capabilities/";

CapabilitySpec shipped(const std::string& adaptor) {
  auto r = load_capability_spec(kSource + "/capabilities/" + adaptor + ".yaml", kAdaptorVersion);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : CapabilitySpec{};
}

Graph bundled(const std::string& model) {
  auto g = load_onnx_model(kSource + "/models/fashion_mnist/" + model + ".onnx");
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(g).value() : Graph{};
}

// The error of loading a bad fixture, with the fixture's directory cut off.
std::string fixture_error(const std::string& name) {
  auto r = load_capability_spec(kFixtures + name, kAdaptorVersion);
  EXPECT_FALSE(r.ok()) << name;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind(kFixtures, 0), 0u) << m;
  return m.substr(m.rfind(kFixtures, 0) == 0 ? kFixtures.size() : 0);
}

OpQuantConfig int8(QuantMode mode, bool has_weight, TensorQuantSpec w, TensorQuantSpec a) {
  OpQuantConfig c;
  c.precision = OpPrecision::kInt8;
  c.mode = mode;
  c.has_weight = has_weight;
  c.weight = has_weight ? w : TensorQuantSpec{};
  c.activation = a;
  return c;
}

const TensorQuantSpec kWeightPerChannel{DType::kS8, QuantScheme::kSym,
                                        QuantGranularity::kPerChannel, CalibAlgorithm::kMinMax};
const TensorQuantSpec kActU8MinMax{DType::kU8, QuantScheme::kAsym, QuantGranularity::kPerTensor,
                                   CalibAlgorithm::kMinMax};

// ---------------------------------------------------------------------------------------------
// The YAML files.

TEST(CapabilitySpecTest, ShippedFilesLoad) {
  for (const std::string adaptor : {"native", "onednn"}) {
    SCOPED_TRACE(adaptor);
    const CapabilitySpec spec = shipped(adaptor);
    EXPECT_EQ(spec.adaptor, adaptor);
    EXPECT_EQ(spec.precisions,
              (std::vector{OpPrecision::kInt8, OpPrecision::kBf16, OpPrecision::kFp32}));
    EXPECT_EQ(spec.bf16, (std::vector<std::string>{"Conv", "Gemm", "MatMul"}));
    for (const char* op : {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool"}) {
      EXPECT_TRUE(spec.int8.count(op)) << op;
    }
  }
}

TEST(CapabilitySpecTest, NativeOpsAndOptions) {
  const CapabilitySpec spec = shipped("native");
  std::set<std::string> ops;
  for (const auto& [op, c] : spec.int8) ops.insert(op);
  // Every op type the QDQ builder has a role for (adaptors/quantize/op_roles.h), but RNN.
  std::set<std::string> want = {"Add", "Concat", "Conv", "Gemm", "GlobalAveragePool", "MatMul",
                                "MaxPool", "ArgMax", "AveragePool", "Clip", "ConvTranspose", "Flatten", "GRU", "Gather",
                      "GlobalMaxPool", "HardSigmoid", "HardSwish", "LSTM", "LeakyRelu", "Mul",
                      "Pad", "Relu", "Reshape", "Resize", "Sigmoid", "Softmax", "Split",
                      "Squeeze", "Transpose", "Unsqueeze"};
  EXPECT_EQ(ops, want);
  for (const auto& [op, c] : spec.int8) {
    SCOPED_TRACE(op);
    ASSERT_TRUE(c.static_mode.has_value());
    EXPECT_FALSE(c.dynamic_mode.has_value());
    const bool weighted = !quant_op_role(op)->weights.empty();
    EXPECT_EQ(c.static_mode->weight.empty(), !weighted);
    const auto acts = c.static_mode->activation_specs();
    ASSERT_EQ(acts.size(), 8u);  // u8 asym or s8 sym, four algorithms each
    EXPECT_EQ(acts.front(), kActU8MinMax);
    for (const auto& a : acts) {
      EXPECT_TRUE((a.dtype == DType::kU8 && a.scheme == QuantScheme::kAsym) ||
                  (a.dtype == DType::kS8 && a.scheme == QuantScheme::kSym));
    }
    if (weighted) {
      const auto ws = c.static_mode->weight_specs();
      ASSERT_EQ(ws.size(), 2u);
      EXPECT_EQ(ws[0], kWeightPerChannel);
      EXPECT_EQ(ws[1].granularity, QuantGranularity::kPerTensor);
    }
  }
}

TEST(CapabilitySpecTest, OnednnHasDynamicGemmAndMatMulOnly) {
  const CapabilitySpec spec = shipped("onednn");
  std::set<std::string> ops, dynamic;
  for (const auto& [op, c] : spec.int8) {
    ops.insert(op);
    if (c.dynamic_mode) {
      dynamic.insert(op);
      for (const auto& a : c.dynamic_mode->activation_specs()) {
        EXPECT_EQ(a.algorithm, CalibAlgorithm::kMinMax) << op;
      }
    }
  }
  // oneDNN, the vanilla peer, has no int8 Add/Concat/GlobalAveragePool of its own.
  EXPECT_EQ(ops, (std::set<std::string>{"Conv", "Gemm", "MatMul", "MaxPool", "ArgMax", "AveragePool", "Clip", "ConvTranspose", "Flatten", "GRU", "Gather",
                      "GlobalMaxPool", "HardSigmoid", "HardSwish", "LSTM", "LeakyRelu", "Mul",
                      "Pad", "Relu", "Reshape", "Resize", "Sigmoid", "Softmax", "Split",
                      "Squeeze", "Transpose", "Unsqueeze"}));
  EXPECT_EQ(dynamic, (std::set<std::string>{"Gemm", "MatMul"}));
}

TEST(CapabilitySpecTest, UnknownKeyNamesFileLineColumnAndField) {
  const std::string m = fixture_error("unknown_key.yaml");
  EXPECT_EQ(m.rfind("unknown_key.yaml:10:50: versions[0].int8.Conv.static.weight.granularty: "
                    "unknown key",
                    0),
            0u)
      << m;
}

TEST(CapabilitySpecTest, ActivationPairsOnlyOnGemmAndMatMulAndBoolean) {
  EXPECT_EQ(fixture_error("activation_pairs_on_conv.yaml"),
            "activation_pairs_on_conv.yaml:12:9: versions[0].int8.Conv.activation_pairs: Conv has "
            "no activation x activation form (only Gemm, MatMul do)");
  const std::string m = fixture_error("activation_pairs_not_bool.yaml");
  EXPECT_EQ(m.rfind("activation_pairs_not_bool.yaml:9:27: versions[0].int8.MatMul.activation_pairs:", 0), 0u) << m;
  // Shipped: neither adaptor has an int8 activation x activation kernel.
  for (const std::string adaptor : {"native", "onednn"}) {
    const CapabilitySpec spec = shipped(adaptor);
    EXPECT_FALSE(spec.int8.at("MatMul").activation_pairs) << adaptor;
    EXPECT_FALSE(spec.int8.at("Gemm").activation_pairs) << adaptor;
  }
}

TEST(CapabilitySpecTest, BadEnumValue) {
  const std::string m = fixture_error("bad_enum.yaml");
  EXPECT_EQ(m, "bad_enum.yaml:11:103: versions[0].int8.Conv.static.activation.algorithm[1]: "
               "'entropy' is not one of minmax, kl, percentile, mse");
}

TEST(CapabilitySpecTest, BadPrecision) {
  const std::string m = fixture_error("bad_precision.yaml");
  EXPECT_EQ(m.rfind("bad_precision.yaml:6:24: versions[0].precisions[1]: 'fp16' is not one of", 0),
            0u)
      << m;
}

TEST(CapabilitySpecTest, MissingField) {
  const std::string m = fixture_error("missing_field.yaml");
  EXPECT_EQ(m, "missing_field.yaml:11:23: versions[0].int8.Conv.static.activation.scheme: "
               "missing required key");
}

TEST(CapabilitySpecTest, MissingWeightOfConv) {
  const std::string m = fixture_error("missing_weight.yaml");
  EXPECT_EQ(m.rfind("missing_weight.yaml:10:11: versions[0].int8.Conv.static.weight: missing "
                    "required key",
                    0),
            0u)
      << m;
}

TEST(CapabilitySpecTest, MissingVersions) {
  EXPECT_EQ(fixture_error("missing_versions.yaml"),
            "missing_versions.yaml:2:1: versions: missing required key");
}

TEST(CapabilitySpecTest, WrongType) {
  const std::string m = fixture_error("wrong_type.yaml");
  EXPECT_EQ(m.rfind("wrong_type.yaml:10:27: versions[0].int8.Conv.static.weight.dtype: expected a "
                    "list of int8, uint8, got 'int8'",
                    0),
            0u)
      << m;
}

TEST(CapabilitySpecTest, EmptyList) {
  const std::string m = fixture_error("empty_list.yaml");
  EXPECT_EQ(m.rfind("empty_list.yaml:10:43: versions[0].int8.Conv.static.weight.scheme: must not "
                    "be empty",
                    0),
            0u)
      << m;
}

TEST(CapabilitySpecTest, OpTypeOutsideTheRuntime) {
  const std::string m = fixture_error("unknown_op.yaml");
  EXPECT_EQ(m, "unknown_op.yaml:12:7: versions[0].int8.Conv2D: 'Conv2D' is not an op type the "
               "runtime implements");
}

TEST(CapabilitySpecTest, DynamicActivationsAreMinMaxOnly) {
  const std::string m = fixture_error("dynamic_kl.yaml");
  EXPECT_EQ(m.rfind("dynamic_kl.yaml:14:94: versions[0].int8.Conv.dynamic.activation.algorithm: "
                    "dynamic quantization",
                    0),
            0u)
      << m;
}

TEST(CapabilitySpecTest, OverlappingBlocks) {
  const std::string m = fixture_error("overlapping_blocks.yaml");
  EXPECT_EQ(m.rfind("overlapping_blocks.yaml:12:13: versions[0].int8.Conv.static.activation: "
                    "option blocks overlap: u8/asym/per_tensor/kl",
                    0),
            0u)
      << m;
}

TEST(CapabilitySpecTest, Bf16NotInPrecisions) {
  const std::string m = fixture_error("bf16_not_in_precisions.yaml");
  EXPECT_EQ(m, "bf16_not_in_precisions.yaml:12:11: versions[0].bf16: given but precisions does "
               "not list bf16");
}

TEST(CapabilitySpecTest, BadVersionConstraint) {
  const std::string m = fixture_error("bad_version.yaml");
  EXPECT_EQ(m.rfind("bad_version.yaml:5:14: versions[0].version: 'at least 0.1' is not OP VERSION",
                    0),
            0u)
      << m;
}

TEST(CapabilitySpecTest, YamlSyntaxErrorIsCaught) {
  const std::string m = fixture_error("syntax_error.yaml");
  EXPECT_EQ(m.rfind("syntax_error.yaml:", 0), 0u) << m;
  EXPECT_NE(m.find("end of map flow not found"), std::string::npos) << m;
}

TEST(CapabilitySpecTest, MissingFileAndDirectory) {
  auto r = load_capability_spec(kFixtures + "nope.yaml", kAdaptorVersion);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("nope.yaml"), std::string::npos);
  r = load_capability_spec(kFixtures, kAdaptorVersion);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is a directory"), std::string::npos);
}

TEST(CapabilitySpecTest, FirstMatchingVersionWins) {
  auto r = load_capability_spec(kFixtures + "adaptor_mismatch.yaml", "0.0.9");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->version, "<0.1");
  EXPECT_TRUE(r->int8.empty());
  r = load_capability_spec(kFixtures + "adaptor_mismatch.yaml", "0.1");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->version, "default");
  EXPECT_TRUE(r->int8.count("Add"));
}

TEST(CapabilitySpecTest, NoMatchingVersion) {
  auto r = load_capability_spec(kSource + "/capabilities/native.yaml", "0.0.1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("native.yaml:"), std::string::npos);
  EXPECT_NE(r.status().message().find("versions: no entry matches adaptor version 0.0.1"),
            std::string::npos)
      << r.status().message();
}

TEST(CapabilitySpecTest, VersionConstraints) {
  auto m = [](const std::string& c, const std::string& v) {
    auto r = adaptor_version_matches(c, v);
    EXPECT_TRUE(r.ok()) << c << " " << v;
    return r.ok() && r.value();
  };
  EXPECT_TRUE(m(">=0.1", "0.1.0"));
  EXPECT_TRUE(m(">=0.1", "0.10"));
  EXPECT_FALSE(m(">=0.1", "0.0.9"));
  EXPECT_TRUE(m(">=0.1, <0.2", "0.1.7"));
  EXPECT_FALSE(m(">=0.1, <0.2", "0.2"));
  EXPECT_TRUE(m("0.1", "0.1.0"));
  EXPECT_FALSE(m("!=0.1", "0.1.0"));
  EXPECT_TRUE(m("default", "7.3"));
  EXPECT_FALSE(adaptor_version_matches(">=x", "0.1").ok());
  EXPECT_FALSE(adaptor_version_matches(">=0.1,", "0.1").ok());
  EXPECT_FALSE(adaptor_version_matches(">=0.1", "v0.1").ok());
}

TEST(CapabilitySpecTest, AdaptorByNameThroughTheDirectory) {
  // The test binary sits in <build>/tests: <exe dir>/../../capabilities is the source tree's.
  const char* old = std::getenv("QTUNE_CAPABILITIES_DIR");
  const std::string saved = old ? old : "";
  ::unsetenv("QTUNE_CAPABILITIES_DIR");
  ASSERT_FALSE(capabilities_dir().empty());
  auto r = load_adaptor_capability_spec("onednn");
  EXPECT_TRUE(r.ok()) << r.status().message();

  ::setenv("QTUNE_CAPABILITIES_DIR", kFixtures.c_str(), 1);
  EXPECT_EQ(capabilities_dir() + "/", kFixtures);
  auto bad = load_adaptor_capability_spec("adaptor_mismatch");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            kFixtures + "adaptor_mismatch.yaml:3:10: adaptor: is 'test' but the file is for "
                        "adaptor 'adaptor_mismatch'");
  auto unknown = load_adaptor_capability_spec("nosuch");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown adaptor 'nosuch'"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("adaptor_mismatch, bad_enum"), std::string::npos)
      << unknown.status().message();
  EXPECT_FALSE(load_adaptor_capability_spec("../capabilities/native").ok());

  if (old) {
    ::setenv("QTUNE_CAPABILITIES_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("QTUNE_CAPABILITIES_DIR");
  }
}

// ---------------------------------------------------------------------------------------------
// Capability of the bundled models.

size_t count_type(const Capability& cap, const std::string& type) {
  size_t n = 0;
  for (const auto& [k, v] : cap.opwise) n += k.op_type == type;
  return n;
}

TEST(CapabilityTest, LenetNative) {
  const Graph g = bundled("lenet");
  auto r = build_capability(shipped("native"), g);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Capability& cap = r.value();
  EXPECT_EQ(count_type(cap, "Conv"), 2u);
  EXPECT_EQ(count_type(cap, "Gemm"), 2u);
  for (const auto& [key, list] : cap.opwise) {
    SCOPED_TRACE(key.name);
    ASSERT_GE(list.size(), 2u);
    EXPECT_EQ(list.back(), OpQuantConfig::fp32());
    if (key.op_type == "Conv" || key.op_type == "Gemm") {
      ASSERT_EQ(list.size(), 18u);  // 2 weight x 8 activation options, bf16, fp32
      EXPECT_EQ(list[list.size() - 2], OpQuantConfig::bf16());
      EXPECT_EQ(list[0], int8(QuantMode::kStatic, true, kWeightPerChannel, kActU8MinMax));
      EXPECT_EQ(describe(list[0]),
                "int8 static w:s8/sym/per_channel/minmax a:u8/asym/per_tensor/minmax");
      // Weight options outermost: the per_tensor weights come after all per_channel ones.
      EXPECT_EQ(list[7].weight.granularity, QuantGranularity::kPerChannel);
      EXPECT_EQ(list[8].weight.granularity, QuantGranularity::kPerTensor);
      for (size_t i = 0; i < 16; ++i) {
        EXPECT_EQ(list[i].precision, OpPrecision::kInt8);
        EXPECT_TRUE(list[i].has_weight);
      }
    } else {
      EXPECT_NE(list[list.size() - 2], OpQuantConfig::bf16()) << "no bf16 for " << key.op_type;
      EXPECT_FALSE(list[0].has_weight);
    }
  }
  // Only types with an int8 entry appear.
  for (const auto& [key, list] : cap.opwise) {
    EXPECT_TRUE(shipped("native").int8.count(key.op_type)) << key.op_type;
  }
  ASSERT_TRUE(cap.optypewise.count("Conv"));
  for (const auto& [key, list] : cap.opwise) {
    EXPECT_EQ(cap.optypewise.at(key.op_type), list) << key.name;
  }
  EXPECT_EQ(cap.optypewise.at("Gemm").size(), 18u);
}

TEST(CapabilityTest, LenetOnednnStaticThenDynamic) {
  auto r = build_capability(shipped("onednn"), bundled("lenet"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (const auto& [key, list] : r->opwise) {
    if (key.op_type != "Gemm") continue;
    ASSERT_EQ(list.size(), 20u);  // 16 static, 2 dynamic, bf16, fp32
    for (size_t i = 0; i < 16; ++i) EXPECT_EQ(list[i].mode, QuantMode::kStatic);
    for (size_t i = 16; i < 18; ++i) {
      EXPECT_EQ(list[i].mode, QuantMode::kDynamic);
      EXPECT_EQ(list[i].activation.algorithm, CalibAlgorithm::kMinMax);
    }
    EXPECT_EQ(list[18], OpQuantConfig::bf16());
    EXPECT_EQ(list[19], OpQuantConfig::fp32());
  }
  EXPECT_EQ(count_type(r.value(), "Gemm"), 2u);
}

// PyTorch exports a Linear on 3-D input as MatMul(x, Transpose(W)): constant, but not an
// initializer until a graph pass folds the Transpose.
bool is_folded_linear_candidate(const Graph& g, const Node& matmul) {
  for (const auto& n : g.nodes) {
    if (n.outputs.size() == 1 && n.outputs[0] == matmul.inputs[1]) {
      return n.op_type == "Transpose" && g.initializer(n.inputs[0]) != nullptr;
    }
  }
  return false;
}

// vit's LayerNorms (5) and GELUs (2) are exported as elementwise chains; none of their nodes is
// offered for int8, while the residual Adds and the attention scale Mul are.
TEST(CapabilityTest, VitLayerNormAndGeluChainsStayFp32) {
  auto prepared = prepare_fp32_for_quantization(bundled("vit"));
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  const Graph& g = prepared.value();
  const std::set<std::string> inside = fused_fp32_pattern_nodes(g);
  // 9 nodes per LayerNorm with Scale and B, 5 per GELU.
  EXPECT_EQ(inside.size(), 5u * 9u + 2u * 5u);
  auto cap = build_capability(shipped("native"), g);
  ASSERT_TRUE(cap.ok()) << cap.status().message();
  size_t adds = 0;
  for (const auto& [key, list] : cap->opwise) {
    EXPECT_FALSE(inside.count(key.name)) << key.name << " is inside a LayerNorm or GELU";
    adds += key.op_type == "Add";
  }
  EXPECT_GE(adds, 5u);  // the position embedding and the residual Adds
}

TEST(CapabilityTest, VitAttentionMatMulsHaveNoWeight) {
  Graph g = bundled("vit");
  std::set<std::string> linear, attention;
  for (const auto& n : g.nodes) {
    if (n.op_type != "MatMul") continue;
    (is_folded_linear_candidate(g, n) ? linear : attention).insert(n.name);
  }
  EXPECT_EQ(attention.size(), 4u);  // q.k^T and attn.v in each of the two blocks
  EXPECT_EQ(linear.size(), 8u);     // qkv, proj, fc1, fc2 in each block

  // The shipped adaptors have no int8 activation x activation kernel, so as exported (no
  // MatMul reads an initializer) vit offers no MatMul at all.
  auto shipped_raw = build_capability(shipped("native"), g);
  ASSERT_TRUE(shipped_raw.ok()) << shipped_raw.status().message();
  EXPECT_EQ(count_type(shipped_raw.value(), "MatMul"), 0u);
  EXPECT_FALSE(shipped_raw->optypewise.count("MatMul"));

  // An adaptor that has one offers them all, each activation x activation.
  CapabilitySpec pairs = shipped("native");
  pairs.int8.at("MatMul").activation_pairs = true;
  auto raw = build_capability(pairs, g);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  for (const auto& [key, list] : raw->opwise) {
    if (key.op_type != "MatMul") continue;
    ASSERT_EQ(list.size(), 10u) << key.name;  // 8 activation options, bf16, fp32
    EXPECT_EQ(describe(list[0]), "int8 static a:u8/asym/per_tensor/minmax");
    for (const auto& c : list) EXPECT_FALSE(c.has_weight) << key.name;
  }
  EXPECT_FALSE(raw->optypewise.at("MatMul")[0].has_weight);

  // With the transposed weights as initializers, the Linear MatMuls carry a weight.
  for (const auto& n : g.nodes) {
    if (linear.count(n.name)) g.initializers[n.inputs[1]] = Tensor();
  }
  auto folded = build_capability(pairs, g);
  ASSERT_TRUE(folded.ok()) << folded.status().message();
  auto shipped_folded = build_capability(shipped("native"), g);
  ASSERT_TRUE(shipped_folded.ok()) << shipped_folded.status().message();
  EXPECT_EQ(count_type(shipped_folded.value(), "MatMul"), 8u);  // the Linear layers only
  for (const auto& [key, list] : folded->opwise) {
    if (key.op_type != "MatMul") continue;
    const bool weighted = linear.count(key.name) != 0;
    EXPECT_EQ(list.size(), weighted ? 18u : 10u) << key.name;
    for (const auto& c : list) {
      EXPECT_EQ(c.has_weight, c.precision == OpPrecision::kInt8 && weighted) << key.name;
    }
  }
  EXPECT_TRUE(folded->optypewise.at("MatMul")[0].has_weight);
  // The classifier head is a Gemm on an initializer.
  ASSERT_TRUE(folded->optypewise.count("Gemm"));
  EXPECT_TRUE(folded->optypewise.at("Gemm")[0].has_weight);
}

TEST(CapabilityTest, ResnetEveryListEndsWithFp32) {
  const Graph g = bundled("resnet");
  auto r = build_capability(shipped("native"), g);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(count_type(r.value(), "Conv"), 5u);
  for (const auto& [key, list] : r->opwise) EXPECT_EQ(list.back(), OpQuantConfig::fp32());
}

Graph tiny_graph() {
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{1, 4}});
  g.inputs.push_back({"y", DType::kF32, Shape{4, 4}});
  g.initializers["w"] = Tensor();
  Node mm;
  mm.name = "mm";
  mm.op_type = "MatMul";
  mm.inputs = {"x", "w"};
  mm.outputs = {"a"};
  Node mm2 = mm;
  mm2.name = "mm2";
  mm2.inputs = {"a", "y"};
  mm2.outputs = {"b"};
  Node conv;
  conv.name = "conv";
  conv.op_type = "Conv";
  conv.inputs = {"b", "y"};  // a weight computed at run time
  conv.outputs = {"c"};
  Node custom = mm;
  custom.name = "custom";
  custom.domain = "com.example";
  custom.outputs = {"d"};
  g.nodes = {mm, mm2, conv, custom};
  return g;
}

CapabilitySpec native_with_activation_pairs() {
  CapabilitySpec spec = shipped("native");
  spec.int8.at("MatMul").activation_pairs = true;
  return spec;
}

TEST(CapabilityTest, ConstantWeightDecidesAndOtherDomainsAreSkipped) {
  auto shipped_cap = build_capability(shipped("native"), tiny_graph());
  ASSERT_TRUE(shipped_cap.ok()) << shipped_cap.status().message();
  ASSERT_EQ(shipped_cap->opwise.size(), 1u);  // activation x activation "mm2" is not offered
  EXPECT_TRUE(shipped_cap->opwise.count(OpKey{"mm", "MatMul"}));
  auto r = build_capability(native_with_activation_pairs(), tiny_graph());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->opwise.size(), 2u);
  EXPECT_TRUE(r->opwise.at(OpKey{"mm", "MatMul"})[0].has_weight);
  EXPECT_FALSE(r->opwise.at(OpKey{"mm2", "MatMul"})[0].has_weight);
  EXPECT_FALSE(r->opwise.count(OpKey{"conv", "Conv"}));
}

TEST(CapabilityTest, OpsWithNothingToQuantizeAreNotOffered) {
  // A dynamic Reshape's target shape computed from Shape(x) (as exporters write a channel
  // shuffle with a dynamic batch): the int64 Gather/Unsqueeze/Concat/Mul have no f32 input and
  // no weight, so they are not tunable; the Reshape of the f32 data is.
  Graph g;
  g.inputs.push_back({"x", DType::kF32, Shape{2, 4, 3, 3}});
  g.initializers["zero"] = Tensor(DType::kS64, Shape{});
  g.initializers["axes"] = Tensor(DType::kS64, Shape{1});
  g.initializers["rest"] = Tensor(DType::kS64, Shape{1});
  g.initializers["two"] = Tensor(DType::kS64, Shape{1});
  auto node = [&](const std::string& name, const std::string& type, std::vector<std::string> in,
                  std::string out) {
    Node n;
    n.name = name;
    n.op_type = type;
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    g.nodes.push_back(n);
  };
  node("shape", "Shape", {"x"}, "s");
  node("batch", "Gather", {"s", "zero"}, "n");
  node("unsq", "Unsqueeze", {"n", "axes"}, "n1");
  node("double", "Mul", {"n1", "two"}, "n2");
  node("cat", "Concat", {"n2", "rest"}, "target");
  g.nodes.back().attrs["axis"] = Attribute{};
  g.nodes.back().attrs["axis"].kind = Attribute::Kind::kInt;
  node("reshape", "Reshape", {"x", "target"}, "y");
  node("scale", "Mul", {"y", "y"}, "z");
  g.outputs.push_back({"z", DType::kF32, std::nullopt});
  auto r = build_capability(shipped("native"), g);
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::vector<std::string> offered;
  for (const auto& [key, list] : r->opwise) offered.push_back(key.name);
  EXPECT_EQ(offered, (std::vector<std::string>{"reshape", "scale"}));
}

TEST(CapabilityTest, DuplicateNodeNamesAreRejected) {
  Graph g = tiny_graph();
  g.nodes[1].name = "mm";
  auto r = build_capability(native_with_activation_pairs(), g);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("'mm'"), std::string::npos) << r.status().message();
}

// ---------------------------------------------------------------------------------------------
// default_int8_config and check_tune_config.

TEST(CapabilityTest, DefaultInt8ConfigIsStaticMinMaxEverywhere) {
  auto cap = build_capability(shipped("native"), bundled("lenet"));
  ASSERT_TRUE(cap.ok());
  auto cfg = default_int8_config(cap.value());
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(cfg->ops.size(), cap->opwise.size());
  for (const auto& [key, list] : cap->opwise) {
    const OpQuantConfig& c = cfg->ops.at(key.name);
    EXPECT_EQ(c, list[0]) << key.name;  // the YAML puts minmax first
    EXPECT_EQ(c.precision, OpPrecision::kInt8);
    EXPECT_EQ(c.mode, QuantMode::kStatic);
    EXPECT_EQ(c.activation.algorithm, CalibAlgorithm::kMinMax);
  }
  EXPECT_TRUE(check_tune_config(cfg.value(), cap.value()).ok());
}

TEST(CapabilityTest, DefaultInt8ConfigPrefersStaticMinMax) {
  Capability cap;
  const TensorQuantSpec kl{DType::kU8, QuantScheme::kAsym, QuantGranularity::kPerTensor,
                           CalibAlgorithm::kKl};
  const OpQuantConfig static_kl = int8(QuantMode::kStatic, false, {}, kl);
  const OpQuantConfig dynamic_mm = int8(QuantMode::kDynamic, false, {}, kActU8MinMax);
  const OpQuantConfig static_mm = int8(QuantMode::kStatic, false, {}, kActU8MinMax);
  cap.opwise[{"a", "Add"}] = {static_kl, dynamic_mm, static_mm, OpQuantConfig::fp32()};
  cap.opwise[{"b", "Add"}] = {static_kl, dynamic_mm, OpQuantConfig::fp32()};
  cap.opwise[{"c", "Add"}] = {static_kl, OpQuantConfig::fp32()};
  auto cfg = default_int8_config(cap);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->ops.at("a"), static_mm);
  EXPECT_EQ(cfg->ops.at("b"), dynamic_mm);
  EXPECT_EQ(cfg->ops.at("c"), static_kl);
}

TEST(CapabilityTest, CheckTuneConfigAcceptsListedEntries) {
  auto cap = build_capability(shipped("onednn"), bundled("lenet"));
  ASSERT_TRUE(cap.ok());
  TuneConfig cfg;
  for (const auto& [key, list] : cap->opwise) cfg.ops[key.name] = list[list.size() / 2];
  EXPECT_TRUE(check_tune_config(cfg, cap.value()).ok());
  for (const auto& [key, list] : cap->opwise) cfg.ops[key.name] = list.back();
  EXPECT_TRUE(check_tune_config(cfg, cap.value()).ok());
  EXPECT_TRUE(check_tune_config(TuneConfig{}, cap.value()).ok());  // absent ops stay fp32
}

TEST(CapabilityTest, CheckTuneConfigRejectsUnknownOpAndUnlistedConfig) {
  auto cap = build_capability(shipped("native"), bundled("lenet"));
  ASSERT_TRUE(cap.ok());
  std::string conv, pool;
  for (const auto& [key, list] : cap->opwise) {
    if (key.op_type == "Conv" && conv.empty()) conv = key.name;
    if (key.op_type == "MaxPool" && pool.empty()) pool = key.name;
  }
  ASSERT_FALSE(conv.empty());

  TuneConfig cfg;
  cfg.ops["no_such_node"] = OpQuantConfig::fp32();
  Status s = check_tune_config(cfg, cap.value());
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("'no_such_node'"), std::string::npos) << s.message();

  cfg.ops.clear();
  TensorQuantSpec per_channel_act = kActU8MinMax;
  per_channel_act.granularity = QuantGranularity::kPerChannel;
  cfg.ops[conv] = int8(QuantMode::kStatic, true, kWeightPerChannel, per_channel_act);
  s = check_tune_config(cfg, cap.value());
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("'" + conv + "' (Conv)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(describe(cfg.ops[conv])), std::string::npos) << s.message();

  cfg.ops[conv] = int8(QuantMode::kDynamic, true, kWeightPerChannel, kActU8MinMax);
  EXPECT_FALSE(check_tune_config(cfg, cap.value()).ok());
  cfg.ops[conv] = int8(QuantMode::kStatic, false, {}, kActU8MinMax);  // weight left out
  EXPECT_FALSE(check_tune_config(cfg, cap.value()).ok());

  if (!pool.empty()) {
    cfg.ops.clear();
    cfg.ops[pool] = OpQuantConfig::bf16();
    s = check_tune_config(cfg, cap.value());
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("'bf16'"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace qtune
