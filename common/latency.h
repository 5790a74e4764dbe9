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
  double spread_ms = 0;  // median absolute deviation from the median: robust to stray slow runs
  int64_t runs = 0;

  // How far the median itself may be off: its standard error estimated from the spread,
  // 1.2533 * 1.4826 * spread / sqrt(runs) (the median's efficiency, MAD to sigma).
  double median_error_ms() const;
};

// Median (mean of the middle two for an even count), min, max and spread of `ms`; zeros when
// empty.
LatencyStats summarize_latency(std::vector<double> ms);

}  // namespace qtune
