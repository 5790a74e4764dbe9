// int8 GEMM with weights packed once per model: C = epilogue(A[M,K] (u8 or s8) x B[K,N] (s8)).
// The epilogue fuses zero-point compensation (column sums precomputed at packing time), s32
// bias, per-tensor or per-channel dequantization, f32 bias, Relu/Clip and requantization.
// Paths: qgemm_u8s8__ref (always), qgemm_u8s8_12x32__avx512vnni; chosen once at start-up.
// All functions are thread-safe; qgemm itself runs TBB-parallel over M x N tiles.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace qtune {

// Packed layout: blocks of kQGemmNR columns; inside a block, groups of 4 consecutive k, each
// holding 4 bytes per column (the operand shape of vpdpbusd). Padding columns/k are zero.
constexpr int64_t kQGemmNR = 32;
constexpr int64_t kQGemmKGroup = 4;

struct PackedWeightsS8 {
  int64_t K = 0;
  int64_t N = 0;
  int64_t k_padded = 0;  // K rounded up to kQGemmKGroup
  int64_t n_padded = 0;  // N rounded up to kQGemmNR
  std::shared_ptr<int8_t> data;  // n_padded/NR blocks x k_padded x NR bytes, 64-byte aligned
  std::vector<int32_t> col_sum;  // sum over k of B[k][n], n_padded entries (zero in padding)

  const int8_t* block(int64_t nb) const { return data.get() + nb * k_padded * kQGemmNR; }
};

// B[k][n] = w[k * stride_k + n * stride_n]: a [K,N] MatMul weight has (N, 1); a Conv weight
// [OC, IC/g*KH*KW] has (1, K).
PackedWeightsS8 pack_weights_s8(const int8_t* w, int64_t K, int64_t N, int64_t stride_k,
                                int64_t stride_n);
// Reads packed B[k][n] back (tests and the reference path).
inline int8_t packed_weight_at(const PackedWeightsS8& b, int64_t k, int64_t n) {
  return b.block(n / kQGemmNR)[(k / 4) * kQGemmNR * 4 + (n % kQGemmNR) * 4 + (k % 4)];
}

enum class QGemmOutput { kS32, kF32, kU8, kS8 };

// What to compute (the "how" is the kernel chosen at start-up).
//   acc[m][n] = sum_k (A[m][k] - a_zero_point) * B[k][n] + bias_s32[n]
//   kS32: C = acc
//   otherwise y = float(acc) * scale[n], [requantized: y = (q8(y) - mid_zp) * mid_scale with
//   q8(y) = saturate(round_half_even(y * (1 / mid_scale)) + mid_zp)] (+ bias_f32[n]), clamped
//   to [clamp_min, clamp_max];
//   kF32: C = y;  kU8/kS8: C = saturate(round_half_even(y * (1 / out_scale)) + out_zero_point)
// Quotients are products with the reciprocal, as in ONNX Runtime's requantization: a vector
// division per output costs about as much as a K=64 product, and y is not the QDQ graph's exact
// f32 value anyway (integer accumulation), so a tie may land one step either way.
struct QGemmParams {
  int64_t M = 0;
  DType a_type = DType::kU8;  // kU8 or kS8
  int32_t a_zero_point = 0;
  QGemmOutput output = QGemmOutput::kS32;
  const int32_t* bias_s32 = nullptr;  // N values, optional
  // Combined a_scale * w_scale[n]; N values (per channel) or 1 (per tensor), for non-s32 output.
  const float* scale = nullptr;
  bool per_channel_scale = false;
  const float* bias_f32 = nullptr;  // N values, optional
  float clamp_min = -std::numeric_limits<float>::infinity();
  float clamp_max = std::numeric_limits<float>::infinity();
  // A Q -> DQ round trip the QDQ graph has between the product and a fused bias Add; keeping
  // it gives the graph's exact values. 0: none.
  float mid_scale = 0.0f;
  int32_t mid_zero_point = 0;
  DType mid_type = DType::kU8;  // kU8 or kS8
  float out_scale = 1.0f;
  int32_t out_zero_point = 0;
  bool c_transposed = false;  // store C[n * ldc + m] (NCHW conv output) instead of C[m * ldc + n]
};

using QGemmFn = void (*)(const QGemmParams& p, const void* a, int64_t lda,
                         const PackedWeightsS8& b, void* c, int64_t ldc);

struct QGemmKernel {
  const char* name;
  QGemmFn fn;
};

// The kernel every call uses, chosen once from cpu_features().
const QGemmKernel& qgemm_kernel();
// Every kernel this CPU can run, fastest first, ending with the reference (tests, benchmarks).
std::vector<QGemmKernel> qgemm_available_kernels();

inline void qgemm(const QGemmParams& p, const void* a, int64_t lda, const PackedWeightsS8& b,
                  void* c, int64_t ldc) {
  qgemm_kernel().fn(p, a, lda, b, c, ldc);
}

void qgemm_u8s8__ref(const QGemmParams& p, const void* a, int64_t lda, const PackedWeightsS8& b,
                     void* c, int64_t ldc);
void qgemm_u8s8_12x32__avx512vnni(const QGemmParams& p, const void* a, int64_t lda,
                                  const PackedWeightsS8& b, void* c, int64_t ldc);

}  // namespace qtune
