// Scalar reference GEMM: the fallback on CPUs without AVX-512 and the oracle for kernel tests.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <vector>

#include "kernels/gemm_f32.h"

namespace qtune {
namespace {

// Below this many multiply-adds a thread hand-off costs more than it saves.
constexpr int64_t kParallelMacs = int64_t{1} << 18;

// With b_rows set, row p of B starts at b_rows[p] (trans_b is then false).
void rows(bool trans_a, bool trans_b, int64_t i0, int64_t i1, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, const float* const* b_rows,
          float beta, float* c, int64_t ldc) {
  std::vector<float> acc(static_cast<size_t>(n));
  for (int64_t i = i0; i < i1; ++i) {
    auto a_at = [&](int64_t p) { return trans_a ? a[p * lda + i] : a[i * lda + p]; };
    if (trans_b) {
      for (int64_t j = 0; j < n; ++j) {
        const float* bj = b + j * ldb;
        float s = 0.0f;
        for (int64_t p = 0; p < k; ++p) s += a_at(p) * bj[p];
        acc[j] = s;
      }
    } else {
      // i-k-j order walks B and the accumulator row contiguously.
      for (int64_t j = 0; j < n; ++j) acc[j] = 0.0f;
      for (int64_t p = 0; p < k; ++p) {
        const float av = a_at(p);
        const float* bp = b_rows ? b_rows[p] : b + p * ldb;
        for (int64_t j = 0; j < n; ++j) acc[j] += av * bp[j];
      }
    }
    float* ci = c + i * ldc;
    if (beta == 0.0f) {
      for (int64_t j = 0; j < n; ++j) ci[j] = alpha * acc[j];
    } else {
      for (int64_t j = 0; j < n; ++j) ci[j] = alpha * acc[j] + beta * ci[j];
    }
  }
}

void run(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
         const float* a, int64_t lda, const float* b, int64_t ldb, const float* const* b_rows,
         float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (m * n * k < kParallelMacs || m == 1) {
    rows(trans_a, trans_b, 0, m, n, k, alpha, a, lda, b, ldb, b_rows, beta, c, ldc);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, m), [&](const tbb::blocked_range<int64_t>& r) {
    rows(trans_a, trans_b, r.begin(), r.end(), n, k, alpha, a, lda, b, ldb, b_rows, beta, c, ldc);
  });
}

}  // namespace

void f32_gemm__ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                   float* c, int64_t ldc) {
  run(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, nullptr, beta, c, ldc);
}

void f32_gemm_rows__ref(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                        const float* a, int64_t lda, const float* const* b_rows, float beta,
                        float* c, int64_t ldc) {
  run(trans_a, false, m, n, k, alpha, a, lda, nullptr, 0, b_rows, beta, c, ldc);
}

}  // namespace qtune
