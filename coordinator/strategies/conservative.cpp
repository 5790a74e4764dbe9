// conservative: starts from fp32 and quantizes one op type at a time (activation-only types
// first, then those with weights), keeping each step only while accuracy holds; a type that
// fails int8 tries bf16.
#include <algorithm>

#include "coordinator/strategy_steps.h"

namespace qtune {
namespace {

using namespace steps;

class ConservativeStrategy : public Strategy {
 public:
  std::string name() const override { return "conservative"; }
  bool stops_at_first_pass() const override { return false; }

  std::vector<TrialProposal> next(const StrategyContext& ctx, const TuningHistory& h) const override {
    return replay(ctx, h).next;
  }

 protected:
  std::vector<std::string> report_notes(const StrategyContext& ctx,
                                        const TuningHistory& h) const override {
    const Replay r = replay(ctx, h);
    if (!r.next.empty()) return {};
    std::string kept;
    for (OpPrecision p : {OpPrecision::kInt8, OpPrecision::kBf16, OpPrecision::kFp32}) {
      std::vector<std::string> types;
      for (const auto& op : ctx.space.ops) {
        auto c = r.current.ops.find(op.key.name);
        if (c != r.current.ops.end() && c->second.precision == p &&
            std::find(types.begin(), types.end(), op.key.op_type) == types.end()) {
          types.push_back(op.key.op_type);
        }
      }
      if (types.empty()) continue;
      kept += std::string(kept.empty() ? "" : "; ") + to_string(p) + ":";
      for (const auto& t : types) kept += " " + t;
    }
    return {"op types kept at the precision that held accuracy (" + kept + ")"};
  }

 private:
  struct Replay {
    std::vector<TrialProposal> next;
    TuneConfig current;  // every step kept so far
  };

  static Replay replay(const StrategyContext& ctx, const TuningHistory& h) {
    std::vector<std::string> types;
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& op : ctx.space.ops) {
        const bool weighted = op.default_option().has_weight;
        if ((pass == 0) == weighted &&
            std::find(types.begin(), types.end(), op.key.op_type) == types.end()) {
          types.push_back(op.key.op_type);
        }
      }
    }
    TuneConfig current;
    current.calib_sampling_size = ctx.calib_sampling_size;
    for (const auto& op : ctx.space.ops) {
      const OpQuantConfig* f = first_of(op, OpPrecision::kFp32);
      current.ops[op.key.name] = f ? *f : op.options.back();
    }
    for (const std::string& type : types) {
      for (OpPrecision p : {OpPrecision::kInt8, OpPrecision::kBf16}) {
        TuneConfig cfg = current;
        for (const auto& op : ctx.space.ops) {
          if (op.key.op_type != type) continue;
          if (p == OpPrecision::kInt8 && op.allows(p)) cfg.ops[op.key.name] = op.default_option();
          if (p == OpPrecision::kBf16 && op.allows(p)) cfg.ops[op.key.name] = *first_of(op, p);
        }
        if (cfg.hash() == current.hash()) continue;
        const TrialRecord* t = h.find(cfg.hash());
        if (!t) return {{{cfg, p == OpPrecision::kInt8 ? "quantize-type" : "bf16-type"}}, current};
        if (passes(ctx, h, t)) {
          current = cfg;
          break;
        }
      }
    }
    return {{}, current};
  }
};

}  // namespace

void register_conservative_strategy(StrategyRegistry& r) {
  (void)r.add("conservative", [] { return std::make_unique<ConservativeStrategy>(); });
}

}  // namespace qtune
