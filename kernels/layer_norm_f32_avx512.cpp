#include <immintrin.h>

#include <cmath>

#include "kernels/layer_norm_f32.h"

namespace qtune {
namespace {

inline __mmask16 tail_mask(int64_t left) {
  return static_cast<__mmask16>(left >= 16 ? 0xFFFFu : (1u << left) - 1u);
}

}  // namespace

void f32_layer_norm_rows__avx512(const float* x, float* y, int64_t rows, int64_t cols,
                                 const float* scale, const float* bias, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x + r * cols;
    float* q = y + r * cols;
    __m512 s = _mm512_setzero_ps();
    for (int64_t j = 0; j < cols; j += 16) {
      s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail_mask(cols - j), p + j));
    }
    const float mean = _mm512_reduce_add_ps(s) / static_cast<float>(cols);
    const __m512 mv = _mm512_set1_ps(mean);
    __m512 ss = _mm512_setzero_ps();
    for (int64_t j = 0; j < cols; j += 16) {
      const __mmask16 m = tail_mask(cols - j);
      const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, p + j), mv);
      ss = _mm512_fmadd_ps(d, d, ss);
    }
    const float var = _mm512_reduce_add_ps(ss) / static_cast<float>(cols);
    const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(var + eps));
    for (int64_t j = 0; j < cols; j += 16) {
      const __mmask16 m = tail_mask(cols - j);
      const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + j), mv);
      __m512 v = _mm512_mul_ps(_mm512_mul_ps(d, inv), _mm512_maskz_loadu_ps(m, scale + j));
      if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + j));
      _mm512_mask_storeu_ps(q + j, m, v);
    }
  }
}

}  // namespace qtune
