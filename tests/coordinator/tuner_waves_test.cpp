// run_tuning_waves, as the scheduler drives it: whatever order a wave's trials are measured in,
// recording them in index order yields run_tuning's history and choice.
#include <gtest/gtest.h>

#include <algorithm>
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

}  // namespace
}  // namespace qtune
