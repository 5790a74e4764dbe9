// How quantization treats each op type it can quantize: which inputs are constant weights
// (quantized to s8, per channel along which axis), which is a bias on the x*w grid, which float
// inputs get an activation Q/DQ pair, and whether input 1 may be an activation instead of a
// weight. The one table the capability YAML validation, the tuning space and the QDQ builder
// read. Pure data; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/graph.h"

namespace qtune {

struct QuantOpRole {
  std::vector<size_t> weights;   // inputs that are constant weights; empty for activation ops
  int bias = -1;                 // constant bias folded onto the x*w grid, or -1
  bool all_activations = false;  // every float input gets a Q/DQ pair (Add, Mul, Concat);
                                 // otherwise only input 0 (the data input)
  bool activation_pairs = false; // input 1 may be an activation (Gemm, MatMul)
  // Relu/Clip directly after a quantized weight op with no other reader are computed inside
  // that op's int8 kernel (its output range is the activation's): no Q/DQ of their own.
  bool fuses_into_producer = false;
};

// nullptr when the op type cannot be quantized.
const QuantOpRole* quant_op_role(std::string_view op_type);
// Every op type with a role, sorted.
std::vector<std::string> quantizable_op_types();
// The output-channel axis of a weight w of node n.
int64_t weight_channel_axis(const Node& n, const Tensor& w);

}  // namespace qtune
