#include "kernels/erf_f32.h"
#include "kernels/erf_f32_detail.h"

namespace qtune {
namespace {
using V16f = float __attribute__((vector_size(64)));
}  // namespace

void f32_erf__avx512(const float* x, float* y, int64_t n) {
  erf_detail::apply<V16f>(x, y, n, [](auto v) { return erf_detail::erf_rational(v); });
}

void f32_gelu__avx512(const float* x, float* y, int64_t n) {
  erf_detail::apply<V16f>(x, y, n, [](auto v) { return erf_detail::gelu(v); });
}

void f32_gelu_tanh__avx512(const float* x, float* y, int64_t n) {
  erf_detail::apply<V16f>(x, y, n, [](auto v) { return erf_detail::gelu_tanh(v); });
}

}  // namespace qtune
