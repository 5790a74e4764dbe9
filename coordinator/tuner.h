// The tuning loop: ask the strategy for a wave, evaluate it trial by trial, record results,
// apply the exit policy, choose the best. Evaluation is a callback (in-process worker now, remote
// workers later); the clock is injected so tests drive timeouts without sleeping.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/trial_metrics.h"
#include "coordinator/decision.h"
#include "coordinator/strategy.h"

namespace qtune {

using TrialEvaluator = std::function<Result<TrialMetrics>(const TuneConfig& cfg)>;

struct TuneRunOptions {
  AccuracyCriterion criterion;
  ExitPolicy exit_policy;
  std::string objective = "performance";
  int64_t calib_sampling_size = 1000;
  uint64_t seed = 1;
  std::function<double()> now;                          // seconds; defaults to a steady clock
  std::function<void(const TrialRecord&)> on_trial;     // progress, after each trial
};

struct TuneOutcome {
  TuningHistory history;
  std::optional<size_t> chosen;  // index into history.trials
  bool goal_met = false;         // chosen is accepted (else it is the best effort, if any)
  std::string stop_reason;       // "goal met", "timeout", "max_trials", "strategy exhausted"
  double target = 0;
  int64_t evaluated = 0;         // trials evaluated in this run (not taken from the history)
};

// `history` holds the baseline and any trials known before this run (resume, reuse); they are
// not evaluated again. An evaluator error on a trial is recorded (ok=false) and tuning goes on.
TuneOutcome run_tuning(const TuningSpace& space, const Strategy& strategy,
                       const TuneRunOptions& opts, TuningHistory history,
                       const TrialEvaluator& evaluate);

}  // namespace qtune
