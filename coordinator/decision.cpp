#include "coordinator/decision.h"

#include <algorithm>
#include <cmath>
#include <map>

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

std::string kernel_signature(const TuneConfig& cfg) {
  TuneConfig erased = cfg;
  for (auto& [name, op] : erased.ops) {
    op.weight.algorithm = CalibAlgorithm::kMinMax;
    op.activation.algorithm = CalibAlgorithm::kMinMax;
  }
  return erased.hash();
}

std::optional<size_t> best_accepted(const TuningHistory& h, const AccuracyCriterion& c,
                                    const std::string& objective) {
  auto more_accurate = [&](const TrialRecord& a, const TrialRecord& b) {
    return c.higher_is_better ? a.metric > b.metric : a.metric < b.metric;
  };
  const bool by_signature = objective == "performance" || objective == "modelsize";
  struct Group {
    double cost = 0;  // lowest latency or size measured
    size_t best = 0;  // most accurate trial
    size_t first = 0;
  };
  std::map<std::string, Group> groups;
  std::optional<size_t> best;
  for (size_t i = 0; i < h.trials.size(); ++i) {
    const TrialRecord& t = h.trials[i];
    if (!accepted(t, h, c, objective)) continue;
    if (!by_signature) {
      if (!best || more_accurate(t, h.trials[*best])) best = i;
      continue;
    }
    const double cost = objective == "performance" ? t.latency_ms : static_cast<double>(t.model_bytes);
    auto [it, fresh] = groups.try_emplace(kernel_signature(t.cfg), Group{cost, i, i});
    if (fresh) continue;
    it->second.cost = std::min(it->second.cost, cost);
    if (more_accurate(t, h.trials[it->second.best])) it->second.best = i;
  }
  const Group* winner = nullptr;
  for (const auto& [sig, g] : groups) {
    if (!winner || g.cost < winner->cost || (g.cost == winner->cost && g.first < winner->first)) {
      winner = &g;
    }
  }
  return winner ? std::optional<size_t>(winner->best) : best;
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
