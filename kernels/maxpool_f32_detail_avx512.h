// The 2x2, stride-2 max pooling of one output row on AVX-512, shared by the MaxPool kernel and
// the conv kernel that pools in its epilogue. Only for files compiled with AVX-512 flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace qtune::maxpool_detail {

// max(a, b) where a NaN lane never wins over a number (vmaxps returns its second operand when
// either is NaN, so b's NaN lanes take a).
inline __m512 max_skip_nan(__m512 a, __m512 b) {
  const __m512 m = _mm512_max_ps(a, b);
  return _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q), a);
}

inline __mmask16 low_lanes(int64_t n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// out[ow] = max of r(0, 2ow), r(0, 2ow + 1), r(1, 2ow), r(1, 2ow + 1) for ow < out_w, where
// load(row, column, mask) gives the 16 values of row 0 or 1 from that column (masked-off lanes
// not read): 16 outputs from two 32-value runs of each row (the rows' maximum, then a
// two-source permute takes the even and odd columns apart). Asks for no column past 2 * out_w.
template <typename Load>
inline void pool_row(Load&& load, int64_t out_w, float* out) {
  const __m512i evens =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  for (int64_t ow = 0; ow < out_w; ow += 16) {
    const int64_t n = std::min<int64_t>(16, out_w - ow);  // outputs; 2n inputs per row
    const __mmask16 lo = low_lanes(2 * n), hi = low_lanes(2 * n - 16);
    const int64_t c = 2 * ow;
    const __m512 v0 = max_skip_nan(load(0, c, lo), load(1, c, lo));
    const __m512 v1 = max_skip_nan(load(0, c + 16, hi), load(1, c + 16, hi));
    const __m512 even = _mm512_permutex2var_ps(v0, evens, v1);
    const __m512 odd = _mm512_permutex2var_ps(v0, odds, v1);
    _mm512_mask_storeu_ps(out + ow, low_lanes(n), max_skip_nan(even, odd));
  }
}

}  // namespace qtune::maxpool_detail
