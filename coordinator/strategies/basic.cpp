// basic (INC's default): the calibration sweep; from its best config, each int8 op alone falls
// back (one trial per op); then ops are accumulated into the fallback in the order of the
// metric each recovered alone, bf16 first, then fp32 where bf16 was used.
#include <algorithm>
#include <limits>

#include "coordinator/strategy_steps.h"

namespace qtune {
namespace {

using namespace steps;

class BasicStrategy : public Strategy {
 public:
  std::string name() const override { return "basic"; }

  std::vector<TrialProposal> next(const StrategyContext& ctx, const TuningHistory& h) const override {
    const Configs sweep = sweep_stage(ctx);
    if (auto w = unevaluated(sweep, "sweep", h); !w.empty()) return w;
    const TrialRecord* base = best_in(sweep, ctx.criterion, h);
    if (!base) return {};
    const auto ops = with_fallback(ctx.space.int8_ops(base->cfg));
    const Configs one = one_op_fallback(base->cfg, ops);
    if (auto w = unevaluated(one, "fallback-one", h); !w.empty()) return w;
    const auto ranked = by_impact(ctx, h, *base, ops, one);
    Configs acc;
    for (size_t k = 1; k <= ranked.size(); ++k) acc.push_back(accumulate(base->cfg, ranked, k, false));
    auto wave = unevaluated(acc, "fallback-accumulate", h);
    if (!wave.empty() || !any_bf16(ranked)) return wave;
    Configs fp32;
    for (size_t k = 1; k <= ranked.size(); ++k) fp32.push_back(accumulate(base->cfg, ranked, k, true));
    return unevaluated(fp32, "fallback-accumulate-fp32", h);
  }

 protected:
  std::vector<std::string> report_notes(const StrategyContext& ctx,
                                        const TuningHistory& h) const override {
    const Configs sweep = sweep_stage(ctx);
    const TrialRecord* base = best_in(sweep, ctx.criterion, h);
    if (!base) return {};
    const auto ops = with_fallback(ctx.space.int8_ops(base->cfg));
    const Configs one = one_op_fallback(base->cfg, ops);
    for (const auto& c : one) {
      if (!h.find(c.hash())) return {};
    }
    if (ops.empty()) return {};
    return {"ops ranked by the metric their fallback alone recovered: " +
            op_list(by_impact(ctx, h, *base, ops, one))};
  }

 private:
  // The ops that can fall back at all: one_op_fallback makes one config for each of them, so
  // its configs line up with this list.
  static std::vector<const TunableOp*> with_fallback(std::vector<const TunableOp*> ops) {
    std::erase_if(ops, [](const TunableOp* op) { return fallback_order(*op).empty(); });
    return ops;
  }

  // The ops in the order of what falling each back alone recovered, most first.
  static std::vector<const TunableOp*> by_impact(const StrategyContext& ctx, const TuningHistory& h,
                                                 const TrialRecord& base,
                                                 const std::vector<const TunableOp*>& ops,
                                                 const Configs& one) {
    std::vector<std::pair<double, const TunableOp*>> impact;
    for (size_t i = 0; i < one.size(); ++i) {
      const TrialRecord* t = h.find(one[i].hash());
      double gain = t && t->ok ? t->metric - base.metric : -std::numeric_limits<double>::infinity();
      if (!ctx.criterion.higher_is_better) gain = -gain;
      impact.push_back({gain, ops[i]});
    }
    std::stable_sort(impact.begin(), impact.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<const TunableOp*> ranked;
    for (const auto& [g, op] : impact) ranked.push_back(op);
    return ranked;
  }
};

}  // namespace

void register_basic_strategy(StrategyRegistry& r) {
  (void)r.add("basic", [] { return std::make_unique<BasicStrategy>(); });
}

}  // namespace qtune
