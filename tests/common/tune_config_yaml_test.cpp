#include "common/tune_config_yaml.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace qtune {
namespace {

namespace fs = std::filesystem;

OpQuantConfig int8(QuantMode mode, bool has_weight, TensorQuantSpec w, TensorQuantSpec a) {
  OpQuantConfig c;
  c.precision = OpPrecision::kInt8;
  c.mode = mode;
  c.has_weight = has_weight;
  if (has_weight) c.weight = w;
  c.activation = a;
  return c;
}

const TensorQuantSpec kW{DType::kS8, QuantScheme::kSym, QuantGranularity::kPerChannel,
                         CalibAlgorithm::kMinMax};
const TensorQuantSpec kA{DType::kU8, QuantScheme::kAsym, QuantGranularity::kPerTensor,
                         CalibAlgorithm::kKl};

// The error of parsing `text` as "t.yaml", which must fail with kInvalidInput.
std::string error_of(const std::string& text) {
  auto r = parse_tune_config(text, "t.yaml");
  EXPECT_FALSE(r.ok()) << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  return r.status().message();
}

TEST(TuneConfigYamlTest, ParsesTheDocumentedForm) {
  auto r = parse_tune_config(R"(calib_sampling_size: 300
ops:
  /conv1/Conv: {precision: int8, mode: static, weight: {dtype: int8, scheme: sym, granularity: per_channel, algorithm: minmax}, activation: {dtype: uint8, scheme: asym, granularity: per_tensor, algorithm: kl}}
  /fc2/Gemm: {precision: fp32}
  /fc1/Gemm: {precision: bf16}
  /attn/MatMul:
    precision: int8
    mode: dynamic
    activation: {dtype: u8, scheme: asym, granularity: per_tensor, algorithm: minmax}
)",
                             "t.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->calib_sampling_size, 300);
  ASSERT_EQ(r->ops.size(), 4u);
  EXPECT_EQ(r->ops.at("/conv1/Conv"), int8(QuantMode::kStatic, true, kW, kA));
  EXPECT_EQ(r->ops.at("/fc2/Gemm"), OpQuantConfig::fp32());
  EXPECT_EQ(r->ops.at("/fc1/Gemm"), OpQuantConfig::bf16());
  TensorQuantSpec a = kA;
  a.algorithm = CalibAlgorithm::kMinMax;
  EXPECT_EQ(r->ops.at("/attn/MatMul"), int8(QuantMode::kDynamic, false, {}, a));
}

TEST(TuneConfigYamlTest, CalibSamplingSizeDefaultsAndOpsMayBeEmpty) {
  auto r = parse_tune_config("ops: {}\n", "t.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->calib_sampling_size, 1000);
  EXPECT_TRUE(r->ops.empty());
  EXPECT_EQ(tune_config_to_yaml(r.value()), "calib_sampling_size: 1000\nops: {}\n");
}

TEST(TuneConfigYamlTest, WritesOneOpPerLine) {
  TuneConfig cfg;
  cfg.calib_sampling_size = 64;
  cfg.ops["/conv1/Conv"] = int8(QuantMode::kStatic, true, kW, kA);
  cfg.ops["/fc2/Gemm"] = OpQuantConfig::fp32();
  EXPECT_EQ(tune_config_to_yaml(cfg),
            "calib_sampling_size: 64\n"
            "ops:\n"
            "  /conv1/Conv: {precision: int8, mode: static, weight: {dtype: int8, scheme: sym, "
            "granularity: per_channel, algorithm: minmax}, activation: {dtype: uint8, scheme: "
            "asym, granularity: per_tensor, algorithm: kl}}\n"
            "  /fc2/Gemm: {precision: fp32}\n");
}

TEST(TuneConfigYamlTest, RoundTripIsExact) {
  TuneConfig cfg;
  cfg.calib_sampling_size = 123;
  const TensorQuantSpec s8_sym_pct{DType::kS8, QuantScheme::kSym, QuantGranularity::kPerTensor,
                                   CalibAlgorithm::kPercentile};
  const TensorQuantSpec per_tensor_mse{DType::kS8, QuantScheme::kAsym,
                                       QuantGranularity::kPerTensor, CalibAlgorithm::kMse};
  cfg.ops["/conv1/Conv"] = int8(QuantMode::kStatic, true, kW, kA);
  cfg.ops["/blocks.0/attn/MatMul"] = int8(QuantMode::kStatic, false, {}, s8_sym_pct);
  cfg.ops["fc"] = int8(QuantMode::kDynamic, true, per_tensor_mse, kA);
  cfg.ops["bf"] = OpQuantConfig::bf16();
  cfg.ops["fp"] = OpQuantConfig::fp32();
  // Names YAML would misread unquoted.
  for (const std::string odd : {"null", "~", "a: b", "#hash", "- dash", "quote\"back\\slash",
                                "tab\there", "new\nline", "[x]", "{y}", "caf\xc3\xa9", " lead",
                                "trail ", "123", "true", "-1", "&anchor", "*alias", "!tag",
                                "%pct", "@at", "`tick", "'single'", "?q", "|pipe", ">gt"}) {
    cfg.ops[odd] = OpQuantConfig::fp32();
  }
  const std::string text = tune_config_to_yaml(cfg);
  auto r = parse_tune_config(text, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message() << "\n" << text;
  EXPECT_EQ(r->calib_sampling_size, cfg.calib_sampling_size);
  EXPECT_EQ(r->ops, cfg.ops) << text;
  EXPECT_EQ(r->hash(), cfg.hash());
  EXPECT_EQ(tune_config_to_yaml(r.value()), text);
}

TEST(TuneConfigYamlTest, LoadFromFile) {
  const fs::path p = fs::temp_directory_path() /
                     ("qtune_tune_cfg_" + std::to_string(::getpid()) + ".yaml");
  TuneConfig cfg;
  cfg.ops["/conv1/Conv"] = int8(QuantMode::kStatic, true, kW, kA);
  std::ofstream(p) << tune_config_to_yaml(cfg);
  auto r = load_tune_config(p.string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->hash(), cfg.hash());

  std::ofstream(p) << "ops:\n  x: {precision: int4}\n";
  r = load_tune_config(p.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), p.string() + ":2:18: ops.x.precision: 'int4' is not one of "
                                                "int8, bf16, fp32");
  fs::remove(p);

  r = load_tune_config(p.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find(p.string()), std::string::npos);
  r = load_tune_config(fs::temp_directory_path().string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is a directory"), std::string::npos);
}

TEST(TuneConfigYamlTest, ErrorsNameFileLineColumnAndField) {
  EXPECT_EQ(error_of("ops:\n  a: {precision: int8, mode: static, activation: {dtype: uint8, "
                     "scheme: asym, granularity: per_tensor, algoritm: kl}}\n"),
            "t.yaml:2:104: ops.a.activation.algoritm: unknown key (expected one of algorithm, "
            "dtype, granularity, scheme)");
  EXPECT_EQ(error_of("ops:\n  a: {precision: int8, mode: static, activation: {dtype: uint8, "
                     "scheme: asym, granularity: per_row, algorithm: kl}}\n"),
            "t.yaml:2:92: ops.a.activation.granularity: 'per_row' is not one of per_tensor, "
            "per_channel");
  EXPECT_EQ(error_of("ops:\n  a: {precision: int8, mode: static}\n"),
            "t.yaml:2:6: ops.a.activation: missing required key for an int8 op");
  EXPECT_EQ(error_of("ops:\n  a: {precision: int8, activation: {dtype: uint8, scheme: asym, "
                     "granularity: per_tensor, algorithm: kl}}\n"),
            "t.yaml:2:6: ops.a.mode: missing required key for an int8 op");
  EXPECT_EQ(error_of("ops:\n  a: {mode: static}\n"),
            "t.yaml:2:6: ops.a.precision: missing required key");
  EXPECT_EQ(error_of("ops:\n  a: {precision: int8, mode: static, activation: {dtype: uint8, "
                     "scheme: asym, algorithm: kl}}\n"),
            "t.yaml:2:50: ops.a.activation.granularity: missing required key");
  EXPECT_EQ(error_of("ops:\n  a: {precision: fp32, mode: static}\n"),
            "t.yaml:2:24: ops.a.mode: only int8 ops take mode, weight and activation (precision "
            "is fp32)");
  EXPECT_EQ(error_of("ops:\n  a: {precision: [int8]}\n"),
            "t.yaml:2:18: ops.a.precision: expected one of int8, bf16, fp32, got a list");
  EXPECT_EQ(error_of("ops:\n  a: fp32\n"), "t.yaml:2:6: ops.a: expected a mapping, got 'fp32'");
  EXPECT_EQ(error_of("ops: [a]\n"), "t.yaml:1:6: ops: expected a mapping, got a list");
  EXPECT_EQ(error_of("ops:\n"), "t.yaml:1:1: ops: has no value");
  EXPECT_EQ(error_of("ops:\n  a: {precision: fp32}\n  a: {precision: bf16}\n"),
            "t.yaml:3:3: ops.a: duplicate key");
  EXPECT_EQ(error_of("calib_sampling_size: 0\nops: {}\n"),
            "t.yaml:1:22: calib_sampling_size: must be positive, got 0");
  EXPECT_EQ(error_of("calib_sampling_size: lots\nops: {}\n"),
            "t.yaml:1:22: calib_sampling_size: expected an integer, got 'lots'");
  EXPECT_EQ(error_of("calib_sampling_size: 10\n"), "t.yaml:1:1: ops: missing required key");
  EXPECT_EQ(error_of("opz: {}\n"),
            "t.yaml:1:1: opz: unknown key (expected one of calib_sampling_size, ops)");
  EXPECT_EQ(error_of(""), "t.yaml: empty document: expected a mapping with an 'ops' key");
  const std::string syntax = error_of("ops:\n  a: {precision: fp32\n");
  EXPECT_EQ(syntax.rfind("t.yaml:", 0), 0u) << syntax;
  EXPECT_NE(syntax.find("end of map flow not found"), std::string::npos) << syntax;
}

}  // namespace
}  // namespace qtune
