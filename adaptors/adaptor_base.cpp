#include "adaptors/adaptor_base.h"

#include "adaptors/capability.h"
#include "adaptors/quantize/qdq_builder.h"

namespace qtune {

Result<Capability> CapabilityYamlAdaptor::query_fw_capability(const Graph& model) const {
  QT_ASSIGN_OR_RETURN(CapabilitySpec spec, load_adaptor_capability_spec(name_));
  return build_capability(spec, model);
}

Result<QuantizeConfig> CapabilityYamlAdaptor::tuning_cfg_to_fw(const TuneConfig& cfg,
                                                              const Graph& model) const {
  QT_ASSIGN_OR_RETURN(Capability cap, query_fw_capability(model));
  QT_RETURN_IF_ERROR(check_tune_config(cfg, cap));
  QuantizeConfig q;
  q.calib_iteration = cfg.calib_sampling_size;
  for (const auto& [op, c] : cfg.ops) {
    if (c.precision == OpPrecision::kBf16) {
      q.bf16_ops.push_back(op);
    } else if (c.precision == OpPrecision::kInt8) {
      QuantizeConfig::OpWise w;
      w.is_perchannel = c.has_weight && c.weight.granularity == QuantGranularity::kPerChannel;
      w.algorithm = c.activation.algorithm;
      w.is_asymmetric = c.activation.scheme == QuantScheme::kAsym;
      w.weight_bit = 8;
      w.config = c;
      q.op_wise_config[op] = w;
    }
  }
  return q;
}

Result<QuantizedModel> CapabilityYamlAdaptor::quantize(const TuneConfig& cfg, const Graph& model,
                                                       const CalibrationStats& stats) const {
  QT_ASSIGN_OR_RETURN(QuantizeConfig q, tuning_cfg_to_fw(cfg, model));
  return build_qdq_model(model, q, stats);
}

}  // namespace qtune
