// What `qtune diagnose` prints and writes: the per-op comparison (worker/op_diagnosis.h) as a
// ranked table, as JSON (diagnose.json) and as a self-contained HTML page (diagnose.html).
// Pure formatting; thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "worker/op_diagnosis.h"

namespace qtune {

struct DiagnoseReport {
  std::string model, adaptor, config;  // paths and name, as the tuning YAML gave them
  const Diagnosis& diagnosis;
  DiagnosisRank rank_by = DiagnosisRank::kIsolated;
  size_t top = 0;  // rows shown, worst first; 0: all
};

// "isolated" / "accumulated".
std::string to_string(DiagnosisRank r);

// One line of context, then one row per op, worst first.
std::string diagnose_table(const DiagnoseReport& r);
std::string diagnose_json(const DiagnoseReport& r);
// diagnose.html: the ops' isolated SQNR worst first (ops exact alone are named, not charted) and
// their SQNR in the model in graph order as bar charts (marks of class "op-bar" with data-id the
// op's name; far below the median in red), then the full table. Every op, whatever r.top says. Self-contained: inline CSS and SVG, nothing fetched.
std::string diagnose_html(const DiagnoseReport& r);

// An op this far below the median isolated SQNR is marked: 10 dB is ten times the noise power
// of the typical op of the model.
inline constexpr double kDiagnoseOutlierDb = 10.0;

}  // namespace qtune
