// The one definition of qtune's quantization arithmetic: round half to even, then saturate.
// Scalar helpers and the reference (`__ref`) quantize / dequantize / requantize kernels that the
// runtime ops, calibration and the future SIMD twins (as their oracle) all share.
// Pure functions over caller-owned buffers; thread-safe.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/dtype.h"

namespace qtune {

// Integer range of a quantized type.
struct QRange {
  int32_t lo;
  int32_t hi;
};
// u8 -> [0,255], s8 -> [-128,127], s32 -> full int32; any other type gets {0,0}.
QRange qrange(DType t);
inline bool is_q8(DType t) { return t == DType::kU8 || t == DType::kS8; }

// Round to nearest, ties to even, independent of the FP environment's rounding mode.
template <typename F>
inline F round_half_even(F x) {
  F r = std::round(x);  // ties away from zero
  if (std::fabs(x - std::trunc(x)) == F(0.5)) r = F(2) * std::round(x * F(0.5));
  return r;
}

// saturate(round(v) + zp) for an already scaled value v. NaN maps to the zero point, since ONNX
// leaves it undefined and the zero point is the quantized 0.
template <typename F>
inline int32_t saturate_round(F v, int32_t zp, QRange r) {
  if (std::isnan(v)) return zp < r.lo ? r.lo : (zp > r.hi ? r.hi : zp);
  // Clamp in double: every int32 bound is exact there and the rounded value is an integer.
  double q = static_cast<double>(round_half_even(v)) + zp;
  if (q < r.lo) q = r.lo;
  if (q > r.hi) q = r.hi;
  return static_cast<int32_t>(q);
}

// ONNX QuantizeLinear: saturate(round(x / scale) + zp). Division (not a reciprocal multiply) in
// f32 is what the spec and ONNX Runtime compute, so ties land on the same side.
inline int32_t quantize_value(float x, float scale, int32_t zp, QRange r) {
  return saturate_round(x / scale, zp, r);
}
// ONNX DequantizeLinear: (q - zp) * scale, the difference taken exactly before the f32 multiply.
inline float dequantize_value(int32_t q, float scale, int32_t zp) {
  return static_cast<float>(static_cast<int64_t>(q) - zp) * scale;
}
// An s32 accumulator to the output grid: saturate(round(acc * multiplier) + zp), in f32 like
// ONNX Runtime's requantisation. multiplier = (in_scale * w_scale) / out_scale.
inline int32_t requantize_value(int32_t acc, float multiplier, int32_t zp, QRange r) {
  return saturate_round(static_cast<float>(acc) * multiplier, zp, r);
}
inline float requant_multiplier(float in_scale, float w_scale, float out_scale) {
  return (in_scale * w_scale) / out_scale;
}

// Quantization parameters for a tensor viewed as [outer, channels, inner]: one (scale, zero
// point) per channel when per_channel, else scale[0] / zero_point[0] for every element.
// zero_point may be null (all zeros).
struct QParams {
  const float* scale = nullptr;
  const int32_t* zero_point = nullptr;
  bool per_channel = false;
  float scale_at(int64_t c) const { return scale[per_channel ? c : 0]; }
  int32_t zero_point_at(int64_t c) const {
    return zero_point ? zero_point[per_channel ? c : 0] : 0;
  }
};

// The kernels below take types from their descriptor; callers (the ops) validate them first, and a
// type outside the listed ones leaves the output untouched.

// y[o,c,i] = quantize(x[o,c,i]) into u8/s8 y (s32 too, for biases).
struct QuantizeDesc {
  int64_t outer = 1, channels = 1, inner = 1;
  const float* x = nullptr;
  void* y = nullptr;
  DType y_type = DType::kU8;
  QParams q;
};
void q8_quantize_f32__ref(const QuantizeDesc& d);

// y[o,c,i] = dequantize(x[o,c,i]) from u8/s8/s32 x into f32 y.
struct DequantizeDesc {
  int64_t outer = 1, channels = 1, inner = 1;
  const void* x = nullptr;
  DType x_type = DType::kU8;
  float* y = nullptr;
  QParams q;
};
void q8_dequantize_f32__ref(const DequantizeDesc& d);

// y[o,c,i] = requantize(acc[o,c,i] + bias[c]) with a per-channel (or single) f32 multiplier and
// one output zero point, into u8/s8 y. bias may be null.
struct RequantizeDesc {
  int64_t outer = 1, channels = 1, inner = 1;
  const int32_t* acc = nullptr;
  const int32_t* bias = nullptr;
  const float* multiplier = nullptr;
  bool per_channel = false;
  int32_t y_zero_point = 0;
  void* y = nullptr;
  DType y_type = DType::kU8;
};
void qs32_requantize_q8__ref(const RequantizeDesc& d);

}  // namespace qtune
