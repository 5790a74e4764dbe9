#include "kernels/layer_norm_f32.h"

#include <cmath>

#include "kernels/cpu_features.h"

namespace qtune {

void f32_layer_norm_rows__ref(const float* x, float* y, int64_t rows, int64_t cols,
                              const float* scale, const float* bias, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x + r * cols;
    float* q = y + r * cols;
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += p[j];
    const float mean = static_cast<float>(sum / static_cast<double>(cols));
    double ss = 0.0;
    for (int64_t j = 0; j < cols; ++j) ss += static_cast<double>(p[j] - mean) * (p[j] - mean);
    const float inv =
        static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(cols) + static_cast<double>(eps)));
    for (int64_t j = 0; j < cols; ++j) {
      const float v = (p[j] - mean) * inv * scale[j];
      q[j] = bias ? v + bias[j] : v;
    }
  }
}

void layer_norm_rows_f32(const float* x, float* y, int64_t rows, int64_t cols, const float* scale,
                         const float* bias, float eps) {
  static const auto fn =
      cpu_features().avx512f ? f32_layer_norm_rows__avx512 : f32_layer_norm_rows__ref;
  fn(x, y, rows, cols, scale, bias, eps);
}

}  // namespace qtune
