#include "adaptors/quantize/op_roles.h"

#include <algorithm>
#include <map>

namespace qtune {
namespace {

const std::map<std::string, QuantOpRole, std::less<>>& roles() {
  static const std::map<std::string, QuantOpRole, std::less<>> table = [] {
    std::map<std::string, QuantOpRole, std::less<>> t;
    t["Conv"] = {{1}, 2};
    t["ConvTranspose"] = {{1}, 2};
    t["Gemm"] = {{1}, 2, false, true};
    t["MatMul"] = {{1}, -1, false, true};
    // Recurrent ops: W and R are weights (per gate row); X is the quantized activation.
    for (const char* op : {"LSTM", "GRU", "RNN"}) t[op] = {{1, 2}};
    for (const char* op : {"Add", "Mul", "Concat"}) t[op] = {{}, -1, true};
    for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                           "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Softmax",
                           "Resize", "Pad", "Split", "Squeeze", "Unsqueeze", "Reshape",
                           "Transpose", "Flatten", "Gather", "ArgMax"}) {
      t[op] = {};
    }
    for (const char* op : {"Relu", "Clip"}) t[op] = {{}, -1, false, false, true};
    return t;
  }();
  return table;
}

}  // namespace

const QuantOpRole* quant_op_role(std::string_view op_type) {
  auto it = roles().find(op_type);
  return it == roles().end() ? nullptr : &it->second;
}

std::vector<std::string> quantizable_op_types() {
  std::vector<std::string> out;
  for (const auto& [type, role] : roles()) out.push_back(type);
  return out;
}

int64_t weight_channel_axis(const Node& n, const Tensor& w) {
  if (n.op_type == "Gemm") return n.attr_int("transB", 0) != 0 ? 0 : 1;
  if (n.op_type == "MatMul") return std::max<int64_t>(0, w.rank() - 1);
  // ConvTranspose weights are [C_in, C_out/group, k...]; recurrent W/R are
  // [directions, gates*hidden, in]: the output channels are axis 1.
  if (n.op_type == "ConvTranspose" || n.op_type == "LSTM" || n.op_type == "GRU" ||
      n.op_type == "RNN") {
    return 1;
  }
  return 0;
}

}  // namespace qtune
