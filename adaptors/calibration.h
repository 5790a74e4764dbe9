// Calibration: per-activation min/max and a |x| histogram, collected once per model by running
// the fp32 model over the calibration set; every range algorithm (minmax, kl, percentile, mse) is
// derived from these statistics, so a new tune_cfg never re-runs the model. Called by the QDQ
// builder (adaptors/quantize) and the tuner; stats save to / load from a file for the workers.
// Collection is single-caller (it drives one Executor); everything else is pure and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "common/dataset.h"
#include "common/progress.h"
#include "common/quant_config.h"

namespace qtune {

constexpr int kCalibHistogramBins = 2048;
constexpr float kCalibPercentile = 99.999f;  // percentile algorithm: share of |x| kept in range
constexpr int kCalibKlTargetBins = 128;      // kl: quantized levels on one side of an int8 grid

struct TensorStats {
  // Over the finite values only; NaN/Inf are counted in `nonfinite` and otherwise ignored.
  float min = 0.0f;
  float max = 0.0f;
  int64_t count = 0;
  int64_t nonfinite = 0;
  // Histogram of |x| over [0, hist_max]: bin b holds |x| in [b, b+1) * hist_max / bins, the last
  // bin closed. Collected stats have kCalibHistogramBins bins and hist_max = max(|min|, |max|);
  // the algorithms accept any bin count (tests use small ones). Its total equals `count`.
  float hist_max = 0.0f;
  std::vector<uint64_t> histogram;

  bool operator==(const TensorStats&) const = default;
};

struct CalibrationStats {
  int64_t samples = 0;
  std::string model_hash;  // graph_content_hash of the fp32 graph the stats were collected on
  std::map<std::string, TensorStats> tensors;

  bool operator==(const CalibrationStats&) const = default;
};

// Runs `fp32` over the first `sampling_size` samples of `data` (fewer if the set is smaller) in
// batches of `batch_size`, feeding the model through a ModelFeed as evaluate_top1 does, and records
// stats for the named tensors (graph inputs or node outputs, f32; subgraph values included).
// Two passes over those samples: min/max, then the histograms over the known range. A name the
// graph does not define is kInvalidInput naming it; a subgraph value that never runs on these
// samples (an If branch not taken) gets no entry. `progress` hears ("calibration", samples run,
// 2 * samples) after each batch of either pass.
Result<CalibrationStats> collect_calibration_stats(const Executor& fp32, const Dataset& data,
                                                   int64_t sampling_size, int64_t batch_size,
                                                   const std::vector<std::string>& tensors,
                                                   const ProgressFn& progress = {});

// Stable hex digest of a graph's content (nodes, attributes, initializers, inputs/outputs): lets
// a caller check that loaded stats belong to the model at hand.
std::string graph_content_hash(const Graph& graph);

struct FloatRange {
  float lo = 0.0f;
  float hi = 0.0f;
};

// The clipping range of one tensor under an algorithm. Each algorithm picks a threshold t on
// |x| (never above max|x|); sym gives [-t, t], asym gives [max(min, -t), min(max, t)]. The range
// always contains 0; a tensor with no values gets [0, 0]. Only mse depends on scheme (the grid
// step); u8 and s8 share step sizes. kl and mse are O(bins^2), milliseconds per tensor, so
// their thresholds are memoized by histogram content (thread-safe).
FloatRange derive_range(const TensorStats& s, CalibAlgorithm algorithm, QuantScheme scheme,
                        DType dtype);

struct ScaleZeroPoint {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
// Scale and zero point covering `r` (widened to contain 0) on dtype's grid: s8 sym
// max|r|/127 zp 0; u8 sym max|r|/127 zp 128 (ONNX Runtime's convention); asym (hi-lo)/255 with
// the zero point rounded half to even and clamped. A zero, non-finite or denormal scale becomes
// 1. Any dtype other than u8 is treated as s8.
ScaleZeroPoint choose_qparams(FloatRange r, DType dtype, QuantScheme scheme);

// Findings worth a line in the report, each naming its tensor: no values, NaN/Inf seen, zero
// range, kl threshold equal to the minmax range, kl/percentile ranges clipping more than 1%.
std::vector<std::string> calibration_warnings(const CalibrationStats& stats);

// Binary file: magic, version, content, FNV-1a checksum. Loading a truncated or corrupt file is
// kInvalidInput naming the file, the byte offset and the field.
Status save_calibration_stats(const CalibrationStats& stats, const std::string& path);
Result<CalibrationStats> load_calibration_stats(const std::string& path);

}  // namespace qtune
