// The quantization pipeline one adaptor runs for one model: prepare the fp32 graph (BN folding),
// query the capability and collect calibration statistics once, then turn any number of
// tune_cfgs into quantized models from those. Used by `qtune quantize` and by the tuner.
// A QuantizationSession is immutable once built; quantize() may run from many threads.
#pragma once

#include <memory>
#include <string>

#include "adaptors/adaptor.h"
#include "common/dataset.h"
#include "common/progress.h"

namespace qtune {

struct QuantizationSession {
  std::shared_ptr<const Adaptor> adaptor;
  std::shared_ptr<const Graph> fp32;      // as loaded
  std::shared_ptr<const Graph> prepared;  // BN folded: what tune_cfgs and stats refer to
  Capability capability;
  CalibrationStats stats;

  Result<QuantizedModel> quantize(const TuneConfig& cfg) const {
    return adaptor->quantize(cfg, *prepared, stats);
  }
};

// Calibrates on the first `sampling_size` samples of `calib`, observing the inputs of every op
// the capability could quantize, so no later tune_cfg needs another pass. Ops calibration never
// reached (in an If branch the set does not take) leave the capability: they stay fp32.
// `progress` follows the calibration pass.
Result<QuantizationSession> start_quantization_session(std::shared_ptr<const Adaptor> adaptor,
                                                       std::shared_ptr<const Graph> fp32,
                                                       const Dataset& calib,
                                                       int64_t sampling_size, int64_t batch_size,
                                                       const ProgressFn& progress = {});

// The same session from statistics collected elsewhere (a coordinator's, received by hash):
// no calibration pass. kInvalidInput when the stats belong to another graph.
Result<QuantizationSession> start_quantization_session(std::shared_ptr<const Adaptor> adaptor,
                                                       std::shared_ptr<const Graph> fp32,
                                                       CalibrationStats stats);

}  // namespace qtune
