#include "common/latency.h"

#include <algorithm>
#include <cmath>

namespace qtune {

double LatencyStats::median_error_ms() const {
  return runs > 0 ? 1.8582 * spread_ms / std::sqrt(static_cast<double>(runs)) : 0.0;
}

LatencyStats summarize_latency(std::vector<double> ms) {
  LatencyStats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  s.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  s.min_ms = ms.front();
  s.max_ms = ms.back();
  s.runs = static_cast<int64_t>(n);
  std::vector<double> dev(n);
  for (size_t i = 0; i < n; ++i) dev[i] = ms[i] > s.median_ms ? ms[i] - s.median_ms : s.median_ms - ms[i];
  std::sort(dev.begin(), dev.end());
  s.spread_ms = n % 2 ? dev[n / 2] : 0.5 * (dev[n / 2 - 1] + dev[n / 2]);
  return s;
}

}  // namespace qtune
