#include "kernels/im2col_f32.h"

#include <algorithm>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

// Range [lo, hi) of output positions o whose input position o*s + off lies in [0, n).
void valid_range(int64_t off, int64_t s, int64_t n, int64_t out, int64_t* lo, int64_t* hi) {
  // o*s + off >= 0  <=>  o >= ceil(-off / s)
  int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
  // o*s + off <= n - 1  <=>  o <= floor((n - 1 - off) / s)
  int64_t h = (n - 1 - off) < 0 ? 0 : (n - 1 - off) / s + 1;
  h = std::min(h, out);
  l = std::min(l, h);
  *lo = l;
  *hi = h;
}

}  // namespace

void im2col_f32__ref(const ConvGeometry3d& g, const float* x, float* col) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  const int64_t os = g.out_size();
  const int64_t sw = g.stride[2];
  float* dst = col;
  for (int64_t c = 0; c < g.channels; ++c) {
    const float* xc = x + c * D * H * W;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, dst += os) {
          const int64_t woff = kw * g.dilation[2] - g.pad_begin[2];
          int64_t lo, hi;
          valid_range(woff, sw, W, OW, &lo, &hi);
          for (int64_t od = 0; od < OD; ++od) {
            const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
              float* row = dst + (od * OH + oh) * OW;
              if (id < 0 || id >= D || ih < 0 || ih >= H) {
                for (int64_t ow = 0; ow < OW; ++ow) row[ow] = 0.0f;
                continue;
              }
              const float* src = xc + (id * H + ih) * W;
              for (int64_t ow = 0; ow < lo; ++ow) row[ow] = 0.0f;
              if (sw == 1) {
                // Rows are short (tens of floats): an inline loop beats a memcpy call.
                for (int64_t ow = lo; ow < hi; ++ow) row[ow] = src[ow + woff];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) row[ow] = src[ow * sw + woff];
              }
              for (int64_t ow = hi; ow < OW; ++ow) row[ow] = 0.0f;
            }
          }
        }
      }
    }
  }
}

void im2col_f32(const ConvGeometry3d& g, const float* x, float* col) {
  static const auto fn = cpu_features().avx512f ? im2col_f32__avx512 : im2col_f32__ref;
  fn(g, x, col);
}

void col2im_add_f32(const ConvGeometry3d& g, const float* col, float* x) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  const int64_t os = g.out_size();
  const int64_t sw = g.stride[2];
  const float* src = col;
  for (int64_t c = 0; c < g.channels; ++c) {
    float* xc = x + c * D * H * W;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, src += os) {
          const int64_t woff = kw * g.dilation[2] - g.pad_begin[2];
          int64_t lo, hi;
          valid_range(woff, sw, W, OW, &lo, &hi);
          for (int64_t od = 0; od < OD; ++od) {
            const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
            if (id < 0 || id >= D) continue;
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
              if (ih < 0 || ih >= H) continue;
              const float* row = src + (od * OH + oh) * OW;
              float* dst = xc + (id * H + ih) * W;
              for (int64_t ow = lo; ow < hi; ++ow) dst[ow * sw + woff] += row[ow];
            }
          }
        }
      }
    }
  }
}

}  // namespace qtune
