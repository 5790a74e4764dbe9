// Tuning strategies: pure functions of (tuning space, history) that propose the next trial
// configs in a deterministic order. A strategy keeps no state between calls: it replays its
// own logic over the history (looking trials up by config hash), so the same history always
// yields the same proposals, in one process, across workers, or after a resume.
// A strategy also says what it needs measured before it ranks ops (per-op sensitivity) and what
// it adds to the report; the caller (cli/cmd_tune.cpp) asks, never checks names. Built-in
// strategies live one per file in coordinator/strategies/ (docs/adding-a-strategy.md).
// The registry is thread-safe; strategies are immutable.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
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

// The per-op measurements a strategy may rank by, over calibration samples (reference QDQ
// execution against fp32). The tuning run implements it on its TrialRunner; tests fake it.
class OpProbe {
 public:
  virtual ~OpProbe() = default;
  // Per int8 op of cfg, the relative output error it adds over what reaches its input (one pass).
  virtual Result<std::map<std::string, double>> added_error(const TuneConfig& cfg) = 0;
  // Per int8 op of cfg, what falling it alone back to fp32 removes from the model's relative
  // output error (one pass per op).
  virtual Result<std::map<std::string, double>> fallback_gain(const TuneConfig& cfg) = 0;
};

// What a strategy adds to report.json ("strategy_report") and to the printed summary.
struct StrategyReport {
  std::string sensitivity_measure;  // what the ops' "sensitivity" numbers mean; "" when none
  std::vector<std::string> notes;   // one sentence each: how the strategy reached its choice
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

  // Whether next() ranks ops by StrategyContext::op_sensitivity(). The run then measures it
  // with measure_sensitivity the first time next() asks (a run whose first configs pass never
  // pays), records it in the journal (a resume reuses it) and puts it in the report.
  virtual bool needs_sensitivity() const { return false; }
  // The per-op sensitivity of the all-int8 config, higher = fall back first. The default is the
  // error each op adds (probe.added_error).
  virtual Result<std::map<std::string, double>> measure_sensitivity(OpProbe& probe,
                                                                    const TuneConfig& all_int8) const {
    return probe.added_error(all_int8);
  }
  // What measure_sensitivity's numbers mean, for the log and the report.
  virtual std::string sensitivity_measure() const {
    return "relative output error the op adds in int8 (sum((q - f)^2) / sum(f^2), output minus input)";
  }
  // What the strategy adds to the report once the run ended: the measure's meaning when it ranks
  // by sensitivity, then report_notes.
  StrategyReport report(const StrategyContext& ctx, const TuningHistory& history) const {
    return {needs_sensitivity() ? sensitivity_measure() : "", report_notes(ctx, history)};
  }

 protected:
  // Sentences on how the strategy reached its choice (e.g. bisect's bound), from the history.
  virtual std::vector<std::string> report_notes(const StrategyContext& ctx,
                                                const TuningHistory& history) const {
    return {};
  }
};

using StrategyFactory = std::function<std::unique_ptr<Strategy>()>;

// Every strategy by name: those of coordinator/strategies/ from the start, plus any registered
// at run time (a plug-in, a test). Thread-safe.
class StrategyRegistry {
 public:
  // The process-wide registry.
  static StrategyRegistry& global();

  // Adds `make` under `name` (what tuning.strategy names); kInvalidInput when the name is taken
  // or empty.
  Status add(const std::string& name, StrategyFactory make);
  // Registration order: the built-ins by file name, then the rest.
  std::vector<std::string> names() const;
  // kInvalidInput naming `where` (the YAML place, "FILE:LINE:COL: tuning.strategy"; may be
  // empty) and the known names.
  Result<std::unique_ptr<Strategy>> make(const std::string& name, const std::string& where) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, StrategyFactory>> entries_;
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

// StrategyRegistry::global().add / names / make.
Status register_strategy(const std::string& name, StrategyFactory make);
std::vector<std::string> strategy_names();
Result<std::unique_ptr<Strategy>> make_strategy(const std::string& name, const std::string& where = "");

}  // namespace qtune
