// Runs ONNX backend node-test directories (model.onnx + test_data_set_*/input_*.pb,
// output_*.pb) through the executor and reports pass/fail/skip per test.
// Called by `qtune conformance`; single-threaded driver (ops parallelise inside).
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"

namespace qtune {

struct ConformanceSummary {
  int passed = 0;
  int failed = 0;
  int skipped = 0;  // the test needs an op, type or feature qtune does not implement
  int excluded = 0; // on the exclusion list (counted in `skipped` too)
};

// Tests no runtime can pass as written, each with the reason: "test_name  reason" per line,
// '#' starts a comment. An excluded test is still run when it can be; it is reported as SKIP
// with the reason instead of FAIL.
using ConformanceExclusions = std::map<std::string, std::string>;
Result<ConformanceExclusions> load_conformance_exclusions(const std::string& path);

// Tolerances of ONNX's own backend test runner (numpy.testing.assert_allclose there).
constexpr double kConformanceRtol = 1e-3;
constexpr double kConformanceAtol = 1e-7;

// Each path is a test directory (holds model.onnx) or a folder of them. Writes one line per test
// and returns the counts; the caller prints the closing line.
ConformanceSummary run_conformance(const std::vector<std::string>& paths, std::ostream& log,
                                   const ConformanceExclusions& exclusions = {});

}  // namespace qtune
