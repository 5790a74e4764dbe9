// The tuning report: report.json (baseline, every trial, the choice and why, per-op decisions
// and sensitivity) and the human-readable summary `qtune tune` prints. Pure formatting.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/tuning_config.h"
#include "coordinator/tuner.h"
#include "coordinator/tuning_space.h"

namespace qtune {

// How a distributed run spread its work; absent for in-process runs.
struct DistributionReport {
  std::vector<std::string> workers;      // every worker seen, in join order
  std::map<std::string, int64_t> trials; // results recorded, by worker
  std::string baseline_worker;           // who measured the fp32 baseline
  int64_t joins = 0, lost = 0, requeued = 0, dispatched = 0, refused = 0, dropped_frames = 0;
};

struct ReportContext {
  const TuningConfig& config;
  const TuningSpace& space;
  const TuneOutcome& outcome;
  double calibration_seconds = 0;
  double wall_seconds = 0;
  std::string model_out;  // where the chosen QDQ model was written
  std::optional<DistributionReport> distribution = std::nullopt;
};

std::string report_json(const ReportContext& r);
std::string report_summary(const ReportContext& r);

}  // namespace qtune
