#include "kernels/qgemm.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu_features.h"

namespace qtune {

PackedWeightsS8 pack_weights_s8(const int8_t* w, int64_t K, int64_t N, int64_t stride_k,
                                int64_t stride_n) {
  PackedWeightsS8 b;
  b.K = K;
  b.N = N;
  b.k_padded = (K + kQGemmKGroup - 1) / kQGemmKGroup * kQGemmKGroup;
  b.n_padded = (N + kQGemmNR - 1) / kQGemmNR * kQGemmNR;
  const size_t bytes = static_cast<size_t>(b.k_padded * b.n_padded);
  void* mem = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (!mem) throw std::bad_alloc();
  std::memset(mem, 0, (bytes + 63) / 64 * 64 + 64);
  b.data = std::shared_ptr<int8_t>(static_cast<int8_t*>(mem), [](int8_t* p) { std::free(p); });
  b.col_sum.assign(static_cast<size_t>(b.n_padded), 0);
  for (int64_t n = 0; n < N; ++n) {
    int8_t* blk = b.data.get() + (n / kQGemmNR) * b.k_padded * kQGemmNR;
    const int64_t col = n % kQGemmNR;
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int8_t v = w[k * stride_k + n * stride_n];
      blk[(k / 4) * kQGemmNR * 4 + col * 4 + (k % 4)] = v;
      sum += v;
    }
    b.col_sum[static_cast<size_t>(n)] = sum;
  }
  return b;
}

std::vector<QGemmKernel> qgemm_available_kernels() {
  std::vector<QGemmKernel> out;
  const CpuFeatures& f = cpu_features();
  if (f.avx512vnni && f.avx512bw) {
    out.push_back({"qgemm_u8s8_12x32__avx512vnni", qgemm_u8s8_12x32__avx512vnni});
  }
  out.push_back({"qgemm_u8s8__ref", qgemm_u8s8__ref});
  return out;
}

const QGemmKernel& qgemm_kernel() {
  static const QGemmKernel k = qgemm_available_kernels().front();
  return k;
}

}  // namespace qtune
