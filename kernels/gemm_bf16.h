// bf16 GEMM for ops the tuner falls back to bf16: C[M,N] (f32) = bf16(A)[M,K] x B[K,N] (+ bias,
// clamp), with B rounded to bf16 and packed once per model. A is f32, rounded to bf16 (nearest
// even) as it is packed per tile. Products are exact in f32; sums follow vdpbf16ps's order (odd
// element of each pair first), which the reference reproduces bit for bit.
// Paths: bf16_gemm__ref, bf16_gemm_12x32__avx512bf16. Thread-safe; TBB-parallel over tiles.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace qtune {

constexpr int64_t kBf16GemmNR = 32;

struct PackedWeightsBF16 {
  int64_t K = 0, N = 0;
  int64_t k_padded = 0;  // K rounded up to 2 (one bf16 pair)
  int64_t n_padded = 0;  // N rounded up to kBf16GemmNR
  std::shared_ptr<uint16_t> data;  // [n_padded/NR][k_padded/2][NR][2], 64-byte aligned

  const uint16_t* block(int64_t nb) const { return data.get() + nb * k_padded * kBf16GemmNR; }
  uint16_t at(int64_t k, int64_t n) const {
    return block(n / kBf16GemmNR)[(k / 2) * kBf16GemmNR * 2 + (n % kBf16GemmNR) * 2 + (k % 2)];
  }
};

// B[k][n] = w[k * stride_k + n * stride_n], rounded to bf16.
PackedWeightsBF16 pack_weights_bf16(const float* w, int64_t K, int64_t N, int64_t stride_k,
                                    int64_t stride_n);

struct Bf16GemmParams {
  int64_t M = 0;
  const float* bias = nullptr;  // N values, optional
  float clamp_min = -std::numeric_limits<float>::infinity();
  float clamp_max = std::numeric_limits<float>::infinity();
};

using Bf16GemmFn = void (*)(const Bf16GemmParams& p, const float* a, int64_t lda,
                            const PackedWeightsBF16& b, float* c, int64_t ldc);
struct Bf16GemmKernel {
  const char* name;
  Bf16GemmFn fn;
};

const Bf16GemmKernel& bf16_gemm_kernel();
std::vector<Bf16GemmKernel> bf16_gemm_available_kernels();  // fastest first, reference last

void bf16_gemm__ref(const Bf16GemmParams& p, const float* a, int64_t lda,
                    const PackedWeightsBF16& b, float* c, int64_t ldc);
void bf16_gemm_12x32__avx512bf16(const Bf16GemmParams& p, const float* a, int64_t lda,
                                 const PackedWeightsBF16& b, float* c, int64_t ldc);

inline void gemm_bf16(const Bf16GemmParams& p, const float* a, int64_t lda,
                      const PackedWeightsBF16& b, float* c, int64_t ldc) {
  bf16_gemm_kernel().fn(p, a, lda, b, c, ldc);
}

}  // namespace qtune
