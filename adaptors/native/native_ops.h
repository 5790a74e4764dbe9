// The native adaptor's fused ops in domain "qtune" (QConv, QGemm, Bf16Conv, Bf16Gemm; see
// adaptors/lowering.h for their inputs and attributes), on the int8 VNNI and bf16 kernels.
// Executors built by prepare_native() look them up; weights are packed once per model through
// the node caches. The registry is built once and read-only afterwards: thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernel_registry.h"
#include "kernels/qconv.h"

namespace qtune {

inline constexpr const char* kNativeDomain = "qtune";

const KernelRegistry& native_ops();

// Weight packings done so far by these ops, process-wide: lets tests see that a model's weights
// are packed once, not once per run.
uint64_t native_weight_pack_count();

// The int8 convolution QConv runs, exposed for `qtune bench`: weights packed by
// native_pack_conv_s8 (its layout depends on the path), x and y NCHW as in qconv2d.
std::vector<PackedWeightsS8> native_pack_conv_s8(const int8_t* w, const QConvShape& s);
void native_qconv2d(const QConvShape& s, const QGemmParams& p, const void* x,
                    const std::vector<PackedWeightsS8>& w, void* y);
// The path native_qconv2d takes for this shape.
std::string native_qconv_path(const QConvShape& s);

}  // namespace qtune
