// The accuracy decision and the choice of the best trial: one comparison rule (>=) everywhere,
// the mirror image for lower-is-better metrics. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/quant_config.h"
#include "common/tuning_config.h"

namespace qtune {

// What one trial measured. `metric` is in the metric's own units (top-1 in percent).
struct TrialRecord {
  int64_t index = 0;     // sequence index: the order the strategy proposed it in
  std::string stage;     // which step of the strategy proposed it
  TuneConfig cfg;
  std::string hash;      // cfg.hash()
  bool ok = false;       // false: quantization or evaluation failed (error says why)
  std::string error;
  double metric = 0;
  double latency_ms = 0;    // one batch on the adaptor's kernels, fastest of repeats
  int64_t model_bytes = 0;  // the QDQ model's weights as deployed (int8 weights count 1 byte)
  double seconds = 0;       // wall time of the whole trial
  bool reused = false;      // taken from a journal instead of evaluated
};

struct TuningHistory {
  double baseline_metric = 0;
  double baseline_latency_ms = 0;
  int64_t baseline_model_bytes = 0;
  std::vector<TrialRecord> trials;  // index order

  const TrialRecord* find(const std::string& hash) const;
};

// relative: base*(1-loss) (base*(1+loss) when lower is better); absolute: base-loss (base+loss).
double accuracy_target(const AccuracyCriterion& c, double baseline);
// The accuracy goal alone: metric >= target (-metric >= -target when lower is better).
bool meets_accuracy(const AccuracyCriterion& c, double baseline, double metric);

// A trial is accepted when it ran, meets the accuracy goal and, for the performance objective,
// is faster than fp32 on the same runtime (a slower int8 model is never the answer).
bool accepted(const TrialRecord& t, const TuningHistory& h, const AccuracyCriterion& c,
              const std::string& objective);

// cfg with every calibration algorithm erased: configs with equal signatures run the same
// kernels on the same shapes and differ only in scale values, so their latency and size differ
// by measurement noise alone.
std::string kernel_signature(const TuneConfig& cfg);

// The best accepted trial by objective, nullopt when none is accepted. accuracy: best metric.
// performance and modelsize compare kernel signatures, not single trials: a signature's latency
// (size) is the lowest measured among its accepted trials, the fastest (smallest) signature wins,
// and within it the best metric; ties go to the lowest index.
std::optional<size_t> best_accepted(const TuningHistory& h, const AccuracyCriterion& c,
                                    const std::string& objective);
// When nothing is accepted: the trial with the best metric (ties to the lowest index).
std::optional<size_t> best_effort(const TuningHistory& h, const AccuracyCriterion& c);

}  // namespace qtune
