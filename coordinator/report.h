// The tuning report: report.json (baseline, every trial, the choice and why, per-op decisions
// and sensitivity) and the human-readable summary `qtune tune` prints. Pure formatting.
#pragma once

#include <string>

#include "common/tuning_config.h"
#include "coordinator/tuner.h"
#include "coordinator/tuning_space.h"

namespace qtune {

struct ReportContext {
  const TuningConfig& config;
  const TuningSpace& space;
  const TuneOutcome& outcome;
  double calibration_seconds = 0;
  double wall_seconds = 0;
  std::string model_out;  // where the chosen QDQ model was written
};

std::string report_json(const ReportContext& r);
std::string report_summary(const ReportContext& r);

}  // namespace qtune
