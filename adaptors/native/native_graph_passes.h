// Rewrites of a graph lower_qdq made for the native adaptor, before it runs:
//  - fuse_conv_add: a QConv whose 8-bit output only feeds a QAdd with another 8-bit operand of
//    the same shape takes the Add into its epilogue. Inputs 8-12 of the QConv are then the other
//    operand, its scale and zero point and the Add's y_scale and y_zero_point; "conv_dtype" is
//    the convolution's own 8-bit type (inputs 6, 7 quantize it), "out_dtype" the Add's output,
//    "sum_activation" (+ "sum_clip_min"/"sum_clip_max") the Add's activation.
//  - use_channels_last: the layout is chosen once for the graph. Every 2-D QConv runs on
//    channels-last tensors ("channels_last" = 1), and so do the int8 ops that only move data
//    between them (QAdd of equal shapes, QLut, MaxPool on 8-bit input, which becomes MaxPool in
//    the adaptor's domain); a Transpose is inserted only where a tensor crosses between the two
//    layouts, once per tensor.
// Both keep the graph's results bit for bit. (The fp32 LayerNorm/GELU fusion the adaptor also
// runs is adaptors/fused_fp32_patterns.h.) Shapes come from libonnx's inference; where it
// cannot tell them, the pass leaves those nodes alone. Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/graph.h"

namespace qtune {

// `domain` is the fused ops' domain. Both return the graph unchanged when nothing applies.
Graph fuse_conv_add(const Graph& g, const std::string& domain);
Graph use_channels_last(const Graph& g, const std::string& domain);

}  // namespace qtune
