#include "common/latency.h"

#include <algorithm>

namespace qtune {

LatencyStats summarize_latency(std::vector<double> ms) {
  LatencyStats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  s.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  s.min_ms = ms.front();
  s.max_ms = ms.back();
  s.runs = static_cast<int64_t>(n);
  return s;
}

}  // namespace qtune
