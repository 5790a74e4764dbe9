// What evaluating one tune_cfg measures; shared by workers (which produce it) and the
// coordinator (which decides on it). Value type.
#pragma once

#include <cstdint>

namespace qtune {

struct TrialMetrics {
  double metric = 0;        // in the metric's units (top-1 in percent)
  double latency_ms = 0;    // one evaluation batch on the adaptor's kernels, fastest of repeats
  int64_t model_bytes = 0;  // initializer bytes of the quantized (QDQ) model
};

}  // namespace qtune
