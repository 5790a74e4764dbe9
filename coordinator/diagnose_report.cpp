#include "coordinator/diagnose_report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/html_page.h"
#include "common/json.h"
#include "common/svg_chart.h"

namespace qtune {
namespace {

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// At the clamp: the quantized output equals fp32's (an op that quantizes nothing itself, e.g.
// a Relu reading a tensor its producer already carries in int8).
bool exact(double sqnr_db) { return sqnr_db >= kF32SqnrDb; }

std::string db(double sqnr_db) { return exact(sqnr_db) ? "exact" : fmt(sqnr_db, 1); }

std::vector<OpDiagnosis> shown(const DiagnoseReport& r) {
  std::vector<OpDiagnosis> ops = ranked(r.diagnosis, r.rank_by);
  if (r.top > 0 && ops.size() > r.top) ops.resize(r.top);
  return ops;
}

std::string json_error(const TensorError& e) {
  return "{\"sqnr_db\": " + json_number(e.sqnr_db) + ", \"cosine\": " + json_number(e.cosine) +
         ", \"max_abs_error\": " + json_number(e.max_abs_error) + ", \"values\": " +
         std::to_string(e.values) + "}";
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string op_tooltip(const OpDiagnosis& o) {
  std::string t = o.name + " (" + o.op_type + ")\nalone: " + fmt(o.isolated.sqnr_db, 1) +
                  " dB, cosine " + fmt(o.isolated.cosine, 5) + "\nin the model: " +
                  fmt(o.accumulated.sqnr_db, 1) + " dB, cosine " + fmt(o.accumulated.cosine, 5) +
                  ", max |error| " + fmt(o.accumulated.max_abs_error, 4);
  if (o.weight) t += "\nweight: " + fmt(o.weight->sqnr_db, 1) + " dB";
  if (o.input) t += "\ninput: " + fmt(o.input->sqnr_db, 1) + " dB";
  return t;
}

svg::Bar op_bar(const OpDiagnosis& o, double value, bool outlier) {
  svg::Bar b;
  b.label = o.name;
  b.value = value;
  b.value_text = fmt(value, 1) + " dB";
  b.color = outlier ? svg::color::kFail : svg::color::kAccent;
  b.tooltip = op_tooltip(o);
  b.css_class = "op-bar";
  b.id = o.name;
  return b;
}

}  // namespace

std::string to_string(DiagnosisRank r) {
  return r == DiagnosisRank::kIsolated ? "isolated" : "accumulated";
}

std::string diagnose_table(const DiagnoseReport& r) {
  const std::vector<OpDiagnosis> ops = shown(r);
  size_t name_w = 2, type_w = 4;
  for (const OpDiagnosis& o : ops) {
    name_w = std::max(name_w, o.name.size());
    type_w = std::max(type_w, o.op_type.size());
  }
  std::ostringstream out;
  out << r.model << " on " << r.adaptor << ": " << r.diagnosis.ops.size() << " int8 ops compared with fp32 on "
      << r.diagnosis.samples << " calibration samples, worst first by " << to_string(r.rank_by)
      << " SQNR" << (r.top > 0 && r.top < r.diagnosis.ops.size() ? " (top " + std::to_string(r.top) + ")" : "")
      << "\n";
  char line[1024];
  std::snprintf(line, sizeof(line), "%4s  %-*s  %-*s  %21s  %24s  %10s  %10s  %10s\n", "rank",
                static_cast<int>(name_w), "op", static_cast<int>(type_w), "type",
                "alone: SQNR dB  cos", "in model: SQNR dB  cos", "max |err|", "weight dB", "input dB");
  out << line;
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpDiagnosis& o = ops[i];
    std::snprintf(line, sizeof(line), "%4zu  %-*s  %-*s  %12s  %7s  %15s  %7s  %10s  %10s  %10s\n", i + 1,
                  static_cast<int>(name_w), o.name.c_str(), static_cast<int>(type_w), o.op_type.c_str(),
                  db(o.isolated.sqnr_db).c_str(), fmt(o.isolated.cosine, 4).c_str(),
                  db(o.accumulated.sqnr_db).c_str(), fmt(o.accumulated.cosine, 4).c_str(),
                  fmt(o.accumulated.max_abs_error, 4).c_str(), o.weight ? db(o.weight->sqnr_db).c_str() : "-",
                  o.input ? db(o.input->sqnr_db).c_str() : "-");
    out << line;
  }
  for (const std::string& s : r.diagnosis.skipped) out << "not compared: " << s << "\n";
  return out.str();
}

std::string diagnose_json(const DiagnoseReport& r) {
  const std::vector<OpDiagnosis> ops = shown(r);
  std::ostringstream o;
  o << "{\n  \"model\": " << json_quote(r.model) << ",\n  \"adaptor\": " << json_quote(r.adaptor)
    << ",\n  \"config\": " << json_quote(r.config) << ",\n  \"samples\": " << r.diagnosis.samples
    << ",\n  \"ranked_by\": " << json_quote(to_string(r.rank_by))
    << ",\n  \"ops_compared\": " << r.diagnosis.ops.size() << ",\n  \"ops\": [";
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpDiagnosis& d = ops[i];
    o << (i ? "," : "") << "\n    {\"rank\": " << i + 1 << ", \"name\": " << json_quote(d.name)
      << ", \"op_type\": " << json_quote(d.op_type) << ", \"output\": " << json_quote(d.output)
      << ",\n     \"isolated\": " << json_error(d.isolated)
      << ",\n     \"accumulated\": " << json_error(d.accumulated)
      << ",\n     \"weight\": " << (d.weight ? json_error(*d.weight) : "null")
      << ",\n     \"input\": " << (d.input ? json_error(*d.input) : "null") << "}";
  }
  o << "\n  ],\n  \"skipped\": [";
  for (size_t i = 0; i < r.diagnosis.skipped.size(); ++i) {
    o << (i ? ", " : "") << json_quote(r.diagnosis.skipped[i]);
  }
  o << "]\n}\n";
  return o.str();
}

std::string diagnose_html(const DiagnoseReport& r) {
  const Diagnosis& d = r.diagnosis;
  // Ops that quantize nothing themselves have no error alone: left out of the median and the
  // first chart, named below it.
  std::vector<double> isolated;
  std::vector<std::string> own_error_free;
  for (const OpDiagnosis& o : d.ops) {
    if (exact(o.isolated.sqnr_db)) {
      own_error_free.push_back(o.name);
    } else {
      isolated.push_back(o.isolated.sqnr_db);
    }
  }
  const double typical = median(isolated);
  auto outlier = [&](const OpDiagnosis& o) { return o.isolated.sqnr_db < typical - kDiagnoseOutlierDb; };
  const std::vector<OpDiagnosis> worst = ranked(d, DiagnosisRank::kIsolated);
  size_t outliers = 0;
  for (const OpDiagnosis& o : d.ops) outliers += outlier(o);

  std::string body = "<h1>qtune diagnose: " + svg::escape(r.model) + "</h1>\n<p class=\"subtitle\">adaptor " +
                     svg::escape(r.adaptor) + " &middot; " + std::to_string(d.samples) +
                     " calibration samples &middot; config " + svg::escape(r.config) + "</p>\n";
  body += "<section class=\"outcome" + std::string(outliers ? " missed" : "") + "\">\n<p>";
  if (worst.empty()) {
    body += "No int8 op could be compared with fp32.";
  } else if (outliers) {
    body += std::to_string(outliers) + " of " + std::to_string(d.ops.size()) + " int8 ops lose more than " +
            fmt(kDiagnoseOutlierDb, 0) + " dB against the median op when quantized alone; the worst is <code>" +
            svg::escape(worst[0].name) + "</code> (" + svg::escape(worst[0].op_type) + ") at " +
            fmt(worst[0].isolated.sqnr_db, 1) + " dB.";
  } else {
    body += "No int8 op stands out: all " + std::to_string(d.ops.size()) + " are within " +
            fmt(kDiagnoseOutlierDb, 0) + " dB of the median op when quantized alone.";
  }
  body += "</p>\n<ul class=\"facts\">";
  body += "<li><b>" + std::to_string(d.ops.size()) + "</b>int8 ops compared</li>";
  body += "<li><b>" + fmt(typical, 1) + " dB</b>median SQNR alone</li>";
  if (!worst.empty()) {
    body += "<li><b>" + db(worst[0].isolated.sqnr_db) + " dB</b>worst alone</li>";
    double least = worst[0].accumulated.sqnr_db;
    for (const OpDiagnosis& o : d.ops) least = std::min(least, o.accumulated.sqnr_db);
    body += "<li><b>" + fmt(least, 1) + " dB</b>worst in the model</li>";
  }
  body += "</ul>\n<p class=\"note\">SQNR = 10 log<sub>10</sub>(&Sigma; f<sup>2</sup> / &Sigma; (q &minus; f)<sup>2</sup>) of "
          "the op's output, int8 (q) against fp32 (f). <i>Alone</i>: the op fed the fp32 model's inputs, so "
          "only its own weight and input quantization count. <i>In the model</i>: as the all-int8 model runs, "
          "so every op upstream adds to it. Higher is better; each 6 dB is one bit.</p>\n</section>\n";

  svg::BarChart alone;
  alone.title = "Output SQNR of each op quantized alone, worst first";
  alone.value_label = "SQNR (dB)";
  alone.reference = typical;
  alone.reference_label = "median " + fmt(typical, 1) + " dB";
  alone.legend = {{"op", svg::color::kAccent},
                  {fmt(kDiagnoseOutlierDb, 0) + "+ dB below the median", svg::color::kFail}};
  for (const OpDiagnosis& o : worst) {
    if (!exact(o.isolated.sqnr_db)) alone.bars.push_back(op_bar(o, o.isolated.sqnr_db, outlier(o)));
  }
  body += "<section>\n<h2>Each op alone</h2>\n" + svg::render(alone);
  if (!own_error_free.empty()) {
    body += "<p class=\"note\">Exact alone, so not charted (they quantize nothing themselves: their "
            "input is a tensor already carried in int8): ";
    for (size_t i = 0; i < own_error_free.size(); ++i) {
      body += (i ? ", " : "") + ("<code>" + svg::escape(own_error_free[i]) + "</code>");
    }
    body += ".</p>\n";
  }
  body += "</section>\n";

  svg::BarChart in_model;
  in_model.title = "Output SQNR in the all-int8 model, in graph order";
  in_model.value_label = "SQNR (dB)";
  for (const OpDiagnosis& o : d.ops) in_model.bars.push_back(op_bar(o, o.accumulated.sqnr_db, outlier(o)));
  body += "<section>\n<h2>In the quantized model</h2>\n" + svg::render(in_model) +
          "<p class=\"note\">Error accumulates along the graph; a step down at one op that its "
          "successors keep points at that op.</p>\n</section>\n";

  html::Table t;
  t.header = {"rank", "op", "type", "SQNR alone (dB)", "cosine alone", "SQNR in model (dB)",
              "cosine in model", "max |error|", "weight SQNR (dB)", "input SQNR (dB)"};
  t.numeric = {0, 3, 4, 5, 6, 7, 8, 9};
  for (size_t i = 0; i < worst.size(); ++i) {
    const OpDiagnosis& o = worst[i];
    t.rows.push_back({std::to_string(i + 1),
                      "<code>" + svg::escape(o.name) + "</code>" + (outlier(o) ? " " + html::badge("outlier", "fail") : ""),
                      svg::escape(o.op_type), db(o.isolated.sqnr_db), fmt(o.isolated.cosine, 5),
                      db(o.accumulated.sqnr_db), fmt(o.accumulated.cosine, 5),
                      fmt(o.accumulated.max_abs_error, 4), o.weight ? db(o.weight->sqnr_db) : "&ndash;",
                      o.input ? db(o.input->sqnr_db) : "&ndash;"});
  }
  body += "<section>\n<h2>Every int8 op, worst alone first</h2>\n<div class=\"scroll\">\n" + html::table(t) +
          "</div>\n<p class=\"note\">Weight SQNR: the op's weight after quantization against fp32; input "
          "SQNR: its activation input after quantization, fed fp32. A low input SQNR with a good weight "
          "SQNR points at the activation range (calibration), the reverse at the weights.</p>\n";
  if (!d.skipped.empty()) {
    body += "<p class=\"note\">Not compared:</p>\n<ul class=\"warnings\">";
    for (const std::string& s : d.skipped) body += "<li>" + svg::escape(s) + "</li>";
    body += "</ul>\n";
  }
  body += "</section>\n<footer>qtune diagnose</footer>\n";
  return html::page("qtune diagnose: " + r.model, body);
}

}  // namespace qtune
