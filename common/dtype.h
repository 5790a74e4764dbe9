// Element types of tensors and their conversions (including bf16/f16 bit patterns).
// Numbering follows onnx.TensorProto.DataType so values cross the ONNX boundary unchanged.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace qtune {

enum class DType : int32_t {
  kUndefined = 0,
  kF32 = 1,
  kU8 = 2,
  kS8 = 3,
  kU16 = 4,
  kS16 = 5,
  kS32 = 6,
  kS64 = 7,
  kString = 8,  // elements are std::string objects, not plain bytes
  kBool = 9,
  kF16 = 10,
  kF64 = 11,
  kU32 = 12,
  kU64 = 13,
  kBF16 = 16,
};

// Bytes per element; 0 for kUndefined and for kString, whose std::string elements must never be
// copied byte-wise (element-moving kernels dispatching on the size skip them).
size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "f32", "u8", ...
bool dtype_from_onnx(int32_t onnx_type, DType* out);  // false for complex and other unstored types
bool dtype_is_float(DType t);

// bf16 keeps the top 16 bits of an f32; rounding is to nearest even, NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

}  // namespace qtune
