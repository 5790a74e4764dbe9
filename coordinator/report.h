// The tuning report: report.json (baseline, every trial, the choice and why, per-op decisions,
// sensitivity and output errors), report.html (the same for people: outcome, charts, layer
// list) and the summary table `qtune tune` prints. Everything is rendered from ReportData, which
// a finished run builds from its results and `qtune report` rebuilds from the journal, so both
// give the same report.html. Pure formatting; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/trial_metrics.h"
#include "common/tuning_config.h"
#include "coordinator/journal.h"
#include "coordinator/tuner.h"
#include "coordinator/tuning_space.h"

namespace qtune {

// How a distributed run spread its work; absent for in-process runs.
struct DistributionReport {
  std::vector<std::string> workers;      // every worker seen, in join order
  std::map<std::string, int64_t> trials; // results recorded, by worker
  std::string baseline_worker;           // who measured the fp32 baseline
  int64_t joins = 0, lost = 0, requeued = 0, dispatched = 0, refused = 0, dropped_frames = 0;
  int64_t expired = 0;  // trials taken back at their deadline
};

// A finished run as `qtune tune` holds it.
struct ReportContext {
  const TuningConfig& config;
  const TuningSpace& space;
  const TuneOutcome& outcome;
  double calibration_seconds = 0;
  double wall_seconds = 0;
  std::string model_out;  // where the chosen QDQ model was written
  std::optional<DistributionReport> distribution = std::nullopt;
  std::map<std::string, OpOutputError> op_errors = {};  // per op, all int8 vs fp32
  std::vector<std::string> calibration_warnings = {};
  int64_t calibration_samples = 0;
  StrategyReport strategy_report = {};  // what the strategy adds (Strategy::report)
};

// What every report shows.
struct ReportData {
  RunDescription run;
  TuningHistory history;                          // baseline and every trial, index order
  std::map<std::string, double> sensitivity;      // the strategy's ranking score, when measured
  std::map<std::string, OpOutputError> op_errors; // per op, all int8 vs fp32, when measured
  std::optional<size_t> chosen;                   // into history.trials
  bool goal_met = false;
  double target = 0;
  bool finished = false;    // false: rebuilt from the journal of a run that did not end
  std::string stop_reason;  // finished runs only
  int64_t evaluated = 0;    // trials evaluated by the last run (finished runs only)
  double wall_seconds = 0;  // finished runs; else the sum of the recorded trials' times
  std::string model_out;
  std::optional<DistributionReport> distribution;  // live runs only (not in the journal)
  StrategyReport strategy_report;  // finished runs (the journal's end record keeps it)
};

// The run description a run records at its start and its reports show.
RunDescription describe_run(const TuningConfig& config, const TuningSpace& space,
                            int64_t calibration_samples, double calibration_seconds,
                            std::vector<std::string> calibration_warnings);

ReportData report_data(const ReportContext& r);
// The report of whatever the journal holds: a finished run's (its end record) or an
// interrupted one's, with the choice made as the run would have made it from these trials.
// kInvalidInput when the journal lacks the run description or the baseline.
Result<ReportData> report_data(const JournalContents& journal, const std::string& journal_path);

// Measured effect on the metric of falling one op back alone: pairs of successful trials whose
// configs differ only in that op (int8 in one, bf16/fp32 in the other). Per op, the pair whose
// int8 side has the most int8 ops (nearest to all-int8), then the lowest index.
struct FallbackImpact {
  int64_t int8_trial = 0, fallback_trial = 0;  // trial indices
  double gain = 0;  // metric improvement of the fallback (positive: better, whichever direction)
};
std::map<std::string, FallbackImpact> fallback_impacts(const TuningHistory& h,
                                                       const AccuracyCriterion& c);

std::string report_json(const ReportData& r);
std::string report_summary(const ReportData& r);
std::string report_html(const ReportData& r);

inline std::string report_json(const ReportContext& r) { return report_json(report_data(r)); }
inline std::string report_summary(const ReportContext& r) { return report_summary(report_data(r)); }

}  // namespace qtune
