// The tuning loop: ask the strategy for a wave, evaluate it, record results in sequence-index
// order, apply the exit policy, choose the best. Evaluation is a callback: trial by trial in this
// process (run_tuning) or a whole wave across workers (run_tuning_waves, coordinator/scheduler.h);
// both share this loop, so both make the same decisions on the same results. The clock is
// injected so tests drive timeouts without sleeping.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/trial_metrics.h"
#include "coordinator/decision.h"
#include "coordinator/strategy.h"

namespace qtune {

using TrialEvaluator = std::function<Result<TrialMetrics>(const TuneConfig& cfg)>;

struct TuneRunOptions {
  // Results are checked against this metric (check_trial_metrics): an implausible one is
  // recorded as a failed trial and never chosen. "" checks only what holds for every metric.
  std::string metric;
  AccuracyCriterion criterion;
  ExitPolicy exit_policy;
  std::string objective = "performance";
  int64_t calib_sampling_size = 1000;
  uint64_t seed = 1;
  std::function<double()> now;                          // seconds; defaults to a steady clock
  std::function<void(const TrialRecord&)> on_trial;     // progress, after each trial
  // Lazily measured sensitivity for the strategies (StrategyContext::sensitivity).
  std::function<const std::map<std::string, double>&()> sensitivity;
};

struct TuneOutcome {
  TuningHistory history;
  std::optional<size_t> chosen;  // index into history.trials
  bool goal_met = false;         // chosen is accepted (else it is the best effort, if any)
  std::string stop_reason;       // "goal met", "timeout", "max_trials", "strategy exhausted",
                                 // "interrupted" (a wave evaluator gave up)
  double target = 0;
  int64_t evaluated = 0;         // trials evaluated in this run (not taken from the history)
};

// `history` holds the baseline and any trials known before this run (resume, reuse); they are
// not evaluated again. An evaluator error on a trial is recorded (ok=false) and tuning goes on.
TuneOutcome run_tuning(const TuningSpace& space, const Strategy& strategy,
                       const TuneRunOptions& opts, TuningHistory history,
                       const TrialEvaluator& evaluate);

// How a wave evaluator hands results back to the loop.
struct WaveControl {
  // True once the exit policy's timeout has passed: start no further trial of the wave.
  std::function<bool()> out_of_time;
  // Records the next trial of the wave; results must come in the wave's order (sequence index),
  // whatever order they were measured in. The evaluator fills ok/error/metric/latency_ms/
  // model_bytes/seconds. false: the run has stopped (or the result was out of order); abandon
  // the rest of the wave.
  std::function<bool(const TrialRecord&)> record;
};
// Evaluates one wave: trials with index, stage, cfg and hash set, in index order. Returning
// before every trial is recorded means the timeout passed (or the evaluator gave up).
using WaveEvaluator = std::function<void(const std::vector<TrialRecord>& wave, const WaveControl& control)>;

// The wave evaluator run_tuning uses: trial by trial in this thread, timing each with `now`
// (a steady clock when empty).
WaveEvaluator one_by_one(TrialEvaluator evaluate, std::function<double()> now = {});

// run_tuning with the evaluation of whole waves delegated, e.g. to remote workers in parallel.
// With the same results it records the same history and makes the same choice as run_tuning:
// with timeout 0 it stops at the lowest index that is accepted, once all lower ones are in.
TuneOutcome run_tuning_waves(const TuningSpace& space, const Strategy& strategy,
                             const TuneRunOptions& opts, TuningHistory history,
                             const WaveEvaluator& evaluate);

}  // namespace qtune
