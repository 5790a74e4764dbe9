// fp32 GEMM: C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with strides.
// Called by the runtime's Conv/Gemm/MatMul ops; gemm_f32() picks the kernel once per process.
// Reentrant: concurrent calls on disjoint C are safe; large calls parallelise with TBB.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>

namespace qtune {

// lda/ldb/ldc are row strides of the matrices as stored: A is [M,K] (or [K,M] when trans_a),
// B is [K,N] (or [N,K] when trans_b). beta == 0 means C is not read (NaNs in it vanish).
using GemmF32Fn = void (*)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                           float alpha, const float* a, int64_t lda, const float* b,
                           int64_t ldb, float beta, float* c, int64_t ldc);

// Dispatching entry point: the AVX-512 kernel when cpu_features().avx512f, else the reference.
void gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
              int64_t ldc);
// Like gemm_f32 with op(B) = B given row by row: row p (n floats) starts at b_rows[p]. Conv
// uses it as an implicit im2col, pointing rows into a padded image instead of copying them.
void gemm_f32_rows(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* const* b_rows, float beta, float* c, int64_t ldc);
// Name of the kernel gemm_f32() uses ("f32_gemm_8x32__avx512", "f32_gemm__ref").
const char* gemm_f32_kernel_name();

// The individual kernels, for tests and benchmarks. Call the AVX-512 one only when
// cpu_features().avx512f holds.
void f32_gemm__ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                   float* c, int64_t ldc);
void f32_gemm_8x32__avx512(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                           float alpha, const float* a, int64_t lda, const float* b,
                           int64_t ldb, float beta, float* c, int64_t ldc);
using GemmF32RowsFn = void (*)(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                               const float* a, int64_t lda, const float* const* b_rows,
                               float beta, float* c, int64_t ldc);
void f32_gemm_rows__ref(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                        const float* a, int64_t lda, const float* const* b_rows, float beta,
                        float* c, int64_t ldc);
void f32_gemm_rows_8x32__avx512(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                                const float* a, int64_t lda, const float* const* b_rows,
                                float beta, float* c, int64_t ldc);

// ---------------------------------------------------------------- B packed once (weights)
// C[M, N] = clamp(A[M, K] * B + bias) with B (a layer's weights) packed once into panels of
// `block` columns (whole vectors: 16, 32, 48 or 64), each [K][block], zero-padded past N. Called
// by the runtime's Gemm/MatMul with constant weights and the native adaptor's F32Gemm; reentrant,
// large calls parallelise with TBB.

// Columns per panel for n columns (also the channel block of kernels/conv2d_f32.h): up to 4
// vectors, the count among 2-4 that pads n least (ties to the wider), one vector when even that
// pads more than a quarter.
int64_t f32_panel_width(int64_t n);

struct PackedGemmBF32 {
  int64_t k = 0, n = 0, block = 16, panels = 0;
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> data;
  const float* panel(int64_t p) const { return data.get() + p * k * block; }
};
// B is [K, N] with row stride ldb, or [N, K] when trans_b.
PackedGemmBF32 pack_gemm_b_f32(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb);

struct GemmF32Epilogue {
  const float* bias = nullptr;  // [N], or none
  float clamp_min = -std::numeric_limits<float>::infinity();
  float clamp_max = std::numeric_limits<float>::infinity();
};

// A is [M, K] with row stride lda; C is [M, N] with row stride ldc and must not alias A.
void gemm_f32_packed(int64_t m, const float* a, int64_t lda, const PackedGemmBF32& b,
                     const GemmF32Epilogue& e, float* c, int64_t ldc);
const char* gemm_f32_packed_kernel_name();  // "f32_gemm_packed__avx512", "f32_gemm_packed__scalar"
void f32_gemm_packed__scalar(int64_t m, const float* a, int64_t lda, const PackedGemmBF32& b,
                             const GemmF32Epilogue& e, float* c, int64_t ldc);
void f32_gemm_packed__avx512(int64_t m, const float* a, int64_t lda, const PackedGemmBF32& b,
                             const GemmF32Epilogue& e, float* c, int64_t ldc);

}  // namespace qtune
