// The capability layer: parses capabilities/<adaptor>.yaml into a CapabilitySpec and answers
// INC's query_fw_capability for a model (build_capability); also the default int8 tune_cfg and
// the check that a tune_cfg only picks listed configs. Called by the adaptors and `qtune caps`.
// Stateless functions over values; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/graph.h"
#include "common/quant_config.h"

namespace qtune {

// The version the adaptors of this build answer to; capability YAML `version:` entries match it.
inline constexpr const char kAdaptorVersion[] = "0.1.0";

// One option block of a side: four non-empty lists whose cartesian product it stands for.
struct TensorQuantOptions {
  std::vector<DType> dtype;
  std::vector<QuantScheme> scheme;
  std::vector<QuantGranularity> granularity;
  std::vector<CalibAlgorithm> algorithm;

  // Cartesian product, dtype outermost and algorithm innermost (YAML order within each list).
  std::vector<TensorQuantSpec> expand() const;
};

// One mode (static or dynamic) of an op type. `weight` is empty for activation-only ops.
struct ModeCapability {
  std::vector<TensorQuantOptions> weight;      // blocks, concatenated in order
  std::vector<TensorQuantOptions> activation;  // never empty

  std::vector<TensorQuantSpec> weight_specs() const;
  std::vector<TensorQuantSpec> activation_specs() const;
};

struct OpTypeCapability {
  std::optional<ModeCapability> static_mode;
  std::optional<ModeCapability> dynamic_mode;
  // Gemm/MatMul only: whether the op is quantizable when input 1 is an activation too.
  bool activation_pairs = true;
};

// The selected `versions:` entry of a capability YAML file.
struct CapabilitySpec {
  std::string source;          // the YAML file, for messages
  std::string adaptor;
  std::string version;         // the matching entry's constraint, e.g. ">=0.1"
  std::vector<OpPrecision> precisions;
  std::map<std::string, OpTypeCapability> int8;  // by op type ("Conv", or "domain::Op")
  std::vector<std::string> bf16;                 // op types, YAML order

  bool supports(OpPrecision p) const;
};

// Whether `version` (dotted numbers, "0.1.0") satisfies `constraint`: "default", or
// comma-separated clauses "OP X.Y" with OP one of >=, >, <=, <, ==, != (none means ==).
// Missing components count as 0. InvalidInput when either is malformed.
Result<bool> adaptor_version_matches(const std::string& constraint, const std::string& version);

// Parses and strictly validates the whole file, then picks the first `versions:` entry that
// matches adaptor_version. Errors are InvalidInput "FILE:LINE:COLUMN: path.to.field: what".
Result<CapabilitySpec> load_capability_spec(const std::string& yaml_path,
                                            const std::string& adaptor_version);

// The directory holding capabilities/*.yaml: $QTUNE_CAPABILITIES_DIR, else
// <exe dir>/../capabilities, <exe dir>/../../capabilities, else the source tree when compiled
// with QTUNE_SOURCE_DIR; the first that exists. Empty when none does.
std::string capabilities_dir();

// <capabilities_dir()>/<adaptor>.yaml at kAdaptorVersion; its `adaptor:` must name `adaptor`.
Result<CapabilitySpec> load_adaptor_capability_spec(const std::string& adaptor);

// INC's query_fw_capability. For every default-domain node whose op type has an int8 entry, in
// the main graph and in subgraphs (If branches, Loop/Scan bodies; not where a value name is
// defined by more than one graph, since calibration keys statistics by name):
// weight options x activation options (static, then dynamic), then bf16 if listed, then fp32.
// MatMul/Gemm whose input 1 is not an initializer get activation x activation configs
// (has_weight=false); a Conv whose weight is not an initializer is left out (runs fp32), and
// so are the nodes of LayerNorm/GELU decompositions (adaptors/fused_fp32_patterns.h).
// optypewise holds, per op type in the model, the list a node with a constant weight gets.
Result<Capability> build_capability(const CapabilitySpec& spec, const Graph& model);

// Every op of the capability int8 (INC's first trial): the first static entry whose activation
// algorithm is minmax; failing that the first entry with minmax, failing that the first entry.
Result<TuneConfig> default_int8_config(const Capability& cap);

// InvalidInput naming the op and the offending config unless every op in cfg is in the
// capability and its config is one of that op's listed entries.
Status check_tune_config(const TuneConfig& cfg, const Capability& cap);

}  // namespace qtune
