#include "adaptors/native/native_lowering.h"

#include "adaptors/fused_fp32_patterns.h"
#include "adaptors/native/native_graph_passes.h"
#include "adaptors/native/native_ops.h"

namespace qtune {

LoweringTarget native_lowering_target() {
  LoweringTarget t;
  t.domain = kNativeDomain;
  // qconv2d covers 1-D/2-D convs, and the GEMM takes u8 and s8 activations with any epilogue.
  t.conv = t.gemm = t.matmul = true;
  t.s8_activations = true;
  t.f32_output = true;
  t.clip = true;
  t.int8_maxpool = true;
  t.bf16_conv = t.bf16_gemm = true;
  t.int8_add = true;
  t.int8_lut = true;
  t.bias_add = t.requant_bias_add = true;
  // What stays fp32 runs on the fp32 kernels, residual Adds and 2x2 max pools fused into F32Conv.
  t.f32_conv = t.f32_gemm = t.f32_sum = t.f32_max_pool = true;
  return t;
}

Result<Graph> lower_native(const Graph& qdq, const std::vector<std::string>& bf16_ops) {
  native_ops();  // registers the fused ops' schemas, which the passes' shape inference reads
  QT_ASSIGN_OR_RETURN(Graph lowered, lower_qdq(qdq, native_lowering_target(), bf16_ops));
  return fuse_layer_norm_and_gelu(
      use_channels_last(fuse_conv_add(lowered, kNativeDomain), kNativeDomain), kNativeDomain);
}

Result<Executor> prepare_native(std::shared_ptr<const Graph> qdq,
                                const std::vector<std::string>& bf16_ops) {
  if (!qdq) return Status::Internal("prepare_native: no graph");
  QT_ASSIGN_OR_RETURN(Graph lowered, lower_native(*qdq, bf16_ops));
  return Executor::create(std::make_shared<const Graph>(std::move(lowered)), &native_ops());
}

}  // namespace qtune
