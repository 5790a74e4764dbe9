// Strategies and the tuning loop driven by a fake evaluator: no model, microseconds per trial.
// The fake model: accuracy = 80 - sum of the per-op penalties of int8 ops (bf16 costs a tenth,
// fp32 nothing; kl halves an op's penalty); latency = 100 ms, 10% less per int8 op and 5% less
// per bf16 op (compounded, so it stays positive however many ops there are).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "coordinator/strategy.h"
#include "coordinator/tuner.h"

namespace qtune {
namespace {

OpQuantConfig int8(CalibAlgorithm a, bool weight = true) {
  OpQuantConfig c;
  c.precision = OpPrecision::kInt8;
  c.has_weight = weight;
  c.weight = {DType::kS8, QuantScheme::kSym, QuantGranularity::kPerChannel, CalibAlgorithm::kMinMax};
  c.activation = {DType::kU8, QuantScheme::kAsym, QuantGranularity::kPerTensor, a};
  return c;
}

// n ops "op0".."op{n-1}", each int8 (minmax, kl), bf16 (when `bf16`), fp32.
TuningSpace make_space(int n, bool bf16 = true) {
  TuningSpace s;
  for (int i = 0; i < n; ++i) {
    TunableOp op;
    op.key = {"op" + std::to_string(i), i % 2 ? "Gemm" : "Conv"};
    op.options = {int8(CalibAlgorithm::kMinMax), int8(CalibAlgorithm::kKl)};
    if (bf16) op.options.push_back(OpQuantConfig::bf16());
    op.options.push_back(OpQuantConfig::fp32());
    s.ops.push_back(op);
  }
  return s;
}

struct FakeModel {
  std::map<std::string, double> penalty;  // per op, in accuracy points
  std::map<std::string, double> int8_change;  // per op: int8's latency factor - 1 (default -0.1)
  std::map<std::string, double> kl_factor;  // per op: kl's share of the penalty (default 0.5)
  int calls = 0;

  Result<TrialMetrics> operator()(const TuneConfig& cfg) {
    ++calls;
    // Latency changes beyond the tuner's noise margin (5%) one op at a time.
    TrialMetrics m{80.0, 100.0, 0};
    for (const auto& [name, c] : cfg.ops) {
      const double p = penalty.count(name) ? penalty.at(name) : 0.0;
      if (c.precision == OpPrecision::kInt8) {
        const double kl = kl_factor.count(name) ? kl_factor.at(name) : 0.5;
        m.metric -= c.activation.algorithm == CalibAlgorithm::kKl ? p * kl : p;
        m.latency_ms *= 1.0 + (int8_change.count(name) ? int8_change.at(name) : -0.1);
      } else if (c.precision == OpPrecision::kBf16) {
        m.metric -= p / 100;
        m.latency_ms *= 0.95;
      }
    }
    return m;
  }
};

// 4 ops (Conv, Gemm, Conv, Gemm) of penalty 0.2 each; kl multiplies a Conv op's penalty by
// `conv_kl` and a Gemm op's by `gemm_kl`, so the best recipe may mix algorithms by op type.
FakeModel kl_by_type(double conv_kl, double gemm_kl) {
  FakeModel model;
  for (int i = 0; i < 4; ++i) {
    model.penalty["op" + std::to_string(i)] = 0.2;
    model.kl_factor["op" + std::to_string(i)] = i % 2 ? gemm_kl : conv_kl;
  }
  return model;
}

TuningHistory baseline() {
  TuningHistory h;
  h.baseline_metric = 80.0;
  h.baseline_latency_ms = 100.0;
  return h;
}

TuneRunOptions options(double relative_loss) {
  TuneRunOptions o;
  o.criterion.relative = true;
  o.criterion.tolerable_loss = relative_loss;
  o.exit_policy.max_trials = 1000;
  return o;
}

TuneOutcome tune(const std::string& strategy, const TuningSpace& space, FakeModel& model,
                 const TuneRunOptions& opts) {
  auto s = make_strategy(strategy);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return run_tuning(space, **s, opts, baseline(), [&](const TuneConfig& c) { return model(c); });
}

TEST(DecisionTest, OneRuleBothDirections) {
  AccuracyCriterion rel{true, 0.01, true};
  EXPECT_DOUBLE_EQ(accuracy_target(rel, 90.0), 89.1);
  EXPECT_TRUE(meets_accuracy(rel, 90.0, 89.1));  // exactly at the target passes (>=)
  EXPECT_FALSE(meets_accuracy(rel, 90.0, 89.09));
  AccuracyCriterion abs{false, 0.5, true};
  EXPECT_DOUBLE_EQ(accuracy_target(abs, 90.0), 89.5);
  AccuracyCriterion lower{true, 0.1, false};  // e.g. mse: may grow by 10%
  EXPECT_DOUBLE_EQ(accuracy_target(lower, 2.0), 2.2);
  EXPECT_TRUE(meets_accuracy(lower, 2.0, 2.2));
  EXPECT_FALSE(meets_accuracy(lower, 2.0, 2.21));
  AccuracyCriterion lower_abs{false, 0.5, false};
  EXPECT_DOUBLE_EQ(accuracy_target(lower_abs, 2.0), 2.5);
}

TEST(DecisionTest, PerformanceNeverPicksSlowerThanFp32) {
  TuningHistory h = baseline();
  TrialRecord fast_bad{0, "s", {}, "a", true, "", 70.0, 50.0};
  TrialRecord slow_good{1, "s", {}, "b", true, "", 80.0, 110.0};  // fp32 takes 100 ms
  TrialRecord ok{2, "s", {}, "c", true, "", 79.5, 90.0};
  TrialRecord failed{3, "s", {}, "d", false, "boom", 0, 0};
  h.trials = {fast_bad, slow_good, ok, failed};
  AccuracyCriterion c{true, 0.01, true};
  EXPECT_EQ(best_accepted(h, c, "performance"), std::optional<size_t>(2));
  EXPECT_EQ(best_accepted(h, c, "accuracy"), std::optional<size_t>(1));
  h.trials.erase(h.trials.begin() + 2);
  EXPECT_EQ(best_accepted(h, c, "performance"), std::nullopt);
  EXPECT_EQ(best_effort(h, c), std::optional<size_t>(1));
}

TEST(DecisionTest, ConfigsOnTheSameKernelsCompareByAccuracy) {
  TuningHistory h = baseline();
  const TuningSpace space = make_space(2);
  TuneConfig minmax = space.default_config(100);
  TuneConfig kl = minmax;
  kl.ops["op0"] = int8(CalibAlgorithm::kKl);
  TuneConfig fallback = minmax;
  fallback.ops["op1"] = OpQuantConfig::fp32();
  EXPECT_EQ(kernel_signature(minmax), kernel_signature(kl));
  EXPECT_NE(kernel_signature(minmax), kernel_signature(fallback));
  AccuracyCriterion c{true, 0.01, true};
  // Same kernels: the one measured 0.2 ms slower is as fast; the more accurate one wins.
  h.trials = {{0, "s", minmax, minmax.hash(), true, "", 79.5, 5.0},
              {1, "s", kl, kl.hash(), true, "", 79.9, 5.2}};
  EXPECT_EQ(best_accepted(h, c, "performance"), std::optional<size_t>(1));
  EXPECT_EQ(best_accepted(h, c, "accuracy"), std::optional<size_t>(1));
  // Other kernels clearly faster than every measurement of those win on performance.
  h.trials.push_back({2, "s", fallback, fallback.hash(), true, "", 79.3, 4.0});
  EXPECT_EQ(best_accepted(h, c, "performance"), std::optional<size_t>(2));
  // ...but not when the same-kernel group was once measured within noise of them: then the
  // speeds tie and accuracy decides.
  h.trials[0].latency_ms = 4.1;
  EXPECT_EQ(best_accepted(h, c, "performance"), std::optional<size_t>(1));
}

TEST(DecisionTest, LatencyNoiseMarginIsRelativeOrFromTheErrors) {
  // 5% of the smaller median...
  EXPECT_DOUBLE_EQ(latency_noise_ms(10.0, 0.0, 20.0, 0.0), 0.5);
  EXPECT_TRUE(clearly_faster(9.4, 0.0, 10.0, 0.0));
  EXPECT_FALSE(clearly_faster(9.6, 0.0, 10.0, 0.0));
  EXPECT_FALSE(clearly_faster(10.0, 0.0, 9.6, 0.0));
  // ...or three times the two medians' standard errors, whichever is larger.
  EXPECT_DOUBLE_EQ(latency_noise_ms(10.0, 0.5, 10.0, 0.25), 2.25);
  EXPECT_FALSE(clearly_faster(7.8, 0.5, 10.0, 0.25));
  EXPECT_TRUE(clearly_faster(7.7, 0.5, 10.0, 0.25));
}

// Against fp32 the same margin applies: an int8 model measured 3% faster is not faster.
TEST(DecisionTest, PerformanceAcceptsOnlyClearlyFasterThanFp32) {
  TuningHistory h = baseline();  // fp32: 80.0, 100 ms
  AccuracyCriterion c{true, 0.01, true};
  TrialRecord noise{0, "s", {}, "a", true, "", 80.0, 97.0};
  TrialRecord faster{1, "s", {}, "b", true, "", 80.0, 90.0};
  EXPECT_FALSE(accepted(noise, h, c, "performance"));
  EXPECT_TRUE(accepted(noise, h, c, "accuracy"));
  EXPECT_TRUE(accepted(faster, h, c, "performance"));
  h.baseline_latency_error_ms = 6.0;  // a noisy baseline: 90 is within 3 * 6 * 0.9 of 100
  EXPECT_FALSE(accepted(faster, h, c, "performance"));
}

// A worker's paired ratio (trial against fp32 in the same window) decides over the trial's
// latency against a baseline taken at another time, whose load may have differed.
TEST(DecisionTest, PairedRatioToFp32OutweighsTheBaselineTakenEarlier) {
  TuningHistory h = baseline();  // fp32: 80.0, 100 ms, measured during a load spike, say
  AccuracyCriterion c{true, 0.01, true};
  TrialRecord looks_fast{0, "s", {}, "a", true, "", 80.0, 50.0};
  looks_fast.fp32_ratio = 0.98;  // ...but alongside fp32 it is as fast
  TrialRecord looks_slow{1, "s", {}, "b", true, "", 80.0, 120.0};
  looks_slow.fp32_ratio = 0.5;   // measured under load, twice as fast as fp32 under the same load
  EXPECT_FALSE(accepted(looks_fast, h, c, "performance"));
  EXPECT_TRUE(accepted(looks_slow, h, c, "performance"));
  looks_slow.fp32_ratio_error = 0.3;  // a noisy pairing: 0.5 + 3 * 0.3 is not below 1
  EXPECT_FALSE(accepted(looks_slow, h, c, "performance"));
  // Without a ratio (a worker that does not pair), the baseline is the reference.
  TrialRecord unpaired{2, "s", {}, "c", true, "", 80.0, 50.0};
  EXPECT_TRUE(accepted(unpaired, h, c, "performance"));
  EXPECT_DOUBLE_EQ(relative_latency(unpaired, h).ratio, 0.5);
  // Trials compare in the same units: 0.5 of fp32 is clearly faster than 0.98 of it, whatever
  // their milliseconds.
  looks_slow.fp32_ratio_error = 0;
  EXPECT_TRUE(clearly_faster(looks_slow, looks_fast, h));
  EXPECT_FALSE(clearly_faster(looks_fast, looks_slow, h));
}

// Configs on different kernels whose latencies lie within the noise margin tie on speed: the
// more accurate wins, then the smaller model, then the lower index; whichever of them happened
// to measure fastest does not matter, so two runs that measure them with different noise
// choose the same config.
TEST(DecisionTest, LatenciesWithinNoiseRankByAccuracyThenSize) {
  const TuningSpace space = make_space(3);
  TuneConfig all = space.default_config(100);
  TuneConfig fb0 = all, fb1 = all;
  fb0.ops["op0"] = OpQuantConfig::fp32();
  fb1.ops["op1"] = OpQuantConfig::fp32();
  AccuracyCriterion c{true, 0.01, true};
  auto history = [&](double l0, double l1, double l2) {
    TuningHistory h = baseline();
    h.trials = {{0, "s", all, all.hash(), true, "", 79.5, l0, 1000},
                {1, "s", fb0, fb0.hash(), true, "", 79.9, l1, 1200},
                {2, "s", fb1, fb1.hash(), true, "", 79.9, l2, 1100}};
    return h;
  };
  // Every ordering of three latencies within 5% of each other: the same choice, trial 2 (most
  // accurate, and smaller than trial 1).
  for (auto [a, b, d] : {std::tuple{5.0, 5.1, 5.2}, {5.2, 5.0, 5.1}, {5.1, 5.2, 5.0}}) {
    EXPECT_EQ(best_accepted(history(a, b, d), c, "performance"), std::optional<size_t>(2))
        << a << " " << b << " " << d;
  }
  // Clearly faster than the rest: speed decides.
  EXPECT_EQ(best_accepted(history(4.0, 5.1, 5.2), c, "performance"), std::optional<size_t>(0));
  // Trials are timed in different windows: 8% apart still ties (two identical runs measured the
  // same configs 7% apart), 12% apart does not.
  EXPECT_EQ(best_accepted(history(5.0, 5.0, 5.4), c, "performance"), std::optional<size_t>(2));
  EXPECT_EQ(best_accepted(history(5.0, 5.0, 5.6), c, "performance"), std::optional<size_t>(1));
}

// The wider margin is for trials against each other; against the fp32 timed beside a trial the
// 5% one stays (accepted: PerformanceAcceptsOnlyClearlyFasterThanFp32).
TEST(DecisionTest, RankingMarginIsWiderThanTheOneAgainstFp32) {
  EXPECT_GT(kRankingNoiseFraction, kLatencyNoiseFraction);
  EXPECT_TRUE(clearly_faster(9.4, 0.0, 10.0, 0.0));
  EXPECT_FALSE(clearly_faster(9.4, 0.0, 10.0, 0.0, kRankingNoiseFraction));
  EXPECT_TRUE(clearly_faster(8.9, 0.0, 10.0, 0.0, kRankingNoiseFraction));
}

TEST(StrategyTest, UnknownNameIsInvalidInputNamingThePlaceAndTheKnownNames) {
  auto s = make_strategy("annealing", "tune.yaml:3:20: tuning.strategy");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.status().message().find("tune.yaml:3:20: tuning.strategy: unknown strategy 'annealing'"),
            std::string::npos) << s.status().message();
  for (const std::string& name : strategy_names()) {
    EXPECT_NE(s.status().message().find(name), std::string::npos) << name;
  }
}

TEST(StrategyTest, TheBuiltInStrategiesAreRegistered) {
  const std::vector<std::string> names = strategy_names();
  for (const std::string name : {"basic", "bisect", "conservative", "exhaustive", "mse", "random"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    auto s = make_strategy(name);
    ASSERT_TRUE(s.ok()) << name;
    EXPECT_EQ((*s)->name(), name);
  }
  EXPECT_FALSE(register_strategy("bisect", [] { return std::unique_ptr<Strategy>(); }).ok());
  EXPECT_FALSE(register_strategy("", [] { return std::unique_ptr<Strategy>(); }).ok());
}

TEST(StrategyTest, AllStrategiesStopAtTheDefaultWhenItPasses) {
  const TuningSpace space = make_space(6);
  for (const std::string& name : {"basic", "mse", "bisect"}) {
    FakeModel model;  // no penalties: all-int8 meets any goal
    TuneOutcome out = tune(name, space, model, options(0.01));
    ASSERT_EQ(out.history.trials.size(), 1u) << name;
    EXPECT_TRUE(out.goal_met);
    EXPECT_EQ(*out.chosen, 0u);
    for (const auto& [op, c] : out.history.trials[0].cfg.ops) {
      EXPECT_EQ(c.precision, OpPrecision::kInt8) << name;
      EXPECT_EQ(c.activation.algorithm, CalibAlgorithm::kMinMax) << name;
    }
  }
}

TEST(StrategyTest, BasicSweepsThenFallsBackOneOpThenAccumulatesByImpact) {
  const TuningSpace space = make_space(5);
  FakeModel model;
  model.penalty = {{"op1", 2.0}, {"op3", 4.0}, {"op4", 0.1}};
  // Target 79.6: all int8 (kl) loses 3.05; bf16 on op3 and op1 leaves 0.05 + 0.06.
  TuneOutcome out = tune("basic", space, model, options(0.005));
  ASSERT_TRUE(out.goal_met);
  const auto& t = out.history.trials;
  ASSERT_GE(t.size(), 2u);
  EXPECT_EQ(t[0].stage, "sweep");
  EXPECT_EQ(t[1].stage, "sweep");  // the kl sweep
  EXPECT_EQ(t[1].cfg.ops.at("op0").activation.algorithm, CalibAlgorithm::kKl);
  // One-op fallback over every int8 op of the best sweep (kl), in graph order, to bf16.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(t[2 + i].stage, "fallback-one");
    EXPECT_EQ(t[2 + i].cfg.ops.at("op" + std::to_string(i)).precision, OpPrecision::kBf16);
  }
  // Accumulated by impact: op3 (largest), then op1.
  const TrialRecord& chosen = t[*out.chosen];
  EXPECT_EQ(chosen.stage, "fallback-accumulate");
  EXPECT_EQ(chosen.cfg.ops.at("op3").precision, OpPrecision::kBf16);
  EXPECT_EQ(chosen.cfg.ops.at("op1").precision, OpPrecision::kBf16);
  EXPECT_EQ(chosen.cfg.ops.at("op0").precision, OpPrecision::kInt8);
  EXPECT_GE(chosen.metric, out.target);
}

TEST(StrategyTest, BisectUsesLogarithmicTrialsAndFewerThanBasic) {
  const int n = 32;
  TuningSpace space = make_space(n, /*bf16=*/false);
  FakeModel model;
  for (int i = 0; i < n; ++i) {
    // Sensitivity matches the true penalty order; the 5 worst ops must fall back.
    const double p = i < 5 ? 1.0 + i : 0.001;
    model.penalty["op" + std::to_string(i)] = p;
    space.sensitivity["op" + std::to_string(i)] = p;
  }
  TuneOutcome bisect = tune("bisect", space, model, options(0.001));
  ASSERT_TRUE(bisect.goal_met);
  // default + the kl sweep + minmax back on each of the 2 op types + ceil(log2 32) + the final
  // check at most.
  EXPECT_LE(bisect.history.trials.size(), 10u);
  EXPECT_EQ(bisect.history.trials[1].stage, "sweep");
  EXPECT_EQ(bisect.history.trials[2].stage, "type-sweep");
  EXPECT_EQ(bisect.history.trials[3].stage, "type-sweep");
  const TrialRecord& b = bisect.history.trials[*bisect.chosen];
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(b.cfg.ops.at("op" + std::to_string(i)).precision, OpPrecision::kFp32);
  }
  EXPECT_EQ(b.cfg.ops.at("op5").precision, OpPrecision::kInt8);

  FakeModel model2 = model;
  TuneOutcome basic = tune("basic", space, model2, options(0.001));
  ASSERT_TRUE(basic.goal_met);
  EXPECT_LT(bisect.history.trials.size(), basic.history.trials.size());
}

TEST(StrategyTest, BisectSearchesInFp32ThenOffersThePrefixInBf16) {
  const int n = 16;
  TuningSpace space = make_space(n, /*bf16=*/true);
  FakeModel model;
  for (int i = 0; i < n; ++i) {
    const double p = i < 3 ? 1.0 + i : 0.001;
    model.penalty["op" + std::to_string(i)] = p;
    space.sensitivity["op" + std::to_string(i)] = p;
  }
  TuneOutcome out = tune("bisect", space, model, options(0.001));
  ASSERT_TRUE(out.goal_met);
  const auto& t = out.history.trials;
  // default + kl sweep + 2 type sweeps + log2(16) + the final check + the bf16 offer
  EXPECT_LE(t.size(), 10u);
  EXPECT_EQ(t.back().stage, "bisect-bf16");
  EXPECT_EQ(t[1].stage, "sweep");
  EXPECT_EQ(t[2].stage, "type-sweep");
  EXPECT_EQ(t[3].stage, "type-sweep");
  for (size_t i = 4; i + 1 < t.size(); ++i) {
    EXPECT_EQ(t[i].stage, "bisect");
    for (const auto& [op, c] : t[i].cfg.ops) EXPECT_NE(c.precision, OpPrecision::kBf16);
  }
  // The bf16 prefix keeps accuracy here and is faster than the fp32 one: it is the answer.
  const TrialRecord& best = t[*out.chosen];
  EXPECT_EQ(best.stage, "bisect-bf16");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(best.cfg.ops.at("op" + std::to_string(i)).precision, OpPrecision::kBf16);
  }
  EXPECT_EQ(best.cfg.ops.at("op3").precision, OpPrecision::kInt8);
}

TEST(StrategyTest, BisectStopsAtTheFirstSweepConfigThatMeetsTheGoal) {
  // kl halves every penalty: all-int8 with kl meets the goal, so nothing falls back.
  const TuningSpace space = make_space(8);
  FakeModel model;
  for (int i = 0; i < 8; ++i) model.penalty["op" + std::to_string(i)] = 0.1;
  TuneOutcome out = tune("bisect", space, model, options(0.007));  // target 79.44
  ASSERT_TRUE(out.goal_met);
  const auto& t = out.history.trials;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].stage, "default");
  EXPECT_EQ(t[1].stage, "sweep");
  EXPECT_EQ(*out.chosen, 1u);
  for (const auto& [op, c] : t[1].cfg.ops) {
    EXPECT_EQ(c.precision, OpPrecision::kInt8);
    EXPECT_EQ(c.activation.algorithm, CalibAlgorithm::kKl);
  }
}

TEST(StrategyTest, BisectTriesEachOpTypeOnThePromisingAlgorithmsBeforeAnyFallback) {
  // kl quarters the Conv ops' penalty and adds half to the Gemm ops': all-kl (79.3) beats the
  // default (79.2) but misses the goal (79.5); kl on the Conv ops only (79.5) meets it, at full
  // int8 speed.
  const TuningSpace space = make_space(4);
  FakeModel model = kl_by_type(0.25, 1.5);
  TuneOutcome out = tune("bisect", space, model, options(0.00625));
  ASSERT_TRUE(out.goal_met);
  std::vector<std::string> stages;
  for (const auto& t : out.history.trials) stages.push_back(t.stage);
  // From all-kl: minmax back on the Conv ops (79.0) is worse; minmax back on the Gemm ops passes.
  EXPECT_EQ(stages, (std::vector<std::string>{"default", "sweep", "type-sweep", "type-sweep"}));
  const TrialRecord& chosen = out.history.trials[*out.chosen];
  EXPECT_NEAR(chosen.metric, 79.5, 1e-9);
  EXPECT_EQ(chosen.cfg.ops.at("op0").activation.algorithm, CalibAlgorithm::kKl);
  EXPECT_EQ(chosen.cfg.ops.at("op1").activation.algorithm, CalibAlgorithm::kMinMax);
  EXPECT_EQ(space.int8_ops(chosen.cfg).size(), 4u);
}

TEST(StrategyTest, BisectSkipsTheTypeSweepWhenNoAlgorithmBeatsTheDefault) {
  // kl costs a fifth more everywhere: nothing to mix, straight to the fallback search.
  TuningSpace space = make_space(4);
  FakeModel model;
  for (int i = 0; i < 4; ++i) {
    const std::string op = "op" + std::to_string(i);
    model.penalty[op] = 1.0;
    model.kl_factor[op] = 1.2;
    space.sensitivity[op] = 4.0 - i;
  }
  TuneOutcome out = tune("bisect", space, model, options(0.01));
  ASSERT_TRUE(out.goal_met);
  const auto& t = out.history.trials;
  ASSERT_GE(t.size(), 3u);
  EXPECT_EQ(t[0].stage, "default");
  EXPECT_EQ(t[1].stage, "sweep");
  for (size_t i = 2; i < t.size(); ++i) EXPECT_NE(t[i].stage, "type-sweep") << i;
}

TEST(TunerTest, SensitivityIsMeasuredOnlyWhenAStrategyRanksOps) {
  const TuningSpace space = make_space(6, /*bf16=*/false);
  FakeModel model;
  model.penalty = {{"op4", 3.0}};
  int measured = 0;
  std::map<std::string, double> ranking;
  TuneRunOptions opts = options(0.05);  // the default (77) passes
  opts.sensitivity = [&]() -> const std::map<std::string, double>& {
    if (measured++ == 0) ranking = {{"op4", 1.0}};
    return ranking;
  };
  EXPECT_TRUE(tune("bisect", space, model, opts).goal_met);
  EXPECT_EQ(measured, 0);

  opts.criterion.tolerable_loss = 0.001;  // only op4's fallback meets it
  const TuneOutcome out = tune("bisect", space, model, opts);
  ASSERT_TRUE(out.goal_met);
  EXPECT_GE(measured, 1);
  const TrialRecord& chosen = out.history.trials[*out.chosen];
  EXPECT_EQ(chosen.cfg.ops.at("op4").precision, OpPrecision::kFp32);
  EXPECT_EQ(space.int8_ops(chosen.cfg).size(), 5u);  // the ranking put op4 first
}

TEST(StrategyTest, MseFollowsSensitivityOrder) {
  TuningSpace space = make_space(4, false);
  space.sensitivity = {{"op2", 9.0}, {"op0", 5.0}, {"op3", 1.0}, {"op1", 0.5}};
  FakeModel model;
  model.penalty = {{"op2", 3.0}, {"op0", 3.0}};
  TuneOutcome out = tune("mse", space, model, options(0.01));
  ASSERT_TRUE(out.goal_met);
  std::vector<const TrialRecord*> acc;
  for (const auto& t : out.history.trials) {
    if (t.stage == "fallback-accumulate") acc.push_back(&t);
  }
  ASSERT_EQ(acc.size(), 2u);
  EXPECT_EQ(acc[0]->cfg.ops.at("op2").precision, OpPrecision::kFp32);
  EXPECT_EQ(acc[0]->cfg.ops.at("op0").precision, OpPrecision::kInt8);
  EXPECT_EQ(acc[1]->cfg.ops.at("op0").precision, OpPrecision::kFp32);
}

TEST(StrategyTest, ConservativeGrowsTypeByTypeAndRunsToTheEnd) {
  const TuningSpace space = make_space(4);  // Conv: op0, op2; Gemm: op1, op3
  FakeModel model;
  model.penalty = {{"op1", 5.0}};  // Gemm int8 breaks the goal, Gemm bf16 does not
  TuneOutcome out = tune("conservative", space, model, options(0.01));
  ASSERT_TRUE(out.goal_met);
  EXPECT_EQ(out.stop_reason, "strategy exhausted");
  ASSERT_EQ(out.history.trials.size(), 3u);
  EXPECT_EQ(out.history.trials[0].stage, "quantize-type");
  EXPECT_EQ(out.history.trials[1].stage, "quantize-type");
  EXPECT_EQ(out.history.trials[2].stage, "bf16-type");
  const TrialRecord& best = out.history.trials[*out.chosen];
  EXPECT_EQ(best.cfg.ops.at("op0").precision, OpPrecision::kInt8);
  EXPECT_EQ(best.cfg.ops.at("op1").precision, OpPrecision::kBf16);
}

// What each strategy adds to the report, from the same history it tuned on.
std::vector<std::string> notes_of(const std::string& name, const TuningSpace& space,
                                  const TuneOutcome& out, const TuneRunOptions& opts) {
  auto s = make_strategy(name);
  EXPECT_TRUE(s.ok());
  const StrategyContext ctx{space, opts.criterion, opts.calib_sampling_size, opts.seed, {}};
  const StrategyReport r = (*s)->report(ctx, out.history);
  EXPECT_EQ(r.sensitivity_measure.empty(), !(*s)->needs_sensitivity()) << name;
  return r.notes;
}

TEST(StrategyTest, ReportNotesSayHowTheChoiceWasReached) {
  TuningSpace space = make_space(8, /*bf16=*/false);
  FakeModel model;
  for (int i = 0; i < 8; ++i) {
    const double p = i < 3 ? 1.0 + i : 0.001;  // op0..op2 must fall back
    model.penalty["op" + std::to_string(i)] = p;
    space.sensitivity["op" + std::to_string(i)] = p;
  }
  const TuneRunOptions opts = options(0.001);
  TuneOutcome bisect = tune("bisect", space, model, opts);
  ASSERT_TRUE(bisect.goal_met);
  auto notes = notes_of("bisect", space, bisect, opts);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("the first 3 of 8 int8 ops"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("op2, op1 and op0"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("with the first 2 it missed"), std::string::npos) << notes[0];

  TuneOutcome mse = tune("mse", space, model, opts);
  ASSERT_TRUE(mse.goal_met);
  notes = notes_of("mse", space, mse, opts);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("the first 3 of 8"), std::string::npos) << notes[0];

  TuneOutcome basic = tune("basic", space, model, opts);
  notes = notes_of("basic", space, basic, opts);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("op2, op1, op0 and 5 more"), std::string::npos) << notes[0];

  const TuningSpace two_types = make_space(4);  // Conv: op0, op2; Gemm: op1, op3
  FakeModel gemm_breaks;
  gemm_breaks.penalty = {{"op1", 5.0}};
  TuneOutcome conservative = tune("conservative", two_types, gemm_breaks, options(0.01));
  notes = notes_of("conservative", two_types, conservative, options(0.01));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("int8: Conv; bf16: Gemm"), std::string::npos) << notes[0];

  // Passing at once: nothing to fall back, and the notes say so.
  FakeModel clean;
  TuneOutcome easy = tune("bisect", space, clean, opts);
  notes = notes_of("bisect", space, easy, opts);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("no op needed a fallback"), std::string::npos) << notes[0];
}

// An op that may only be int8 shifted basic's ranking: each op got its neighbour's one-op
// fallback result, and the last op was never ranked at all.
TEST(StrategyTest, BasicRanksOpsRightWhenAnOpHasNoFallback) {
  TuningSpace space = make_space(4, /*bf16=*/false);
  space.ops[0].options = {int8(CalibAlgorithm::kMinMax)};  // op0: int8 only
  FakeModel model;
  model.penalty = {{"op3", 3.0}, {"op2", 1.0}, {"op1", 0.5}};  // all three must fall back
  TuneOutcome out = tune("basic", space, model, options(0.001));
  ASSERT_TRUE(out.goal_met);
  const TrialRecord* first_acc = nullptr;
  for (const auto& t : out.history.trials) {
    if (t.stage == "fallback-accumulate") {
      first_acc = &t;
      break;
    }
  }
  ASSERT_NE(first_acc, nullptr);
  // By what each recovered alone: op3, then op2 (op3 alone was its one-op trial already).
  EXPECT_EQ(first_acc->cfg.ops.at("op3").precision, OpPrecision::kFp32);
  EXPECT_EQ(first_acc->cfg.ops.at("op2").precision, OpPrecision::kFp32);
  EXPECT_EQ(first_acc->cfg.ops.at("op1").precision, OpPrecision::kInt8);
}

TEST(StrategyTest, RandomIsDeterministicPerSeedAndNeverRepeats) {
  const TuningSpace space = make_space(3);  // 4^3 = 64 configs
  auto run = [&](uint64_t seed) {
    FakeModel model;
    model.penalty = {{"op0", 50.0}, {"op1", 50.0}, {"op2", 50.0}};
    TuneRunOptions o = options(0.0);
    o.seed = seed;
    o.exit_policy.max_trials = 20;
    o.exit_policy.timeout_seconds = 1e9;  // keep searching: collect the whole sequence
    TuneOutcome out = tune("random", space, model, o);
    std::vector<std::string> hashes;
    for (const auto& t : out.history.trials) hashes.push_back(t.hash);
    return hashes;
  };
  const auto a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a.size(), 20u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<std::string>(a.begin(), a.end()).size(), a.size());
}

TEST(StrategyTest, ExhaustiveVisitsEveryCombinationOnceThenStops) {
  const TuningSpace space = make_space(3);
  FakeModel model;
  model.penalty = {{"op0", 50.0}, {"op1", 50.0}, {"op2", 50.0}};
  TuneRunOptions o = options(0.0);
  o.exit_policy.timeout_seconds = 1e9;
  TuneOutcome out = tune("exhaustive", space, model, o);
  EXPECT_EQ(out.history.trials.size(), 64u);
  EXPECT_EQ(out.stop_reason, "strategy exhausted");
  std::set<std::string> seen;
  for (const auto& t : out.history.trials) seen.insert(t.hash);
  EXPECT_EQ(seen.size(), 64u);
  // Zero loss: only all-fp32 keeps accuracy, and it is no faster than fp32: best effort.
  EXPECT_FALSE(out.goal_met);
  ASSERT_TRUE(out.chosen.has_value());
  EXPECT_DOUBLE_EQ(out.history.trials[*out.chosen].metric, 80.0);
}

TEST(TunerTest, SlowInt8OpsFallBackUntilFasterThanFp32) {
  // conv0/conv1 with weights; add0/add1 activation-only, whose int8 form is slow.
  TuningSpace space = make_space(2);
  space.ops[0].key = {"conv0", "Conv"};
  space.ops[1].key = {"conv1", "Conv"};
  for (const char* name : {"add0", "add1"}) {
    TunableOp op;
    op.key = {name, "Add"};
    op.options = {int8(CalibAlgorithm::kMinMax, false), OpQuantConfig::fp32()};
    space.ops.push_back(op);
  }
  FakeModel model;
  model.int8_change = {{"conv0", 0.05}, {"conv1", -0.1}, {"add0", 0.1}, {"add1", 0.1}};
  FakeModel m0 = model;
  TuneOutcome out = tune("bisect", space, m0, options(0.01));
  ASSERT_TRUE(out.goal_met);
  const TrialRecord& best = out.history.trials[*out.chosen];
  EXPECT_EQ(best.stage, "speed-fallback");
  EXPECT_LT(best.latency_ms, 100.0);
  // The Add type went back to fp32 as a whole; conv1 stays int8 (it is the fast one).
  EXPECT_EQ(best.cfg.ops.at("add0").precision, OpPrecision::kFp32);
  EXPECT_EQ(best.cfg.ops.at("add1").precision, OpPrecision::kFp32);
  EXPECT_EQ(best.cfg.ops.at("conv1").precision, OpPrecision::kInt8);
  // basic's own fallback stages also end faster than fp32.
  FakeModel m1 = model;
  TuneOutcome basic = tune("basic", space, m1, options(0.01));
  ASSERT_TRUE(basic.goal_met);
  EXPECT_LT(basic.history.trials[*basic.chosen].latency_ms, 100.0);
  // Other objectives never refine for speed.
  TuneRunOptions o = options(0.01);
  o.objective = "accuracy";
  FakeModel m = model;
  TuneOutcome acc = tune("bisect", space, m, o);
  EXPECT_EQ(acc.history.trials.size(), 1u);
}

TEST(TunerTest, WithATimeoutTheRecipeRefinementRaisesAccuracyOnTheSameKernels) {
  // kl halves a Conv op's penalty and doubles a Gemm op's: the best recipe mixes the two.
  const TuningSpace space = make_space(4);
  FakeModel model = kl_by_type(0.5, 2.0);
  TuneRunOptions opts = options(0.01);  // target 79.2: the all-minmax default (79.2) passes
  const TuneOutcome first = tune("bisect", space, model, opts);
  ASSERT_EQ(first.history.trials.size(), 1u);  // timeout 0: the first config that passes

  opts.exit_policy.timeout_seconds = 1000;
  model.calls = 0;
  const TuneOutcome out = tune("bisect", space, model, opts);
  ASSERT_TRUE(out.goal_met);
  std::vector<std::string> stages;
  for (const auto& t : out.history.trials) {
    stages.push_back(t.stage);
    EXPECT_EQ(kernel_signature(t.cfg), kernel_signature(out.history.trials[0].cfg)) << t.stage;
  }
  // All-kl (79.0) loses to the default; kl on the Conv ops only (79.4) is kept; kl on the Gemm
  // ops as well would be all-kl again, already measured, so it is not paid twice.
  EXPECT_EQ(stages, (std::vector<std::string>{"default", "recipe-sweep", "recipe-Conv"}));
  EXPECT_EQ(model.calls, 3);
  ASSERT_TRUE(out.chosen);
  const TrialRecord& chosen = out.history.trials[*out.chosen];
  EXPECT_EQ(chosen.stage, "recipe-Conv");
  EXPECT_NEAR(chosen.metric, 79.4, 1e-9);
  EXPECT_EQ(chosen.cfg.ops.at("op0").activation.algorithm, CalibAlgorithm::kKl);
  EXPECT_EQ(chosen.cfg.ops.at("op1").activation.algorithm, CalibAlgorithm::kMinMax);

  // A pure function of the history: the same run proposes the same trials.
  const TuneOutcome again = tune("bisect", space, model, opts);
  ASSERT_EQ(again.history.trials.size(), out.history.trials.size());
  for (size_t i = 0; i < out.history.trials.size(); ++i) {
    EXPECT_EQ(again.history.trials[i].hash, out.history.trials[i].hash);
  }
  // Nothing accepted: nothing to refine.
  TuningHistory none = baseline();
  const StrategyContext ctx{space, opts.criterion, 100, 1};
  EXPECT_TRUE(recipe_refinement(ctx, none, "performance").empty());
}

TEST(TunerTest, MaxTrialsAndBestEffortWhenNothingPasses) {
  const TuningSpace space = make_space(4, false);
  FakeModel model;
  model.penalty = {{"op0", 50.0}, {"op1", 50.0}, {"op2", 50.0}, {"op3", 50.0}};
  TuneRunOptions o = options(0.01);
  o.objective = "performance";
  // fp32 everywhere meets accuracy but is not faster than fp32: nothing is accepted.
  TuneOutcome out = tune("basic", space, model, o);
  EXPECT_FALSE(out.goal_met);
  EXPECT_EQ(out.stop_reason, "strategy exhausted");
  ASSERT_TRUE(out.chosen.has_value());
  EXPECT_DOUBLE_EQ(out.history.trials[*out.chosen].metric, 80.0);

  o.exit_policy.max_trials = 3;
  FakeModel m2 = model;
  m2.calls = 0;
  TuneOutcome capped = tune("basic", space, m2, o);
  EXPECT_EQ(capped.history.trials.size(), 3u);
  EXPECT_EQ(capped.stop_reason, "max_trials");
  EXPECT_EQ(m2.calls, 3);
}

TEST(TunerTest, TimeoutUsesTheInjectedClockAndKeepsTheBest) {
  const TuningSpace space = make_space(3);
  FakeModel model;
  double clock = 0;
  TuneRunOptions o = options(0.01);
  o.exit_policy.timeout_seconds = 10;
  o.now = [&] { return clock += 1.0; };  // every reading advances one second
  TuneOutcome out = tune("random", space, model, o);
  EXPECT_EQ(out.stop_reason, "timeout");
  EXPECT_TRUE(out.goal_met);
  // All passing configs are compared on latency: none evaluated is clearly faster than the
  // chosen one (those within the ranking margin tie and rank by accuracy, then size).
  double fastest = 1e9;
  for (const auto& t : out.history.trials) fastest = std::min(fastest, t.latency_ms);
  const TrialRecord& chosen = out.history.trials[*out.chosen];
  EXPECT_FALSE(clearly_faster(fastest, 0.0, chosen.latency_ms, 0.0, kRankingNoiseFraction))
      << chosen.latency_ms << " vs " << fastest;
  for (const auto& t : out.history.trials) {
    if (!clearly_faster(t.latency_ms, 0.0, chosen.latency_ms, 0.0, kRankingNoiseFraction) &&
        t.latency_ms < chosen.latency_ms) {
      EXPECT_LE(t.metric, chosen.metric) << "a tie on speed goes to the more accurate";
    }
  }
}

TEST(TunerTest, KnownTrialsAreNotEvaluatedAgain) {
  const TuningSpace space = make_space(5);
  FakeModel model;
  model.penalty = {{"op1", 2.0}, {"op3", 4.0}};
  TuneOutcome full = tune("basic", space, model, options(0.005));
  ASSERT_TRUE(full.goal_met);
  // Replay with the first 4 trials known: the same choice, 4 fewer evaluations.
  TuningHistory h = baseline();
  h.trials.assign(full.history.trials.begin(), full.history.trials.begin() + 4);
  FakeModel again = model;
  again.calls = 0;
  auto s = make_strategy("basic");
  TuneOutcome resumed = run_tuning(space, **s, options(0.005), h,
                                   [&](const TuneConfig& c) { return again(c); });
  EXPECT_EQ(resumed.history.trials.size(), full.history.trials.size());
  EXPECT_EQ(resumed.evaluated, static_cast<int64_t>(full.history.trials.size()) - 4);
  EXPECT_EQ(resumed.history.trials[*resumed.chosen].hash, full.history.trials[*full.chosen].hash);
}

TEST(TunerTest, EvaluatorErrorsAreRecordedAndTuningGoesOn) {
  const TuningSpace space = make_space(2);
  int calls = 0;
  auto s = make_strategy("basic");
  TuneOutcome out = run_tuning(space, **s, options(0.01), baseline(),
                               [&](const TuneConfig&) -> Result<TrialMetrics> {
                                 if (++calls == 1) return Status::Internal("worker died");
                                 return TrialMetrics{80.0, 5.0, 0};
                               });
  ASSERT_GE(out.history.trials.size(), 2u);
  EXPECT_FALSE(out.history.trials[0].ok);
  EXPECT_EQ(out.history.trials[0].error, "worker died");
  EXPECT_TRUE(out.goal_met);
  EXPECT_EQ(*out.chosen, 1u);
}

}  // namespace
}  // namespace qtune
