// What a worker does for the tuner: load the model, adaptor and data once, calibrate once, then
// for any tune_cfg quantize -> lower onto the adaptor's kernels -> measure the metric on the
// evaluation set and the latency of one batch. Also the fp32 baseline on the same runtime and
// the per-op measurements strategies rank by (coordinator/strategy.h, OpProbe).
// Not thread-safe: one TrialRunner per worker thread of control.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "common/dataset.h"
#include "common/model_feed.h"
#include "common/progress.h"
#include "common/tuning_config.h"
#include "common/trial_metrics.h"
#include "worker/quantizer.h"

namespace qtune {

// Where a runner reads what the config names, when not at the config's own paths.
struct RunnerSources {
  // Maps a path as the config (or a data YAML) names it to the file to read here, e.g. a
  // worker's cached copy; null reads the paths as they are.
  std::function<std::string(const std::string&)> local;
  // Statistics calibrated elsewhere: no calibration pass and the calibration set is not read.
  std::optional<CalibrationStats> stats;
  // A command metric runs a program the config names: fine for one's own config, for a remote
  // coordinator's only when the worker was started with --allow-metric-command.
  bool allow_metric_command = true;
};

class TrialRunner {
 public:
  // Loads everything `cfg` names and calibrates on calibration_sampling_size samples (or takes
  // `sources.stats`). `progress` follows calibration and every later pass of this runner
  // (evaluation, baseline, op output comparison, fallback gain).
  static Result<std::unique_ptr<TrialRunner>> create(const TuningConfig& cfg,
                                                     const RunnerSources& sources = {},
                                                     ProgressFn progress = {});
  TrialRunner(const TrialRunner&) = delete;
  TrialRunner& operator=(const TrialRunner&) = delete;

  const QuantizationSession& session() const { return session_; }
  double calibration_seconds() const { return calibration_seconds_; }

  // The fp32 model on the adaptor's runtime; metrics against fp32 compare with its outputs.
  Result<TrialMetrics> baseline();
  Result<TrialMetrics> evaluate(const TuneConfig& cfg);
  Result<QuantizedModel> quantize(const TuneConfig& cfg) const { return session_.quantize(cfg); }

  // Per int8 op of cfg (with an f32 output), its output with every op of cfg quantized
  // (reference QDQ execution) against fp32, over the first `samples` calibration samples: ONNX
  // Runtime's qdq_loss_debug in one pass, no trial.
  Result<std::map<std::string, OpOutputError>> op_output_errors(const TuneConfig& cfg,
                                                                int64_t samples) const;

  // Per op of cfg's int8 ops, the error it adds: relative_error minus input_relative_error of
  // op_output_errors, so ops late in the graph are not blamed for everything upstream.
  Result<std::map<std::string, double>> sensitivity(const TuneConfig& cfg, int64_t samples) const;

  // Per op of cfg's int8 ops, what falling it alone back to fp32 removes from the model's
  // output error: e(cfg) - e(cfg with the op fp32), e = sum((q - f)^2) / sum(f^2) over the
  // model's first output on the first calibration samples (reference QDQ execution): at most
  // `samples`, fewer on big models (fallback_gain_samples); `used_samples` gets the count.
  // One pass per op, no trial; ranks ops by their effect on the output, which the error an op
  // adds locally can miss (e.g. a classifier layer whose relative error looks small).
  Result<std::map<std::string, double>> fallback_gain(const TuneConfig& cfg, int64_t samples,
                                                      int64_t* used_samples = nullptr) const;

 private:
  TrialRunner() = default;
  // `what` names the pass for progress ("evaluation", "fp32 baseline"). With `fp32`, the
  // latency is also measured as a ratio to it (TrialMetrics::fp32_ratio).
  Result<TrialMetrics> measure(const Graph& model, const PreparedModel& prepared,
                               const PreparedModel* fp32, const std::string& what);
  // The fp32 model on the adaptor, prepared (its weights packed) once for the baseline and for
  // timing every trial against.
  Result<const PreparedModel*> fp32_model();
  // mse, cosine and binary_agreement compare with the fp32 model's outputs, which the baseline
  // records.
  bool compares_to_fp32() const { return cfg_.metric.compares_to_fp32(); }

  TuningConfig cfg_;
  std::shared_ptr<const Adaptor> adaptor_;
  QuantizationSession session_;
  Dataset calib_, eval_;
  ModelFeed calib_feed_, eval_feed_;  // refer to calib_ and eval_
  int64_t batch_size_ = 100;
  std::vector<Tensor> fp32_outputs_;  // per evaluation batch, for the metrics against fp32
  std::unique_ptr<PreparedModel> fp32_model_;
  double calibration_seconds_ = 0;
  ProgressFn progress_;
};

// fallback_gain's passes (one per int8 op) together compute at most this many values (int8 ops
// x samples x values one sample computes in the fp32 model), but use at least the minimum
// number of samples: small models keep every requested sample, while a 224-pixel CNN with a
// hundred and more ops ranks them on a few images instead of spending many trials' time.
inline constexpr double kFallbackGainValueBudget = 4e9;
inline constexpr int64_t kFallbackGainMinSamples = 8;
// The samples fallback_gain uses: min(requested, available) when that fits the budget, else as
// many as fit, never fewer than kFallbackGainMinSamples (nor more than available).
int64_t fallback_gain_samples(int64_t requested, int64_t available, int64_t int8_ops,
                              double values_per_sample);

// Bytes of the model's initializers as stored: what the deployed file carries for weights.
int64_t initializer_bytes(const Graph& g);

}  // namespace qtune
