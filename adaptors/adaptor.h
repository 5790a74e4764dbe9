// The adaptor interface (after Intel Neural Compressor's): what a framework backend must answer
// for the tuner. query_fw_capability is computed once per run from capabilities/<name>.yaml and
// the model; quantize turns a tune_cfg into a quantized model (QDQ graph); prepare lowers a
// model onto the adaptor's own compute. Adaptors are stateless after construction: thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "adaptors/calibration.h"
#include "runtime/executor.h"
#include "common/graph.h"
#include "common/quant_config.h"

namespace qtune {

// INC's quantize_config: the adaptor-side form of a tune_cfg. Only dispatched (int8) ops appear
// in op_wise_config; bf16 ops are listed apart.
struct QuantizeConfig {
  struct OpWise {
    bool is_perchannel = false;
    CalibAlgorithm algorithm = CalibAlgorithm::kMinMax;  // activation range algorithm
    bool is_asymmetric = false;                          // activation scheme
    int weight_bit = 8;
    OpQuantConfig config;  // the full choice it came from
  };
  std::string device = "cpu";
  int64_t calib_iteration = 0;  // calibration samples (a count that does not depend on batch size)
  std::map<std::string, std::string> advance;
  std::map<std::string, OpWise> op_wise_config;
  std::vector<std::string> bf16_ops;
};

// A quantized model: the standard QDQ graph (what is exported) plus the ops to run in bf16.
struct QuantizedModel {
  std::shared_ptr<const Graph> graph;
  std::vector<std::string> bf16_ops;
  std::vector<std::string> notes;  // degenerate calibration and other findings, for the report
};

// A model lowered onto an adaptor's compute; run() is thread-safe.
class PreparedModel {
 public:
  virtual ~PreparedModel() = default;
  virtual Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs) const = 0;
  virtual const Graph& graph() const = 0;  // the lowered graph actually executed
};

class Adaptor {
 public:
  virtual ~Adaptor() = default;
  virtual const std::string& name() const = 0;

  // {opwise, optypewise} for this model; every list ends with bf16 (where supported) then fp32.
  virtual Result<Capability> query_fw_capability(const Graph& model) const = 0;

  // Validates cfg against the capability and builds quantize_config.
  virtual Result<QuantizeConfig> tuning_cfg_to_fw(const TuneConfig& cfg,
                                                  const Graph& model) const = 0;

  // Calibrates (from stats collected once per model) and converts: the QDQ model of cfg.
  virtual Result<QuantizedModel> quantize(const TuneConfig& cfg, const Graph& model,
                                          const CalibrationStats& stats) const = 0;

  // Lowers a model (fp32, or a QuantizedModel's QDQ graph with its bf16 ops) for execution:
  // quantized patterns become this adaptor's int8 kernels, not fp32 fake-quant.
  virtual Result<std::unique_ptr<PreparedModel>> prepare(
      std::shared_ptr<const Graph> model, const std::vector<std::string>& bf16_ops) const = 0;
};

// Adaptors by name; the list lives in adaptors/registry.cpp, one line per adaptor.
Result<std::unique_ptr<Adaptor>> make_adaptor(const std::string& name);
std::vector<std::string> adaptor_names();

}  // namespace qtune
