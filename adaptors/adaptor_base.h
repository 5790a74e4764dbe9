// CapabilityYamlAdaptor: the part every adaptor shares. Capability comes from
// capabilities/<name>.yaml, tune_cfg -> quantize_config is validated against it, and quantize
// builds the standard QDQ graph; a concrete adaptor adds only prepare() (its own kernels).
// Immutable after construction; thread-safe.
#pragma once

#include <string>

#include "adaptors/adaptor.h"

namespace qtune {

class CapabilityYamlAdaptor : public Adaptor {
 public:
  explicit CapabilityYamlAdaptor(std::string name) : name_(std::move(name)) {}

  const std::string& name() const override { return name_; }
  Result<Capability> query_fw_capability(const Graph& model) const override;
  Result<QuantizeConfig> tuning_cfg_to_fw(const TuneConfig& cfg,
                                          const Graph& model) const override;
  Result<QuantizedModel> quantize(const TuneConfig& cfg, const Graph& model,
                                  const CalibrationStats& stats) const override;

 private:
  std::string name_;
};

}  // namespace qtune
