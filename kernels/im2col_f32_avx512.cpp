// AVX-512 im2col: each output row is a few masked loads/stores instead of per-element loops, so
// the short rows of small feature maps (28, 14, 7 wide) cost a handful of instructions.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/im2col_f32.h"

namespace qtune {
namespace {

__mmask16 lanes(int64_t lo, int64_t hi) {  // bits [lo, hi) of 16, clamped
  lo = std::clamp<int64_t>(lo, 0, 16);
  hi = std::clamp<int64_t>(hi, 0, 16);
  if (hi <= lo) return 0;
  const uint32_t upto_hi = (hi == 16) ? 0xffffu : ((1u << hi) - 1u);
  const uint32_t below_lo = (1u << lo) - 1u;
  return static_cast<__mmask16>(upto_hi & ~below_lo);
}

// Address arithmetic that may step outside the row; only lanes inside it are ever touched.
const float* offset(const float* p, int64_t elems) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(p) +
                                        static_cast<uintptr_t>(elems * 4));
}

// row[o] = src[o*stride + off] where 0 <= o*stride + off < w, else 0; for o in [0, ow).
void copy_row(const float* src, int64_t w, int64_t off, int64_t stride, float* row, int64_t ow) {
  if (stride == 1) {
    for (int64_t o = 0; o < ow; o += 16) {
      const int64_t base = o + off;
      const __mmask16 ld = lanes(-base, std::min<int64_t>(w - base, ow - o));
      const __m512 v = _mm512_maskz_loadu_ps(ld, offset(src, base));
      _mm512_mask_storeu_ps(row + o, lanes(0, ow - o), v);
    }
  } else if (stride == 2) {
    const __m512i evens =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int64_t o = 0; o < ow; o += 16) {
      const int64_t base = 2 * o + off;
      const __m512 v0 = _mm512_maskz_loadu_ps(lanes(-base, w - base), offset(src, base));
      const __m512 v1 =
          _mm512_maskz_loadu_ps(lanes(-base - 16, w - base - 16), offset(src, base + 16));
      _mm512_mask_storeu_ps(row + o, lanes(0, ow - o), _mm512_permutex2var_ps(v0, evens, v1));
    }
  } else {
    for (int64_t o = 0; o < ow; ++o) {
      const int64_t i = o * stride + off;
      row[o] = (i >= 0 && i < w) ? src[i] : 0.0f;
    }
  }
}

}  // namespace

void im2col_f32__avx512(const ConvGeometry3d& g, const float* x, float* col) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  const int64_t os = g.out_size();
  float* dst = col;
  for (int64_t c = 0; c < g.channels; ++c) {
    const float* xc = x + c * D * H * W;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, dst += os) {
          const int64_t woff = kw * g.dilation[2] - g.pad_begin[2];
          for (int64_t od = 0; od < OD; ++od) {
            const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
              float* row = dst + (od * OH + oh) * OW;
              if (id < 0 || id >= D || ih < 0 || ih >= H) {
                for (int64_t o = 0; o < OW; o += 16) {
                  _mm512_mask_storeu_ps(row + o, lanes(0, OW - o), _mm512_setzero_ps());
                }
                continue;
              }
              copy_row(xc + (id * H + ih) * W, W, woff, g.stride[2], row, OW);
            }
          }
        }
      }
    }
  }
}

}  // namespace qtune
