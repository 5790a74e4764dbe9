#include "kernels/maxpool_f32.h"

#include <tbb/parallel_for.h>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

inline float max_skip_nan(float a, float b) { return b > a || a != a ? b : a; }

}  // namespace

void maxpool2x2_f32__scalar(int64_t in_w, int64_t out_h, int64_t out_w, const float* x,
                            float* y) {
  for (int64_t oh = 0; oh < out_h; ++oh) {
    const float* r0 = x + 2 * oh * in_w;
    const float* r1 = r0 + in_w;
    float* out = y + oh * out_w;
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const float a = max_skip_nan(r0[2 * ow], r0[2 * ow + 1]);
      const float b = max_skip_nan(r1[2 * ow], r1[2 * ow + 1]);
      out[ow] = max_skip_nan(a, b);
    }
  }
}

void maxpool2x2_f32(int64_t in_w, int64_t out_h, int64_t out_w, const float* x, float* y) {
  if (cpu_features().avx512f) {
    maxpool2x2_f32__avx512(in_w, out_h, out_w, x, y);
  } else {
    maxpool2x2_f32__scalar(in_w, out_h, out_w, x, y);
  }
}

void maxpool2x2_f32_planes(int64_t planes, int64_t in_h, int64_t in_w, const float* x, float* y) {
  const int64_t out_h = in_h / 2, out_w = in_w / 2;
  tbb::parallel_for(int64_t{0}, planes, [&](int64_t p) {
    maxpool2x2_f32(in_w, out_h, out_w, x + p * in_h * in_w, y + p * out_h * out_w);
  });
}

}  // namespace qtune
