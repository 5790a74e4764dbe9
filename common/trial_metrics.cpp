#include "common/trial_metrics.h"

#include <cmath>
#include <cstdio>

namespace qtune {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Cosine similarity summed in doubles may pass 1 by rounding.
constexpr double kCosineSlack = 1e-6;

}  // namespace

Status check_trial_metrics(const std::string& metric, const TrialMetrics& m) {
  auto bad = [&](const std::string& what) {
    return Status::InvalidInput("implausible result: " + what);
  };
  if (!std::isfinite(m.metric)) return bad("metric " + metric + " is " + num(m.metric));
  if (!std::isfinite(m.latency_ms) || m.latency_ms < 0) return bad("latency " + num(m.latency_ms) + " ms");
  if (!std::isfinite(m.latency_error_ms) || m.latency_error_ms < 0) {
    return bad("latency error " + num(m.latency_error_ms) + " ms");
  }
  if (!std::isfinite(m.fp32_ratio) || m.fp32_ratio < 0) return bad("fp32 ratio " + num(m.fp32_ratio));
  if (!std::isfinite(m.fp32_ratio_error) || m.fp32_ratio_error < 0) {
    return bad("fp32 ratio error " + num(m.fp32_ratio_error));
  }
  if (m.model_bytes < 0) return bad("model size " + std::to_string(m.model_bytes) + " bytes");
  if ((metric == "top1" || metric == "topk" || metric == "binary_agreement") &&
      (m.metric < 0 || m.metric > 100)) {
    return bad(metric + " " + num(m.metric) + "% is outside [0, 100]");
  }
  if (metric == "mse" && m.metric < 0) return bad("mse " + num(m.metric) + " is negative");
  if (metric == "cosine" && std::fabs(m.metric) > 1 + kCosineSlack) {
    return bad("cosine " + num(m.metric) + " is outside [-1, 1]");
  }
  return Status::Ok();
}

}  // namespace qtune
