// Building blocks the strategies (coordinator/strategies/) and the refinements after them
// share: the stages they replay over the history (calibration sweeps, one-op and accumulated
// fallback) and the lookups they make in it. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "coordinator/strategy.h"

namespace qtune::steps {

using Configs = std::vector<TuneConfig>;

// The op's first option of precision p, or nullptr.
const OpQuantConfig* first_of(const TunableOp& op, OpPrecision p);

// bf16 before fp32, each where the op allows it.
std::vector<OpPrecision> fallback_order(const TunableOp& op);

// The wave: configs of `stage` not yet in the history, each once, in order, named `name`.
std::vector<TrialProposal> unevaluated(const Configs& stage, const std::string& name,
                                       const TuningHistory& h);

bool better_metric(const AccuracyCriterion& c, double a, double b);

// The evaluated config of `stage` with the best metric (first on ties), or nullptr.
const TrialRecord* best_in(const Configs& stage, const AccuracyCriterion& c, const TuningHistory& h);

// t ran and meets the accuracy goal.
bool passes(const StrategyContext& ctx, const TuningHistory& h, const TrialRecord* t);

// The int8 activation algorithms the space offers, in first-seen order.
std::vector<CalibAlgorithm> int8_algorithms(const TuningSpace& space);

// cfg with the int8 ops of `type` ("" = every type) moved to algorithm `a` where the op offers
// the same config with that algorithm.
TuneConfig with_algorithm(const TuningSpace& space, TuneConfig cfg, const std::string& type,
                          CalibAlgorithm a);

// `base`, then every int8 op of base on each other activation algorithm.
Configs uniform_sweep(const TuningSpace& space, const TuneConfig& base);

// INC's op-type-wise sweep, over the calibration algorithm: every op at its default, then
// every int8 op with each other activation algorithm.
Configs sweep_stage(const StrategyContext& ctx);

// The op types of cfg's int8 ops, in graph order of first appearance.
std::vector<std::string> int8_op_types(const TuningSpace& space, const TuneConfig& cfg);

// base with each of `ops` in turn set to its first fallback; one config per op that has one.
Configs one_op_fallback(const TuneConfig& base, const std::vector<const TunableOp*>& ops);

// base with the first k of `ranked` at their first fallback (bf16 where allowed), or at fp32
// where allowed when `to_fp32`.
TuneConfig accumulate(const TuneConfig& base, const std::vector<const TunableOp*>& ranked,
                      size_t k, bool to_fp32);

bool any_bf16(const std::vector<const TunableOp*>& ops);

// Ops ranked by ctx.op_sensitivity(), highest first; unmeasured ops count 0; ties keep graph order.
std::vector<const TunableOp*> by_sensitivity(const StrategyContext& ctx,
                                             std::vector<const TunableOp*> ops);

// "a, b and 3 more": the first `show` op names of `ops`, for report notes.
std::string op_list(const std::vector<const TunableOp*>& ops, size_t show = 3);

}  // namespace qtune::steps
