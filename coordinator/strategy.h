// Tuning strategies: pure functions of (tuning space, history) that propose the next trial
// configs in a deterministic order. A strategy keeps no state between calls: it replays its
// own logic over the history (looking trials up by config hash), so the same history always
// yields the same proposals, in one process, across workers, or after a resume.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/tuning_config.h"
#include "coordinator/decision.h"
#include "coordinator/tuning_space.h"

namespace qtune {

struct TrialProposal {
  TuneConfig cfg;
  std::string stage;  // e.g. "sweep", "fallback-one", "fallback-accumulate"
};

struct StrategyContext {
  const TuningSpace& space;
  AccuracyCriterion criterion;
  int64_t calib_sampling_size = 1000;
  uint64_t seed = 1;
  // The per-op sensitivity, measured on first use (a run whose first configs pass never pays
  // for it); space.sensitivity when unset. Returns the same map on every call.
  std::function<const std::map<std::string, double>&()> sensitivity;

  const std::map<std::string, double>& op_sensitivity() const {
    return sensitivity ? sensitivity() : space.sensitivity;
  }
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // The next trials, none of them already in `history` (by hash); empty when the strategy has
  // nothing more to try. The caller evaluates them in order before asking again.
  virtual std::vector<TrialProposal> next(const StrategyContext& ctx,
                                          const TuningHistory& history) const = 0;
  // Whether a run with timeout 0 may stop at the first accepted trial. Conservative grows its
  // config while accuracy holds and bisect narrows a bound, so both run to their end.
  virtual bool stops_at_first_pass() const { return true; }
};

// The performance objective's last resort, after a strategy has nothing more to try and no
// trial was accepted although some met the accuracy goal (int8 slower than fp32 on this
// runtime): from the fastest such trial, move groups of int8/bf16 ops back to fp32 one at a time
// (activation-only op types as a whole, then each op with weights) and keep a step when it
// keeps accuracy and lowers latency. Empty when there is nothing to refine.
std::vector<TrialProposal> latency_refinement(const StrategyContext& ctx,
                                              const TuningHistory& history,
                                              const std::string& objective);

// After a strategy has nothing more to try, when the run searches on (timeout > 0): INC's
// op-type-wise tuning of the calibration algorithms, on the best accepted config of the
// strategy's own trials. Its kernel signature stays fixed (the same ops int8, the same
// kernels), so only accuracy can change: first every int8 op with each other algorithm, then,
// from the most accurate so far, each op type in graph order with each other algorithm, keeping
// a change only when it raises the metric. Empty when nothing is accepted or all is tried.
std::vector<TrialProposal> recipe_refinement(const StrategyContext& ctx,
                                             const TuningHistory& history,
                                             const std::string& objective);

// basic, conservative, mse, bisect, random, exhaustive; kInvalidInput for any other name.
Result<std::unique_ptr<Strategy>> make_strategy(const std::string& name);

}  // namespace qtune
