// The native adaptor's fused ops in domain "qtune" (QConv, QGemm, QAdd, QLut, channels-last
// MaxPool, Bf16Conv, Bf16Gemm; see adaptors/lowering.h and native_graph_passes.h for their inputs
// and attributes), on the int8 VNNI and bf16 kernels, plus faster standard Q/DQ and Transpose.
// Executors built by prepare_native() look them up; weights are packed once per model through
// the node caches. The registry is built once and read-only afterwards: thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernel_registry.h"

namespace qtune {

inline constexpr const char* kNativeDomain = "qtune";

const KernelRegistry& native_ops();

// Weight packings done so far by these ops, process-wide: lets tests see that a model's weights
// are packed once, not once per run.
uint64_t native_weight_pack_count();

}  // namespace qtune
