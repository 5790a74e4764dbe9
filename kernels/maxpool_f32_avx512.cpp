// maxpool2x2_f32__avx512 (kernels/maxpool_f32.h): row by row with maxpool_detail::pool_row.
// Compiled with AVX-512 flags (the file name says so); only called after a run-time check.
#include "kernels/maxpool_f32.h"
#include "kernels/maxpool_f32_detail_avx512.h"

namespace qtune {

void maxpool2x2_f32__avx512(int64_t in_w, int64_t out_h, int64_t out_w, const float* x,
                            float* y) {
  for (int64_t oh = 0; oh < out_h; ++oh) {
    const float* r0 = x + 2 * oh * in_w;
    maxpool_detail::pool_row(
        [&](int64_t row, int64_t col, __mmask16 m) {
          return _mm512_maskz_loadu_ps(m, r0 + row * in_w + col);
        },
        out_w, y + oh * out_w);
  }
}

}  // namespace qtune
