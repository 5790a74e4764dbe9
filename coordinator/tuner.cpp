#include "coordinator/tuner.h"

#include <chrono>

namespace qtune {

TuneOutcome run_tuning(const TuningSpace& space, const Strategy& strategy,
                       const TuneRunOptions& opts, TuningHistory history,
                       const TrialEvaluator& evaluate) {
  auto now = opts.now ? opts.now : [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  const double start = now();
  const StrategyContext ctx{space, opts.criterion, opts.calib_sampling_size, opts.seed};
  const bool first_pass_stops = opts.exit_policy.timeout_seconds == 0 && strategy.stops_at_first_pass();
  TuneOutcome out;
  out.target = accuracy_target(opts.criterion, history.baseline_metric);

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
    std::vector<TrialProposal> wave = strategy.next(ctx, history);
    if (wave.empty()) wave = latency_refinement(ctx, history, opts.objective);
    if (wave.empty()) return finish("strategy exhausted");
    for (const TrialProposal& p : wave) {
      if (static_cast<int64_t>(history.trials.size()) >= opts.exit_policy.max_trials) {
        return finish("max_trials");
      }
      if (opts.exit_policy.timeout_seconds > 0 && now() - start >= opts.exit_policy.timeout_seconds) {
        return finish("timeout");
      }
      TrialRecord t;
      t.index = static_cast<int64_t>(history.trials.size());
      t.stage = p.stage;
      t.cfg = p.cfg;
      t.hash = p.cfg.hash();
      if (history.find(t.hash)) continue;  // a strategy must not repeat itself; never pay twice
      const double t0 = now();
      Result<TrialMetrics> m = evaluate(p.cfg);
      t.seconds = now() - t0;
      if (m.ok()) {
        t.ok = true;
        t.metric = m->metric;
        t.latency_ms = m->latency_ms;
        t.model_bytes = m->model_bytes;
      } else {
        t.error = m.status().message();
      }
      ++out.evaluated;
      history.trials.push_back(t);
      if (opts.on_trial) opts.on_trial(history.trials.back());
      if (first_pass_stops && accepted(history.trials.back(), history, opts.criterion,
                                       opts.objective)) {
        return finish("goal met");
      }
    }
  }
}

}  // namespace qtune
