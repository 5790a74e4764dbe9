#include "coordinator/diagnose_report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/json.h"

namespace qtune {
namespace {

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

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
                  fmt(o.isolated.sqnr_db, 1).c_str(), fmt(o.isolated.cosine, 4).c_str(),
                  fmt(o.accumulated.sqnr_db, 1).c_str(), fmt(o.accumulated.cosine, 4).c_str(),
                  fmt(o.accumulated.max_abs_error, 4).c_str(),
                  o.weight ? fmt(o.weight->sqnr_db, 1).c_str() : "-",
                  o.input ? fmt(o.input->sqnr_db, 1).c_str() : "-");
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

}  // namespace qtune
