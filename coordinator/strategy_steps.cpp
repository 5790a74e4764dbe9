// Shared building blocks of the strategies (see strategy_steps.h).
#include "coordinator/strategy_steps.h"

#include <algorithm>
#include <set>

namespace qtune::steps {

const OpQuantConfig* first_of(const TunableOp& op, OpPrecision p) {
  for (const auto& o : op.options) {
    if (o.precision == p) return &o;
  }
  return nullptr;
}

std::vector<OpPrecision> fallback_order(const TunableOp& op) {
  std::vector<OpPrecision> out;
  if (op.allows(OpPrecision::kBf16)) out.push_back(OpPrecision::kBf16);
  if (op.allows(OpPrecision::kFp32)) out.push_back(OpPrecision::kFp32);
  return out;
}

std::vector<TrialProposal> unevaluated(const Configs& stage, const std::string& name,
                                       const TuningHistory& h) {
  std::vector<TrialProposal> out;
  std::set<std::string> seen;
  for (const auto& c : stage) {
    const std::string hash = c.hash();
    if (h.find(hash) || !seen.insert(hash).second) continue;
    out.push_back({c, name});
  }
  return out;
}

bool better_metric(const AccuracyCriterion& c, double a, double b) {
  return c.higher_is_better ? a > b : a < b;
}

const TrialRecord* best_in(const Configs& stage, const AccuracyCriterion& c, const TuningHistory& h) {
  const TrialRecord* best = nullptr;
  for (const auto& cfg : stage) {
    const TrialRecord* t = h.find(cfg.hash());
    if (t && t->ok && (!best || better_metric(c, t->metric, best->metric))) best = t;
  }
  return best;
}

bool passes(const StrategyContext& ctx, const TuningHistory& h, const TrialRecord* t) {
  return t && t->ok && meets_accuracy(ctx.criterion, h.baseline_metric, t->metric);
}

std::vector<CalibAlgorithm> int8_algorithms(const TuningSpace& space) {
  std::vector<CalibAlgorithm> algos;
  for (const auto& op : space.ops) {
    for (const auto& o : op.options) {
      if (o.precision == OpPrecision::kInt8 &&
          std::find(algos.begin(), algos.end(), o.activation.algorithm) == algos.end()) {
        algos.push_back(o.activation.algorithm);
      }
    }
  }
  return algos;
}

TuneConfig with_algorithm(const TuningSpace& space, TuneConfig cfg, const std::string& type,
                          CalibAlgorithm a) {
  for (const auto& op : space.ops) {
    if (!type.empty() && op.key.op_type != type) continue;
    auto cur = cfg.ops.find(op.key.name);
    if (cur == cfg.ops.end() || cur->second.precision != OpPrecision::kInt8) continue;
    for (const auto& o : op.options) {
      OpQuantConfig want = cur->second;
      want.activation.algorithm = a;
      if (o == want) {
        cur->second = o;
        break;
      }
    }
  }
  return cfg;
}

Configs uniform_sweep(const TuningSpace& space, const TuneConfig& base) {
  Configs out = {base};
  for (CalibAlgorithm a : int8_algorithms(space)) {
    TuneConfig cfg = with_algorithm(space, base, "", a);
    if (cfg.hash() != base.hash()) out.push_back(cfg);
  }
  return out;
}

Configs sweep_stage(const StrategyContext& ctx) {
  return uniform_sweep(ctx.space, ctx.space.default_config(ctx.calib_sampling_size));
}

std::vector<std::string> int8_op_types(const TuningSpace& space, const TuneConfig& cfg) {
  std::vector<std::string> types;
  for (const TunableOp* op : space.int8_ops(cfg)) {
    if (std::find(types.begin(), types.end(), op->key.op_type) == types.end()) {
      types.push_back(op->key.op_type);
    }
  }
  return types;
}

Configs one_op_fallback(const TuneConfig& base, const std::vector<const TunableOp*>& ops) {
  Configs out;
  for (const TunableOp* op : ops) {
    const auto order = fallback_order(*op);
    if (order.empty()) continue;
    TuneConfig cfg = base;
    cfg.ops[op->key.name] = *first_of(*op, order.front());
    out.push_back(cfg);
  }
  return out;
}

TuneConfig accumulate(const TuneConfig& base, const std::vector<const TunableOp*>& ranked,
                      size_t k, bool to_fp32) {
  TuneConfig cfg = base;
  for (size_t i = 0; i < k && i < ranked.size(); ++i) {
    const TunableOp& op = *ranked[i];
    const auto order = fallback_order(op);
    if (order.empty()) continue;
    const OpPrecision p = to_fp32 && op.allows(OpPrecision::kFp32) ? OpPrecision::kFp32 : order.front();
    cfg.ops[op.key.name] = *first_of(op, p);
  }
  return cfg;
}

bool any_bf16(const std::vector<const TunableOp*>& ops) {
  return std::any_of(ops.begin(), ops.end(),
                     [](const TunableOp* op) { return op->allows(OpPrecision::kBf16); });
}

std::vector<const TunableOp*> by_sensitivity(const StrategyContext& ctx,
                                             std::vector<const TunableOp*> ops) {
  const std::map<std::string, double>& sensitivity = ctx.op_sensitivity();
  auto s = [&](const TunableOp* op) {
    auto it = sensitivity.find(op->key.name);
    return it == sensitivity.end() ? 0.0 : it->second;
  };
  std::stable_sort(ops.begin(), ops.end(),
                   [&](const TunableOp* a, const TunableOp* b) { return s(a) > s(b); });
  return ops;
}

std::string op_list(const std::vector<const TunableOp*>& ops, size_t show) {
  std::string out;
  for (size_t i = 0; i < ops.size() && i < show; ++i) {
    out += (i == 0 ? "" : i + 1 == ops.size() ? " and " : ", ") + ops[i]->key.name;
  }
  if (ops.size() > show) out += " and " + std::to_string(ops.size() - show) + " more";
  return out;
}

}  // namespace qtune::steps
