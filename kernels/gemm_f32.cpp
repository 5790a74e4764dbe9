// Picks the fp32 GEMM kernel once, from the CPU features in use.
#include "kernels/gemm_f32.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

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

int64_t f32_panel_width(int64_t n) {
  const int64_t vectors = (n + 15) / 16;
  int64_t best = 4, best_pad = vectors;
  for (int64_t v = 4; v >= 2; --v) {
    const int64_t pad = (vectors + v - 1) / v * v - vectors;
    if (pad < best_pad) {
      best = v;
      best_pad = pad;
    }
  }
  return 4 * best_pad <= vectors + best_pad ? 16 * best : 16;
}

void PackedGemmBF32::Free::operator()(float* p) const { std::free(p); }

PackedGemmBF32 pack_gemm_b_f32(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb) {
  PackedGemmBF32 p;
  p.k = k;
  p.n = n;
  p.block = f32_panel_width(n);
  p.panels = (n + p.block - 1) / p.block;
  const size_t floats = static_cast<size_t>(std::max<int64_t>(1, p.panels * k * p.block));
  const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
  p.data.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
  if (!p.data) throw std::bad_alloc();
  std::memset(p.data.get(), 0, bytes);
  for (int64_t pi = 0; pi < p.panels; ++pi) {
    float* dst = p.data.get() + pi * k * p.block;
    const int64_t j0 = pi * p.block, width = std::min(p.block, n - j0);
    for (int64_t kk = 0; kk < k; ++kk) {
      for (int64_t j = 0; j < width; ++j) {
        dst[kk * p.block + j] = trans_b ? b[(j0 + j) * ldb + kk] : b[kk * ldb + j0 + j];
      }
    }
  }
  return p;
}

namespace {

struct PackedChoice {
  void (*fn)(int64_t, const float*, int64_t, const PackedGemmBF32&, const GemmF32Epilogue&,
             float*, int64_t);
  const char* name;
};

const PackedChoice& packed_choice() {
  static const PackedChoice c =
      cpu_features().avx512f ? PackedChoice{f32_gemm_packed__avx512, "f32_gemm_packed__avx512"}
                             : PackedChoice{f32_gemm_packed__scalar, "f32_gemm_packed__scalar"};
  return c;
}

}  // namespace

void gemm_f32_packed(int64_t m, const float* a, int64_t lda, const PackedGemmBF32& b,
                     const GemmF32Epilogue& e, float* c, int64_t ldc) {
  packed_choice().fn(m, a, lda, b, e, c, ldc);
}

const char* gemm_f32_packed_kernel_name() { return packed_choice().name; }

void f32_gemm_packed__scalar(int64_t m, const float* a, int64_t lda, const PackedGemmBF32& b,
                             const GemmF32Epilogue& e, float* c, int64_t ldc) {
  tbb::parallel_for(int64_t{0}, m, [&](int64_t i) {
    std::vector<float> acc(static_cast<size_t>(b.block));
    for (int64_t pi = 0; pi < b.panels; ++pi) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      const float* bp = b.panel(pi);
      for (int64_t kk = 0; kk < b.k; ++kk) {
        const float av = a[i * lda + kk];
        for (int64_t j = 0; j < b.block; ++j) acc[j] += av * bp[kk * b.block + j];
      }
      const int64_t j0 = pi * b.block;
      for (int64_t j = 0; j < b.block && j0 + j < b.n; ++j) {
        float v = acc[j] + (e.bias ? e.bias[j0 + j] : 0.0f);
        c[i * ldc + j0 + j] = std::min(std::max(v, e.clamp_min), e.clamp_max);
      }
    }
  });
}

}  // namespace qtune
