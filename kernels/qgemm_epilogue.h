// The scalar epilogue of the int8 GEMM, on the shared rounding rule of kernels/quantize_ref.h;
// the reference path and the scattered stores of the SIMD paths both use it.
// Internal to kernels/qgemm*.cpp. Pure functions; thread-safe.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/qgemm.h"
#include "kernels/quantize_ref.h"

namespace qtune::qgemm_detail {

// The SIMD paths clamp the quotient here before converting to int; anything this far out
// saturates either way, so the result equals quantize_value's.
constexpr float kQuotientLimit = 1073741824.0f;  // 2^30

inline float dequantize_acc(const QGemmParams& p, int32_t acc, int64_t n) {
  float y = static_cast<float>(acc) * p.scale[p.per_channel_scale ? n : 0];
  if (p.mid_scale > 0.0f) {
    const int32_t q = saturate_round(y * (1.0f / p.mid_scale), p.mid_zero_point, qrange(p.mid_type));
    y = dequantize_value(q, p.mid_scale, p.mid_zero_point);
  }
  if (p.bias_f32) y = y + p.bias_f32[n];
  return std::min(std::max(y, p.clamp_min), p.clamp_max);
}

// Writes one finished accumulator (zero point and s32 bias already applied) to C.
inline void store_one(const QGemmParams& p, int32_t acc, int64_t m, int64_t n, void* c,
                      int64_t ldc) {
  const int64_t idx = p.c_transposed ? n * ldc + m : m * ldc + n;
  switch (p.output) {
    case QGemmOutput::kS32: static_cast<int32_t*>(c)[idx] = acc; break;
    case QGemmOutput::kF32: static_cast<float*>(c)[idx] = dequantize_acc(p, acc, n); break;
    case QGemmOutput::kU8:
      static_cast<uint8_t*>(c)[idx] = static_cast<uint8_t>(saturate_round(
          dequantize_acc(p, acc, n) * (1.0f / p.out_scale), p.out_zero_point, qrange(DType::kU8)));
      break;
    case QGemmOutput::kS8:
      static_cast<int8_t*>(c)[idx] = static_cast<int8_t>(saturate_round(
          dequantize_acc(p, acc, n) * (1.0f / p.out_scale), p.out_zero_point, qrange(DType::kS8)));
      break;
  }
}

}  // namespace qtune::qgemm_detail
