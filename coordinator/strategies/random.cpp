// random: seeded draws of one option per op; no product is materialised.
#include <random>

#include "coordinator/strategy_steps.h"

namespace qtune {
namespace {

class RandomStrategy : public Strategy {
 public:
  std::string name() const override { return "random"; }

  std::vector<TrialProposal> next(const StrategyContext& ctx, const TuningHistory& h) const override {
    if (ctx.space.ops.empty()) return {};
    int64_t drawn = 0;
    for (const auto& t : h.trials) drawn += t.stage == "random";
    // A fresh generator per draw index keeps each proposal a function of (seed, index).
    for (int attempt = 0; attempt < 1000; ++attempt) {
      std::mt19937_64 rng(ctx.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(drawn) * 1000 +
                          static_cast<uint64_t>(attempt));
      TuneConfig cfg;
      cfg.calib_sampling_size = ctx.calib_sampling_size;
      for (const auto& op : ctx.space.ops) {
        std::uniform_int_distribution<size_t> d(0, op.options.size() - 1);
        cfg.ops[op.key.name] = op.options[d(rng)];
      }
      if (!h.find(cfg.hash())) return {{cfg, "random"}};
    }
    return {};  // 1000 draws all seen: the space is (nearly) exhausted
  }

 protected:
  std::vector<std::string> report_notes(const StrategyContext& ctx,
                                        const TuningHistory& h) const override {
    int64_t drawn = 0;
    for (const auto& t : h.trials) drawn += t.stage == "random";
    return {std::to_string(drawn) + " configs drawn at random (seed " + std::to_string(ctx.seed) + ")"};
  }
};

}  // namespace

void register_random_strategy(StrategyRegistry& r) {
  (void)r.add("random", [] { return std::make_unique<RandomStrategy>(); });
}

}  // namespace qtune
