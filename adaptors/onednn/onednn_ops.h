// The onednn adaptor's fused ops in domain "onednn" (QConv, QGemm, Bf16Conv, Bf16Gemm, F32Conv,
// F32Gemm; inputs and attributes as adaptors/lowering.h defines them), computed with oneDNN convolution and matmul
// primitives. Executors built by the onednn adaptor look them up; primitives and reordered weights
// are built once per model and input shape in the node caches. Read-only registry: thread-safe.
#pragma once

#include <cstdint>

#include "adaptors/lowering.h"
#include "runtime/kernel_registry.h"

namespace qtune {

inline constexpr const char* kOneDnnDomain = "onednn";

const KernelRegistry& onednn_ops();

// What the onednn adaptor lowers a QDQ graph onto.
LoweringTarget onednn_lowering_target();

// Weight reorders (into a primitive's preferred layout) done so far in this process, for tests
// that check weights are prepared once per model rather than once per run.
uint64_t onednn_weight_reorders();

}  // namespace qtune
