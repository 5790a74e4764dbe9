// The reports: report.json, report.html and the summary agree with the run, report.html rebuilt
// from the journal equals the one the run wrote, and measured fallback impacts come from the
// right trial pairs.
#include "coordinator/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <regex>

#include "coordinator/checkpoint.h"

namespace qtune {
namespace {

OpQuantConfig int8() {
  OpQuantConfig c;
  c.precision = OpPrecision::kInt8;
  c.has_weight = true;
  return c;
}

OpQuantConfig fp32() {
  OpQuantConfig c = OpQuantConfig::fp32();
  c.has_weight = true;
  return c;
}

TrialRecord trial(int64_t index, const std::string& stage, OpQuantConfig a, OpQuantConfig b, double metric,
                  double latency_ms, bool ok = true) {
  TrialRecord t;
  t.index = index;
  t.stage = stage;
  t.cfg.ops["conv<1>"] = a;
  t.cfg.ops["fc"] = b;
  t.hash = t.cfg.hash();
  t.ok = ok;
  t.error = ok ? "" : "worker lost";
  t.metric = ok ? metric : 0;
  t.latency_ms = ok ? latency_ms : 0;
  t.model_bytes = ok ? 1000 : 0;
  t.seconds = 0.5 + static_cast<double>(index);
  return t;
}

// A small run: baseline 90.0 at 2 ms, goal 1% relative (target 89.1).
struct SmallRun {
  TuningConfig config;
  TuningSpace space;
  TuneOutcome outcome;
  std::map<std::string, OpOutputError> errors;
  SmallRun() {
    config.model = "models/fashion_mnist/lenet.onnx";
    config.metric.name = "top1";
    config.strategy = "basic";
    config.criterion = {true, 0.01, true};
    space.ops = {{{"conv<1>", "Conv"}, {int8(), fp32()}}, {{"fc", "Gemm"}, {int8(), fp32()}}};
    space.sensitivity = {{"conv<1>", 0.02}, {"fc", 0.3}};
    TuningHistory& h = outcome.history;
    h.baseline_metric = 90.0;
    h.baseline_latency_ms = 2.0;
    h.baseline_model_bytes = 4000;
    h.trials = {trial(0, "sweep", int8(), int8(), 85.0, 1.0), trial(1, "fallback-one", fp32(), int8(), 86.0, 1.5),
                trial(2, "fallback-one", int8(), fp32(), 89.5, 1.4), trial(3, "fallback-two", fp32(), fp32(), 0, 0, false)};
    outcome.chosen = 2;
    outcome.goal_met = true;
    outcome.stop_reason = "goal met";
    outcome.target = accuracy_target(config.criterion, 90.0);
    outcome.evaluated = 4;
    errors["conv<1>"] = {31.5, 0.9996, 0.02, 7e-4, 0};
    errors["fc"] = {12.25, 0.97, 0.4, 0.06, 7e-4};
  }
  ReportContext context() const {
    return ReportContext{config, space, outcome, 1.25, 9.5, "out/model.int8.onnx", std::nullopt, errors,
                         {"calibration: tensor 'x': zero range"}, 300,
                         {"error the op adds", {"ops ranked by the metric their fallback alone recovered: fc, conv<1>"}}};
  }
};

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
  return n;
}

// The part of `html` from the element with `id` to the end of its figure.
std::string figure(const std::string& html, const std::string& id) {
  const size_t a = html.find("<figure id=\"" + id + "\"");
  if (a == std::string::npos) return "";
  return html.substr(a, html.find("</figure>", a) - a);
}

TEST(ReportFallbackImpact, MeasuredFromPairsDifferingInOneOp) {
  const SmallRun run;
  const auto impacts = fallback_impacts(run.outcome.history, run.config.criterion);
  ASSERT_EQ(impacts.size(), 2u);
  EXPECT_EQ(impacts.at("conv<1>").int8_trial, 0);
  EXPECT_EQ(impacts.at("conv<1>").fallback_trial, 1);
  EXPECT_DOUBLE_EQ(impacts.at("conv<1>").gain, 1.0);
  EXPECT_EQ(impacts.at("fc").fallback_trial, 2);
  EXPECT_DOUBLE_EQ(impacts.at("fc").gain, 4.5);
  // Lower is better: a fallback that lowers the metric gains.
  AccuracyCriterion lower = run.config.criterion;
  lower.higher_is_better = false;
  EXPECT_DOUBLE_EQ(fallback_impacts(run.outcome.history, lower).at("fc").gain, -4.5);
}

TEST(ReportFallbackImpact, PrefersThePairNearestAllInt8) {
  TuningHistory h;
  // fc falls back from the all-int8 config (0 -> 2) and from a config with conv fp32 (1 -> 3):
  // the first pair counts, whatever the order of the trials.
  h.trials = {trial(0, "s", fp32(), int8(), 80, 1), trial(1, "s", fp32(), fp32(), 81, 1),
              trial(2, "s", int8(), int8(), 70, 1), trial(3, "s", int8(), fp32(), 75, 1)};
  const auto impacts = fallback_impacts(h, AccuracyCriterion{});
  EXPECT_EQ(impacts.at("fc").int8_trial, 2);
  EXPECT_EQ(impacts.at("fc").fallback_trial, 3);
  EXPECT_DOUBLE_EQ(impacts.at("fc").gain, 5);
}

TEST(ReportJson, CarriesOutputErrorsFallbackImpactAndWarnings) {
  const std::string j = report_json(SmallRun().context());
  EXPECT_NE(j.find("\"finished\": true"), std::string::npos);
  EXPECT_NE(j.find("\"int8_output\": {\"sqnr_db\": 12.25, \"exact\": false, \"cosine\": 0.97"), std::string::npos);
  EXPECT_NE(j.find("\"fallback_impact\": {\"metric_gain\": 4.5, \"int8_trial\": 0, \"fallback_trial\": 2}"),
            std::string::npos);
  EXPECT_NE(j.find("\"calibration_warnings\": [\"calibration: tensor 'x': zero range\"]"), std::string::npos);
  EXPECT_NE(j.find("\"calibration_samples\": 300"), std::string::npos);
  SmallRun exact;
  exact.errors["fc"].sqnr_db = std::numeric_limits<double>::infinity();
  EXPECT_NE(report_json(exact.context()).find("\"sqnr_db\": null, \"exact\": true"), std::string::npos);
}

TEST(ReportHtml, OutcomeChartsAndLayersOfAFinishedRun) {
  const std::string html = report_html(report_data(SmallRun().context()));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("Goal met: trial #2 keeps top1 at 89.50 (fp32 90.00; goal: lose at most 1.00% of fp32&#39;s "
                      "top1, i.e. \u2265 89.10) and runs 1.43\u00d7 as fast as fp32, with 1 of 2 ops in int8."),
            std::string::npos);
  // One mark per trial in the metric chart, one per successful trial in the scatter.
  const std::string metric = figure(html, "metric-chart");
  EXPECT_EQ(count(metric, "class=\"trial\""), 4u);
  EXPECT_EQ(count(metric, "class=\"highlight\""), 1u);
  EXPECT_NE(metric.find(">goal \u2265 89.10</text>"), std::string::npos);
  EXPECT_NE(metric.find(">chosen #2</text>"), std::string::npos);
  const std::string scatter = figure(html, "tradeoff-chart");
  EXPECT_EQ(count(scatter, "class=\"trial\""), 3u);
  EXPECT_EQ(count(scatter, "class=\"baseline\""), 1u);
  EXPECT_NE(scatter.find("class=\"pareto-front\""), std::string::npos);
  // Sensitivity: SQNR worst first, and the measured fallbacks.
  const std::string sqnr = figure(html, "sqnr-chart");
  EXPECT_EQ(count(sqnr, "class=\"op-sqnr\""), 2u);
  EXPECT_LT(sqnr.find("data-id=\"fc\""), sqnr.find("data-id=\"conv&lt;1&gt;\""));
  EXPECT_EQ(count(figure(html, "fallback-chart"), "class=\"op-fallback\""), 2u);
  // Layers: the final precision of each op, names escaped.
  EXPECT_NE(html.find("<code>conv&lt;1&gt;</code></td><td>Conv</td><td><span class=\"badge int8\">int8</span>"),
            std::string::npos);
  EXPECT_NE(html.find("<code>fc</code></td><td>Gemm</td><td><span class=\"badge fp32\">fp32</span>"),
            std::string::npos);
  EXPECT_NE(html.find("zero range"), std::string::npos);
  EXPECT_EQ(html.find("conv<1>"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(ReportHtml, GoalNotMetAndNoMeasurements) {
  SmallRun run;
  run.outcome.goal_met = false;
  run.outcome.stop_reason = "max_trials";
  run.errors.clear();
  run.outcome.history.trials.resize(2);
  run.outcome.chosen = 1;
  const std::string html = report_html(report_data(run.context()));
  EXPECT_NE(html.find("Goal not met: no config reached top1 \u2265 89.10 while faster than fp32 (max_trials). "
                      "The best effort, trial #1, reaches 86.00"),
            std::string::npos);
  EXPECT_NE(html.find("class=\"outcome missed\""), std::string::npos);
  EXPECT_NE(html.find("was not measured in this run"), std::string::npos);
}

class ReportFromJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("qtune-report-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Records `run` as `qtune tune` does; `ended` adds the end record.
  JournalContents record(const SmallRun& run, size_t trials, bool ended) {
    const std::string path = (dir_ / kJournalFile).string();
    auto w = JournalWriter::create(path, JournalHeader{});
    EXPECT_TRUE(w.ok());
    const ReportContext c = run.context();
    EXPECT_TRUE(w->append_run(describe_run(c.config, c.space, c.calibration_samples, c.calibration_seconds,
                                           c.calibration_warnings)).ok());
    const TuningHistory& h = run.outcome.history;
    EXPECT_TRUE(w->append_baseline({h.baseline_metric, h.baseline_latency_ms, h.baseline_model_bytes}).ok());
    EXPECT_TRUE(w->append_op_errors(run.errors).ok());
    EXPECT_TRUE(w->append_sensitivity(run.space.sensitivity).ok());
    for (size_t i = 0; i < trials; ++i) EXPECT_TRUE(w->append_trial(h.trials[i]).ok());
    if (ended) {
      EXPECT_TRUE(w->append_end({run.outcome.stop_reason, run.outcome.evaluated, c.wall_seconds, c.model_out,
                                 c.strategy_report.sensitivity_measure, c.strategy_report.notes}).ok());
    }
    auto j = read_journal(path);
    EXPECT_TRUE(j.ok());
    return *j;
  }
  std::filesystem::path dir_;
};

TEST_F(ReportFromJournal, AFinishedRunsReportComesOutTheSame) {
  const SmallRun run;
  auto rebuilt = report_data(record(run, 4, true), "journal.qtj");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().message();
  const ReportData live = report_data(run.context());
  EXPECT_EQ(report_html(*rebuilt), report_html(live));
  EXPECT_EQ(report_summary(*rebuilt), report_summary(live));
}

// What the strategy adds (Strategy::report) reaches every rendering, also from the journal.
TEST_F(ReportFromJournal, TheStrategysNotesAreInEveryRendering) {
  const SmallRun run;
  auto rebuilt = report_data(record(run, 4, true), "journal.qtj");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().message();
  const std::string note = "ops ranked by the metric their fallback alone recovered: fc, conv<1>";
  EXPECT_EQ(rebuilt->strategy_report.notes, std::vector<std::string>{note});
  EXPECT_NE(report_summary(*rebuilt).find("basic: " + note + "\n"), std::string::npos);
  EXPECT_NE(report_json(*rebuilt).find("\"strategy_report\": {\"sensitivity_measure\": \"error the op adds\", "
                                       "\"notes\": [\"" + note + "\"]}"),
            std::string::npos);
  const std::string html = report_html(*rebuilt);
  EXPECT_NE(html.find("How the basic strategy reached its choice:"), std::string::npos);
  EXPECT_NE(html.find("<li>ops ranked by the metric their fallback alone recovered: fc, conv&lt;1&gt;</li>"),
            std::string::npos);
  EXPECT_NE(html.find("ranked ops by, the error the op adds."), std::string::npos);
  // An interrupted run has no end record, hence no notes yet.
  auto unfinished = report_data(record(run, 2, false), "journal.qtj");
  ASSERT_TRUE(unfinished.ok());
  EXPECT_TRUE(unfinished->strategy_report.notes.empty());
  EXPECT_EQ(report_summary(*unfinished).find("basic: "), std::string::npos);
}

TEST_F(ReportFromJournal, AnInterruptedRunIsReportedAsUnfinished) {
  auto r = report_data(record(SmallRun(), 2, false), "journal.qtj");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->finished);
  ASSERT_TRUE(r->chosen.has_value());
  EXPECT_EQ(*r->chosen, 1u);  // best effort among trials 0 and 1: neither meets 89.1
  EXPECT_FALSE(r->goal_met);
  EXPECT_DOUBLE_EQ(r->wall_seconds, 0.5 + 1.5);
  const std::string html = report_html(*r);
  EXPECT_NE(html.find("Run not finished: 2 trial(s) recorded so far. Best so far: trial #1"), std::string::npos);
  EXPECT_EQ(count(figure(html, "metric-chart"), "class=\"trial\""), 2u);
  EXPECT_NE(report_summary(*r).find("run not finished: 2 trial(s) recorded; best so far #1 (below the goal)"),
            std::string::npos);
}

TEST_F(ReportFromJournal, NeedsTheRunDescriptionAndBaseline) {
  const std::string path = (dir_ / kJournalFile).string();
  auto w = JournalWriter::create(path, JournalHeader{});
  ASSERT_TRUE(w.ok());
  auto bare = read_journal(path);
  ASSERT_TRUE(bare.ok());
  auto r = report_data(*bare, path);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("does not describe its run"), std::string::npos);
  ASSERT_TRUE(w->append_run(RunDescription{}).ok());
  auto described = read_journal(path);
  r = report_data(*described, path);
  EXPECT_NE(r.status().message().find("no fp32 baseline"), std::string::npos);
}

}  // namespace
}  // namespace qtune
