// Builds the standard QDQ ONNX graph of a quantize_config from an fp32 graph and calibration
// statistics: the one exported form of a quantized model, which ONNX Runtime runs as is and the
// adaptors' lowering (adaptors/lowering.h) pattern-matches. Called by adaptors' quantize() and
// by the quantization session (which needs calibration_tensors). Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "adaptors/adaptor.h"
#include "adaptors/calibration.h"
#include "common/graph.h"

namespace qtune {

// The float activation inputs of the ops in q.op_wise_config, in graph order without
// duplicates: what calibration must observe for q or any config that quantizes fewer ops.
// Constant weights and biases (initializers and Constant outputs) are not listed; dynamic-mode
// ops need nothing.
std::vector<std::string> calibration_tensors(const Graph& g, const QuantizeConfig& q);

// The QDQ graph of `q` applied to `g` (opset 13, topologically sorted). Naming convention:
//   constant weight W -> `W_quantized` (s8), `W_scale` (f32 [C] or []), `W_zero_point` (s8),
//     node `W_DequantizeLinear` -> `W_dequantized` (axis = output-channel axis if per-channel);
//   constant bias B -> `B_quantized` (s32 at x_scale*w_scale), `B_scale`, `B_zero_point` (s32),
//     node `B_DequantizeLinear` -> `B_dequantized` (axis 0 if per-channel);
//   activation x -> `x_QuantizeLinear`: (x, `x_scale`, `x_zero_point`) -> `x_quantized`, then
//     `x_DequantizeLinear` -> `x_dequantized`; one pair per (tensor, params), shared by its
//     consumers; a second set of params for the same tensor gets `x_1_...` names.
// Ops outside op_wise_config are untouched. A needed tensor without stats is kInvalidInput
// naming it; an op type or weight config the convention does not cover is kUnsupported.
Result<QuantizedModel> build_qdq_model(const Graph& g, const QuantizeConfig& q,
                                       const CalibrationStats& stats);

}  // namespace qtune
