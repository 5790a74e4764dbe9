// Static shape inference over the Graph IR: dtype and shape of every node output, -1 for dims
// only known at run time. Called by the quantization adaptors on the graphs they rewrite; also
// owns the one Conv/Pool output-size rule (conv_geometry) that the runtime and adaptor ops reuse.
// Stateless functions; thread-safe (infer_shapes writes only the Graph it is given).
#pragma once

#include <cstdint>
#include <vector>

#include "common/graph.h"

namespace qtune {

// Fills g.value_info[name] for every node output (existing entries are overwritten, except that
// a declared dim is kept where inference only knows -1). Shapes that cannot be known statically
// get their rank only, or no shape at all. Inconsistent shapes or attributes: kInvalidInput
// naming the node. Outputs of ops it does not know keep whatever the model declared for them.
Status infer_shapes(Graph& g);

// True when infer_shapes knows the node's op (default domain only).
bool shape_inference_supports(const Node& n);

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
