// A 16 x 16 float transpose in AVX-512 registers, shared by the fp32 convolution kernels that
// move between NCHW planes and channel vectors. Include only from AVX-512 translation units.
#pragma once

#include <immintrin.h>

namespace qtune {

// rows[j] = column j of the 16 x 16 block rows[0..15] (in place).
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m512 u[16];  // u[4i + q], 128-bit block k: column 4k + q of rows 4i..4i+3
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  for (int q = 0; q < 4; ++q) {
    const __m512 v1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88);
    const __m512 v2 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xdd);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88);
    const __m512 w2 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xdd);
    r[q] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[8 + q] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
    r[4 + q] = _mm512_shuffle_f32x4(v2, w2, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(v2, w2, 0xdd);
  }
}

}  // namespace qtune
