#include <cstdint>

#include "kernels/qgemm.h"
#include "kernels/qgemm_epilogue.h"

namespace qtune {

void qgemm_u8s8__ref(const QGemmParams& p, const void* a, int64_t lda, const PackedWeightsS8& b,
                     void* c, int64_t ldc) {
  const bool is_s8 = p.a_type == DType::kS8;
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t n = 0; n < b.N; ++n) {
      int64_t acc = 0;
      for (int64_t k = 0; k < b.K; ++k) {
        const int64_t av = is_s8 ? static_cast<const int8_t*>(a)[m * lda + k]
                                 : static_cast<const uint8_t*>(a)[m * lda + k];
        acc += (av - p.a_zero_point) * packed_weight_at(b, k, n);
      }
      if (p.bias_s32) acc += p.bias_s32[n];
      // int32 accumulators wrap in every path; C++20 defines this conversion as modular.
      qgemm_detail::store_one(p, static_cast<int32_t>(acc), m, n, c, ldc);
    }
  }
}

}  // namespace qtune
