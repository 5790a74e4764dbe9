#include "coordinator/tuner.h"

#include <chrono>
#include <set>

namespace qtune {
namespace {

std::function<double()> clock_of(const TuneRunOptions& opts) {
  if (opts.now) return opts.now;
  return [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
}

}  // namespace

TuneOutcome run_tuning_waves(const TuningSpace& space, const Strategy& strategy,
                             const TuneRunOptions& opts, TuningHistory history,
                             const WaveEvaluator& evaluate) {
  const auto now = clock_of(opts);
  const double start = now();
  const StrategyContext ctx{space, opts.criterion, opts.calib_sampling_size, opts.seed,
                            opts.sensitivity};
  const bool first_pass_stops = opts.exit_policy.timeout_seconds == 0 && strategy.stops_at_first_pass();
  TuneOutcome out;
  out.target = accuracy_target(opts.criterion, history.baseline_metric);
  // A result is a measurement only when it is plausible; anything else failed, whoever sent it.
  auto validate = [&](TrialRecord& t) {
    if (!t.ok) return;
    const Status s = check_trial_metrics(
        opts.metric, TrialMetrics{t.metric, t.latency_ms, t.model_bytes, t.latency_error_ms,
                                  t.fp32_ratio, t.fp32_ratio_error});
    if (s.ok()) return;
    t.ok = false;
    t.error = s.message();
  };
  for (TrialRecord& t : history.trials) validate(t);

  auto finish = [&](std::string reason) {
    out.stop_reason = std::move(reason);
    out.chosen = best_accepted(history, opts.criterion, opts.objective);
    out.goal_met = out.chosen.has_value();
    if (!out.chosen) out.chosen = best_effort(history, opts.criterion);
    out.history = std::move(history);
    return out;
  };
  // Trials known before this run count as they would have when first evaluated.
  if (first_pass_stops) {
    for (const auto& t : history.trials) {
      if (accepted(t, history, opts.criterion, opts.objective)) return finish("goal met");
    }
  }
  while (true) {
    std::vector<TrialProposal> proposals = strategy.next(ctx, history);
    if (proposals.empty() && opts.exit_policy.timeout_seconds > 0) {
      proposals = recipe_refinement(ctx, history, opts.objective);
    }
    if (proposals.empty()) proposals = latency_refinement(ctx, history, opts.objective);
    if (proposals.empty()) return finish("strategy exhausted");
    // The wave as the loop will record it: indices continue the history, repeats are dropped
    // (a strategy must not repeat itself; never pay twice), max_trials cuts it short.
    std::vector<TrialRecord> wave;
    std::set<std::string> hashes;
    bool capped = false;
    for (const TrialProposal& p : proposals) {
      if (static_cast<int64_t>(history.trials.size() + wave.size()) >= opts.exit_policy.max_trials) {
        capped = true;
        break;
      }
      TrialRecord t;
      t.index = static_cast<int64_t>(history.trials.size() + wave.size());
      t.stage = p.stage;
      t.cfg = p.cfg;
      t.hash = p.cfg.hash();
      if (history.find(t.hash) || !hashes.insert(t.hash).second) continue;
      wave.push_back(std::move(t));
    }
    if (wave.empty()) return finish(capped ? "max_trials" : "strategy exhausted");

    size_t recorded = 0;
    bool goal_met = false, timed_out = false;
    WaveControl control;
    control.out_of_time = [&] {
      if (opts.exit_policy.timeout_seconds > 0 && now() - start >= opts.exit_policy.timeout_seconds) {
        timed_out = true;
      }
      return timed_out;
    };
    control.record = [&](const TrialRecord& r) {
      if (goal_met || recorded >= wave.size() || r.hash != wave[recorded].hash) return false;
      TrialRecord t = wave[recorded++];
      t.ok = r.ok;
      t.error = r.ok ? "" : r.error;
      t.metric = r.metric;
      t.latency_ms = r.latency_ms;
      t.latency_error_ms = r.latency_error_ms;
      t.fp32_ratio = r.fp32_ratio;
      t.fp32_ratio_error = r.fp32_ratio_error;
      t.model_bytes = r.model_bytes;
      t.seconds = r.seconds;
      t.reused = r.reused;
      validate(t);
      if (!r.reused) ++out.evaluated;
      history.trials.push_back(std::move(t));
      if (opts.on_trial) opts.on_trial(history.trials.back());
      goal_met = first_pass_stops &&
                 accepted(history.trials.back(), history, opts.criterion, opts.objective);
      return !goal_met;
    };
    evaluate(wave, control);
    if (goal_met) return finish("goal met");
    if (recorded < wave.size()) return finish(timed_out ? "timeout" : "interrupted");
    if (capped) return finish("max_trials");
  }
}

WaveEvaluator one_by_one(TrialEvaluator evaluate, std::function<double()> now) {
  if (!now) {
    TuneRunOptions defaults;
    now = clock_of(defaults);
  }
  return [evaluate = std::move(evaluate), now = std::move(now)](const std::vector<TrialRecord>& wave,
                                                                const WaveControl& control) {
    for (TrialRecord t : wave) {
      if (control.out_of_time()) return;
      const double t0 = now();
      Result<TrialMetrics> m = evaluate(t.cfg);
      t.seconds = now() - t0;
      if (m.ok()) {
        t.ok = true;
        t.metric = m->metric;
        t.latency_ms = m->latency_ms;
        t.latency_error_ms = m->latency_error_ms;
        t.fp32_ratio = m->fp32_ratio;
        t.fp32_ratio_error = m->fp32_ratio_error;
        t.model_bytes = m->model_bytes;
      } else {
        t.error = m.status().message();
      }
      if (!control.record(t)) return;
    }
  };
}

TuneOutcome run_tuning(const TuningSpace& space, const Strategy& strategy,
                       const TuneRunOptions& opts, TuningHistory history,
                       const TrialEvaluator& evaluate) {
  return run_tuning_waves(space, strategy, opts, std::move(history),
                          one_by_one(evaluate, clock_of(opts)));
}

}  // namespace qtune
