// The operand checks every convolution op shares (reference QLinearConv/ConvInteger and the
// adaptors' fused QConv/Bf16Conv/F32Conv): weight rank equals input rank, channels fit the
// group, kernel_shape agrees with the weight, then the output geometry. Pure; thread-safe.
#pragma once

#include <cstdint>

#include "runtime/kernel_registry.h"
#include "runtime/conv_geometry.h"
#include "common/tensor.h"

namespace qtune {

struct ConvOperands {
  int64_t group = 1;
  Shape in_sp, k_sp;  // spatial input and kernel sizes
  ConvGeometry geo;
};

// x [N, C, D1, ...] and w [M, C/group, K1, ...]; errors are kInvalidInput naming the node.
Result<ConvOperands> check_conv_operands(const OpContext& ctx, const Tensor& x, const Tensor& w);

}  // namespace qtune
