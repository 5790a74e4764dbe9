// f32_softmax_rows__avx512 (kernels/softmax_f32.h). Compiled with AVX-512 flags (the file name
// says so); only called after a run-time check.
#include <immintrin.h>

#include <limits>

#include "kernels/softmax_f32.h"

namespace qtune {
namespace {

// exp(v) for v <= 0 (x - max), NaN kept: 2^k * p(r) with k = round(v / ln 2), r = v - k ln 2 in
// [-ln2/2, ln2/2] (ln 2 split in two so r stays exact), p Cephes' minimax polynomial of e^r
// (degree 7). Below -87.3 the result would be denormal and is 0.
inline __m512 exp_nonpositive(__m512 v) {
  const __m512 lo = _mm512_set1_ps(-87.3365447f);
  const __mmask16 tiny = _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ);
  v = _mm512_max_ps(lo, v);  // lo first: a NaN in v is returned as it is
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.44269504089f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), v);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), _mm512_scalef_ps(p, k));
}

inline __mmask16 tail(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

}  // namespace

void f32_softmax_rows__avx512(const float* x, float* y, int64_t rows, int64_t n) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x + r * n;
    float* q = y + r * n;
    // The maximum, NaN-blind as std::max(mx, v) is when v is NaN: a NaN row still ends NaN
    // through the exps.
    __m512 mv = neg_inf;
    for (int64_t j = 0; j < n; j += 16) {
      mv = _mm512_max_ps(_mm512_mask_loadu_ps(neg_inf, tail(n - j), p + j), mv);
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
    __m512 sv = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = tail(n - j);
      const __m512 e = _mm512_maskz_mov_ps(m, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + j), mx)));
      sv = _mm512_add_ps(sv, e);
      _mm512_mask_storeu_ps(q + j, m, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sv));
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = tail(n - j);
      _mm512_mask_storeu_ps(q + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, q + j), inv));
    }
  }
}

}  // namespace qtune
