#include "kernels/maxpool_nhwc.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <limits>

namespace qtune {
namespace {

template <typename T>
void pool_rows(const MaxPoolNhwcShape& s, const T* x, T* y, int64_t r0, int64_t r1) {
  const int64_t c = s.channels;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = r / s.out_h, oy = r % s.out_h;
    const T* img = x + b * s.in_h * s.in_w * c;
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      T* out = y + ((b * s.out_h + oy) * s.out_w + ox) * c;
      std::fill(out, out + c, std::numeric_limits<T>::lowest());
      for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
        const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
        if (iy < 0 || iy >= s.in_h) continue;
        for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
          const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
          if (ix < 0 || ix >= s.in_w) continue;
          const T* in = img + (iy * s.in_w + ix) * c;
          for (int64_t i = 0; i < c; ++i) out[i] = std::max(out[i], in[i]);
        }
      }
    }
  }
}

template <typename T>
void pool(const MaxPoolNhwcShape& s, const T* x, T* y) {
  const int64_t rows = s.batch * s.out_h;
  const int64_t work = std::max<int64_t>(1, s.out_w * s.channels * s.kernel_h * s.kernel_w);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / work);
  if (rows <= grain) {
    pool_rows(s, x, y, 0, rows);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { pool_rows(s, x, y, r.begin(), r.end()); });
}

}  // namespace

void maxpool_nhwc_q8(const MaxPoolNhwcShape& s, bool is_signed, const void* x, void* y) {
  if (is_signed) {
    pool(s, static_cast<const int8_t*>(x), static_cast<int8_t*>(y));
  } else {
    pool(s, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y));
  }
}

}  // namespace qtune
