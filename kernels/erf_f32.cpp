#include "kernels/erf_f32.h"

#include "kernels/cpu_features.h"
#include "kernels/erf_f32_detail.h"

namespace qtune {
namespace {
using V4f = float __attribute__((vector_size(16)));
}  // namespace

void f32_erf__ref(const float* x, float* y, int64_t n) {
  erf_detail::apply<V4f>(x, y, n, [](auto v) { return erf_detail::erf_rational(v); });
}

void f32_gelu__ref(const float* x, float* y, int64_t n) {
  erf_detail::apply<V4f>(x, y, n, [](auto v) { return erf_detail::gelu(v); });
}

void f32_gelu_tanh__ref(const float* x, float* y, int64_t n) {
  erf_detail::apply<V4f>(x, y, n, [](auto v) { return erf_detail::gelu_tanh(v); });
}

void erf_f32(const float* x, float* y, int64_t n) {
  static const auto fn = cpu_features().avx512f ? f32_erf__avx512 : f32_erf__ref;
  fn(x, y, n);
}

void gelu_f32(const float* x, float* y, int64_t n) {
  static const auto fn = cpu_features().avx512f ? f32_gelu__avx512 : f32_gelu__ref;
  fn(x, y, n);
}

void gelu_tanh_f32(const float* x, float* y, int64_t n) {
  static const auto fn = cpu_features().avx512f ? f32_gelu_tanh__avx512 : f32_gelu_tanh__ref;
  fn(x, y, n);
}

}  // namespace qtune
