// mse: the calibration sweep; then from its best config, accumulated fp32 fallback in the order
// of the error each op adds (measured once on calibration samples); the first prefix that
// meets the goal is then offered once in bf16.
#include "coordinator/strategy_steps.h"

namespace qtune {
namespace {

using namespace steps;

class MseStrategy : public Strategy {
 public:
  std::string name() const override { return "mse"; }
  bool needs_sensitivity() const override { return true; }

  std::vector<TrialProposal> next(const StrategyContext& ctx, const TuningHistory& h) const override {
    const Configs sweep = sweep_stage(ctx);
    if (auto w = unevaluated(sweep, "sweep", h); !w.empty()) return w;
    const TrialRecord* base = best_in(sweep, ctx.criterion, h);
    if (!base) return {};
    const auto ranked = by_sensitivity(ctx, ctx.space.int8_ops(base->cfg));
    const Configs acc = accumulated(base->cfg, ranked);
    if (auto w = unevaluated(acc, "fallback-accumulate", h); !w.empty()) return w;
    const size_t k = first_passing(ctx, h, acc);
    if (k == 0) return {};
    const std::vector<const TunableOp*> prefix(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(k));
    if (!any_bf16(prefix)) return {};
    return unevaluated({accumulate(base->cfg, ranked, k, false)}, "fallback-bf16", h);
  }

 protected:
  std::vector<std::string> report_notes(const StrategyContext& ctx,
                                        const TuningHistory& h) const override {
    const TrialRecord* base = best_in(sweep_stage(ctx), ctx.criterion, h);
    if (!base) return {};
    if (passes(ctx, h, base)) return {"the calibration sweep met the goal: no op needed a fallback"};
    const auto ranked = by_sensitivity(ctx, ctx.space.int8_ops(base->cfg));
    const Configs acc = accumulated(base->cfg, ranked);
    const size_t k = first_passing(ctx, h, acc);
    if (k == 0) {
      for (const auto& c : acc) {
        if (!h.find(c.hash())) return {};  // the run stopped before the stage ended
      }
      return {"no fp32 fallback of the " + std::to_string(ranked.size()) +
              " int8 ops in order of the error they add met the goal"};
    }
    const std::vector<const TunableOp*> prefix(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(k));
    return {"fp32 fallback of the first " + std::to_string(k) + " of " + std::to_string(ranked.size()) +
            " int8 ops in order of the error they add met the goal: " + op_list(prefix)};
  }

 private:
  // base with the first k ops of `ranked` in fp32, k = 1..n.
  static Configs accumulated(const TuneConfig& base, const std::vector<const TunableOp*>& ranked) {
    Configs acc;
    for (size_t k = 1; k <= ranked.size(); ++k) acc.push_back(accumulate(base, ranked, k, true));
    return acc;
  }

  // The smallest k whose config acc[k - 1] passes; 0 when none does.
  static size_t first_passing(const StrategyContext& ctx, const TuningHistory& h, const Configs& acc) {
    for (size_t k = 1; k <= acc.size(); ++k) {
      if (passes(ctx, h, h.find(acc[k - 1].hash()))) return k;
    }
    return 0;
  }
};

}  // namespace

void register_mse_strategy(StrategyRegistry& r) {
  (void)r.add("mse", [] { return std::make_unique<MseStrategy>(); });
}

}  // namespace qtune
