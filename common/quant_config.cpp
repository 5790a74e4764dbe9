#include "common/quant_config.h"

#include <cstdio>

namespace qtune {

std::string to_string(OpPrecision p) {
  switch (p) {
    case OpPrecision::kInt8: return "int8";
    case OpPrecision::kBf16: return "bf16";
    case OpPrecision::kFp32: return "fp32";
  }
  return "fp32";
}
std::string to_string(QuantScheme s) { return s == QuantScheme::kSym ? "sym" : "asym"; }
std::string to_string(QuantGranularity g) {
  return g == QuantGranularity::kPerChannel ? "per_channel" : "per_tensor";
}
std::string to_string(CalibAlgorithm a) {
  switch (a) {
    case CalibAlgorithm::kMinMax: return "minmax";
    case CalibAlgorithm::kKl: return "kl";
    case CalibAlgorithm::kPercentile: return "percentile";
    case CalibAlgorithm::kMse: return "mse";
  }
  return "minmax";
}
std::string to_string(QuantMode m) { return m == QuantMode::kStatic ? "static" : "dynamic"; }

namespace {
std::string describe_side(const TensorQuantSpec& t) {
  return std::string(t.dtype == DType::kU8 ? "u8" : "s8") + "/" + to_string(t.scheme) + "/" +
         to_string(t.granularity) + "/" + to_string(t.algorithm);
}
}  // namespace

std::string describe(const OpQuantConfig& c) {
  if (c.precision != OpPrecision::kInt8) return to_string(c.precision);
  std::string s = "int8 " + to_string(c.mode);
  if (c.has_weight) s += " w:" + describe_side(c.weight);
  return s + " a:" + describe_side(c.activation);
}

bool parse_precision(const std::string& s, OpPrecision* out) {
  if (s == "int8") *out = OpPrecision::kInt8;
  else if (s == "bf16") *out = OpPrecision::kBf16;
  else if (s == "fp32") *out = OpPrecision::kFp32;
  else return false;
  return true;
}
bool parse_scheme(const std::string& s, QuantScheme* out) {
  if (s == "sym") *out = QuantScheme::kSym;
  else if (s == "asym") *out = QuantScheme::kAsym;
  else return false;
  return true;
}
bool parse_granularity(const std::string& s, QuantGranularity* out) {
  if (s == "per_tensor") *out = QuantGranularity::kPerTensor;
  else if (s == "per_channel") *out = QuantGranularity::kPerChannel;
  else return false;
  return true;
}
bool parse_algorithm(const std::string& s, CalibAlgorithm* out) {
  if (s == "minmax") *out = CalibAlgorithm::kMinMax;
  else if (s == "kl") *out = CalibAlgorithm::kKl;
  else if (s == "percentile") *out = CalibAlgorithm::kPercentile;
  else if (s == "mse") *out = CalibAlgorithm::kMse;
  else return false;
  return true;
}
bool parse_mode(const std::string& s, QuantMode* out) {
  if (s == "static") *out = QuantMode::kStatic;
  else if (s == "dynamic") *out = QuantMode::kDynamic;
  else return false;
  return true;
}
bool parse_quant_dtype(const std::string& s, DType* out) {
  if (s == "int8" || s == "s8") *out = DType::kS8;
  else if (s == "uint8" || s == "u8") *out = DType::kU8;
  else return false;
  return true;
}

std::string fnv1a_hex(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string TuneConfig::hash() const {
  std::string canon = "calib=" + std::to_string(calib_sampling_size) + ";";
  for (const auto& [name, c] : ops) canon += name + "=" + describe(c) + ";";
  return fnv1a_hex(canon);
}

}  // namespace qtune
