// The native adaptor's fused ops in domain "qtune" (QConv, QGemm, QAdd, QLut, channels-last
// MaxPool, Bf16Conv, Bf16Gemm, F32Conv, F32Gemm; see adaptors/lowering.h and
// native_graph_passes.h for their inputs and attributes), on the int8 VNNI, bf16 and fp32
// kernels, plus faster standard Q/DQ and Transpose.
// Executors built by prepare_native() look them up; weights are packed once per model through
// the node caches. The registry is built once and read-only afterwards: thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernel_registry.h"

namespace qtune {

inline constexpr const char* kNativeDomain = "qtune";

const KernelRegistry& native_ops();

// F32Conv and F32Gemm (adaptors/native/native_f32_ops.cpp), added to native_ops().
void add_native_f32_ops(KernelRegistry* r);

// Weight packings done so far by these ops, process-wide: lets tests see that a model's weights
// are packed once, not once per run.
uint64_t native_weight_pack_count();
// Counts one packing (for ops in other files of the adaptor).
void note_native_weight_pack();

}  // namespace qtune
