#include "kernels/softmax_f32.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu_features.h"

namespace qtune {

void f32_softmax_rows__ref(const float* x, float* y, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x + r * n;
    float* q = y + r * n;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, p[j]);
    float sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      q[j] = std::exp(p[j] - mx);
      sum += q[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; ++j) q[j] *= inv;
  }
}

void softmax_rows_f32(const float* x, float* y, int64_t rows, int64_t n) {
  static const auto fn = cpu_features().avx512f ? f32_softmax_rows__avx512 : f32_softmax_rows__ref;
  fn(x, y, rows, n);
}

}  // namespace qtune
