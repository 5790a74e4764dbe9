// The accuracy decision and the choice of the best trial: one comparison rule (>=) everywhere,
// the mirror image for lower-is-better metrics. Latencies are measurements with noise: one is
// faster than another only by more than the noise margin, and configs whose latencies lie within
// it are ranked by accuracy, then size. Pure functions; thread-safe.
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
  double latency_ms = 0;    // one batch on the adaptor's kernels: median of timed runs
  int64_t model_bytes = 0;  // the QDQ model's weights as deployed (int8 weights count 1 byte)
  double seconds = 0;       // wall time of the whole trial
  bool reused = false;      // taken from a journal instead of evaluated
  double latency_error_ms = 0;  // the standard error of that median
  double fp32_ratio = 0;         // TrialMetrics::fp32_ratio: latency / fp32's in the same window
  double fp32_ratio_error = 0;
};

struct TuningHistory {
  double baseline_metric = 0;
  double baseline_latency_ms = 0;
  int64_t baseline_model_bytes = 0;
  std::vector<TrialRecord> trials;  // index order
  double baseline_latency_error_ms = 0;

  const TrialRecord* find(const std::string& hash) const;
};

// Two latency medians closer than the noise margin are the same speed. The margin is the larger
// of a fraction of the smaller median (what drifts between measurements taken at different
// times on one machine) and a multiple of the two medians' standard errors (what the runs
// themselves scatter: 3 standard errors leave a difference of nothing to chance 3 in 1000).
inline constexpr double kLatencyNoiseFraction = 0.05;
inline constexpr double kLatencyNoiseErrors = 3.0;
// Trials ranked against each other were timed in different windows, each against its own fp32
// runs: their ratios drift more than a trial's against the fp32 beside it (two identical lenet
// tunes measured the same configs' ratios 7% apart), so the fraction is wider there.
inline constexpr double kRankingNoiseFraction = 0.10;
double latency_noise_ms(double a_ms, double a_error_ms, double b_ms, double b_error_ms,
                        double fraction = kLatencyNoiseFraction);
// a is faster than b by more than the noise margin (any one unit for all four).
bool clearly_faster(double a_ms, double a_error_ms, double b_ms, double b_error_ms,
                    double fraction = kLatencyNoiseFraction);

// A trial's latency as a fraction of fp32's, with its standard error: the ratio its worker
// measured with the fp32 model in the same window when there is one, else its latency over the
// baseline's (measured at another time, so load drift between the two shows up in it).
struct RelativeLatency {
  double ratio = 0;
  double error = 0;
};
RelativeLatency relative_latency(const TrialRecord& t, const TuningHistory& h);
// Compared in those units, so trials measured at different times compare like with like.
bool clearly_faster(const TrialRecord& a, const TrialRecord& b, const TuningHistory& h);
bool faster_than_baseline(const TrialRecord& t, const TuningHistory& h);
// fp32 latency / the trial's, as the decisions compare them; 0 when unknown.
double speedup_vs_fp32(const TrialRecord& t, const TuningHistory& h);

// relative: base*(1-loss) (base*(1+loss) when lower is better); absolute: base-loss (base+loss).
double accuracy_target(const AccuracyCriterion& c, double baseline);
// The accuracy goal alone: metric >= target (-metric >= -target when lower is better).
bool meets_accuracy(const AccuracyCriterion& c, double baseline, double metric);

// A trial is accepted when it ran, meets the accuracy goal and, for the performance objective,
// is clearly faster than fp32 on the same runtime (a slower int8 model is never the answer, nor
// one that only measured faster by noise).
bool accepted(const TrialRecord& t, const TuningHistory& h, const AccuracyCriterion& c,
              const std::string& objective);

// cfg with every calibration algorithm erased: configs with equal signatures run the same
// kernels on the same shapes and differ only in scale values, so their latency and size differ
// by measurement noise alone.
std::string kernel_signature(const TuneConfig& cfg);

// The best accepted trial by objective, nullopt when none is accepted. accuracy: best metric.
// performance and modelsize compare kernel signatures, not single trials: a signature's latency
// (size) is the lowest measured among its accepted trials. modelsize: the smallest signature
// wins, within it the best metric. performance: every signature whose latency is within the
// ranking margin (kRankingNoiseFraction) of the fastest one's ties with it, and among their
// trials the best metric wins,
// then the smaller model. Remaining ties go to the lowest index.
std::optional<size_t> best_accepted(const TuningHistory& h, const AccuracyCriterion& c,
                                    const std::string& objective);
// When nothing is accepted: the trial with the best metric (ties to the lowest index).
std::optional<size_t> best_effort(const TuningHistory& h, const AccuracyCriterion& c);

}  // namespace qtune
