// Conv/Pool window geometry: output spatial sizes and explicit pads from a node's strides,
// dilations, pads and auto_pad attributes, by the rules of the ONNX schemas (and libonnx's
// inference: with ceil_mode the output size is rounded up, no window is dropped). The runtime's
// kernels and the adaptors' fused ops share it. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "common/graph.h"

namespace qtune {

// Spatial geometry of a Conv / QLinearConv / ConvInteger / MaxPool / AveragePool node, with
// auto_pad resolved into explicit pads. Input dims of -1 give output dims of -1.
struct ConvGeometry {
  std::vector<int64_t> strides, dilations;
  std::vector<int64_t> pads;  // [begin_0, ..., begin_{n-1}, end_0, ..., end_{n-1}]
  std::vector<int64_t> out;   // output spatial sizes
};
// `in` and `kernel` are the spatial input and kernel sizes (same length). ceil_mode is the
// pooling attribute (false for convolutions).
Result<ConvGeometry> conv_geometry(const Node& n, const std::vector<int64_t>& in,
                                   const std::vector<int64_t>& kernel, bool ceil_mode = false);

}  // namespace qtune
