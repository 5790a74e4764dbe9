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

}  // namespace qtune
