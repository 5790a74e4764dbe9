// Softmax over contiguous f32 rows, y[r, :] = exp(x[r, :] - max) / sum: the runtime's Softmax
// (and the attention of transformer models) on its innermost axis. The AVX-512 path evaluates
// exp as 2^k * p(r) with a degree-7 polynomial (about 2 ulp), the reference with std::exp. Both
// give NaN rows for NaN inputs or a +inf, as the ONNX reference does, and 0 where an input is
// -inf. y may alias x. Pure functions on caller-owned buffers; thread-safe.
#pragma once

#include <cstdint>

namespace qtune {

// Dispatches once on cpu_features().
void softmax_rows_f32(const float* x, float* y, int64_t rows, int64_t n);
void f32_softmax_rows__ref(const float* x, float* y, int64_t rows, int64_t n);
// Only where cpu_features().avx512f.
void f32_softmax_rows__avx512(const float* x, float* y, int64_t rows, int64_t n);

}  // namespace qtune
