// What evaluating one tune_cfg measures, and how far a quantized op's output is from fp32;
// shared by workers (which produce them) and the coordinator (which decides on and reports
// them). Value types.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace qtune {

struct TrialMetrics {
  double metric = 0;        // in the metric's units (top-1 in percent)
  double latency_ms = 0;    // one evaluation batch on the adaptor's kernels: median of timed runs
  int64_t model_bytes = 0;  // initializer bytes of the quantized (QDQ) model
  double latency_error_ms = 0;  // the standard error of that median (0: unknown)
  // The trial's runs alternated with the fp32 model's in the same time window: the median of
  // the pairs' ratios of CPU time per run (trial / fp32, all threads) and its standard error.
  // Load that comes and goes slows both sides of a pair alike and preemption adds wall time but
  // no CPU time, so this ratio, not latency_ms against a baseline measured at another time, says
  // whether the trial is faster. 0: not measured (the baseline).
  double fp32_ratio = 0;
  double fp32_ratio_error = 0;
};

// How one op's output in a quantized model differs from the fp32 model's, over every value of
// its first output on the compared samples (f = fp32, q = quantized).
struct OpOutputError {
  double sqnr_db = 0;               // 10 log10(sum f^2 / sum (q - f)^2); +inf when q == f
  double cosine = 1;                // of the two outputs as flat vectors
  double max_abs_error = 0;         // max |q - f|
  double relative_error = 0;        // sum (q - f)^2 / sum f^2
  double input_relative_error = 0;  // the same at its activation input: what arrived from upstream

  bool operator==(const OpOutputError&) const = default;
};

// Whether `m` can be a measurement of the metric named `metric` (MetricSpec::name): finite,
// latency and size not negative, top1/topk within [0, 100], mse not negative, cosine within
// [-1, 1]. kInvalidInput saying what is wrong otherwise; such a result counts as a failed trial.
// An empty `metric` (and command) checks only what holds for every metric.
Status check_trial_metrics(const std::string& metric, const TrialMetrics& m);

}  // namespace qtune
