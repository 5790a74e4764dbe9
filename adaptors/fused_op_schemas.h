// libonnx schemas for the fused ops lowering emits (adaptors/lowering.h: QConv, QGemm, QAdd,
// Bf16Conv, Bf16Gemm, F32Conv, F32Gemm) in an adaptor's own domain, so graph-level shape and
// type inference (runtime/onnx_inference.h) covers lowered graphs as it covers standard ones.
// Their inference reuses the standard Conv / MatMul / Add schemas' inference on the fused node's
// float operands; only the output element type ("out_dtype") is the fused op's own.
// Called once per adaptor domain when the adaptor's kernel registry is built; thread-safe.
#pragma once

#include <string>

namespace qtune {

void register_fused_op_schemas(const std::string& domain);

}  // namespace qtune
