// What `qtune diagnose` prints and writes, from a Diagnosis made by hand: the table and JSON rank
// worst first and honour --top; diagnose.html charts every op (one "op-bar" mark per op and
// chart), marks the outlier, names the ops exact alone, escapes names and fetches nothing.
#include "coordinator/diagnose_report.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace qtune {
namespace {

TensorError err(double sqnr, double cosine = 0.999, double max_abs = 0.1) {
  return {sqnr, cosine, max_abs, 1000};
}

OpDiagnosis op(std::string name, std::string type, TensorError isolated, TensorError accumulated,
               std::optional<TensorError> weight, std::optional<TensorError> input) {
  OpDiagnosis o;
  o.name = std::move(name);
  o.op_type = std::move(type);
  o.output = o.name + ":0";
  o.isolated = isolated;
  o.accumulated = accumulated;
  o.weight = weight;
  o.input = input;
  return o;
}

// Four ops in graph order: a fine conv, a Relu exact alone, an outlier gemm, an add that is fine
// alone and worst in the model.
Diagnosis sample() {
  Diagnosis d;
  d.samples = 300;
  d.ops.push_back(op("/conv<1>", "Conv", err(31), err(31), err(40), err(35)));
  d.ops.push_back(op("/relu", "Relu", err(kF32SqnrDb, 1.0, 0.0), err(29), std::nullopt, std::nullopt));
  d.ops.push_back(op("/fc&gemm", "Gemm", err(12), err(11), err(38), err(13)));
  d.ops.push_back(op("/add", "Add", err(33), err(10), std::nullopt, err(34)));
  d.skipped = {"/argmax: its output 'k' is not an f32 tensor of the fp32 output's size"};
  return d;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(DiagnoseReportTest, TableAndJsonRankWorstFirstAndHonourTop) {
  const Diagnosis d = sample();
  const std::string table = diagnose_table({"m.onnx", "native", "t.yaml", d, DiagnosisRank::kIsolated, 2});
  const size_t gemm = table.find("/fc&gemm"), conv = table.find("/conv<1>");
  ASSERT_NE(gemm, std::string::npos) << table;
  ASSERT_NE(conv, std::string::npos) << table;
  EXPECT_LT(gemm, conv);
  EXPECT_EQ(table.find("/relu"), std::string::npos) << "--top 2 shows two ops";
  EXPECT_NE(table.find("(top 2)"), std::string::npos);
  EXPECT_NE(table.find("not compared: /argmax"), std::string::npos);

  const YAML::Node j = YAML::Load(diagnose_json({"m.onnx", "native", "t.yaml", d, DiagnosisRank::kAccumulated, 0}));
  EXPECT_EQ(j["ranked_by"].as<std::string>(), "accumulated");
  EXPECT_EQ(j["ops_compared"].as<int>(), 4);
  ASSERT_EQ(j["ops"].size(), 4u);
  EXPECT_EQ(j["ops"][0]["name"].as<std::string>(), "/add");  // 10 dB in the model
  EXPECT_EQ(j["ops"][1]["name"].as<std::string>(), "/fc&gemm");
  EXPECT_EQ(j["ops"][0]["rank"].as<int>(), 1);
  EXPECT_TRUE(j["ops"][0]["weight"].IsNull());
  EXPECT_DOUBLE_EQ(j["ops"][1]["weight"]["sqnr_db"].as<double>(), 38);
  EXPECT_EQ(j["skipped"].size(), 1u);
}

TEST(DiagnoseReportTest, HtmlChartsEveryOpMarksTheOutlierAndFetchesNothing) {
  const Diagnosis d = sample();
  // --top limits what is printed, never the page.
  const std::string html = diagnose_html({"m.onnx", "native", "t.yaml", d, DiagnosisRank::kIsolated, 1});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // The alone chart leaves out the op exact alone; the in-model chart has all four.
  EXPECT_EQ(count(html, "class=\"op-bar\""), 3u + 4u);
  EXPECT_EQ(count(html, "data-id=\"/fc&amp;gemm\""), 2u);
  EXPECT_EQ(count(html, "data-id=\"/relu\""), 1u);
  EXPECT_NE(html.find("Exact alone"), std::string::npos);
  // Median alone of 31, 12, 33 is 31: the gemm is 19 dB below it, the only outlier.
  EXPECT_NE(html.find("1 of 4 int8 ops lose more than 10 dB"), std::string::npos);
  EXPECT_EQ(count(html, "badge fail\">outlier"), 1u);
  EXPECT_NE(html.find("<code>/fc&amp;gemm</code>"), std::string::npos);
  EXPECT_EQ(html.find("/conv<1>"), std::string::npos) << "op names are escaped";
  EXPECT_NE(html.find("/argmax"), std::string::npos);
  // Self-contained: no scripts, links, remote images or fonts, no URLs at all.
  for (const std::string bad : {"<script", "<link", "src=", "url(", "http:", "https:", "@import"}) {
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  }
  // Deterministic: the same diagnosis gives the same bytes.
  EXPECT_EQ(html, diagnose_html({"m.onnx", "native", "t.yaml", d, DiagnosisRank::kIsolated, 1}));
}

TEST(DiagnoseReportTest, NoOutlierSaysSo) {
  Diagnosis d = sample();
  d.ops[2].isolated.sqnr_db = 30;
  const std::string html = diagnose_html({"m.onnx", "native", "t.yaml", d, DiagnosisRank::kIsolated, 0});
  EXPECT_NE(html.find("No int8 op stands out"), std::string::npos);
  EXPECT_EQ(count(html, "badge fail\">outlier"), 0u);
}

}  // namespace
}  // namespace qtune
