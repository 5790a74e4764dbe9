// erf, exact GELU (x * (1 + erf(x / sqrt 2)) / 2) and its tanh form
// (x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2) over contiguous f32 arrays: the runtime's
// Erf and the native adaptor's fused Gelu. tanh is the rational approximation Eigen uses
// (a few ulp; +-1 beyond +-7.9). erf is the rational approximation Eigen and XLA use,
// |error| < 5e-7 everywhere (beyond +-4 erf is +-1 in f32 anyway), on GCC vector types because
// std::erf does not vectorise and GELU applies it to every MLP activation. The AVX-512 path may
// fuse multiply-adds, so the two paths can differ in the last bit or two. NaN stays NaN.
// y may alias x. Pure functions on caller-owned buffers; thread-safe.
#pragma once

#include <cstdint>

namespace qtune {

// Dispatch once on cpu_features().
void erf_f32(const float* x, float* y, int64_t n);
void gelu_f32(const float* x, float* y, int64_t n);
void gelu_tanh_f32(const float* x, float* y, int64_t n);

void f32_erf__ref(const float* x, float* y, int64_t n);
void f32_gelu__ref(const float* x, float* y, int64_t n);
void f32_gelu_tanh__ref(const float* x, float* y, int64_t n);
// Only where cpu_features().avx512f.
void f32_erf__avx512(const float* x, float* y, int64_t n);
void f32_gelu__avx512(const float* x, float* y, int64_t n);
void f32_gelu_tanh__avx512(const float* x, float* y, int64_t n);

}  // namespace qtune
