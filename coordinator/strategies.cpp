// The six strategies. Each replays its stages over the history: a stage's configs are computed
// from the space and the results of earlier stages; configs already evaluated are looked up by
// hash; the first stage with unevaluated configs is the next wave.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <set>

#include "coordinator/strategy.h"

namespace qtune {
namespace {

using Configs = std::vector<TuneConfig>;

const OpQuantConfig* first_of(const TunableOp& op, OpPrecision p) {
  for (const auto& o : op.options) {
    if (o.precision == p) return &o;
  }
  return nullptr;
}

// bf16 before fp32, each where the op allows it.
std::vector<OpPrecision> fallback_order(const TunableOp& op) {
  std::vector<OpPrecision> out;
  if (op.allows(OpPrecision::kBf16)) out.push_back(OpPrecision::kBf16);
  if (op.allows(OpPrecision::kFp32)) out.push_back(OpPrecision::kFp32);
  return out;
}

// The wave: configs of `stage` not yet in the history, each once, in order.
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

// The evaluated config of `stage` with the best metric (first on ties), or nullptr.
const TrialRecord* best_in(const Configs& stage, const AccuracyCriterion& c,
                           const TuningHistory& h) {
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

bool is_recipe_stage(const std::string& stage) { return stage.rfind("recipe", 0) == 0; }

// The int8 activation algorithms the space offers, in first-seen order.
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

// cfg with the int8 ops of `type` ("" = every type) moved to algorithm `a` where the op offers
// the same config with that algorithm.
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

// `base`, then every int8 op of base on each other activation algorithm.
Configs uniform_sweep(const TuningSpace& space, const TuneConfig& base) {
  Configs out = {base};
  for (CalibAlgorithm a : int8_algorithms(space)) {
    TuneConfig cfg = with_algorithm(space, base, "", a);
    if (cfg.hash() != base.hash()) out.push_back(cfg);
  }
  return out;
}

// INC's op-type-wise sweep, over the calibration algorithm: every op at its default, then
// every int8 op with each other activation algorithm.
Configs sweep_stage(const StrategyContext& ctx) {
  return uniform_sweep(ctx.space, ctx.space.default_config(ctx.calib_sampling_size));
}

// The op types of cfg's int8 ops, in graph order of first appearance.
std::vector<std::string> int8_op_types(const TuningSpace& space, const TuneConfig& cfg) {
  std::vector<std::string> types;
  for (const TunableOp* op : space.int8_ops(cfg)) {
    if (std::find(types.begin(), types.end(), op->key.op_type) == types.end()) {
      types.push_back(op->key.op_type);
    }
  }
  return types;
}

// base with each of `ranked` ops in turn set to its first fallback; one config per op.
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

// base with the first k of `ranked` at `precision` (the op's first fallback for bf16; fp32
// where allowed for fp32), for one k.
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

// Ops ranked by sensitivity, highest first; unmeasured ops count 0; ties keep graph order.
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

// Accumulated fallback of `ranked` (k = 1..n), bf16 then fp32 where bf16 was used.
std::vector<TrialProposal> accumulated_waves(const TuneConfig& base,
                                             const std::vector<const TunableOp*>& ranked,
                                             const TuningHistory& h) {
  Configs acc;
  for (size_t k = 1; k <= ranked.size(); ++k) acc.push_back(accumulate(base, ranked, k, false));
  auto wave = unevaluated(acc, "fallback-accumulate", h);
  if (!wave.empty() || !any_bf16(ranked)) return wave;
  Configs fp32;
  for (size_t k = 1; k <= ranked.size(); ++k) fp32.push_back(accumulate(base, ranked, k, true));
  return unevaluated(fp32, "fallback-accumulate-fp32", h);
}

class BasicStrategy : public Strategy {
 public:
  std::string name() const override { return "basic"; }
  std::vector<TrialProposal> next(const StrategyContext& ctx,
                                  const TuningHistory& h) const override {
    const Configs sweep = sweep_stage(ctx);
    if (auto w = unevaluated(sweep, "sweep", h); !w.empty()) return w;
    const TrialRecord* base = best_in(sweep, ctx.criterion, h);
    if (!base) return {};
    const auto ops = ctx.space.int8_ops(base->cfg);
    const Configs one = one_op_fallback(base->cfg, ops);
    if (auto w = unevaluated(one, "fallback-one", h); !w.empty()) return w;
    // Rank by measured impact: how much falling the op back alone recovered.
    std::vector<std::pair<double, const TunableOp*>> impact;
    for (size_t i = 0; i < one.size(); ++i) {
      const TrialRecord* t = h.find(one[i].hash());
      double gain = t && t->ok ? t->metric - base->metric : -std::numeric_limits<double>::infinity();
      if (!ctx.criterion.higher_is_better) gain = -gain;
      impact.push_back({gain, ops[i]});
    }
    std::stable_sort(impact.begin(), impact.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<const TunableOp*> ranked;
    for (const auto& [g, op] : impact) ranked.push_back(op);
    return accumulated_waves(base->cfg, ranked, h);
  }
};

class MseStrategy : public Strategy {
 public:
  std::string name() const override { return "mse"; }
  std::vector<TrialProposal> next(const StrategyContext& ctx,
                                  const TuningHistory& h) const override {
    const Configs sweep = sweep_stage(ctx);
    if (auto w = unevaluated(sweep, "sweep", h); !w.empty()) return w;
    const TrialRecord* base = best_in(sweep, ctx.criterion, h);
    if (!base) return {};
    // Accumulated fp32 fallback in sensitivity order; the first prefix that meets the goal is
    // then offered once in bf16.
    const auto ranked = by_sensitivity(ctx, ctx.space.int8_ops(base->cfg));
    Configs acc;
    for (size_t k = 1; k <= ranked.size(); ++k) acc.push_back(accumulate(base->cfg, ranked, k, true));
    if (auto w = unevaluated(acc, "fallback-accumulate", h); !w.empty()) return w;
    for (size_t k = 1; k <= ranked.size(); ++k) {
      if (!passes(ctx, h, h.find(acc[k - 1].hash()))) continue;
      const std::vector<const TunableOp*> prefix(ranked.begin(),
                                                 ranked.begin() + static_cast<std::ptrdiff_t>(k));
      if (!any_bf16(prefix)) return {};
      return unevaluated({accumulate(base->cfg, ranked, k, false)}, "fallback-bf16", h);
    }
    return {};
  }
};

// Accuracy first at full speed, then speed for accuracy, one trial at a time and stopping at
// the first config that meets the goal: the default config; the calibration sweep (every int8
// op on each other algorithm); op type by op type, the default's algorithm and those that beat
// it in the sweep, best first, keeping a change that raises accuracy; only then a binary
// search for the shortest prefix of the fallback-gain ranking whose fp32 fallback, applied to the
// most accurate int8 config, meets the goal (assuming more fallback never hurts accuracy:
// O(log n) trials), and that prefix once in bf16. The first two stages cost no speed.
class BisectStrategy : public Strategy {
 public:
  std::string name() const override { return "bisect"; }
  // The first passing probe is an upper bound, not the answer: the search runs to its end.
  bool stops_at_first_pass() const override { return false; }
  std::vector<TrialProposal> next(const StrategyContext& ctx,
                                  const TuningHistory& h) const override {
    const Configs sweep = sweep_stage(ctx);
    for (size_t i = 0; i < sweep.size(); ++i) {
      const TrialRecord* t = h.find(sweep[i].hash());
      if (!t) return {{sweep[i], i == 0 ? "default" : "sweep"}};
      if (passes(ctx, h, t)) return {};
      if (i == 0 && !t->ok) return {};
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
        if (!r) return {{cfg, "type-sweep"}};
        if (passes(ctx, h, r)) return {};
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
      if (!t) return {{cfg, "bisect"}};
      (passes(ctx, h, t) ? hi : lo) = mid;
    }
    const TuneConfig top = accumulate(base, ranked, hi, true);
    const TrialRecord* t = h.find(top.hash());
    if (!t) return {{top, "bisect"}};
    if (!passes(ctx, h, t)) return {};
    const std::vector<const TunableOp*> prefix(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(hi));
    if (!any_bf16(prefix)) return {};
    const TuneConfig bf16 = accumulate(base, ranked, hi, false);
    if (h.find(bf16.hash())) return {};
    return {{bf16, "bisect-bf16"}};
  }
};

// Starts from fp32 and quantizes one op type at a time (ops with weights first), keeping each
// step only while accuracy holds; a type that fails int8 tries bf16.
class ConservativeStrategy : public Strategy {
 public:
  std::string name() const override { return "conservative"; }
  bool stops_at_first_pass() const override { return false; }
  std::vector<TrialProposal> next(const StrategyContext& ctx,
                                  const TuningHistory& h) const override {
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
        if (!t) return {{cfg, p == OpPrecision::kInt8 ? "quantize-type" : "bf16-type"}};
        if (passes(ctx, h, t)) {
          current = cfg;
          break;
        }
      }
    }
    return {};
  }
};

// Seeded draws of one option per op; no product is materialised.
class RandomStrategy : public Strategy {
 public:
  std::string name() const override { return "random"; }
  std::vector<TrialProposal> next(const StrategyContext& ctx,
                                  const TuningHistory& h) const override {
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
};

// Every combination in mixed-radix order (the last op varies fastest), decoded from the index.
class ExhaustiveStrategy : public Strategy {
 public:
  std::string name() const override { return "exhaustive"; }
  std::vector<TrialProposal> next(const StrategyContext& ctx,
                                  const TuningHistory& h) const override {
    const auto& ops = ctx.space.ops;
    if (ops.empty()) return {};
    uint64_t total = 1;
    for (const auto& op : ops) {
      const uint64_t n = op.options.size();
      total = total > std::numeric_limits<uint64_t>::max() / n ? std::numeric_limits<uint64_t>::max()
                                                               : total * n;
    }
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
};

}  // namespace

std::vector<TrialProposal> latency_refinement(const StrategyContext& ctx, const TuningHistory& h,
                                              const std::string& objective) {
  if (objective != "performance") return {};
  const TrialRecord* start = nullptr;
  for (const auto& t : h.trials) {
    if (!passes(ctx, h, &t)) continue;
    if (faster_than_baseline(t, h)) return {};  // something is accepted already
    if (t.stage.rfind("speed", 0) == 0) continue;  // refinement starts from a strategy's trial
    if (!start || relative_latency(t, h).ratio < relative_latency(*start, h).ratio) start = &t;
  }
  if (!start) return {};
  // Groups: each activation-only op type, then each op with a weight, in graph order.
  std::vector<std::vector<const TunableOp*>> groups;
  std::vector<std::string> types;
  for (const auto& op : ctx.space.ops) {
    if (op.default_option().has_weight) continue;
    auto it = std::find(types.begin(), types.end(), op.key.op_type);
    if (it == types.end()) {
      types.push_back(op.key.op_type);
      groups.emplace_back();
      it = types.end() - 1;
    }
    groups[static_cast<size_t>(it - types.begin())].push_back(&op);
  }
  for (const auto& op : ctx.space.ops) {
    if (op.default_option().has_weight) groups.push_back({&op});
  }
  const TrialRecord* current = start;
  for (const auto& group : groups) {
    TuneConfig cfg = current->cfg;
    for (const TunableOp* op : group) {
      auto c = cfg.ops.find(op->key.name);
      const OpQuantConfig* fp32 = first_of(*op, OpPrecision::kFp32);
      if (c != cfg.ops.end() && c->second.precision != OpPrecision::kFp32 && fp32) c->second = *fp32;
    }
    if (cfg.hash() == current->cfg.hash()) continue;
    const TrialRecord* t = h.find(cfg.hash());
    if (!t) return {{cfg, "speed-fallback"}};
    if (passes(ctx, h, t) && clearly_faster(*t, *current, h)) current = t;
  }
  return {};
}

std::vector<TrialProposal> recipe_refinement(const StrategyContext& ctx, const TuningHistory& h,
                                             const std::string& objective) {
  // Start from the strategy's choice, not from refinement trials: the start must not move
  // while the refinement runs.
  TuningHistory own = h;
  own.trials.clear();
  for (const auto& t : h.trials) {
    if (!is_recipe_stage(t.stage)) own.trials.push_back(t);
  }
  const std::optional<size_t> start = best_accepted(own, ctx.criterion, objective);
  if (!start) return {};
  const std::vector<CalibAlgorithm> algos = int8_algorithms(ctx.space);
  const TuneConfig& base = own.trials[*start].cfg;

  const Configs uniform = uniform_sweep(ctx.space, base);
  if (auto w = unevaluated(uniform, "recipe-sweep", h); !w.empty()) return w;
  const TrialRecord* current = best_in(uniform, ctx.criterion, h);
  if (!current) return {};

  for (const std::string& type : int8_op_types(ctx.space, base)) {
    Configs tries = {current->cfg};
    for (CalibAlgorithm a : algos) tries.push_back(with_algorithm(ctx.space, current->cfg, type, a));
    if (auto w = unevaluated(tries, "recipe-" + type, h); !w.empty()) return w;
    current = best_in(tries, ctx.criterion, h);
  }
  return {};
}

Result<std::unique_ptr<Strategy>> make_strategy(const std::string& name) {
  if (name == "basic") return std::unique_ptr<Strategy>(new BasicStrategy);
  if (name == "conservative") return std::unique_ptr<Strategy>(new ConservativeStrategy);
  if (name == "mse") return std::unique_ptr<Strategy>(new MseStrategy);
  if (name == "bisect") return std::unique_ptr<Strategy>(new BisectStrategy);
  if (name == "random") return std::unique_ptr<Strategy>(new RandomStrategy);
  if (name == "exhaustive") return std::unique_ptr<Strategy>(new ExhaustiveStrategy);
  std::string list;
  for (const auto& n : strategy_names()) list += (list.empty() ? "" : ", ") + n;
  return Status::InvalidInput("unknown strategy '" + name + "' (known: " + list + ")");
}

}  // namespace qtune
