// A latency measurement: the timed runs of one thing, summarised by their median and spread.
// Workers measure trials with it, `qtune bench model` prints it, and the coordinator compares
// two of them within noise (coordinator/decision.h). Value type; pure functions.
#pragma once

#include <cstdint>
#include <vector>

namespace qtune {

struct LatencyStats {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  int64_t runs = 0;
};

// Median (mean of the middle two for an even count), min and max of `ms`; zeros when empty.
LatencyStats summarize_latency(std::vector<double> ms);

}  // namespace qtune
