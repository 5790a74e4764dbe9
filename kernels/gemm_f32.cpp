// Picks the fp32 GEMM kernel once, from the CPU features in use.
#include "kernels/gemm_f32.h"

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

struct GemmChoice {
  GemmF32Fn fn;
  GemmF32RowsFn rows;
  const char* name;
};

const GemmChoice& choice() {
  static const GemmChoice c =
      cpu_features().avx512f
          ? GemmChoice{f32_gemm_8x32__avx512, f32_gemm_rows_8x32__avx512, "f32_gemm_8x32__avx512"}
          : GemmChoice{f32_gemm__ref, f32_gemm_rows__ref, "f32_gemm__ref"};
  return c;
}

}  // namespace

void gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
              int64_t ldc) {
  choice().fn(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_f32_rows(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* const* b_rows, float beta, float* c, int64_t ldc) {
  choice().rows(trans_a, m, n, k, alpha, a, lda, b_rows, beta, c, ldc);
}

const char* gemm_f32_kernel_name() { return choice().name; }

}  // namespace qtune
