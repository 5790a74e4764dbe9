// Quantization vocabulary shared by adaptors, coordinator and worker: per-op quantization
// configs (a capability entry and a tuning choice have the same shape), the capability of a
// model, and a tune_cfg. Plain values; thread-safe to share as const.
#pragma once

#include <compare>
#include <map>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "common/status.h"

namespace qtune {

// What an op computes in: the tuner's per-op decision.
enum class OpPrecision { kInt8, kBf16, kFp32 };
enum class QuantScheme { kSym, kAsym };
enum class QuantGranularity { kPerTensor, kPerChannel };
enum class CalibAlgorithm { kMinMax, kKl, kPercentile, kMse };
enum class QuantMode { kStatic, kDynamic };

// One side (weight or activation) of an int8 config.
struct TensorQuantSpec {
  DType dtype = DType::kS8;  // kU8 or kS8
  QuantScheme scheme = QuantScheme::kSym;
  QuantGranularity granularity = QuantGranularity::kPerTensor;
  CalibAlgorithm algorithm = CalibAlgorithm::kMinMax;

  auto operator<=>(const TensorQuantSpec&) const = default;
};

// A capability entry or a tuning choice for one op. For kBf16/kFp32 only `precision` matters.
struct OpQuantConfig {
  OpPrecision precision = OpPrecision::kFp32;
  QuantMode mode = QuantMode::kStatic;
  bool has_weight = false;  // Conv/Gemm/MatMul with a constant weight
  TensorQuantSpec weight;
  TensorQuantSpec activation;

  auto operator<=>(const OpQuantConfig&) const = default;
  static OpQuantConfig fp32() { return {}; }
  static OpQuantConfig bf16() {
    OpQuantConfig c;
    c.precision = OpPrecision::kBf16;
    return c;
  }
};

struct OpKey {
  std::string name;
  std::string op_type;
  auto operator<=>(const OpKey&) const = default;
};

// query_fw_capability's answer. Every list ends with bf16 (where supported) then fp32.
struct Capability {
  std::map<OpKey, std::vector<OpQuantConfig>> opwise;
  std::map<std::string, std::vector<OpQuantConfig>> optypewise;
};

// One trial's configuration: a choice per quantizable op (by node name).
struct TuneConfig {
  std::map<std::string, OpQuantConfig> ops;
  int64_t calib_sampling_size = 1000;

  // Stable hex digest of the content: keys journals, caches and determinism checks.
  std::string hash() const;
};

std::string to_string(OpPrecision p);
std::string to_string(QuantScheme s);
std::string to_string(QuantGranularity g);
std::string to_string(CalibAlgorithm a);
std::string to_string(QuantMode m);
// "int8 static w:s8/sym/per_channel/minmax a:u8/asym/per_tensor/kl", "bf16", "fp32".
std::string describe(const OpQuantConfig& c);

bool parse_precision(const std::string& s, OpPrecision* out);
bool parse_scheme(const std::string& s, QuantScheme* out);
bool parse_granularity(const std::string& s, QuantGranularity* out);
bool parse_algorithm(const std::string& s, CalibAlgorithm* out);
bool parse_mode(const std::string& s, QuantMode* out);
bool parse_quant_dtype(const std::string& s, DType* out);  // "int8"/"s8" -> kS8, "uint8"/"u8" -> kU8

// 64-bit FNV-1a, hex: a content hash with no dependencies, stable across runs and hosts.
std::string fnv1a_hex(const std::string& bytes);

}  // namespace qtune
