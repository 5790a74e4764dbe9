// bisect: accuracy first at full speed, then speed for accuracy, one trial at a time and
// stopping at the first config that meets the goal: the default config; the calibration sweep
// (every int8 op on each other algorithm); op type by op type, the default's algorithm and
// those that beat it in the sweep, best first, keeping a change that raises accuracy; only then
// a binary search for the shortest prefix of the fallback-gain ranking whose fp32 fallback,
// applied to the most accurate int8 config, meets the goal (assuming more fallback never hurts
// accuracy: O(log n) trials), and that prefix once in bf16. The first two stages cost no speed.
#include <algorithm>

#include "coordinator/strategy_steps.h"

namespace qtune {
namespace {

using namespace steps;

class BisectStrategy : public Strategy {
 public:
  std::string name() const override { return "bisect"; }
  // The first passing probe is an upper bound, not the answer: the search runs to its end.
  bool stops_at_first_pass() const override { return false; }
  bool needs_sensitivity() const override { return true; }
  // Ranks by each op's effect on the model's output, which the error an op adds locally can
  // miss (e.g. a classifier layer whose relative error looks small); one pass per op.
  Result<std::map<std::string, double>> measure_sensitivity(OpProbe& probe,
                                                            const TuneConfig& all_int8) const override {
    return probe.fallback_gain(all_int8);
  }
  std::string sensitivity_measure() const override {
    return "what the op's fallback alone to fp32 removes from the model's relative output error";
  }

  std::vector<TrialProposal> next(const StrategyContext& ctx, const TuningHistory& h) const override {
    return replay(ctx, h).next;
  }

 protected:
  std::vector<std::string> report_notes(const StrategyContext& ctx,
                                        const TuningHistory& h) const override {
    std::string note = replay(ctx, h).note;
    if (note.empty()) return {};
    return {note};
  }

 private:
  struct Replay {
    std::vector<TrialProposal> next;  // the next trial, if any
    std::string note;                 // where the search stands, for the report
  };

  // Replays the stages over the history up to the first trial not in it.
  static Replay replay(const StrategyContext& ctx, const TuningHistory& h) {
    const Configs sweep = sweep_stage(ctx);
    for (size_t i = 0; i < sweep.size(); ++i) {
      const TrialRecord* t = h.find(sweep[i].hash());
      if (!t) return {{{sweep[i], i == 0 ? "default" : "sweep"}}, ""};
      if (passes(ctx, h, t)) return {{}, "the calibration sweep met the goal: no op needed a fallback"};
      if (i == 0 && !t->ok) return {{}, "the default int8 config failed to run"};
    }
    // The default's algorithm and those that beat it in the sweep, best first: mixing by op
    // type is worth trials only between recipes that showed promise on the whole model.
    const TrialRecord* def = h.find(sweep[0].hash());
    std::vector<std::pair<const TrialRecord*, CalibAlgorithm>> ranked_algos;
    for (CalibAlgorithm a : int8_algorithms(ctx.space)) {
      const TrialRecord* t = h.find(with_algorithm(ctx.space, sweep[0], "", a).hash());
      if (t && t->ok && (t == def || better_metric(ctx.criterion, t->metric, def->metric))) {
        ranked_algos.push_back({t, a});
      }
    }
    std::stable_sort(ranked_algos.begin(), ranked_algos.end(), [&](const auto& x, const auto& y) {
      return better_metric(ctx.criterion, x.first->metric, y.first->metric);
    });
    const TrialRecord* current = best_in(sweep, ctx.criterion, h);
    if (!current) return {};
    for (const std::string& type : int8_op_types(ctx.space, current->cfg)) {
      Configs tries = {current->cfg};
      for (const auto& [t, a] : ranked_algos) {
        const TuneConfig cfg = with_algorithm(ctx.space, current->cfg, type, a);
        if (cfg.hash() == current->cfg.hash()) continue;
        const TrialRecord* r = h.find(cfg.hash());
        if (!r) return {{{cfg, "type-sweep"}}, ""};
        if (passes(ctx, h, r)) {
          return {{}, "calibration algorithms chosen per op type met the goal: no op needed a fallback"};
        }
        tries.push_back(cfg);
      }
      current = best_in(tries, ctx.criterion, h);
    }
    const TuneConfig base = current->cfg;
    const auto ranked = by_sensitivity(ctx, ctx.space.int8_ops(base));
    const size_t n = ranked.size();
    if (n == 0) return {};
    // Search in fp32 (the fallback that surely restores accuracy), then offer the prefix found
    // in bf16 once: one more trial instead of a second search.
    size_t lo = 0, hi = n;  // lo fails (the base); hi is assumed to pass until measured
    while (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      const TuneConfig cfg = accumulate(base, ranked, mid, true);
      const TrialRecord* t = h.find(cfg.hash());
      if (!t) return {{{cfg, "bisect"}}, ""};
      (passes(ctx, h, t) ? hi : lo) = mid;
    }
    const TuneConfig top = accumulate(base, ranked, hi, true);
    const TrialRecord* t = h.find(top.hash());
    if (!t) return {{{top, "bisect"}}, ""};
    const std::string of_n = " of " + std::to_string(n) + " int8 ops, ranked by fallback gain";
    if (!passes(ctx, h, t)) return {{}, "even the fp32 fallback of all " + std::to_string(hi) + of_n + " missed the goal"};
    const std::vector<const TunableOp*> prefix(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(hi));
    const std::string note = "the shortest fp32 fallback that met the goal: the first " + std::to_string(hi) +
                             of_n + " (" + op_list(prefix) + "); " +
                             (hi == 1 ? std::string("without fallback") : "with the first " + std::to_string(hi - 1)) +
                             " it missed";
    if (!any_bf16(prefix)) return {{}, note};
    const TuneConfig bf16 = accumulate(base, ranked, hi, false);
    if (h.find(bf16.hash())) return {{}, note};
    return {{{bf16, "bisect-bf16"}}, note};
  }
};

}  // namespace

void register_bisect_strategy(StrategyRegistry& r) {
  (void)r.add("bisect", [] { return std::make_unique<BisectStrategy>(); });
}

}  // namespace qtune
