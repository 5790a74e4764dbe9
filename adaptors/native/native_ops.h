// The native adaptor's fused ops in domain "qtune" (QConv, QGemm, Bf16Conv, Bf16Gemm; see
// adaptors/lowering.h for their inputs and attributes), on the int8 VNNI and bf16 kernels.
// Executors built by prepare_native() look them up; weights are packed once per model through
// the node caches. The registry is built once and read-only afterwards: thread-safe.
#pragma once

#include <cstdint>

#include "adaptors/runtime/op_registry.h"

namespace qtune {

inline constexpr const char* kNativeDomain = "qtune";

const OpRegistry& native_ops();

// Weight packings done so far by these ops, process-wide: lets tests see that a model's weights
// are packed once, not once per run.
uint64_t native_weight_pack_count();

}  // namespace qtune
