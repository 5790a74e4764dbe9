#include "kernels/gemm_s8_ref.h"

#include <vector>

namespace qtune {

bool qgemm_desc_valid(const QGemmDesc& d) {
  auto q8 = [](DType t) { return t == DType::kU8 || t == DType::kS8; };
  if (!q8(d.a_type) || !q8(d.b_type)) return false;
  if (d.m < 0 || d.n < 0 || d.k < 0) return false;
  if (d.m == 0 || d.n == 0) return true;
  if (!d.c || d.ldc < d.n) return false;
  if (d.k == 0) return true;
  return d.a && d.b && d.lda >= d.k && d.ldb >= d.n;
}

namespace {

template <typename TA, typename TB>
void gemm_typed(const QGemmDesc& d) {
  const TA* a = static_cast<const TA*>(d.a);
  const TB* b = static_cast<const TB*>(d.b);
  // Accumulate in u32: the same bits as wrapping s32, without signed-overflow UB.
  std::vector<uint32_t> acc(static_cast<size_t>(d.n));
  std::vector<int32_t> bzp(static_cast<size_t>(d.n));
  for (int64_t j = 0; j < d.n; ++j) bzp[j] = d.b_zero_points ? d.b_zero_points[j] : d.b_zero_point;
  for (int64_t i = 0; i < d.m; ++i) {
    int32_t* c = d.c + i * d.ldc;
    for (int64_t j = 0; j < d.n; ++j) acc[j] = d.accumulate ? static_cast<uint32_t>(c[j]) : 0u;
    const int32_t azp = d.a_zero_points ? d.a_zero_points[i] : d.a_zero_point;
    const TA* arow = a + i * d.lda;
    for (int64_t p = 0; p < d.k; ++p) {
      const int32_t av = static_cast<int32_t>(arow[p]) - azp;
      if (av == 0) continue;
      const TB* brow = b + p * d.ldb;
      for (int64_t j = 0; j < d.n; ++j) {
        const int32_t bv = static_cast<int32_t>(brow[j]) - bzp[j];
        acc[j] += static_cast<uint32_t>(av) * static_cast<uint32_t>(bv);
      }
    }
    for (int64_t j = 0; j < d.n; ++j) c[j] = static_cast<int32_t>(acc[j]);
  }
}

}  // namespace

void qs8_gemm__ref(const QGemmDesc& d) {
  if (d.m <= 0 || d.n <= 0) return;
  const bool au = d.a_type == DType::kU8, bu = d.b_type == DType::kU8;
  if (au && bu) gemm_typed<uint8_t, uint8_t>(d);
  else if (au) gemm_typed<uint8_t, int8_t>(d);
  else if (bu) gemm_typed<int8_t, uint8_t>(d);
  else gemm_typed<int8_t, int8_t>(d);
}

}  // namespace qtune
