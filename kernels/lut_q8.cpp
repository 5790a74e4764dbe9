#include "kernels/lut_q8.h"

#include "kernels/cpu_features.h"

namespace qtune {

void lut_q8__ref(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

void lut_q8(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y) {
  static const auto fn = cpu_features().avx512vbmi && cpu_features().avx512bw ? lut_q8__avx512vbmi
                                                                              : lut_q8__ref;
  fn(x, n, table, y);
}

}  // namespace qtune
