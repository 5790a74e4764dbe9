// LayerNorm over contiguous f32 rows: y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * scale (+ bias),
// the biased variance of the row, as ONNX's LayerNormalization computes it (the native adaptor's
// fused LayerNorm). Sums are kept in 16 interleaved partial sums, so the result equals the
// reference to float rounding, not bit for bit. y may alias x. Pure functions on caller-owned
// buffers; thread-safe.
#pragma once

#include <cstdint>

namespace qtune {

// scale has `cols` values; bias has `cols` values or is null. Dispatches once on cpu_features().
void layer_norm_rows_f32(const float* x, float* y, int64_t rows, int64_t cols, const float* scale,
                         const float* bias, float eps);
void f32_layer_norm_rows__ref(const float* x, float* y, int64_t rows, int64_t cols,
                              const float* scale, const float* bias, float eps);
// Only where cpu_features().avx512f.
void f32_layer_norm_rows__avx512(const float* x, float* y, int64_t rows, int64_t cols,
                                 const float* scale, const float* bias, float eps);

}  // namespace qtune
