// AVX-512 GEMM: BLIS-style blocking (NC x KC panels of B, MC x KC blocks of A, packed) around
// an 8x32 register-blocked micro-kernel (16 zmm accumulators; an 8x16 one for narrow panels).
// B is read in place for few-row GEMMs. Compiled with AVX-512 flags (the file name says so);
// only called after a run-time check.
#include <immintrin.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "kernels/gemm_f32.h"

namespace qtune {
namespace {

constexpr int64_t kMR = 8;     // rows of C per micro-tile
constexpr int64_t kNR = 32;    // columns of C per micro-tile: two zmm
constexpr int64_t kKC = 256;   // depth of a packed block; an A micro-panel (8 KB) stays in L1
constexpr int64_t kMC = 144;   // rows of A packed at once (144 KB at kKC), kept in L2
constexpr int64_t kNC = 1024;  // columns of B packed at once (1 MB at kKC), streamed from L2/L3
// Up to this many rows of C, B is read in place rather than packed, as long as its rows are
// close enough together for the hardware prefetcher and TLB (conv-shaped GEMMs).
constexpr int64_t kDirectBRows = 32;
constexpr int64_t kDirectBMaxLdb = 4096;
// Below this many multiply-adds a thread hand-off costs more than it saves.
constexpr int64_t kParallelMacs = int64_t{1} << 21;

struct AlignedDeleter {
  void operator()(float* p) const { std::free(p); }
};

// Per-thread packing buffer that only grows; TBB workers are long-lived so this amortises.
float* scratch(int slot, size_t floats) {
  thread_local std::unique_ptr<float, AlignedDeleter> buf[2];
  thread_local size_t cap[2] = {0, 0};
  if (cap[slot] < floats) {
    const size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
    buf[slot].reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
    cap[slot] = buf[slot] ? floats : 0;
  }
  return buf[slot].get();
}

__mmask16 mask_for(int64_t count) {
  if (count >= 16) return 0xffff;
  if (count <= 0) return 0;
  return static_cast<__mmask16>((1u << count) - 1u);
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] as ceil(nc/32) panels of kc x 32 floats, zero-padded. With
// `rows`, row p of B starts at rows[p] instead of b + p * ldb.
void pack_b(bool trans_b, const float* b, int64_t ldb, const float* const* rows, int64_t p0,
            int64_t kc, int64_t j0, int64_t nc, float* dst) {
  for (int64_t jp = 0; jp < nc; jp += kNR) {
    const int64_t w = std::min(kNR, nc - jp);
    float* d = dst + (jp / kNR) * kc * kNR;
    if (rows) {
      const __mmask16 m0 = mask_for(w), m1 = mask_for(w - 16);
      for (int64_t p = 0; p < kc; ++p, d += kNR) {
        const float* s = rows[p0 + p] + j0 + jp;
        _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, s));
        _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + 16));
      }
    } else if (!trans_b) {
      const __mmask16 m0 = mask_for(w), m1 = mask_for(w - 16);
      const float* s = b + p0 * ldb + j0 + jp;
      for (int64_t p = 0; p < kc; ++p, s += ldb, d += kNR) {
        _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, s));
        _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + 16));
      }
    } else {
      // B is stored [N,K]: transpose 16 k-values of each column through a small tile.
      const float* s = b + (j0 + jp) * ldb + p0;
      int64_t p = 0;
      for (; p + 16 <= kc; p += 16) {
        alignas(64) float tile[16][kNR];
        for (int64_t j = 0; j < kNR; ++j) {
          if (j < w) {
            const float* col = s + j * ldb + p;
            for (int64_t q = 0; q < 16; ++q) tile[q][j] = col[q];
          } else {
            for (int64_t q = 0; q < 16; ++q) tile[q][j] = 0.0f;
          }
        }
        std::memcpy(d + p * kNR, tile, sizeof(tile));
      }
      for (; p < kc; ++p) {
        for (int64_t j = 0; j < kNR; ++j) d[p * kNR + j] = j < w ? s[j * ldb + p] : 0.0f;
      }
    }
  }
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] as ceil(mc/8) micro-panels of kc x 8 floats, zero-padded.
void pack_a(bool trans_a, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
            int64_t kc, float* dst) {
  for (int64_t ip = 0; ip < mc; ip += kMR) {
    const int64_t h = std::min(kMR, mc - ip);
    float* d = dst + (ip / kMR) * kc * kMR;
    if (trans_a) {
      // A is stored [K,M]: the 8 rows of one k are contiguous.
      const __mmask8 m = static_cast<__mmask8>(mask_for(h));
      const float* s = a + p0 * lda + i0 + ip;
      for (int64_t p = 0; p < kc; ++p, s += lda, d += kMR) {
        _mm256_store_ps(d, _mm256_maskz_loadu_ps(m, s));
      }
    } else {
      const float* s = a + (i0 + ip) * lda + p0;
      int64_t p = 0;
      if (h == kMR) {
        // 8 rows x 8 k at a time: load rows, transpose in registers, store k-major.
        for (; p + 8 <= kc; p += 8) {
          __m256 r[8];
          for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(s + q * lda + p);
          __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
          __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
          __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
          __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
          __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
          __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
          __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
          __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
          float* o = d + p * kMR;
          _mm256_store_ps(o + 0 * 8, _mm256_permute2f128_ps(u0, u4, 0x20));
          _mm256_store_ps(o + 1 * 8, _mm256_permute2f128_ps(u1, u5, 0x20));
          _mm256_store_ps(o + 2 * 8, _mm256_permute2f128_ps(u2, u6, 0x20));
          _mm256_store_ps(o + 3 * 8, _mm256_permute2f128_ps(u3, u7, 0x20));
          _mm256_store_ps(o + 4 * 8, _mm256_permute2f128_ps(u0, u4, 0x31));
          _mm256_store_ps(o + 5 * 8, _mm256_permute2f128_ps(u1, u5, 0x31));
          _mm256_store_ps(o + 6 * 8, _mm256_permute2f128_ps(u2, u6, 0x31));
          _mm256_store_ps(o + 7 * 8, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
      }
      for (; p < kc; ++p) {
        for (int64_t r = 0; r < kMR; ++r) d[p * kMR + r] = r < h ? s[r * lda + p] : 0.0f;
      }
    }
  }
}

// C[0:MR, 0:nr] = alpha * (A-panel x B-panel) + beta * C. MR is a template parameter so edge
// rows cost only their own FMAs; the N edge uses masked loads/stores. kWide: two zmm columns
// (nr up to 32); otherwise one (nr <= 16), so narrow panels do not pay for 32 columns. B row p is
// at pb + p*ldb, or with kRows at rows[p] + col (an implicit im2col).
template <int MR, bool kWide, bool kRows>
void f32_gemm_kernel(int64_t kc, const float* pa, const float* pb, int64_t ldb,
                     const float* const* rows, int64_t col, float* c, int64_t ldc, int64_t nr,
                     float alpha, float beta) {
  const __mmask16 m0 = mask_for(nr), m1 = mask_for(nr - 16);
  // Every loop over r is fully unrolled so the accumulators live in registers, not on the stack.
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    if constexpr (kRows) pb = rows[p] + col;
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, pb);
    const __m512 b1 = kWide ? _mm512_maskz_loadu_ps(m1, pb + 16) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(pa[r]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      if constexpr (kWide) acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
    pa += kMR;
    if constexpr (!kRows) pb += ldb;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const bool scale = alpha != 1.0f;  // skipping the multiply matters when K is tiny
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    __m512 v0 = acc0[r], v1 = acc1[r];
    if (scale) {
      v0 = _mm512_mul_ps(v0, va);
      if constexpr (kWide) v1 = _mm512_mul_ps(v1, va);
    }
    if (beta != 0.0f) {
      v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), v0);
      if constexpr (kWide) v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), v1);
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    if constexpr (kWide) _mm512_mask_storeu_ps(cr + 16, m1, v1);
  }
}

using KernelFn = void (*)(int64_t, const float*, const float*, int64_t, const float* const*,
                          int64_t, float*, int64_t, int64_t, float, float);
template <bool kWide, bool kRows>
constexpr KernelFn kKernels[kMR + 1] = {
    nullptr,
    f32_gemm_kernel<1, kWide, kRows>,
    f32_gemm_kernel<2, kWide, kRows>,
    f32_gemm_kernel<3, kWide, kRows>,
    f32_gemm_kernel<4, kWide, kRows>,
    f32_gemm_kernel<5, kWide, kRows>,
    f32_gemm_kernel<6, kWide, kRows>,
    f32_gemm_kernel<7, kWide, kRows>,
    f32_gemm_kernel<8, kWide, kRows>,
};

const KernelFn* kernels_for(bool wide, bool rows) {
  if (wide) return rows ? kKernels<true, true> : kKernels<true, false>;
  return rows ? kKernels<false, true> : kKernels<false, false>;
}

struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  const float* const* b_rows;  // non-null: row p of B starts at b_rows[p]
  float beta;
  float* c;
  int64_t ldc;
};

// Computes the C block [i0,i1) x [j0,j1) completely (all of K).
void run_block(const Problem& P, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const int64_t kc_max = std::min(kKC, P.k);
  for (int64_t jc = j0; jc < j1; jc += kNC) {
    const int64_t nc = std::min(kNC, j1 - jc);
    const int64_t nc_pad = (nc + kNR - 1) / kNR * kNR;
    float* bp = scratch(0, static_cast<size_t>(kc_max * nc_pad));
    for (int64_t pc = 0; pc < P.k; pc += kKC) {
      const int64_t kc = std::min(kKC, P.k - pc);
      const float beta = pc == 0 ? P.beta : 1.0f;  // later K blocks accumulate into C
      // With few rows of A each B panel is used only a couple of times: reading B in place
      // beats copying it first.
      const bool direct_b =
          !P.trans_b && i1 - i0 <= kDirectBRows && (P.b_rows || P.ldb <= kDirectBMaxLdb);
      if (!direct_b) pack_b(P.trans_b, P.b, P.ldb, P.b_rows, pc, kc, jc, nc, bp);
      const bool by_rows = direct_b && P.b_rows;
      for (int64_t ic = i0; ic < i1; ic += kMC) {
        const int64_t mc = std::min(kMC, i1 - ic);
        const int64_t mc_pad = (mc + kMR - 1) / kMR * kMR;
        float* ap = scratch(1, static_cast<size_t>(kc_max * mc_pad));
        pack_a(P.trans_a, P.a, P.lda, ic, mc, pc, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const float* pb = by_rows    ? nullptr
                            : direct_b ? P.b + pc * P.ldb + jc + jr
                                       : bp + (jr / kNR) * kc * kNR;
          const int64_t ldb = direct_b ? P.ldb : kNR;
          const int64_t nr = std::min(kNR, nc - jr);
          const KernelFn* kernels = kernels_for(nr > 16, by_rows);
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const int64_t mr = std::min(kMR, mc - ir);
            kernels[mr](kc, ap + (ir / kMR) * kc * kMR, pb, ldb, by_rows ? P.b_rows + pc : nullptr,
                        jc + jr, P.c + (ic + ir) * P.ldc + jc + jr, P.ldc, nr, P.alpha, beta);
          }
        }
      }
    }
  }
}

void scale_c(float beta, int64_t m, int64_t n, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
  }
}

}  // namespace

namespace {

void run(const Problem& P) {
  if (P.m <= 0 || P.n <= 0) return;
  if (P.k <= 0) {
    scale_c(P.beta, P.m, P.n, P.c, P.ldc);
    return;
  }
  const int64_t m = P.m, n = P.n;
  if (m * n * P.k < kParallelMacs) {
    run_block(P, 0, m, 0, n);
    return;
  }
  // Split C into a grid of blocks, enough for every thread to get several.
  const int64_t threads = std::max(1, tbb::this_task_arena::max_concurrency());
  const int64_t tm = kMC;
  const int64_t blocks_m = (m + tm - 1) / tm;
  int64_t tn = kNC;
  const int64_t want = 4 * threads;
  if (blocks_m * ((n + tn - 1) / tn) < want) {
    const int64_t split_n = (want + blocks_m - 1) / blocks_m;
    tn = std::max(kNR, ((n + split_n - 1) / split_n + kNR - 1) / kNR * kNR);
  }
  const int64_t blocks_n = (n + tn - 1) / tn;
  tbb::parallel_for(int64_t{0}, blocks_m * blocks_n, [&](int64_t t) {
    const int64_t bi = t / blocks_n, bj = t % blocks_n;
    run_block(P, bi * tm, std::min(m, (bi + 1) * tm), bj * tn, std::min(n, (bj + 1) * tn));
  });
}

}  // namespace

void f32_gemm_8x32__avx512(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                           float alpha, const float* a, int64_t lda, const float* b,
                           int64_t ldb, float beta, float* c, int64_t ldc) {
  run(Problem{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, nullptr, beta, c, ldc});
}

void f32_gemm_rows_8x32__avx512(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                                const float* a, int64_t lda, const float* const* b_rows,
                                float beta, float* c, int64_t ldc) {
  run(Problem{trans_a, false, m, n, k, alpha, a, lda, nullptr, 0, b_rows, beta, c, ldc});
}

}  // namespace qtune
