#include "coordinator/decision.h"

#include <cmath>

namespace qtune {

const TrialRecord* TuningHistory::find(const std::string& hash) const {
  for (const auto& t : trials) {
    if (t.hash == hash) return &t;
  }
  return nullptr;
}

double accuracy_target(const AccuracyCriterion& c, double baseline) {
  const double loss = c.relative ? std::fabs(baseline) * c.tolerable_loss : c.tolerable_loss;
  return c.higher_is_better ? baseline - loss : baseline + loss;
}

bool meets_accuracy(const AccuracyCriterion& c, double baseline, double metric) {
  const double target = accuracy_target(c, baseline);
  // Rounding noise in the target must not flip a decision at the exact boundary.
  const double slack = 1e-9 * std::max(1.0, std::fabs(target));
  return c.higher_is_better ? metric >= target - slack : -metric >= -target - slack;
}

bool accepted(const TrialRecord& t, const TuningHistory& h, const AccuracyCriterion& c,
              const std::string& objective) {
  if (!t.ok || !meets_accuracy(c, h.baseline_metric, t.metric)) return false;
  return objective != "performance" || t.latency_ms < h.baseline_latency_ms;
}

std::optional<size_t> best_accepted(const TuningHistory& h, const AccuracyCriterion& c,
                                    const std::string& objective) {
  std::optional<size_t> best;
  auto better = [&](const TrialRecord& a, const TrialRecord& b) {
    if (objective == "performance") return a.latency_ms < b.latency_ms;
    if (objective == "modelsize") return a.model_bytes < b.model_bytes;
    return c.higher_is_better ? a.metric > b.metric : a.metric < b.metric;
  };
  for (size_t i = 0; i < h.trials.size(); ++i) {
    if (!accepted(h.trials[i], h, c, objective)) continue;
    if (!best || better(h.trials[i], h.trials[*best])) best = i;
  }
  return best;
}

std::optional<size_t> best_effort(const TuningHistory& h, const AccuracyCriterion& c) {
  std::optional<size_t> best;
  for (size_t i = 0; i < h.trials.size(); ++i) {
    const TrialRecord& t = h.trials[i];
    if (!t.ok) continue;
    if (!best) {
      best = i;
      continue;
    }
    const double m = h.trials[*best].metric;
    if (c.higher_is_better ? t.metric > m : t.metric < m) best = i;
  }
  return best;
}

}  // namespace qtune
