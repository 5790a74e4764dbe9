// Per-op quantization error of a tune_cfg (`qtune diagnose`): each int8 op's output in the
// quantized model (reference QDQ execution) against the same tensor of the fp32 model, over
// calibration samples, two ways:
//   accumulated: in the quantized model as it runs, so the error of every op upstream arrives
//                too (what ONNX Runtime's qdq_loss_debug and Numeric Suite's output comparison
//                show);
//   isolated:    the op fed the fp32 model's values for its inputs, so only its own input and
//                weight quantization count (Numeric Suite's shadow modules), all ops in one pass.
// Plus the error of its weight and of its first activation input, quantized vs fp32: whether the
// op suffers from its weights or from its activation's range. Three passes over the samples
// (fp32, accumulated, isolated). Pure function of its arguments; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/dataset.h"
#include "worker/quantizer.h"

namespace qtune {

// Signal to quantization noise of f32 rounding itself (24-bit significand: noise power 2^-48 of
// the signal's): a smaller difference than that is not quantization error, so SQNR is clamped
// to +-this many dB.
inline constexpr double kF32SqnrDb = 144.49;

// One tensor, quantized vs fp32, over every element of every sample.
struct TensorError {
  double sqnr_db = 0;        // 10 log10(sum f^2 / sum (q - f)^2), clamped to +-kF32SqnrDb
  double cosine = 1;         // sum(q f) / sqrt(sum q^2 sum f^2); 1 when both are all zero
  double max_abs_error = 0;  // max |q - f|
  int64_t values = 0;        // elements compared
};

struct OpDiagnosis {
  std::string name, op_type;
  std::string output;                 // the value compared: the op's first output
  TensorError accumulated, isolated;
  std::optional<TensorError> weight;  // its first constant input, dequantized vs fp32
  std::optional<TensorError> input;   // its first activation input, quantized from fp32 vs fp32
};

struct Diagnosis {
  std::vector<OpDiagnosis> ops;       // graph order
  std::vector<std::string> skipped;   // "NAME: why" for int8 ops that could not be compared
  int64_t samples = 0;
};

// Compares every int8 op of `cfg` over the first `samples` of `data`, `batch_size` at a time.
Result<Diagnosis> diagnose_ops(const QuantizationSession& session, const TuneConfig& cfg,
                               const Dataset& data, int64_t samples, int64_t batch_size);

enum class DiagnosisRank { kIsolated, kAccumulated };

// Worst first by that SQNR (ties keep graph order).
std::vector<OpDiagnosis> ranked(const Diagnosis& d, DiagnosisRank by);

}  // namespace qtune
