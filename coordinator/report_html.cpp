// report.html: the tuning report for people. One self-contained page (common/html_page.h) with
// the outcome in a sentence, the search as charts (common/svg_chart.h), per-op sensitivity, the
// final precision of every op, every trial and the calibration findings.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "common/html_page.h"
#include "common/svg_chart.h"
#include "coordinator/report.h"

namespace qtune {
namespace {

using svg::escape;

// Charts list at most this many ops; the layer table lists all of them.
constexpr size_t kMaxBars = 40;
// Chart width in pixels: the page's content width, so charts use the whole section.
constexpr int kChartWidth = 960;

std::string printf_text(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Metric values: two decimals for percentages and the like, significant digits for small
// values (mse, cosine differences).
std::string metric_text(double v) {
  if (!std::isfinite(v)) return "-";
  return std::fabs(v) >= 1 || v == 0 ? printf_text("%.2f", v) : printf_text("%.4g", v);
}

std::string bytes_text(int64_t b) {
  if (b >= (1 << 20)) return printf_text("%.2f MiB", static_cast<double>(b) / (1 << 20));
  if (b >= (1 << 10)) return printf_text("%.1f KiB", static_cast<double>(b) / (1 << 10));
  return std::to_string(b) + " B";
}

std::string seconds_text(double s) {
  if (s < 60) return printf_text("%.1f s", s);
  const int64_t total = static_cast<int64_t>(std::llround(s));
  char buf[64];
  if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(total / 3600),
                  static_cast<long long>(total % 3600 / 60));
  }
  return buf;
}

const char* precision_name(OpPrecision p) {
  return p == OpPrecision::kInt8 ? "int8" : p == OpPrecision::kBf16 ? "bf16" : "fp32";
}

const char* precision_color(OpPrecision p) {
  return p == OpPrecision::kInt8 ? svg::color::kInt8
         : p == OpPrecision::kBf16 ? svg::color::kBf16
                                   : svg::color::kFp32;
}

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

enum class Verdict { kPass, kSlower, kBelow, kFailed };

Verdict verdict(const TrialRecord& t, const ReportData& r) {
  if (!t.ok) return Verdict::kFailed;
  if (accepted(t, r.history, r.run.criterion, r.run.objective)) return Verdict::kPass;
  return meets_accuracy(r.run.criterion, r.history.baseline_metric, t.metric) ? Verdict::kSlower
                                                                               : Verdict::kBelow;
}

const char* verdict_text(Verdict v, const std::string& objective) {
  switch (v) {
    case Verdict::kPass: return "meets the goal";
    case Verdict::kSlower: return objective == "performance" ? "accurate, not faster than fp32" : "accurate, not chosen";
    case Verdict::kBelow: return "below the goal";
    case Verdict::kFailed: return "failed";
  }
  return "";
}

const char* verdict_color(Verdict v) {
  switch (v) {
    case Verdict::kPass: return svg::color::kPass;
    case Verdict::kSlower: return svg::color::kNeutral;
    case Verdict::kBelow:
    case Verdict::kFailed: return svg::color::kFail;
  }
  return svg::color::kNeutral;
}

const char* verdict_badge(Verdict v) {
  return v == Verdict::kPass ? "pass" : v == Verdict::kSlower ? "neutral" : "fail";
}

// "≥ 89.22" or "≤ 0.0012": the target as the comparison the goal makes.
std::string target_text(const ReportData& r) {
  return std::string(r.run.criterion.higher_is_better ? "\u2265 " : "\u2264 ") + metric_text(r.target);
}

std::string goal_text(const ReportData& r) {
  const AccuracyCriterion& c = r.run.criterion;
  const std::string amount = c.relative ? printf_text("%.2f%%", 100 * c.tolerable_loss) + " of fp32's " + r.run.metric
                                        : metric_text(c.tolerable_loss) + " " + r.run.metric;
  return std::string(c.higher_is_better ? "lose at most " : "worsen by at most ") + amount;
}

std::string trial_tooltip(const TrialRecord& t, const ReportData& r) {
  const Counts c = count(t.cfg);
  std::string s = "trial #" + std::to_string(t.index) + " (" + t.stage + ")\n";
  if (t.ok) {
    s += r.run.metric + " " + metric_text(t.metric) + ", " + printf_text("%.3f", t.latency_ms) + " ms";
    if (speedup_vs_fp32(t, r.history) > 0) {
      s += " (" + printf_text("%.2f", speedup_vs_fp32(t, r.history)) + "x fp32)";
    }
    s += "\n";
  } else {
    s += "failed: " + t.error + "\n";
  }
  s += std::to_string(c.int8) + " int8, " + std::to_string(c.bf16) + " bf16, " + std::to_string(c.fp32) +
       " fp32 ops; " + verdict_text(verdict(t, r), r.run.objective);
  return s;
}

std::vector<svg::LegendEntry> verdict_legend(const ReportData& r, bool with_failed) {
  std::vector<svg::LegendEntry> l = {{"meets the goal", svg::color::kPass},
                                     {"below the goal", svg::color::kFail}};
  bool slower = false, failed = false;
  for (const TrialRecord& t : r.history.trials) {
    slower |= verdict(t, r) == Verdict::kSlower;
    failed |= !t.ok;
  }
  if (slower) l.push_back({verdict_text(Verdict::kSlower, r.run.objective), svg::color::kNeutral});
  if (failed && with_failed) l.push_back({"failed", svg::color::kFail, svg::Marker::kCross});
  return l;
}

std::string outcome_section(const ReportData& r) {
  const TuningHistory& h = r.history;
  const std::string& m = r.run.metric;
  std::string cls = "outcome", sentence;
  const TrialRecord* t = r.chosen ? &h.trials[*r.chosen] : nullptr;
  const std::string fp32 = " (fp32 " + metric_text(h.baseline_metric) + "; goal: " + goal_text(r) +
                           ", i.e. " + target_text(r) + ")";
  auto speed = [&](const TrialRecord& x) {
    return speedup_vs_fp32(x, h) > 0 ? printf_text("%.2f", speedup_vs_fp32(x, h)) + "\u00d7" : std::string("?");
  };
  if (!r.finished) {
    cls += " unfinished";
    sentence = "Run not finished: " + std::to_string(h.trials.size()) + " trial(s) recorded so far.";
    if (t) {
      sentence += " Best so far: trial #" + std::to_string(t->index) + " with " + m + " " +
                  metric_text(t->metric) + fp32 + ", " + speed(*t) + " fp32 speed, " +
                  (r.goal_met ? "which meets the goal." : "which is below the goal.");
    }
  } else if (!t) {
    cls += " missed";
    sentence = "No trial ran successfully (" + r.stop_reason + "); nothing was written.";
  } else if (r.goal_met) {
    const Counts c = count(t->cfg);
    sentence = "Goal met: trial #" + std::to_string(t->index) + " keeps " + m + " at " +
               metric_text(t->metric) + fp32 + " and runs " + speed(*t) + " as fast as fp32, with " +
               std::to_string(c.int8) + " of " + std::to_string(t->cfg.ops.size()) + " ops in int8" +
               (c.bf16 ? ", " + std::to_string(c.bf16) + " in bf16." : ".");
  } else {
    cls += " missed";
    sentence = "Goal not met: no config reached " + m + " " + target_text(r) +
               (r.run.objective == "performance" ? " while faster than fp32" : "") + " (" +
               r.stop_reason + "). The best effort, trial #" + std::to_string(t->index) +
               ", reaches " + metric_text(t->metric) + " (fp32 " + metric_text(h.baseline_metric) +
               ") at " + speed(*t) + " fp32 speed.";
  }
  std::string facts;
  auto fact = [&](const std::string& label, const std::string& value) {
    facts += "<li>" + escape(label) + "<b>" + escape(value) + "</b></li>";
  };
  fact("fp32 " + m, metric_text(h.baseline_metric));
  fact("target", target_text(r));
  if (t) {
    fact((r.finished ? "chosen " : "best so far ") + m, metric_text(t->metric));
    fact("speed-up vs fp32", speed(*t));
    fact("latency per batch", printf_text("%.3f", h.baseline_latency_ms) + " \u2192 " +
                                  printf_text("%.3f", t->latency_ms) + " ms");
    fact("weights", bytes_text(h.baseline_model_bytes) + " \u2192 " + bytes_text(t->model_bytes));
    const Counts c = count(t->cfg);
    fact("int8 / bf16 / fp32 ops", std::to_string(c.int8) + " / " + std::to_string(c.bf16) + " / " +
                                       std::to_string(c.fp32));
  }
  fact("trials", std::to_string(h.trials.size()));
  fact(r.finished ? "tuning time" : "time in trials", seconds_text(r.wall_seconds));
  if (r.finished) fact("stopped", r.stop_reason);
  std::string out = "<section class=\"" + cls + "\" id=\"outcome\">\n<p>" + escape(sentence) + "</p>\n<ul class=\"facts\">" +
                    facts + "</ul>\n";
  if (!r.strategy_report.notes.empty()) {
    out += "<p>How the " + escape(r.run.strategy) + " strategy reached its choice:</p>\n<ul class=\"strategy-notes\">";
    for (const std::string& n : r.strategy_report.notes) out += "<li>" + escape(n) + "</li>";
    out += "</ul>\n";
  }
  if (r.finished && !r.model_out.empty()) {
    out += "<p class=\"note\">Model: <code>" + escape(r.model_out) + "</code></p>\n";
  }
  return out + "</section>\n";
}

std::string metric_chart(const ReportData& r) {
  const TuningHistory& h = r.history;
  svg::LineChart c;
  c.width = kChartWidth;
  c.title = r.run.metric + " of every trial";
  c.x = {"trial", std::nullopt, std::nullopt, true};
  c.y = {r.run.metric};
  // Failed trials have no metric: their crosses sit at the lowest value shown.
  double floor_y = std::min(h.baseline_metric, r.target);
  for (const TrialRecord& t : h.trials) {
    if (t.ok && std::isfinite(t.metric)) floor_y = std::min(floor_y, t.metric);
  }
  std::optional<double> best;
  for (const TrialRecord& t : h.trials) {
    svg::Point p{static_cast<double>(t.index), t.ok ? t.metric : floor_y, trial_tooltip(t, r)};
    const Verdict v = verdict(t, r);
    p.color = verdict_color(v);
    p.marker = t.ok ? svg::Marker::kCircle : svg::Marker::kCross;
    p.css_class = "trial";
    p.id = std::to_string(t.index);
    c.points.push_back(p);
    if (t.ok && std::isfinite(t.metric)) {
      const bool better = !best || (r.run.criterion.higher_is_better ? t.metric > *best : t.metric < *best);
      if (better) best = t.metric;
    }
    if (best) c.line.emplace_back(static_cast<double>(t.index), *best);
  }
  c.step = true;
  c.line_color = "#90a4ae";
  c.hlines = {{r.target, "goal " + target_text(r)},
              {h.baseline_metric, "fp32 " + metric_text(h.baseline_metric), svg::color::kNeutral, false}};
  if (r.chosen) {
    const TrialRecord& t = h.trials[*r.chosen];
    c.highlight = svg::Highlight{static_cast<double>(t.index), t.metric,
                                 (r.finished ? "chosen #" : "best so far #") + std::to_string(t.index)};
  }
  c.legend = verdict_legend(r, true);
  c.legend.push_back({"best " + r.run.metric + " so far", "#90a4ae", svg::Marker::kCircle, true});
  return svg::render(c);
}

std::string tradeoff_chart(const ReportData& r) {
  const TuningHistory& h = r.history;
  svg::ScatterChart c;
  c.width = kChartWidth;
  c.title = r.run.metric + " against latency";
  c.x = {"latency of one batch (ms), lower is faster"};
  c.y = {r.run.metric};
  c.y_higher_is_better = r.run.criterion.higher_is_better;
  for (const TrialRecord& t : h.trials) {
    if (!t.ok || !std::isfinite(t.metric) || !std::isfinite(t.latency_ms)) continue;
    svg::Point p{t.latency_ms, t.metric, trial_tooltip(t, r)};
    p.color = verdict_color(verdict(t, r));
    p.css_class = "trial";
    p.id = std::to_string(t.index);
    c.points.push_back(p);
  }
  // fp32 is drawn where it does not squeeze the trials into a corner (int8 is often many times
  // faster); otherwise its metric stays as a line and its latency is named in the legend.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const svg::Point& p : c.points) lo = std::min(lo, p.x), hi = std::max(hi, p.x);
  const bool fp32_drawn = c.points.empty() || h.baseline_latency_ms <= hi + 2 * std::max(hi - lo, 0.25 * hi);
  if (fp32_drawn) {
    svg::Point base{h.baseline_latency_ms, h.baseline_metric,
                    "fp32 baseline\n" + r.run.metric + " " + metric_text(h.baseline_metric) + ", " +
                        printf_text("%.3f", h.baseline_latency_ms) + " ms"};
    base.color = "#37474f";
    base.marker = svg::Marker::kDiamond;
    base.css_class = "baseline";
    base.in_front = false;
    c.points.push_back(base);
  }
  c.hlines = {{r.target, "goal " + target_text(r)},
              {h.baseline_metric, "fp32 " + metric_text(h.baseline_metric), svg::color::kNeutral, false}};
  if (r.chosen) {
    const TrialRecord& t = h.trials[*r.chosen];
    c.highlight = svg::Highlight{t.latency_ms, t.metric,
                                 (r.finished ? "chosen #" : "best so far #") + std::to_string(t.index)};
  }
  c.legend = verdict_legend(r, false);
  if (fp32_drawn) {
    c.legend.push_back({"fp32", "#37474f", svg::Marker::kDiamond});
  } else {
    c.legend.push_back({"fp32 (" + printf_text("%.3f", h.baseline_latency_ms) + " ms, off the chart)", "#37474f",
                        svg::Marker::kDiamond});
  }
  c.legend.push_back({"Pareto front", svg::color::kAccent, svg::Marker::kCircle, true});
  return svg::render(c);
}

// The chosen trial's precision of an op (fp32 when there is no chosen trial or it lacks the op).
OpPrecision final_precision(const ReportData& r, const std::string& op) {
  if (!r.chosen) return OpPrecision::kFp32;
  const TuneConfig& cfg = r.history.trials[*r.chosen].cfg;
  auto it = cfg.ops.find(op);
  return it == cfg.ops.end() ? OpPrecision::kFp32 : it->second.precision;
}

std::vector<svg::LegendEntry> precision_legend(const std::string& prefix) {
  return {{prefix + "int8", svg::color::kInt8}, {prefix + "bf16", svg::color::kBf16},
          {prefix + "fp32", svg::color::kFp32}};
}

std::string sqnr_text(double db) {
  if (std::isinf(db)) return db > 0 ? "exact" : "-\u221e";
  return printf_text("%.1f", db);
}

std::string sensitivity_section(const ReportData& r, const std::map<std::string, FallbackImpact>& impacts) {
  std::string out = "<section id=\"sensitivity\">\n<h2>Per-op sensitivity</h2>\n";
  std::map<std::string, std::string> types;
  for (const auto& op : r.run.ops) types[op.name] = op.op_type;
  if (r.op_errors.empty()) {
    out += "<p class=\"note\">The output SQNR of each op was not measured in this run.</p>\n";
  } else {
    // Worst first: the ops whose int8 output strays furthest from fp32.
    std::vector<std::pair<std::string, OpOutputError>> ops(r.op_errors.begin(), r.op_errors.end());
    std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) {
      return a.second.sqnr_db < b.second.sqnr_db;
    });
    double finite_max = 0;
    for (const auto& [name, e] : ops) {
      if (std::isfinite(e.sqnr_db)) finite_max = std::max(finite_max, e.sqnr_db);
    }
    svg::BarChart c;
    c.width = kChartWidth;
    c.title = "Output SQNR of each op, all ops int8 vs fp32 (lower is worse)";
    c.value_label = "SQNR (dB)";
    c.legend = precision_legend("final: ");
    for (size_t i = 0; i < ops.size() && i < kMaxBars; ++i) {
      const auto& [name, e] = ops[i];
      svg::Bar b;
      b.label = name;
      // An exact output has infinite SQNR: drawn as long as the longest finite bar.
      b.value = std::isfinite(e.sqnr_db) ? e.sqnr_db : e.sqnr_db > 0 ? finite_max : 0;
      b.value_text = sqnr_text(e.sqnr_db) + (std::isfinite(e.sqnr_db) ? " dB" : "");
      const OpPrecision p = final_precision(r, name);
      b.color = precision_color(p);
      b.css_class = "op-sqnr";
      b.id = name;
      b.tooltip = name + " (" + types[name] + ")\nSQNR " + b.value_text + ", cosine " +
                  printf_text("%.6f", e.cosine) + ", max |error| " + printf_text("%.4g", e.max_abs_error) +
                  "\nfinal precision: " + precision_name(p);
      c.bars.push_back(b);
    }
    out += "<figure id=\"sqnr-chart\">\n" + svg::render(c) + "</figure>\n";
    out += "<p class=\"note\">Each op's output with every quantizable op in int8, compared with fp32 on the "
           "calibration samples (signal-to-quantization-noise ratio: 10\u00b7log10(\u03a3f\u00b2 / \u03a3(q\u2212f)\u00b2); "
           "errors accumulate along the graph).";
    if (ops.size() > kMaxBars) {
      out += " The " + std::to_string(kMaxBars) + " lowest of " + std::to_string(ops.size()) +
             " ops are shown; the layer list has all.";
    }
    out += "</p>\n";
  }
  if (impacts.empty()) {
    out += "<p class=\"note\">No two trials differ in one op's precision alone, so no fallback was measured on its "
           "own.</p>\n";
  } else {
    std::vector<std::pair<std::string, FallbackImpact>> ops(impacts.begin(), impacts.end());
    std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second.gain > b.second.gain; });
    svg::BarChart c;
    c.width = kChartWidth;
    c.title = r.run.metric + " gained by falling back one op alone (measured)";
    c.value_label = r.run.metric + " gained";
    c.legend = {{"fallback helps", svg::color::kPass}, {"fallback hurts or changes nothing", svg::color::kNeutral}};
    for (size_t i = 0; i < ops.size() && i < kMaxBars; ++i) {
      const auto& [name, f] = ops[i];
      svg::Bar b;
      b.label = name;
      b.value = f.gain;
      b.value_text = (f.gain > 0 ? "+" : "") + metric_text(f.gain);
      b.color = f.gain > 0 ? svg::color::kPass : svg::color::kNeutral;
      b.css_class = "op-fallback";
      b.id = name;
      b.tooltip = name + " (" + types[name] + "): trial #" + std::to_string(f.int8_trial) + " (int8) \u2192 #" +
                  std::to_string(f.fallback_trial) + " (fallback): " + b.value_text + " " + r.run.metric;
      c.bars.push_back(b);
    }
    out += "<figure id=\"fallback-chart\">\n" + svg::render(c) + "</figure>\n";
    out += "<p class=\"note\">From pairs of trials whose configs differ only in that op: int8 in one, bf16 or fp32 "
           "in the other.</p>\n";
  }
  return out + "</section>\n";
}

std::string layers_section(const ReportData& r, const std::map<std::string, FallbackImpact>& impacts) {
  html::Table t;
  t.header = {"#", "op", "type", "final", "chosen config", "int8 SQNR (dB)", "cosine", "max |err|",
              "fallback gain", "strategy score"};
  t.numeric = {0, 5, 6, 7, 8, 9};
  const TuneConfig* chosen = r.chosen ? &r.history.trials[*r.chosen].cfg : nullptr;
  for (size_t i = 0; i < r.run.ops.size(); ++i) {
    const auto& op = r.run.ops[i];
    const OpPrecision p = final_precision(r, op.name);
    std::string detail = "-";
    if (chosen) {
      if (auto c = chosen->ops.find(op.name); c != chosen->ops.end()) detail = "<code>" + escape(describe(c->second)) + "</code>";
    }
    std::vector<std::string> row = {std::to_string(i + 1), "<code>" + escape(op.name) + "</code>",
                                    escape(op.op_type), html::badge(precision_name(p), precision_name(p)), detail};
    if (auto e = r.op_errors.find(op.name); e != r.op_errors.end()) {
      row.push_back(sqnr_text(e->second.sqnr_db));
      row.push_back(printf_text("%.6f", e->second.cosine));
      row.push_back(printf_text("%.4g", e->second.max_abs_error));
    } else {
      row.insert(row.end(), {"-", "-", "-"});
    }
    auto f = impacts.find(op.name);
    row.push_back(f == impacts.end() ? "-" : escape((f->second.gain > 0 ? "+" : "") + metric_text(f->second.gain)));
    auto s = r.sensitivity.find(op.name);
    row.push_back(s == r.sensitivity.end() ? "-" : printf_text("%.4g", s->second));
    t.rows.push_back(std::move(row));
  }
  std::string note = "<p class=\"note\">Graph order. ";
  note += r.chosen ? std::string("Final precision is that of ") + (r.finished ? "the chosen" : "the best so far") +
                         " trial's config. "
                   : "No config was chosen. ";
  if (!impacts.empty()) {
    note += "Fallback gain: how much " + escape(r.run.metric) + " rose when the op alone fell back, measured "
            "by a pair of trials. ";
  }
  if (!r.sensitivity.empty()) {
    note += "Strategy score: the per-op sensitivity the " + escape(r.run.strategy) + " strategy ranked ops by" +
            (r.strategy_report.sensitivity_measure.empty() ? std::string(". ")
                                                           : ", the " + escape(r.strategy_report.sensitivity_measure) + ". ");
  }
  note += "</p>\n";
  return "<section id=\"layers\">\n<h2>Layers: final precision of every op</h2>\n" + note +
         "<div class=\"scroll\">\n" + html::table(t) + "</div>\n</section>\n";
}

std::string trials_section(const ReportData& r) {
  const TuningHistory& h = r.history;
  html::Table t;
  t.header = {"#", "stage", "int8", "bf16", "fp32", r.run.metric, "latency (ms)", "speed-up", "verdict", "time (s)"};
  t.numeric = {0, 2, 3, 4, 5, 6, 7, 9};
  for (size_t i = 0; i < h.trials.size(); ++i) {
    const TrialRecord& x = h.trials[i];
    const Counts c = count(x.cfg);
    const Verdict v = verdict(x, r);
    std::string v_html = html::badge(verdict_text(v, r.run.objective), verdict_badge(v));
    if (!x.ok) v_html += " " + escape(x.error);
    t.rows.push_back({std::to_string(x.index), escape(x.stage), std::to_string(c.int8), std::to_string(c.bf16),
                      std::to_string(c.fp32), x.ok ? metric_text(x.metric) : "-",
                      x.ok ? printf_text("%.3f", x.latency_ms) : "-",
                      x.ok && x.latency_ms > 0 ? printf_text("%.2f", h.baseline_latency_ms / x.latency_ms) + "\u00d7" : "-",
                      v_html, printf_text("%.2f", x.seconds)});
    t.row_classes.push_back(r.chosen && *r.chosen == i ? "chosen" : "");
  }
  return "<section id=\"trials\">\n<h2>Trials</h2>\n<div class=\"scroll\">\n" + html::table(t) +
         "</div>\n</section>\n";
}

std::string calibration_section(const ReportData& r) {
  std::string out = "<section id=\"calibration\">\n<h2>Calibration</h2>\n<p>";
  out += "Statistics from " + std::to_string(r.run.calibration_samples) + " calibration samples";
  if (r.run.calibration_seconds > 0) out += ", collected in " + seconds_text(r.run.calibration_seconds);
  out += ".</p>\n";
  if (r.run.calibration_warnings.empty()) {
    out += "<p class=\"note\">No warnings: every calibrated tensor had finite values and a usable range.</p>\n";
  } else {
    out += "<ul class=\"warnings\">\n";
    for (const std::string& w : r.run.calibration_warnings) {
      out += "<li>" + html::badge("warning", "warn") + " " + escape(w) + "</li>\n";
    }
    out += "</ul>\n";
  }
  return out + "</section>\n";
}

}  // namespace

std::string report_html(const ReportData& r) {
  const std::string model = std::filesystem::path(r.run.model).filename().string();
  const std::map<std::string, FallbackImpact> impacts = fallback_impacts(r.history, r.run.criterion);
  std::string body = "<h1>qtune report: " + escape(model) + "</h1>\n<p class=\"subtitle\">" +
                     escape(r.run.model) + " \u00b7 adaptor " + escape(r.run.adaptor) + " \u00b7 strategy " +
                     escape(r.run.strategy) + " \u00b7 objective " + escape(r.run.objective) + " \u00b7 metric " +
                     escape(r.run.metric) + " \u00b7 " + std::to_string(r.run.ops.size()) + " tunable ops</p>\n";
  body += outcome_section(r);
  if (!r.history.trials.empty()) {
    body += "<section id=\"search\">\n<h2>The search</h2>\n<figure id=\"metric-chart\">\n" + metric_chart(r) +
            "</figure>\n<figure id=\"tradeoff-chart\">\n" + tradeoff_chart(r) + "</figure>\n" +
            "<p class=\"note\">One mark per trial; hover a mark for its details. The Pareto front joins the "
            "trials that no other trial beats on both " +
            escape(r.run.metric) + " and latency.</p>\n</section>\n";
  }
  body += sensitivity_section(r, impacts);
  body += layers_section(r, impacts);
  body += trials_section(r);
  body += calibration_section(r);
  body += "<footer>Generated by qtune. Self-contained: no scripts, nothing loaded from elsewhere.</footer>\n";
  return html::page("qtune report: " + model, body);
}

}  // namespace qtune
