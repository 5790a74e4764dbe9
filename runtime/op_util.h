// What every kernel in runtime/ops/ shares, so no operator re-derives it: element-type dispatch,
// input-count and input-type checks, axis normalisation, attribute-or-input reading (the ONNX
// opset changes that turned attributes into inputs), strides, and Conv/Pool geometry.
// Broadcasting lives in runtime/broadcast.h. Pure functions; thread-safe.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/conv_geometry.h"
#include "runtime/broadcast.h"
#include "runtime/kernel_registry.h"

namespace qtune {

// ------------------------------------------------------------------ element types

template <typename T>
struct TypeTag {
  using type = T;
};
// Element types without a C++ arithmetic type of their own (storage is uint16_t / uint8_t).
struct F16 {};
struct BF16 {};
struct Bool {};

template <typename T> struct Storage { using type = T; };
template <> struct Storage<F16> { using type = uint16_t; };
template <> struct Storage<BF16> { using type = uint16_t; };
template <> struct Storage<Bool> { using type = uint8_t; };
template <typename T> using storage_t = typename Storage<T>::type;

template <typename T>
constexpr bool is_float_v = std::is_floating_point_v<T> || std::is_same_v<T, F16> ||
                            std::is_same_v<T, BF16>;

// Element-type sets for KernelDef::types.
inline const std::vector<DType> kFloatTypes = {DType::kF32, DType::kF64, DType::kF16,
                                               DType::kBF16};
inline const std::vector<DType> kIntTypes = {DType::kU8,  DType::kS8,  DType::kU16, DType::kS16,
                                             DType::kU32, DType::kS32, DType::kU64, DType::kS64};
inline const std::vector<DType> kNumericTypes = [] {
  std::vector<DType> v = kFloatTypes;
  v.insert(v.end(), kIntTypes.begin(), kIntTypes.end());
  return v;
}();
inline const std::vector<DType> kAllTypes = [] {
  std::vector<DType> v = kNumericTypes;
  v.push_back(DType::kBool);
  return v;
}();

std::string dtype_str(DType t);  // "f32"

// Calls fn(TypeTag<T>{}) for the C++ type of a plain numeric dtype (no f16/bf16/bool).
template <typename Fn>
Status visit_numeric(DType t, const OpContext& ctx, Fn&& fn) {
  switch (t) {
    case DType::kF32: return fn(TypeTag<float>{});
    case DType::kF64: return fn(TypeTag<double>{});
    case DType::kU8: return fn(TypeTag<uint8_t>{});
    case DType::kS8: return fn(TypeTag<int8_t>{});
    case DType::kU16: return fn(TypeTag<uint16_t>{});
    case DType::kS16: return fn(TypeTag<int16_t>{});
    case DType::kS32: return fn(TypeTag<int32_t>{});
    case DType::kS64: return fn(TypeTag<int64_t>{});
    case DType::kU32: return fn(TypeTag<uint32_t>{});
    case DType::kU64: return fn(TypeTag<uint64_t>{});
    default: return ctx.unsupported("element type " + dtype_str(t) + " is not supported");
  }
}

// Every dtype qtune stores, with F16/BF16/Bool tags for the ones that need special conversion.
template <typename Fn>
Status visit_any(DType t, const OpContext& ctx, Fn&& fn) {
  switch (t) {
    case DType::kF16: return fn(TypeTag<F16>{});
    case DType::kBF16: return fn(TypeTag<BF16>{});
    case DType::kBool: return fn(TypeTag<Bool>{});
    default: return visit_numeric(t, ctx, fn);
  }
}

// Calls fn(TypeTag<U>{}) with the unsigned integer type of the dtype's size: for kernels that
// only move elements (Transpose, Gather, Concat, ...) whatever they hold.
template <typename Fn>
Status visit_by_size(DType t, const OpContext& ctx, Fn&& fn) {
  switch (dtype_size(t)) {
    case 1: return fn(TypeTag<uint8_t>{});
    case 2: return fn(TypeTag<uint16_t>{});
    case 4: return fn(TypeTag<uint32_t>{});
    case 8: return fn(TypeTag<uint64_t>{});
    default: return ctx.unsupported("element type " + dtype_str(t) + " is not supported");
  }
}

// f16/bf16 elements as float and back; identity for the plain types.
template <typename T>
inline double load_as_double(storage_t<T> v) {
  if constexpr (std::is_same_v<T, F16>) return f16_to_f32(v);
  else if constexpr (std::is_same_v<T, BF16>) return bf16_to_f32(v);
  else if constexpr (std::is_same_v<T, Bool>) return v ? 1.0 : 0.0;
  else return static_cast<double>(v);
}
template <typename T>
inline storage_t<T> store_from_double(double v) {
  if constexpr (std::is_same_v<T, F16>) return f32_to_f16(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, BF16>) return f32_to_bf16(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, Bool>) return v != 0.0 ? 1 : 0;
  else return static_cast<T>(v);
}

// Float to integer without UB: NaN becomes 0, out-of-range values saturate, the rest truncate.
template <typename T>
T saturate_cast(double v) {
  if (std::isnan(v)) return 0;
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) {
    return std::numeric_limits<T>::lowest();
  }
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

// ------------------------------------------------------------------ half precision

inline bool is_half(DType t) { return t == DType::kF16 || t == DType::kBF16; }
// An f16/bf16 tensor as f32 (other tensors are returned as they are), and back.
Tensor widen_to_f32(const Tensor& t);
Tensor narrow_from_f32(const Tensor& t, DType half);
// Runs `fn` with every f16/bf16 input replaced by its f32 copy and rounds each f32 output back
// to input 0's half type once: half-precision kernels compute in f32.
Status run_in_f32(OpContext& ctx, const OpFn& fn);

// A tensor's elements as doubles, and doubles into a new tensor of `dtype` (any numeric type).
std::vector<double> as_doubles(const Tensor& t);
Result<Tensor> tensor_from_doubles(const OpContext& ctx, DType dtype, Shape shape,
                                   const std::vector<double>& v);

// ------------------------------------------------------------------ inputs

// Between `min` and `max` inputs, the first `min` present, at least one output.
Status need_inputs(const OpContext& ctx, size_t min, size_t max);
// The input, or kInvalidInput naming it when it is missing.
Result<const Tensor*> required_input(const OpContext& ctx, size_t i, const char* name);
// The input is present and not an empty optional ("" in the node's input list).
bool has_input(const OpContext& ctx, size_t i);
// kUnsupported unless the input's element type is one of `types`.
Status need_type(const OpContext& ctx, size_t i, const std::vector<DType>& types);
// A 0-D or 1-element tensor's value.
Result<double> scalar_f64(const OpContext& ctx, size_t i, const char* name);
Result<int64_t> scalar_i64(const OpContext& ctx, size_t i, const char* name);
// A 1-D (or 0-D) int32/int64 input as int64 values (shape, axes, starts, pads, ...).
Result<std::vector<int64_t>> int_list_input(const OpContext& ctx, size_t i, const char* name);
// The ints of input `i` when present, else of attribute `attr` when present, else nullopt:
// Squeeze/Unsqueeze/Split/Reduce axes, Pad pads and the like moved from attributes to inputs.
Result<std::optional<std::vector<int64_t>>> ints_from_input_or_attr(const OpContext& ctx, size_t i,
                                                                    const char* attr);

// ------------------------------------------------------------------ axes and strides

// Maps axis from [-rank, rank) onto [0, rank); kInvalidInput naming the node when out of range.
Result<int64_t> normalize_axis(const OpContext& ctx, int64_t axis, int64_t rank);
// Normalises every axis, rejecting duplicates; sorted ascending.
Result<std::vector<int64_t>> normalize_axes(const OpContext& ctx, std::vector<int64_t> axes,
                                            int64_t rank);
// Element strides of a contiguous row-major tensor.
std::vector<int64_t> contiguous_strides(const Shape& s);
// Product of dims [begin, end).
int64_t dims_product(const Shape& s, size_t begin, size_t end);

// Conv/Pool geometry: conv_geometry() and ConvGeometry, from runtime/conv_geometry.h.

}  // namespace qtune
