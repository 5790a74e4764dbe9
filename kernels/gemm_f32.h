// fp32 GEMM: C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with strides.
// Called by the runtime's Conv/Gemm/MatMul ops; gemm_f32() picks the kernel once per process.
// Reentrant: concurrent calls on disjoint C are safe; large calls parallelise with TBB.
#pragma once

#include <cstdint>

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

}  // namespace qtune
