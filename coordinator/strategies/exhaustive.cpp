// exhaustive: every combination in mixed-radix order (the last op varies fastest), decoded from
// the index, so no product is materialised.
#include <limits>

#include "coordinator/strategy_steps.h"

namespace qtune {
namespace {

class ExhaustiveStrategy : public Strategy {
 public:
  std::string name() const override { return "exhaustive"; }

  std::vector<TrialProposal> next(const StrategyContext& ctx, const TuningHistory& h) const override {
    const auto& ops = ctx.space.ops;
    if (ops.empty()) return {};
    const uint64_t total = combinations(ctx.space);
    uint64_t index = 0;
    for (const auto& t : h.trials) index += t.stage == "exhaustive";
    for (; index < total; ++index) {
      TuneConfig cfg;
      cfg.calib_sampling_size = ctx.calib_sampling_size;
      uint64_t rest = index;
      for (size_t i = ops.size(); i-- > 0;) {
        const uint64_t n = ops[i].options.size();
        cfg.ops[ops[i].key.name] = ops[i].options[rest % n];
        rest /= n;
      }
      if (!h.find(cfg.hash())) return {{cfg, "exhaustive"}};
    }
    return {};
  }

 protected:
  std::vector<std::string> report_notes(const StrategyContext& ctx,
                                        const TuningHistory& h) const override {
    int64_t tried = 0;
    for (const auto& t : h.trials) tried += t.stage == "exhaustive";
    const uint64_t total = combinations(ctx.space);
    return {std::to_string(tried) + " of " +
            (total == std::numeric_limits<uint64_t>::max() ? std::string("more than 2^64")
                                                           : std::to_string(total)) +
            " combinations tried"};
  }

 private:
  // The size of the space, saturating at 2^64 - 1.
  static uint64_t combinations(const TuningSpace& space) {
    uint64_t total = 1;
    for (const auto& op : space.ops) {
      const uint64_t n = op.options.size();
      total = total > std::numeric_limits<uint64_t>::max() / n ? std::numeric_limits<uint64_t>::max()
                                                               : total * n;
    }
    return total;
  }
};

}  // namespace

void register_exhaustive_strategy(StrategyRegistry& r) {
  (void)r.add("exhaustive", [] { return std::make_unique<ExhaustiveStrategy>(); });
}

}  // namespace qtune
