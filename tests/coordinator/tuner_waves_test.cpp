// run_tuning_waves, as the scheduler drives it: whatever order a wave's trials are measured in,
// recording them in index order yields run_tuning's history and choice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <random>

#include "coordinator/strategy.h"
#include "coordinator/tuner.h"

namespace qtune {
namespace {

TuningSpace space_of(int n) {
  TuningSpace s;
  for (int i = 0; i < n; ++i) {
    OpQuantConfig q;
    q.precision = OpPrecision::kInt8;
    q.has_weight = true;
    q.weight = {DType::kS8, QuantScheme::kSym, QuantGranularity::kPerChannel, CalibAlgorithm::kMinMax};
    q.activation = {DType::kU8, QuantScheme::kAsym, QuantGranularity::kPerTensor, CalibAlgorithm::kMinMax};
    OpQuantConfig kl = q;
    kl.activation.algorithm = CalibAlgorithm::kKl;
    TunableOp op;
    op.key = {"n" + std::to_string(i), i % 3 ? "MatMul" : "Conv"};
    op.options = {q, kl, OpQuantConfig::bf16(), OpQuantConfig::fp32()};
    s.ops.push_back(op);
  }
  return s;
}

// Every third op costs accuracy in int8; kl halves it. A failing config exercises ok=false.
Result<TrialMetrics> measure(const TuneConfig& cfg) {
  TrialMetrics m{50.0, 20.0, 0};
  int i = 0;
  for (const auto& [name, c] : cfg.ops) {
    const double p = (i++ % 3 == 1) ? 0.4 : 0.01;
    if (c.precision == OpPrecision::kInt8) {
      m.metric -= c.activation.algorithm == CalibAlgorithm::kKl ? p / 2 : p;
      m.latency_ms -= 1;
    } else if (c.precision == OpPrecision::kBf16) {
      m.metric -= p / 50;
      m.latency_ms -= 0.4;
    }
  }
  if (cfg.hash().back() == '7') return Status::Internal("simulated failure");
  return m;
}

TuningHistory base() {
  TuningHistory h;
  h.baseline_metric = 50.0;
  h.baseline_latency_ms = 20.0;
  return h;
}

std::vector<std::string> hashes(const TuningHistory& h) {
  std::vector<std::string> v;
  for (const auto& t : h.trials) v.push_back(t.hash);
  return v;
}

TEST(TunerWaves, OutOfOrderMeasurementGivesTheSequentialChoice) {
  const TuningSpace space = space_of(7);
  std::mt19937 rng(3);
  for (const std::string& name : strategy_names()) {
    for (double loss : {0.001, 0.01, 0.05}) {
      for (const char* objective : {"accuracy", "performance"}) {
        auto strategy = make_strategy(name);
        ASSERT_TRUE(strategy.ok());
        TuneRunOptions opts;
        opts.criterion.tolerable_loss = loss;
        opts.objective = objective;
        opts.exit_policy.max_trials = 60;
        const TuneOutcome seq = run_tuning(space, **strategy, opts, base(), measure);
        int64_t measured = 0;
        const TuneOutcome par = run_tuning_waves(
            space, **strategy, opts, base(),
            [&](const std::vector<TrialRecord>& wave, const WaveControl& control) {
              // Measure the whole wave in a shuffled order, as parallel workers would.
              std::vector<TrialRecord> done = wave;
              std::vector<size_t> order(wave.size());
              for (size_t i = 0; i < order.size(); ++i) order[i] = i;
              std::shuffle(order.begin(), order.end(), rng);
              for (size_t i : order) {
                Result<TrialMetrics> m = measure(done[i].cfg);
                ++measured;
                done[i].ok = m.ok();
                if (m.ok()) {
                  done[i].metric = m->metric;
                  done[i].latency_ms = m->latency_ms;
                } else {
                  done[i].error = m.status().message();
                }
              }
              for (const TrialRecord& t : done) {
                if (!control.record(t)) return;
              }
            });
        const std::string what = name + " loss " + std::to_string(loss) + " " + objective;
        EXPECT_EQ(hashes(par.history), hashes(seq.history)) << what;
        EXPECT_EQ(par.chosen, seq.chosen) << what;
        EXPECT_EQ(par.goal_met, seq.goal_met) << what;
        EXPECT_EQ(par.stop_reason, seq.stop_reason) << what;
        EXPECT_EQ(par.evaluated, seq.evaluated) << what;
        EXPECT_GE(measured, par.evaluated) << what;
      }
    }
  }
}

TEST(TunerWaves, RecordOutOfOrderIsRefused) {
  const TuningSpace space = space_of(4);
  auto strategy = make_strategy("exhaustive");
  ASSERT_TRUE(strategy.ok());
  TuneRunOptions opts;
  opts.criterion.tolerable_loss = 0.0;
  bool refused = false;
  const TuneOutcome out = run_tuning_waves(
      space, **strategy, opts, base(),
      [&](const std::vector<TrialRecord>& wave, const WaveControl& control) {
        TrialRecord t = wave[0];
        t.hash = "not-the-first-of-the-wave";
        t.ok = true;
        refused = !control.record(t);
      });
  EXPECT_TRUE(refused);
  EXPECT_TRUE(out.history.trials.empty());
  EXPECT_EQ(out.stop_reason, "interrupted");
}

TEST(TunerWaves, TimeoutStopsDispatch) {
  const TuningSpace space = space_of(5);
  auto strategy = make_strategy("exhaustive");
  ASSERT_TRUE(strategy.ok());
  TuneRunOptions opts;
  opts.criterion.tolerable_loss = 0.0;
  opts.exit_policy.timeout_seconds = 10;
  double clock = 0;
  opts.now = [&] { return clock; };
  const TuneOutcome out = run_tuning_waves(
      space, **strategy, opts, base(),
      [&](const std::vector<TrialRecord>& wave, const WaveControl& control) {
        for (TrialRecord t : wave) {
          if (control.out_of_time()) return;
          clock += 4;
          t.ok = true;
          t.metric = 1;
          if (!control.record(t)) return;
        }
      });
  EXPECT_EQ(out.stop_reason, "timeout");
  EXPECT_EQ(out.history.trials.size(), 3u);
}

// A worker (or a model producing NaNs) reports what cannot be a top-1: such trials are recorded
// as failed with the reason and never chosen, not even as the best effort; neither are such
// results replayed from a journal.
TEST(TunerWaves, ImplausibleResultsFailAndAreNeverChosen) {
  const TuningSpace space = space_of(4);
  auto strategy = make_strategy("exhaustive");
  ASSERT_TRUE(strategy.ok());
  TuneRunOptions opts;
  opts.metric = "top1";
  opts.objective = "accuracy";
  opts.criterion.tolerable_loss = 0.5;  // nothing plausible meets it: best effort decides
  opts.exit_policy.max_trials = 8;
  const double junk[] = {NAN, INFINITY, 250.0, -3.0, 10.0, 12.0};
  TuningHistory history = base();
  TrialRecord replayed;
  replayed.index = 0;
  replayed.cfg.calib_sampling_size = 1;
  replayed.hash = replayed.cfg.hash();
  replayed.ok = true;
  replayed.metric = INFINITY;  // e.g. journaled by an older qtune
  history.trials.push_back(replayed);
  size_t k = 0;
  const TuneOutcome out = run_tuning_waves(
      space, **strategy, opts, history, [&](const std::vector<TrialRecord>& wave, const WaveControl& control) {
        for (TrialRecord t : wave) {
          t.ok = true;
          t.metric = junk[std::min(k++, std::size(junk) - 1)];
          t.latency_ms = k == 3 ? -1.0 : 5.0;
          if (!control.record(t)) return;
        }
      });
  ASSERT_GE(out.history.trials.size(), 7u);
  EXPECT_FALSE(out.history.trials[0].ok);
  EXPECT_EQ(out.history.trials[0].error, "implausible result: metric top1 is inf");
  EXPECT_EQ(out.history.trials[1].error, "implausible result: metric top1 is nan");
  EXPECT_EQ(out.history.trials[2].error, "implausible result: metric top1 is inf");
  EXPECT_EQ(out.history.trials[3].error, "implausible result: latency -1 ms");
  EXPECT_EQ(out.history.trials[4].error, "implausible result: top1 -3% is outside [0, 100]");
  for (size_t i = 0; i < 5; ++i) EXPECT_FALSE(out.history.trials[i].ok) << i;
  EXPECT_TRUE(out.history.trials[5].ok);
  ASSERT_TRUE(out.chosen.has_value());
  EXPECT_FALSE(out.goal_met);
  EXPECT_EQ(out.history.trials[*out.chosen].metric, 12.0);
}

TEST(TrialMetricsCheck, RangesPerMetric) {
  EXPECT_TRUE(check_trial_metrics("top1", {100, 1, 0}).ok());
  EXPECT_FALSE(check_trial_metrics("topk", {100.5, 1, 0}).ok());
  EXPECT_TRUE(check_trial_metrics("mse", {0, 1, 0}).ok());
  EXPECT_EQ(check_trial_metrics("mse", {-1e-9, 1, 0}).message(), "implausible result: mse -1.0000000000000001e-09 is negative");
  EXPECT_TRUE(check_trial_metrics("cosine", {-1, 1, 0}).ok());
  EXPECT_TRUE(check_trial_metrics("cosine", {1 + 1e-9, 1, 0}).ok());  // rounding of a perfect match
  EXPECT_FALSE(check_trial_metrics("cosine", {1.5, 1, 0}).ok());
  EXPECT_TRUE(check_trial_metrics("command", {-1e30, 1, 0}).ok());  // a command's units are its own
  EXPECT_FALSE(check_trial_metrics("command", {NAN, 1, 0}).ok());
  EXPECT_FALSE(check_trial_metrics("", {1, NAN, 0}).ok());
  EXPECT_EQ(check_trial_metrics("", {1, 1, -4}).message(), "implausible result: model size -4 bytes");
}

}  // namespace
}  // namespace qtune
