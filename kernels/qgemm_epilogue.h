// The scalar epilogue of the int8 GEMM: one definition of rounding (half to even) and
// saturation that the reference path and the tails of the SIMD paths both use.
// Internal to kernels/qgemm*.cpp. Pure functions; thread-safe.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/qgemm.h"

namespace qtune::qgemm_detail {

// Bounds the quotient before rounding so the int conversion is defined; any value this far out
// saturates anyway.
constexpr float kQuotientLimit = 1073741824.0f;  // 2^30

inline float dequantize_acc(const QGemmParams& p, int32_t acc, int64_t n) {
  float y = static_cast<float>(acc) * p.scale[p.per_channel_scale ? n : 0];
  if (p.bias_f32) y = y + p.bias_f32[n];
  return std::min(std::max(y, p.clamp_min), p.clamp_max);
}

inline int32_t requantize(const QGemmParams& p, float y, int32_t lo, int32_t hi) {
  float q = y / p.out_scale;
  q = std::min(std::max(q, -kQuotientLimit), kQuotientLimit);
  const int32_t r = static_cast<int32_t>(std::nearbyint(q)) + p.out_zero_point;
  return std::min(std::max(r, lo), hi);
}

// Writes one finished accumulator (zero point and s32 bias already applied) to C.
inline void store_one(const QGemmParams& p, int32_t acc, int64_t m, int64_t n, void* c,
                      int64_t ldc) {
  const int64_t idx = p.c_transposed ? n * ldc + m : m * ldc + n;
  switch (p.output) {
    case QGemmOutput::kS32: static_cast<int32_t*>(c)[idx] = acc; break;
    case QGemmOutput::kF32: static_cast<float*>(c)[idx] = dequantize_acc(p, acc, n); break;
    case QGemmOutput::kU8:
      static_cast<uint8_t*>(c)[idx] =
          static_cast<uint8_t>(requantize(p, dequantize_acc(p, acc, n), 0, 255));
      break;
    case QGemmOutput::kS8:
      static_cast<int8_t*>(c)[idx] =
          static_cast<int8_t>(requantize(p, dequantize_acc(p, acc, n), -128, 127));
      break;
  }
}

}  // namespace qtune::qgemm_detail
