#include "worker/quantizer.h"

#include <algorithm>

#include "adaptors/calibration.h"
#include "adaptors/capability.h"
#include "adaptors/quantize/graph_passes.h"
#include "adaptors/quantize/qdq_builder.h"

namespace qtune {
namespace {

// An op whose activations calibration never saw (it sits in a branch the calibration set does
// not take) has no range to quantize with: it leaves the capability and stays fp32.
Status drop_uncalibrated_ops(const Adaptor& adaptor, const Graph& g, const CalibrationStats& stats,
                             Capability* cap) {
  QT_ASSIGN_OR_RETURN(TuneConfig all_int8, default_int8_config(*cap));
  QT_ASSIGN_OR_RETURN(QuantizeConfig q, adaptor.tuning_cfg_to_fw(all_int8, g));
  for (const auto& [op, tensors] : calibration_tensors_by_op(g, q)) {
    const bool seen = std::all_of(tensors.begin(), tensors.end(), [&](const std::string& t) {
      return stats.tensors.count(t) != 0;
    });
    if (seen) continue;
    for (auto it = cap->opwise.begin(); it != cap->opwise.end();) {
      it = it->first.name == op ? cap->opwise.erase(it) : std::next(it);
    }
  }
  return Status::Ok();
}

}  // namespace

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
  QT_RETURN_IF_ERROR(drop_uncalibrated_ops(*adaptor, *s.prepared, s.stats, &s.capability));
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
  QT_RETURN_IF_ERROR(drop_uncalibrated_ops(*adaptor, *s.prepared, stats, &s.capability));
  s.stats = std::move(stats);
  return s;
}

}  // namespace qtune
