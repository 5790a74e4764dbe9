#include "kernels/gemm_bf16.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/dtype.h"
#include "kernels/cpu_features.h"

namespace qtune {

PackedWeightsBF16 pack_weights_bf16(const float* w, int64_t K, int64_t N, int64_t stride_k,
                                    int64_t stride_n) {
  PackedWeightsBF16 b;
  b.K = K;
  b.N = N;
  b.k_padded = (K + 1) / 2 * 2;
  b.n_padded = (N + kBf16GemmNR - 1) / kBf16GemmNR * kBf16GemmNR;
  const size_t bytes = static_cast<size_t>(b.k_padded * b.n_padded) * 2;
  const size_t alloc = (bytes + 63) / 64 * 64 + 64;
  void* mem = std::aligned_alloc(64, alloc);
  if (!mem) throw std::bad_alloc();
  std::memset(mem, 0, alloc);
  b.data = std::shared_ptr<uint16_t>(static_cast<uint16_t*>(mem), [](uint16_t* p) { std::free(p); });
  for (int64_t n = 0; n < N; ++n) {
    uint16_t* blk = b.data.get() + (n / kBf16GemmNR) * b.k_padded * kBf16GemmNR;
    for (int64_t k = 0; k < K; ++k) {
      blk[(k / 2) * kBf16GemmNR * 2 + (n % kBf16GemmNR) * 2 + (k % 2)] =
          f32_to_bf16(w[k * stride_k + n * stride_n]);
    }
  }
  return b;
}

void bf16_gemm__ref(const Bf16GemmParams& p, const float* a, int64_t lda,
                    const PackedWeightsBF16& b, float* c, int64_t ldc) {
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t n = 0; n < b.N; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < b.k_padded; k += 2) {
        const float a0 = bf16_to_f32(f32_to_bf16(a[m * lda + k]));
        const float a1 = k + 1 < b.K ? bf16_to_f32(f32_to_bf16(a[m * lda + k + 1])) : 0.0f;
        // Each bf16 x bf16 product is exact in f32; add the odd one first, as vdpbf16ps does.
        acc = acc + a1 * bf16_to_f32(b.at(k + 1, n));
        acc = acc + a0 * bf16_to_f32(b.at(k, n));
      }
      float y = acc;
      if (p.bias) y = y + p.bias[n];
      c[m * ldc + n] = std::min(std::max(y, p.clamp_min), p.clamp_max);
    }
  }
}

std::vector<Bf16GemmKernel> bf16_gemm_available_kernels() {
  std::vector<Bf16GemmKernel> out;
  if (cpu_features().avx512bf16) {
    out.push_back({"bf16_gemm_12x32__avx512bf16", bf16_gemm_12x32__avx512bf16});
  }
  out.push_back({"bf16_gemm__ref", bf16_gemm__ref});
  return out;
}

const Bf16GemmKernel& bf16_gemm_kernel() {
  static const Bf16GemmKernel k = bf16_gemm_available_kernels().front();
  return k;
}

}  // namespace qtune
