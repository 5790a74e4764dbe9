#include "coordinator/report.h"

#include <cmath>
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

RunDescription describe_run(const TuningConfig& config, const TuningSpace& space,
                            int64_t calibration_samples, double calibration_seconds,
                            std::vector<std::string> calibration_warnings) {
  RunDescription d;
  d.model = config.model;
  d.adaptor = config.adaptor;
  d.strategy = config.strategy;
  d.objective = config.objective;
  d.metric = config.metric.name;
  d.criterion = config.criterion;
  d.exit_policy = config.exit_policy;
  for (const TunableOp& op : space.ops) {
    d.ops.push_back({op.key.name, op.key.op_type, static_cast<int64_t>(op.options.size())});
  }
  d.calibration_samples = calibration_samples;
  d.calibration_seconds = calibration_seconds;
  d.calibration_warnings = std::move(calibration_warnings);
  return d;
}

ReportData report_data(const ReportContext& r) {
  ReportData d;
  d.run = describe_run(r.config, r.space, r.calibration_samples, r.calibration_seconds,
                       r.calibration_warnings);
  d.history = r.outcome.history;
  d.sensitivity = r.space.sensitivity;
  d.op_errors = r.op_errors;
  d.chosen = r.outcome.chosen;
  d.goal_met = r.outcome.goal_met;
  d.target = r.outcome.target;
  d.finished = true;
  d.stop_reason = r.outcome.stop_reason;
  d.evaluated = r.outcome.evaluated;
  d.wall_seconds = r.wall_seconds;
  d.model_out = r.model_out;
  d.distribution = r.distribution;
  d.strategy_report = r.strategy_report;
  return d;
}

Result<ReportData> report_data(const JournalContents& j, const std::string& journal_path) {
  if (!j.run) {
    return Status::InvalidInput(journal_path + ": the journal does not describe its run (written by an "
                                "older qtune); `qtune tune --resume` adds the description");
  }
  if (!j.baseline) {
    return Status::InvalidInput(journal_path + ": the journal holds no fp32 baseline yet: nothing to report");
  }
  ReportData d;
  d.run = *j.run;
  d.history.baseline_metric = j.baseline->metric;
  d.history.baseline_latency_ms = j.baseline->latency_ms;
  d.history.baseline_latency_error_ms = j.baseline->latency_error_ms;
  d.history.baseline_model_bytes = j.baseline->model_bytes;
  d.history.trials = j.trials;
  if (j.sensitivity) d.sensitivity = *j.sensitivity;
  if (j.op_errors) d.op_errors = *j.op_errors;
  // The choice the tuner makes at its end (coordinator/tuner.cpp), from the same trials.
  d.chosen = best_accepted(d.history, d.run.criterion, d.run.objective);
  d.goal_met = d.chosen.has_value();
  if (!d.chosen) d.chosen = best_effort(d.history, d.run.criterion);
  d.target = accuracy_target(d.run.criterion, d.history.baseline_metric);
  d.finished = j.end.has_value();
  if (j.end) {
    d.stop_reason = j.end->stop_reason;
    d.evaluated = j.end->evaluated;
    d.wall_seconds = j.end->wall_seconds;
    d.model_out = j.end->model_out;
    d.strategy_report = {j.end->sensitivity_measure, j.end->strategy_notes};
  } else {
    d.evaluated = static_cast<int64_t>(j.trials.size());
    for (const TrialRecord& t : j.trials) d.wall_seconds += t.seconds;
  }
  return d;
}

std::map<std::string, FallbackImpact> fallback_impacts(const TuningHistory& h,
                                                       const AccuracyCriterion& c) {
  // Trials grouped by (op, the rest of their config): within a group only that op differs.
  struct Member {
    size_t trial;
    bool int8;
    int int8_ops;
  };
  std::map<std::pair<std::string, std::string>, std::vector<Member>> groups;
  for (size_t i = 0; i < h.trials.size(); ++i) {
    const TrialRecord& t = h.trials[i];
    if (!t.ok) continue;
    const int int8_ops = count(t.cfg).int8;
    for (const auto& [op, q] : t.cfg.ops) {
      TuneConfig rest = t.cfg;
      rest.ops.erase(op);
      groups[{op, rest.hash()}].push_back({i, q.precision == OpPrecision::kInt8, int8_ops});
    }
  }
  std::map<std::string, FallbackImpact> out;
  std::map<std::string, int> best_int8_ops;
  for (const auto& [key, members] : groups) {
    for (const Member& a : members) {
      if (!a.int8) continue;
      for (const Member& b : members) {
        if (b.int8) continue;
        const TrialRecord& ta = h.trials[a.trial];
        const TrialRecord& tb = h.trials[b.trial];
        auto it = out.find(key.first);
        const bool better =
            it == out.end() || a.int8_ops > best_int8_ops[key.first] ||
            (a.int8_ops == best_int8_ops[key.first] &&
             std::make_pair(tb.index, ta.index) < std::make_pair(it->second.fallback_trial, it->second.int8_trial));
        if (!better) continue;
        out[key.first] = {ta.index, tb.index,
                          (tb.metric - ta.metric) * (c.higher_is_better ? 1.0 : -1.0)};
        best_int8_ops[key.first] = a.int8_ops;
      }
    }
  }
  return out;
}

std::string report_json(const ReportData& r) {
  const TuningHistory& h = r.history;
  const RunDescription& run = r.run;
  std::ostringstream o;
  o << "{\n  \"model\": " << json_quote(run.model) << ",\n  \"adaptor\": "
    << json_quote(run.adaptor) << ",\n  \"strategy\": " << json_quote(run.strategy)
    << ",\n  \"objective\": " << json_quote(run.objective) << ",\n  \"metric\": "
    << json_quote(run.metric) << ",\n  \"accuracy_criterion\": {\"relative\": "
    << (run.criterion.relative ? "true" : "false")
    << ", \"tolerable_loss\": " << json_number(run.criterion.tolerable_loss)
    << ", \"higher_is_better\": " << (run.criterion.higher_is_better ? "true" : "false")
    << "},\n  \"exit_policy\": {\"timeout\": " << json_number(run.exit_policy.timeout_seconds)
    << ", \"max_trials\": " << run.exit_policy.max_trials << "},\n";
  o << "  \"baseline\": {\"metric\": " << json_number(h.baseline_metric)
    << ", \"latency_ms\": " << json_number(h.baseline_latency_ms)
    << ", \"latency_error_ms\": " << json_number(h.baseline_latency_error_ms)
    << ", \"model_bytes\": " << h.baseline_model_bytes << "},\n";
  o << "  \"target\": " << json_number(r.target) << ",\n  \"finished\": "
    << (r.finished ? "true" : "false") << ",\n  \"goal_met\": " << (r.goal_met ? "true" : "false")
    << ",\n  \"stop_reason\": " << json_quote(r.stop_reason) << ",\n  \"trials_evaluated\": "
    << r.evaluated << ",\n  \"trials_reused\": " << static_cast<int64_t>(h.trials.size()) - r.evaluated
    << ",\n  \"calibration_samples\": " << run.calibration_samples
    << ",\n  \"calibration_seconds\": " << json_number(run.calibration_seconds)
    << ",\n  \"calibration_warnings\": [";
  for (size_t i = 0; i < run.calibration_warnings.size(); ++i) {
    o << (i ? ", " : "") << json_quote(run.calibration_warnings[i]);
  }
  o << "],\n  \"wall_seconds\": " << json_number(r.wall_seconds) << ",\n  \"trials\": [";
  for (size_t i = 0; i < h.trials.size(); ++i) {
    const TrialRecord& t = h.trials[i];
    const Counts c = count(t.cfg);
    o << (i ? "," : "") << "\n    {\"index\": " << t.index << ", \"stage\": " << json_quote(t.stage)
      << ", \"hash\": " << json_quote(t.hash) << ", \"ok\": " << (t.ok ? "true" : "false");
    if (t.ok) {
      o << ", \"metric\": " << json_number(t.metric) << ", \"latency_ms\": "
        << json_number(t.latency_ms) << ", \"latency_error_ms\": " << json_number(t.latency_error_ms)
        << ", \"fp32_ratio\": " << json_number(t.fp32_ratio) << ", \"fp32_ratio_error\": "
        << json_number(t.fp32_ratio_error) << ", \"speedup_vs_fp32\": "
        << json_number(speedup_vs_fp32(t, h)) << ", \"model_bytes\": " << t.model_bytes
        << ", \"meets_accuracy\": "
        << (meets_accuracy(run.criterion, h.baseline_metric, t.metric) ? "true" : "false")
        << ", \"accepted\": " << (accepted(t, h, run.criterion, run.objective) ? "true" : "false");
    } else {
      o << ", \"error\": " << json_quote(t.error);
    }
    o << ", \"seconds\": " << json_number(t.seconds) << ", \"reused\": "
      << (t.reused ? "true" : "false") << ", \"int8_ops\": " << c.int8 << ", \"bf16_ops\": "
      << c.bf16 << ", \"fp32_ops\": " << c.fp32 << "}";
  }
  o << "\n  ],\n  \"chosen\": ";
  if (r.chosen) {
    const TrialRecord& t = h.trials[*r.chosen];
    o << "{\"index\": " << t.index << ", \"hash\": " << json_quote(t.hash) << ", \"metric\": "
      << json_number(t.metric) << ", \"latency_ms\": " << json_number(t.latency_ms)
      << ", \"speedup_vs_fp32\": " << json_number(speedup_vs_fp32(t, h))
      << ", \"model\": " << json_quote(r.model_out) << "}";
  } else {
    o << "null";
  }
  const std::map<std::string, FallbackImpact> impacts = fallback_impacts(h, run.criterion);
  o << ",\n  \"ops\": [";
  for (size_t i = 0; i < run.ops.size(); ++i) {
    const RunDescription::Op& op = run.ops[i];
    o << (i ? "," : "") << "\n    {\"name\": " << json_quote(op.name) << ", \"op_type\": "
      << json_quote(op.op_type) << ", \"options\": " << op.options;
    if (auto s = r.sensitivity.find(op.name); s != r.sensitivity.end()) {
      o << ", \"sensitivity\": " << json_number(s->second);
    }
    if (auto e = r.op_errors.find(op.name); e != r.op_errors.end()) {
      // SQNR is +inf for an output that quantizes exactly; JSON has no infinity.
      o << ", \"int8_output\": {\"sqnr_db\": " << json_number(e->second.sqnr_db)
        << ", \"exact\": " << (std::isinf(e->second.sqnr_db) && e->second.sqnr_db > 0 ? "true" : "false")
        << ", \"cosine\": " << json_number(e->second.cosine)
        << ", \"max_abs_error\": " << json_number(e->second.max_abs_error)
        << ", \"relative_error\": " << json_number(e->second.relative_error)
        << ", \"input_relative_error\": " << json_number(e->second.input_relative_error) << "}";
    }
    if (auto f = impacts.find(op.name); f != impacts.end()) {
      o << ", \"fallback_impact\": {\"metric_gain\": " << json_number(f->second.gain)
        << ", \"int8_trial\": " << f->second.int8_trial
        << ", \"fallback_trial\": " << f->second.fallback_trial << "}";
    }
    if (r.chosen) {
      const auto& cfg = h.trials[*r.chosen].cfg;
      if (auto c = cfg.ops.find(op.name); c != cfg.ops.end()) {
        o << ", \"chosen\": " << json_quote(describe(c->second));
      }
    }
    o << "}";
  }
  o << "\n  ],\n  \"strategy_report\": {\"sensitivity_measure\": "
    << json_quote(r.strategy_report.sensitivity_measure) << ", \"notes\": [";
  for (size_t i = 0; i < r.strategy_report.notes.size(); ++i) {
    o << (i ? ", " : "") << json_quote(r.strategy_report.notes[i]);
  }
  o << "]}";
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
      << ", \"refused\": " << d.refused << ", \"dropped_frames\": " << d.dropped_frames
      << ", \"expired\": " << d.expired << "}";
  }
  o << "\n}\n";
  return o.str();
}

std::string report_summary(const ReportData& r) {
  const TuningHistory& h = r.history;
  const RunDescription& run = r.run;
  std::ostringstream o;
  o << "baseline fp32: " << run.metric << " " << fmt(h.baseline_metric, 4) << ", "
    << fmt(h.baseline_latency_ms, 3) << " ms/batch (+/- " << fmt(h.baseline_latency_error_ms, 3)
    << "); goal " << criterion_text(run.criterion)
    << " -> target " << fmt(r.target, 4) << "\n";
  o << "  #  stage                      int8 bf16 fp32    metric  latency ms  +/-     speed-up  verdict\n";
  for (const TrialRecord& t : h.trials) {
    const Counts c = count(t.cfg);
    char line[256];
    const bool chosen = r.chosen && h.trials[*r.chosen].index == t.index;
    std::snprintf(line, sizeof(line), "%3lld  %-25s %5d %4d %4d  %8s  %10s  %-6s  %8s  %s%s\n",
                  static_cast<long long>(t.index), t.stage.c_str(), c.int8, c.bf16, c.fp32,
                  t.ok ? fmt(t.metric, 4).c_str() : "-", t.ok ? fmt(t.latency_ms, 3).c_str() : "-",
                  t.ok ? fmt(t.latency_error_ms, 3).c_str() : "-",
                  t.ok && speedup_vs_fp32(t, h) > 0 ? (fmt(speedup_vs_fp32(t, h), 2) + "x").c_str() : "-",
                  !t.ok ? ("error: " + t.error).c_str()
                  : accepted(t, h, run.criterion, run.objective) ? "pass"
                  : meets_accuracy(run.criterion, h.baseline_metric, t.metric) ? "not faster than fp32"
                                                                               : "below target",
                  chosen ? (r.finished ? "  <- chosen" : "  <- best so far") : "");
    o << line;
  }
  for (const std::string& note : r.strategy_report.notes) o << run.strategy << ": " << note << "\n";
  if (!r.finished) {
    o << "run not finished: " << h.trials.size() << " trial(s) recorded";
    if (r.chosen) {
      const TrialRecord& t = h.trials[*r.chosen];
      o << "; best so far #" << t.index << (r.goal_met ? " (meets the goal)" : " (below the goal)")
        << ": " << run.metric << " " << fmt(t.metric, 4) << " vs fp32 " << fmt(h.baseline_metric, 4)
        << ", " << fmt(speedup_vs_fp32(t, h), 2) << "x fp32 speed";
    }
    o << "\n";
  } else if (r.chosen) {
    const TrialRecord& t = h.trials[*r.chosen];
    o << (r.goal_met ? "goal met" : "goal NOT met; best effort") << " (" << r.stop_reason
      << ") after " << h.trials.size() << " trials in " << fmt(r.wall_seconds, 1) << " s: "
      << run.metric << " " << fmt(t.metric, 4) << " vs fp32 " << fmt(h.baseline_metric, 4)
      << ", " << fmt(speedup_vs_fp32(t, h), 2) << "x fp32 speed; model "
      << r.model_out << "\n";
  } else {
    o << "no trial ran successfully (" << r.stop_reason << ")\n";
  }
  return o.str();
}

}  // namespace qtune
