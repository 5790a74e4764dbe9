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

double latency_noise_ms(double a_ms, double a_error_ms, double b_ms, double b_error_ms,
                        double fraction) {
  return std::max(fraction * std::min(a_ms, b_ms), kLatencyNoiseErrors * (a_error_ms + b_error_ms));
}

bool clearly_faster(double a_ms, double a_error_ms, double b_ms, double b_error_ms,
                    double fraction) {
  return a_ms + latency_noise_ms(a_ms, a_error_ms, b_ms, b_error_ms, fraction) < b_ms;
}

RelativeLatency relative_latency(const TrialRecord& t, const TuningHistory& h) {
  if (t.fp32_ratio > 0) return {t.fp32_ratio, t.fp32_ratio_error};
  if (!(h.baseline_latency_ms > 0)) return {t.latency_ms, t.latency_error_ms};
  // The error of a quotient: each side's, relative to its value, adds up.
  const double r = t.latency_ms / h.baseline_latency_ms;
  return {r, (t.latency_error_ms + r * h.baseline_latency_error_ms) / h.baseline_latency_ms};
}

bool clearly_faster(const TrialRecord& a, const TrialRecord& b, const TuningHistory& h) {
  const RelativeLatency x = relative_latency(a, h), y = relative_latency(b, h);
  return clearly_faster(x.ratio, x.error, y.ratio, y.error);
}

bool faster_than_baseline(const TrialRecord& t, const TuningHistory& h) {
  if (!(h.baseline_latency_ms > 0) && !(t.fp32_ratio > 0)) return false;
  const RelativeLatency r = relative_latency(t, h);
  return clearly_faster(r.ratio, r.error, 1.0, 0.0);
}

double speedup_vs_fp32(const TrialRecord& t, const TuningHistory& h) {
  if (!(t.fp32_ratio > 0) && !(h.baseline_latency_ms > 0)) return 0.0;
  const double r = relative_latency(t, h).ratio;
  return r > 0 ? 1.0 / r : 0.0;
}

bool accepted(const TrialRecord& t, const TuningHistory& h, const AccuracyCriterion& c,
              const std::string& objective) {
  if (!t.ok || !meets_accuracy(c, h.baseline_metric, t.metric)) return false;
  return objective != "performance" || faster_than_baseline(t, h);
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
  // Within a tie on speed: the more accurate, then the smaller; the lower index stays on ties.
  auto better = [&](size_t a, size_t b) {
    const TrialRecord& x = h.trials[a];
    const TrialRecord& y = h.trials[b];
    if (more_accurate(x, y) || more_accurate(y, x)) return more_accurate(x, y);
    return x.model_bytes != y.model_bytes ? x.model_bytes < y.model_bytes : a < b;
  };
  const bool performance = objective == "performance";
  const bool by_signature = performance || objective == "modelsize";
  struct Group {
    double cost = 0;    // lowest latency (relative to fp32's) or size measured
    double error = 0;   // the standard error of the latency that gave `cost`
    size_t best = 0;    // most accurate trial
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
    const RelativeLatency rel = relative_latency(t, h);
    const double cost = performance ? rel.ratio : static_cast<double>(t.model_bytes);
    auto [it, fresh] = groups.try_emplace(kernel_signature(t.cfg), Group{cost, rel.error, i, i});
    if (fresh) continue;
    Group& g = it->second;
    if (cost < g.cost) {
      g.cost = cost;
      g.error = rel.error;
    }
    if (better(i, g.best)) g.best = i;
  }
  const Group* winner = nullptr;
  for (const auto& [sig, g] : groups) {
    if (!winner || g.cost < winner->cost || (g.cost == winner->cost && g.first < winner->first)) {
      winner = &g;
    }
  }
  if (!winner) return best;
  if (!performance) return winner->best;
  // Every signature not clearly slower than the fastest one ties with it on speed.
  size_t choice = winner->best;
  for (const auto& [sig, g] : groups) {
    if (!clearly_faster(winner->cost, winner->error, g.cost, g.error, kRankingNoiseFraction) &&
        better(g.best, choice)) {
      choice = g.best;
    }
  }
  return choice;
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
