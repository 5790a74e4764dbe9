// 8-bit integer GEMM with zero points and s32 output: the descriptor that says what to compute,
// and the plain scalar reference kernel (`__ref`) that ISA variants are checked against.
// Called by the quantized runtime ops (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger).
// The kernel touches only the descriptor's buffers; distinct output rows may run concurrently.
#pragma once

#include <cstdint>

#include "common/dtype.h"

namespace qtune {

// C[m,n] (=|+=) sum_k (A[m,k] - a_zp(m)) * (B[k,n] - b_zp(n)), all row-major with leading
// dimensions in elements. A and B are u8 or s8 in any combination. A zero point is one value
// for the whole matrix, or (when the pointer is set) one per row of A / per column of B.
// Accumulation is in s32 and wraps on overflow, which ONNX permits ("may overflow if and only if
// in 32 bits").
struct QGemmDesc {
  int64_t m = 0, n = 0, k = 0;
  DType a_type = DType::kU8;
  const void* a = nullptr;
  int64_t lda = 0;
  DType b_type = DType::kS8;
  const void* b = nullptr;
  int64_t ldb = 0;
  int32_t* c = nullptr;
  int64_t ldc = 0;
  int32_t a_zero_point = 0;
  const int32_t* a_zero_points = nullptr;  // m values, overrides a_zero_point
  int32_t b_zero_point = 0;
  const int32_t* b_zero_points = nullptr;  // n values, overrides b_zero_point
  bool accumulate = false;                 // C += instead of C =
};

// True when the descriptor is something the kernels can compute (types u8/s8, sizes >= 0,
// leading dimensions large enough, buffers present when non-empty).
bool qgemm_desc_valid(const QGemmDesc& d);

// qs8_gemm: 8-bit quantized (u8/s8 per the descriptor) GEMM, s32 out. Scalar reference.
void qs8_gemm__ref(const QGemmDesc& d);

}  // namespace qtune
