// Builds the standard QDQ ONNX graph of a quantize_config from an fp32 graph and calibration
// statistics: the one exported form of a quantized model, which ONNX Runtime runs as is and the
// adaptors' lowering (adaptors/lowering.h) pattern-matches. Called by adaptors' quantize() and
// by the quantization session (which needs calibration_tensors). Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "adaptors/adaptor.h"
#include "adaptors/calibration.h"
#include "common/graph.h"

namespace qtune {

// The float activation inputs of the ops in q.op_wise_config (subgraphs' ops included), in graph
// order without duplicates: what calibration must observe for q or any config that quantizes
// fewer ops. Constant weights and biases (initializers and Constant outputs) are not listed;
// dynamic-mode ops need nothing. An op in a subgraph whose activations all come from outside it
// also lists its f32 output: statistics for it prove calibration ran the op.
std::vector<std::string> calibration_tensors(const Graph& g, const QuantizeConfig& q);
// The same per op (op name -> its tensors); ops needing none are listed with none.
std::map<std::string, std::vector<std::string>> calibration_tensors_by_op(const Graph& g,
                                                                          const QuantizeConfig& q);

// The QDQ graph of `q` applied to `g` (opset 13, topologically sorted). Naming convention:
//   constant weight W -> `W_quantized` (s8), `W_scale` (f32 [C] or []), `W_zero_point` (s8),
//     node `W_DequantizeLinear` -> `W_dequantized` (axis = output-channel axis if per-channel);
//   constant bias B -> `B_quantized` (s32 at x_scale*w_scale), `B_scale`, `B_zero_point` (s32),
//     node `B_DequantizeLinear` -> `B_dequantized` (axis 0 if per-channel);
//   activation x -> `x_QuantizeLinear`: (x, `x_scale`, `x_zero_point`) -> `x_quantized`, then
//     `x_DequantizeLinear` -> `x_dequantized`; one pair per (tensor, params), shared by its
//     consumers; a second set of params for the same tensor gets `x_1_...` names;
//   the output y of a Squeeze/Unsqueeze/Reshape/Transpose/Flatten read inside a nested subgraph
//     -> the op writes `y_before_quantize`, then `y_QuantizeLinear` / `y_DequantizeLinear` with
//     its input's scale and zero point give y back (ONNX Runtime's own propagation of that pair
//     fails across subgraph boundaries).
// Ops inside subgraphs (If branches, Loop bodies) are quantized in place: their pairs, weights
// and biases live in their own graph, weights of enclosing graphs included.
// Ops outside op_wise_config are untouched. A needed tensor without stats is kInvalidInput
// naming it; an op type or weight config the convention does not cover is kUnsupported.
Result<QuantizedModel> build_qdq_model(const Graph& g, const QuantizeConfig& q,
                                       const CalibrationStats& stats);

}  // namespace qtune
