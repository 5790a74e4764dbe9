// The vector body shared by kernels/erf_f32.cpp (128-bit) and erf_f32_avx512.cpp (512-bit).
#pragma once

#include <cstdint>
#include <cstring>

// GCC warns about the ABI of 64-byte vector arguments when it instantiates these templates
// outside AVX-512 code; no such call survives inlining, so the warning is noise.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace qtune::erf_detail {

template <typename V>
[[gnu::always_inline]] inline V erf_rational(V a) {
  const V hi = V{} + 4.0f;  // a splat for vectors, plain 4 for scalars
  V x = a > hi ? hi : a;    // NaN fails both tests and stays NaN
  x = x < -hi ? -hi : x;
  const V x2 = x * x;
  V p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  V q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return x * p / q;
}

// tanh as a 13/6 rational function of x (Eigen's float approximation), clamped where it is +-1.
template <typename V>
[[gnu::always_inline]] inline V tanh_rational(V a) {
  const V hi = V{} + 7.90531110763549805f;
  V x = a > hi ? hi : a;
  x = x < -hi ? -hi : x;
  const V x2 = x * x;
  V p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  V q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return x * p / q;
}

template <typename V>
[[gnu::always_inline]] inline V gelu_tanh(V x) {
  const V inner = (x + x * x * x * 0.044715f) * 0.7978845608028654f;
  return x * (tanh_rational(inner) + 1.0f) * 0.5f;
}

template <typename V>
[[gnu::always_inline]] inline V gelu(V x) {
  return x * (erf_rational(x * 0.70710678118654752f) + 1.0f) * 0.5f;
}

// fn over n floats, kLanes at a time, the tail one by one.
template <typename V, typename Fn>
[[gnu::always_inline]] inline void apply(const float* in, float* out, int64_t n, Fn fn) {
  constexpr int64_t kLanes = sizeof(V) / sizeof(float);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    V v;
    std::memcpy(&v, in + i, sizeof v);
    v = fn(v);
    std::memcpy(out + i, &v, sizeof v);
  }
  for (; i < n; ++i) out[i] = fn(in[i]);
}

}  // namespace qtune::erf_detail
