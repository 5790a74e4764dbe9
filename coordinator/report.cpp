#include "coordinator/report.h"

#include <cstdio>
#include <sstream>

#include "common/json.h"

namespace qtune {
namespace {

struct Counts {
  int int8 = 0, bf16 = 0, fp32 = 0;
};

Counts count(const TuneConfig& cfg) {
  Counts c;
  for (const auto& [name, o] : cfg.ops) {
    (o.precision == OpPrecision::kInt8 ? c.int8 : o.precision == OpPrecision::kBf16 ? c.bf16 : c.fp32)++;
  }
  return c;
}

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string criterion_text(const AccuracyCriterion& c) {
  return std::string(c.relative ? "relative " : "absolute ") +
         (c.relative ? fmt(100 * c.tolerable_loss, 2) + "%" : fmt(c.tolerable_loss, 4)) + " loss, " +
         (c.higher_is_better ? "higher is better" : "lower is better");
}

}  // namespace

std::string report_json(const ReportContext& r) {
  const TuningHistory& h = r.outcome.history;
  std::ostringstream o;
  o << "{\n  \"model\": " << json_quote(r.config.model) << ",\n  \"adaptor\": "
    << json_quote(r.config.adaptor) << ",\n  \"strategy\": " << json_quote(r.config.strategy)
    << ",\n  \"objective\": " << json_quote(r.config.objective) << ",\n  \"metric\": "
    << json_quote(r.config.metric.name) << ",\n  \"accuracy_criterion\": {\"relative\": "
    << (r.config.criterion.relative ? "true" : "false")
    << ", \"tolerable_loss\": " << json_number(r.config.criterion.tolerable_loss)
    << ", \"higher_is_better\": " << (r.config.criterion.higher_is_better ? "true" : "false")
    << "},\n  \"exit_policy\": {\"timeout\": " << json_number(r.config.exit_policy.timeout_seconds)
    << ", \"max_trials\": " << r.config.exit_policy.max_trials << "},\n";
  o << "  \"baseline\": {\"metric\": " << json_number(h.baseline_metric)
    << ", \"latency_ms\": " << json_number(h.baseline_latency_ms)
    << ", \"model_bytes\": " << h.baseline_model_bytes << "},\n";
  o << "  \"target\": " << json_number(r.outcome.target) << ",\n  \"goal_met\": "
    << (r.outcome.goal_met ? "true" : "false") << ",\n  \"stop_reason\": "
    << json_quote(r.outcome.stop_reason) << ",\n  \"trials_evaluated\": " << r.outcome.evaluated
    << ",\n  \"trials_reused\": " << static_cast<int64_t>(h.trials.size()) - r.outcome.evaluated
    << ",\n  \"calibration_seconds\": " << json_number(r.calibration_seconds)
    << ",\n  \"wall_seconds\": " << json_number(r.wall_seconds) << ",\n  \"trials\": [";
  for (size_t i = 0; i < h.trials.size(); ++i) {
    const TrialRecord& t = h.trials[i];
    const Counts c = count(t.cfg);
    o << (i ? "," : "") << "\n    {\"index\": " << t.index << ", \"stage\": " << json_quote(t.stage)
      << ", \"hash\": " << json_quote(t.hash) << ", \"ok\": " << (t.ok ? "true" : "false");
    if (t.ok) {
      o << ", \"metric\": " << json_number(t.metric) << ", \"latency_ms\": "
        << json_number(t.latency_ms) << ", \"model_bytes\": " << t.model_bytes
        << ", \"meets_accuracy\": "
        << (meets_accuracy(r.config.criterion, h.baseline_metric, t.metric) ? "true" : "false")
        << ", \"accepted\": "
        << (accepted(t, h, r.config.criterion, r.config.objective) ? "true" : "false");
    } else {
      o << ", \"error\": " << json_quote(t.error);
    }
    o << ", \"seconds\": " << json_number(t.seconds) << ", \"reused\": "
      << (t.reused ? "true" : "false") << ", \"int8_ops\": " << c.int8 << ", \"bf16_ops\": "
      << c.bf16 << ", \"fp32_ops\": " << c.fp32 << "}";
  }
  o << "\n  ],\n  \"chosen\": ";
  if (r.outcome.chosen) {
    const TrialRecord& t = h.trials[*r.outcome.chosen];
    o << "{\"index\": " << t.index << ", \"hash\": " << json_quote(t.hash) << ", \"metric\": "
      << json_number(t.metric) << ", \"latency_ms\": " << json_number(t.latency_ms)
      << ", \"speedup_vs_fp32\": "
      << json_number(t.latency_ms > 0 ? h.baseline_latency_ms / t.latency_ms : 0)
      << ", \"model\": " << json_quote(r.model_out) << "}";
  } else {
    o << "null";
  }
  o << ",\n  \"ops\": [";
  for (size_t i = 0; i < r.space.ops.size(); ++i) {
    const TunableOp& op = r.space.ops[i];
    o << (i ? "," : "") << "\n    {\"name\": " << json_quote(op.key.name) << ", \"op_type\": "
      << json_quote(op.key.op_type) << ", \"options\": " << op.options.size();
    if (auto s = r.space.sensitivity.find(op.key.name); s != r.space.sensitivity.end()) {
      o << ", \"sensitivity\": " << json_number(s->second);
    }
    if (r.outcome.chosen) {
      const auto& cfg = h.trials[*r.outcome.chosen].cfg;
      if (auto c = cfg.ops.find(op.key.name); c != cfg.ops.end()) {
        o << ", \"chosen\": " << json_quote(describe(c->second));
      }
    }
    o << "}";
  }
  o << "\n  ]";
  if (r.distribution) {
    const DistributionReport& d = *r.distribution;
    o << ",\n  \"distribution\": {\"workers_seen\": " << d.workers.size() << ", \"workers\": [";
    for (size_t i = 0; i < d.workers.size(); ++i) o << (i ? ", " : "") << json_quote(d.workers[i]);
    o << "], \"trials_per_worker\": {";
    bool first = true;
    for (const auto& [name, n] : d.trials) {
      o << (first ? "" : ", ") << json_quote(name) << ": " << n;
      first = false;
    }
    o << "}, \"baseline_worker\": " << json_quote(d.baseline_worker) << ", \"dispatched\": " << d.dispatched
      << ", \"requeues\": " << d.requeued << ", \"joins\": " << d.joins << ", \"lost\": " << d.lost
      << ", \"refused\": " << d.refused << ", \"dropped_frames\": " << d.dropped_frames << "}";
  }
  o << "\n}\n";
  return o.str();
}

std::string report_summary(const ReportContext& r) {
  const TuningHistory& h = r.outcome.history;
  std::ostringstream o;
  o << "baseline fp32: " << r.config.metric.name << " " << fmt(h.baseline_metric, 4) << ", "
    << fmt(h.baseline_latency_ms, 3) << " ms/batch; goal " << criterion_text(r.config.criterion)
    << " -> target " << fmt(r.outcome.target, 4) << "\n";
  o << "  #  stage                      int8 bf16 fp32    metric  latency ms  speed-up  verdict\n";
  for (const TrialRecord& t : h.trials) {
    const Counts c = count(t.cfg);
    char line[256];
    const bool chosen = r.outcome.chosen && h.trials[*r.outcome.chosen].index == t.index;
    std::snprintf(line, sizeof(line), "%3lld  %-25s %5d %4d %4d  %8s  %10s  %8s  %s%s\n",
                  static_cast<long long>(t.index), t.stage.c_str(), c.int8, c.bf16, c.fp32,
                  t.ok ? fmt(t.metric, 4).c_str() : "-", t.ok ? fmt(t.latency_ms, 3).c_str() : "-",
                  t.ok && t.latency_ms > 0 ? (fmt(h.baseline_latency_ms / t.latency_ms, 2) + "x").c_str() : "-",
                  !t.ok ? ("error: " + t.error).c_str()
                  : accepted(t, h, r.config.criterion, r.config.objective) ? "pass"
                  : meets_accuracy(r.config.criterion, h.baseline_metric, t.metric) ? "slower than fp32"
                                                                                     : "below target",
                  chosen ? "  <- chosen" : "");
    o << line;
  }
  if (r.outcome.chosen) {
    const TrialRecord& t = h.trials[*r.outcome.chosen];
    o << (r.outcome.goal_met ? "goal met" : "goal NOT met; best effort") << " (" << r.outcome.stop_reason
      << ") after " << h.trials.size() << " trials in " << fmt(r.wall_seconds, 1) << " s: "
      << r.config.metric.name << " " << fmt(t.metric, 4) << " vs fp32 " << fmt(h.baseline_metric, 4)
      << ", " << fmt(h.baseline_latency_ms / t.latency_ms, 2) << "x fp32 speed; model "
      << r.model_out << "\n";
  } else {
    o << "no trial ran successfully (" << r.outcome.stop_reason << ")\n";
  }
  return o.str();
}

}  // namespace qtune
