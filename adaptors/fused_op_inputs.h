// Reading the inputs and attributes of the fused nodes lower_qdq emits (adaptors/lowering.h
// defines them): every adaptor that implements QConv/QGemm/QAdd/Bf16*/F32* validates them the
// same way. Errors are kInvalidInput naming the node. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "adaptors/lowering.h"
#include "runtime/kernel_registry.h"

namespace qtune {

// Input i, which must be present.
Status require_input(const OpContext& ctx, size_t i, const char* name, const Tensor** out);
// Input i, or null when absent or empty.
const Tensor* optional_input(const OpContext& ctx, size_t i);
// An f32 scalar scale that is positive and finite; null is a missing input.
Status positive_scale(const OpContext& ctx, const Tensor* t, const char* name, float* out);

// The "activation" attribute (none/relu/clip with clip_min/clip_max) as bounds.
struct ActivationBounds {
  FusedActivation kind = FusedActivation::kNone;
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
};
Status read_activation(const OpContext& ctx, ActivationBounds* a);

// The 8-bit activation and its per-tensor quantization (inputs 0, 4, 5).
struct XQuant {
  const Tensor* x = nullptr;
  float scale = 1.0f;
  int32_t zero_point = 0;
};
Status read_x(const OpContext& ctx, XQuant* q);

// Output type and requantization (inputs 6, 7 and "out_dtype").
struct OutQuant {
  DType type = DType::kF32;
  float scale = 1.0f;
  int32_t zero_point = 0;
};
Status read_out(const OpContext& ctx, OutQuant* o);

// A QGemm/Bf16Gemm/F32Gemm's x [..., K] and w [K, N] (or [N, K] with attribute trans_b): x's
// leading dims flatten into M, y is [..., N].
struct GemmPlan {
  int64_t m = 0, k = 0, n = 0;
  bool trans_b = false;
  Shape out_shape;
};
Status plan_gemm(const OpContext& ctx, const Tensor& x, const Tensor& w, GemmPlan* g);

// A per-output-channel bias of n values ([n] or [1, n]), f32 or (when s32_ok) s32; null if absent.
Status read_bias(const OpContext& ctx, size_t i, int64_t n, bool s32_ok, const Tensor** out);
// w_scale (input 2): f32 with 1 or n values.
Status read_w_scale(const OpContext& ctx, int64_t n, const Tensor** out);

}  // namespace qtune
