// fp32 patterns exporters write for ops older opsets lack, recognised as one op each:
// LayerNormalization (ReduceMean, Sub, Pow or Mul, ReduceMean, Add eps, Sqrt, Div [, Mul Scale
// [, Add B]] over trailing axes) and GELU, exact (Div by sqrt(2) or Mul by 1/sqrt(2), Erf, Add 1,
// Mul x, Mul 0.5 in either order) or in its tanh form (Pow 3, Mul 0.044715, Add x,
// Mul sqrt(2/pi), Tanh, Add 1, Mul x, Mul 0.5). The native adaptor runs them fused (LayerNorm and Gelu of
// adaptors/lowering.h; a standard LayerNormalization whose mean and inverse deviation nobody
// reads becomes a LayerNorm too), and the capability leaves their nodes in fp32, as ONNX
// Runtime's quantization does after its optimizer fused them. Only chains whose intermediates
// nothing else reads match. Pure functions; thread-safe.
#pragma once

#include <set>
#include <string>

#include "common/graph.h"

namespace qtune {

// g with every match replaced by one node in `domain` (at the place of the chain's first node,
// with its name); equal to the chains up to float rounding. Unchanged when nothing matches or
// types cannot be inferred.
Graph fuse_layer_norm_and_gelu(const Graph& g, const std::string& domain);

// The names of g's nodes that fuse_layer_norm_and_gelu would fuse. g is a model's main graph
// (libonnx's inference of a subgraph on its own is not safe).
std::set<std::string> fused_fp32_pattern_nodes(const Graph& g);

}  // namespace qtune
