#include "kernels/quantize_ref.h"

#include <limits>

namespace qtune {

QRange qrange(DType t) {
  switch (t) {
    case DType::kU8: return {0, 255};
    case DType::kS8: return {-128, 127};
    case DType::kS32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default: return {0, 0};
  }
}

namespace {

template <typename Q>
void quantize_typed(const QuantizeDesc& d) {
  const QRange r = qrange(d.y_type);
  Q* y = static_cast<Q*>(d.y);
  int64_t idx = 0;
  for (int64_t o = 0; o < d.outer; ++o) {
    for (int64_t c = 0; c < d.channels; ++c) {
      const float s = d.q.scale_at(c);
      const int32_t zp = d.q.zero_point_at(c);
      for (int64_t i = 0; i < d.inner; ++i, ++idx) {
        y[idx] = static_cast<Q>(quantize_value(d.x[idx], s, zp, r));
      }
    }
  }
}

template <typename Q>
void dequantize_typed(const DequantizeDesc& d) {
  const Q* x = static_cast<const Q*>(d.x);
  int64_t idx = 0;
  for (int64_t o = 0; o < d.outer; ++o) {
    for (int64_t c = 0; c < d.channels; ++c) {
      const float s = d.q.scale_at(c);
      const int32_t zp = d.q.zero_point_at(c);
      for (int64_t i = 0; i < d.inner; ++i, ++idx) {
        d.y[idx] = dequantize_value(static_cast<int32_t>(x[idx]), s, zp);
      }
    }
  }
}

template <typename Q>
void requantize_typed(const RequantizeDesc& d) {
  const QRange r = qrange(d.y_type);
  Q* y = static_cast<Q*>(d.y);
  int64_t idx = 0;
  for (int64_t o = 0; o < d.outer; ++o) {
    for (int64_t c = 0; c < d.channels; ++c) {
      const float m = d.multiplier[d.per_channel ? c : 0];
      const uint32_t b = d.bias ? static_cast<uint32_t>(d.bias[c]) : 0u;
      for (int64_t i = 0; i < d.inner; ++i, ++idx) {
        // s32 accumulation wraps (ONNX allows overflow only there); unsigned add keeps it defined.
        const int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(d.acc[idx]) + b);
        y[idx] = static_cast<Q>(requantize_value(acc, m, d.y_zero_point, r));
      }
    }
  }
}

}  // namespace

void q8_quantize_f32__ref(const QuantizeDesc& d) {
  switch (d.y_type) {
    case DType::kU8: quantize_typed<uint8_t>(d); break;
    case DType::kS8: quantize_typed<int8_t>(d); break;
    case DType::kS32: quantize_typed<int32_t>(d); break;
    default: break;
  }
}

void q8_dequantize_f32__ref(const DequantizeDesc& d) {
  switch (d.x_type) {
    case DType::kU8: dequantize_typed<uint8_t>(d); break;
    case DType::kS8: dequantize_typed<int8_t>(d); break;
    case DType::kS32: dequantize_typed<int32_t>(d); break;
    default: break;
  }
}

void qs32_requantize_q8__ref(const RequantizeDesc& d) {
  switch (d.y_type) {
    case DType::kU8: requantize_typed<uint8_t>(d); break;
    case DType::kS8: requantize_typed<int8_t>(d); break;
    default: break;
  }
}

}  // namespace qtune
