// QDQ pattern matching shared by adaptors: finds quantized node units (DQ -> Conv/Gemm/MatMul ->
// [Relu|Clip] -> [Q]) and int8 max pools in a standard QDQ graph, and rewrites them into one fused
// node each in an adaptor's domain. Called from adaptors' prepare(); the executor runs whatever is
// left (stray Q/DQ included) with the reference ops. Pure functions on const graphs; thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/graph.h"

namespace qtune {

// Op types of the fused nodes (in LoweringTarget::domain). Inputs of QConv / QGemm:
//   [x_q, w_q, w_scale, bias ("" / s32 at scale x_scale*w_scale / f32), x_scale, x_zero_point,
//    y_scale ("" for f32 output), y_zero_point ("" for f32 output),
//    QGemm only, optional: mid_scale, mid_zero_point]
// A QGemm with a mid_scale rounds the product to that 8-bit grid before adding its f32 bias: the
// Q -> DQ a QDQ graph has between a MatMul and its bias Add. A fused bias Add's node name is kept
// in the string attribute "bias_add".
// Attributes: Conv's geometry (QConv), trans_b (QGemm: 1 when w is [N,K]), "activation"
// ("none"/"relu"/"clip") with clip_min/clip_max, and "out_dtype" ("u8"/"s8"/"f32").
// QGemm flattens x's leading dims into M: x [..., K] -> y [..., N].
// Bf16Conv / Bf16Gemm: [x, w (f32), bias (f32) or ""], same geometry/trans_b/activation attrs.
// F32Conv / F32Gemm: the same inputs and attributes, computed in f32 (an fp32 op on an adaptor's
// own f32 kernels instead of the reference ops). F32Conv may take a fourth input, sum: a tensor
// added (numpy broadcasting, as the Add it came from) before the activation - a residual Add.
// A 2-D F32Conv with the int attribute "max_pool_2x2" = 1 ends with the MaxPool it came from
// (2x2 window, stride 2, no padding, floor mode): y is [N, M, OH / 2, OW / 2].
// QAdd: [a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point]; an 8-bit
// operand with a scale is dequantized on the fly, an f32 one with a scale is quantized and
// dequantized (its QDQ), one without a scale is used as is; numpy broadcasting;
// "activation" and "out_dtype" as above.
// QLut: [x (u8/s8), table (256 u8/s8)]: y = table[x's byte], the table holding what
// DequantizeLinear -> an elementwise op -> QuantizeLinear gives for each of the 256 values.
// Adaptors may rewrite lowered graphs further (adaptors/native/native_graph_passes.h): a QConv
// with "channels_last" = 1 reads x [N, H, W, C] and writes y [N, OH, OW, M]; a QConv may carry a
// residual Add in inputs 8-12 (see there); MaxPool in the adaptor's domain is ONNX's MaxPool on
// channels-last 8-bit tensors.
inline constexpr const char* kQConvOp = "QConv";
inline constexpr const char* kQGemmOp = "QGemm";
inline constexpr const char* kBf16ConvOp = "Bf16Conv";
inline constexpr const char* kBf16GemmOp = "Bf16Gemm";
inline constexpr const char* kF32ConvOp = "F32Conv";
inline constexpr const char* kF32GemmOp = "F32Gemm";
inline constexpr const char* kQAddOp = "QAdd";
inline constexpr const char* kQLutOp = "QLut";
inline constexpr const char* kMaxPoolNhwcOp = "MaxPool";
// fp32 ops the native adaptor fuses from their exported decompositions
// (adaptors/native/native_graph_passes.h): LayerNorm is ONNX's LayerNormalization with only
// output Y, any opset; Gelu is ONNX's Gelu on [x], "approximate" none (default) or tanh.
inline constexpr const char* kLayerNormOp = "LayerNorm";
inline constexpr const char* kGeluOp = "Gelu";

enum class UnitKind { kConv, kGemm, kMatMul };
enum class FusedActivation { kNone, kRelu, kClip };

const char* activation_name(FusedActivation a);  // "none", "relu", "clip"

// One quantized Conv/Gemm/MatMul with everything fused into it. Names refer to the QDQ graph.
struct QuantizedUnit {
  size_t node = 0;  // index of the Conv/Gemm/MatMul in graph.nodes
  UnitKind kind = UnitKind::kConv;
  std::string x_q;                 // the 8-bit activation the input DequantizeLinear reads
  std::string x_scale, x_zero_point;  // initializers ("" zero point: 0)
  DType x_type = DType::kUndefined;   // u8/s8 when known (from the zero point), else undefined
  float x_scale_value = 1.0f;
  int32_t x_zero_point_value = 0;
  std::string w_q, w_scale;  // s8 weight initializer and its f32 scale ([] or [C])
  bool w_per_channel = false;
  bool trans_b = false;      // Gemm/MatMul: w is [N, K]
  std::string bias;          // s32 initializer at x_scale*w_scale, an f32 tensor, or ""
  DType bias_type = DType::kUndefined;
  FusedActivation activation = FusedActivation::kNone;
  float clip_min = -std::numeric_limits<float>::infinity();
  float clip_max = std::numeric_limits<float>::infinity();
  // A bias Add fused after a Gemm/MatMul without bias: op -> [Q -> DQ] -> Add(f32 constant [N]).
  std::string bias_add;  // the Add node's name, "" when none
  std::string mid_scale, mid_zero_point;  // the Q -> DQ between op and Add, "" when none
  float mid_scale_value = 0.0f;
  int32_t mid_zero_point_value = 0;
  DType mid_type = DType::kUndefined;
  std::string output;  // what the fused node produces: the Q's, activation's or op's output
  DType out_type = DType::kF32;  // u8, s8 (a Q was fused) or f32
  std::string y_scale, y_zero_point;  // initializers when out_type is 8-bit
  float y_scale_value = 1.0f;
  int32_t y_zero_point_value = 0;
  std::vector<size_t> fused;  // the op, activation and Q nodes the fused node replaces
};

// DequantizeLinear -> MaxPool -> QuantizeLinear with the same scale and zero point: the pool runs
// on the 8-bit tensor directly (max commutes with a monotonic dequantization).
// The same for ops that only move or pick elements (Reshape, Transpose, Gather, Slice, ...):
// exact, since Q(DQ(q)) = q with equal parameters.
struct Int8PoolUnit {
  size_t dq = 0, pool = 0, q = 0;  // pool: the MaxPool
  std::string x_q, output;
};

// DequantizeLinear(s) -> Add -> [Relu|Clip] -> [QuantizeLinear]: the residual/bias Add of a QDQ
// graph in one pass instead of two DQs, an Add, an activation and a Q over f32 temporaries.
struct Int8AddUnit {
  struct Operand {
    std::string tensor;  // the 8-bit tensor the DQ reads, or the f32 input itself
    std::string scale, zero_point;  // "" for an f32 operand (and for an absent zero point)
    bool quantized = false;
    // f32 -> Q -> DQ -> Add with nothing else reading the Q or DQ: `tensor` is the Q's f32 input,
    // quantized and dequantized on the fly, so the 8-bit tensor is never stored.
    bool fake_quant = false;
  };
  size_t node = 0;  // the Add
  Operand a, b;
  FusedActivation activation = FusedActivation::kNone;
  float clip_min = -std::numeric_limits<float>::infinity();
  float clip_max = std::numeric_limits<float>::infinity();
  std::string output;
  DType out_type = DType::kF32;
  std::string y_scale, y_zero_point;
  float y_scale_value = 1.0f;
  int32_t y_zero_point_value = 0;
  // The Add, activation and Q nodes the fused node replaces, and fake_quant operands' Qs.
  std::vector<size_t> fused;
};

// A QuantizeLinear whose value is a function of one 8-bit tensor's bytes, element by element:
// DequantizeLinear -> elementwise ops (unary ones as Relu, Clip, Sigmoid, ...; Add/Sub/Mul/Div/
// Max/Min of two values of the chain or of one and a constant scalar) -> QuantizeLinear, with
// Q -> DQ pairs inside (HardSwish written as x * HardSigmoid(x) with QDQ between), all per
// tensor, nothing outside reading an intermediate: one table lookup per element, exact by
// construction (the table is what the reference ops compute for each of the 256 inputs).
struct Int8LutUnit {
  size_t op = 0, q = 0;  // the op producing the Q's input, and the Q
  std::string x_q, output;
  Tensor table;  // 256 entries of the Q's type
  std::vector<size_t> nodes;  // every node the table replaces (DQs, ops, Qs), ascending
};

// What an adaptor can run; lower_qdq leaves everything else to the reference ops.
struct LoweringTarget {
  std::string domain = "qtune";
  bool conv = true;          // QConv, 1-D and 2-D
  bool gemm = true;          // QGemm from Gemm
  bool matmul = true;        // QGemm from MatMul with a constant 2-D weight
  bool s8_activations = true;
  bool f32_output = true;    // units that end without a Q
  bool clip = true;
  bool int8_maxpool = true;  // standard MaxPool on u8/s8 (graphs of opset 12 and later)
  bool int8_data_movement = true;  // Reshape, Transpose, Gather, ... on u8/s8 (standard ops)
  bool bf16_conv = true;
  bool bf16_gemm = true;
  bool int8_add = false;     // QAdd (off unless the adaptor registers it)
  bool int8_lut = false;     // QLut (off unless the adaptor registers it)
  bool bias_add = false;     // a Gemm/MatMul's following bias Add as QGemm's/F32Gemm's bias
  bool requant_bias_add = false;  // ... also with a Q -> DQ in between (QGemm's mid_scale)
  // Every other fp32 Conv (1-D/2-D) / Gemm / MatMul with a constant f32 weight as F32Conv /
  // F32Gemm: off unless the adaptor has f32 kernels worth more than the reference ops.
  bool f32_conv = false;
  bool f32_gemm = false;
  bool f32_sum = false;      // an F32Conv's following Add as its sum input
  bool f32_max_pool = false;  // an F32Conv's following 2x2, stride-2 MaxPool ("max_pool_2x2")
};

// Which optional fusions find_quantized_units tries.
struct UnitOptions {
  bool bias_add = true;
  bool requant_bias_add = true;
};

// Every unit in node order. Each node belongs to at most one unit; DQs feeding a unit are not
// listed (they are removed when nothing else reads them).
std::vector<QuantizedUnit> find_quantized_units(const Graph& g, const UnitOptions& opts = {});
// DQ -> MaxPool -> Q with the same quantization on both sides (the pool runs on 8-bit values);
// none below opset 12, where ONNX's MaxPool takes only floating-point tensors.
std::vector<Int8PoolUnit> find_int8_pools(const Graph& g);
// Adds with at least one 8-bit (DQ) input; nodes already in `taken` are skipped.
std::vector<Int8AddUnit> find_int8_adds(const Graph& g, const std::vector<bool>& taken = {});
// DQ -> unary op -> Q chains; nodes already in `taken` are skipped, and so are chains the
// reference ops cannot run on the 256 values (left to fail where the graph runs).
std::vector<Int8LutUnit> find_int8_luts(const Graph& g, const std::vector<bool>& taken = {});

// Rewrites units the target supports into fused nodes named after the original op, turns the
// fp32 Conv/Gemm/MatMul named in bf16_ops (constant f32 weight) into Bf16Conv/Bf16Gemm and, with
// f32_conv/f32_gemm, the remaining ones into F32Conv/F32Gemm, and drops Q/DQ nodes nobody reads
// any more, in the main graph and in every subgraph. A graph without matches comes back
// unchanged.
Result<Graph> lower_qdq(const Graph& qdq, const LoweringTarget& target,
                        const std::vector<std::string>& bf16_ops);

}  // namespace qtune
