#include "worker/quantizer.h"

#include "adaptors/calibration.h"
#include "adaptors/capability.h"
#include "adaptors/quantize/graph_passes.h"
#include "adaptors/quantize/qdq_builder.h"

namespace qtune {

Result<QuantizationSession> start_quantization_session(std::shared_ptr<const Adaptor> adaptor,
                                                       std::shared_ptr<const Graph> fp32,
                                                       const Dataset& calib,
                                                       int64_t sampling_size, int64_t batch_size,
                                                       const ProgressFn& progress) {
  QuantizationSession s;
  s.adaptor = adaptor;
  s.fp32 = fp32;
  QT_ASSIGN_OR_RETURN(Graph prepared, prepare_fp32_for_quantization(*fp32));
  s.prepared = std::make_shared<const Graph>(std::move(prepared));
  QT_ASSIGN_OR_RETURN(s.capability, adaptor->query_fw_capability(*s.prepared));

  // Every int8-capable op quantized at once names the superset of tensors any cfg can need.
  QT_ASSIGN_OR_RETURN(TuneConfig all_int8, default_int8_config(s.capability));
  QT_ASSIGN_OR_RETURN(QuantizeConfig q, adaptor->tuning_cfg_to_fw(all_int8, *s.prepared));
  const std::vector<std::string> tensors = calibration_tensors(*s.prepared, q);
  QT_ASSIGN_OR_RETURN(Executor exec, Executor::create(s.prepared));
  QT_ASSIGN_OR_RETURN(s.stats,
                      collect_calibration_stats(exec, calib, sampling_size, batch_size, tensors, progress));
  return s;
}

Result<QuantizationSession> start_quantization_session(std::shared_ptr<const Adaptor> adaptor,
                                                       std::shared_ptr<const Graph> fp32,
                                                       CalibrationStats stats) {
  QuantizationSession s;
  s.adaptor = adaptor;
  s.fp32 = fp32;
  QT_ASSIGN_OR_RETURN(Graph prepared, prepare_fp32_for_quantization(*fp32));
  s.prepared = std::make_shared<const Graph>(std::move(prepared));
  const std::string mine = graph_content_hash(*s.prepared);
  if (stats.model_hash != mine) {
    return Status::InvalidInput("calibration statistics were collected on graph " + stats.model_hash +
                                ", this model prepares to " + mine);
  }
  QT_ASSIGN_OR_RETURN(s.capability, adaptor->query_fw_capability(*s.prepared));
  s.stats = std::move(stats);
  return s;
}

}  // namespace qtune
