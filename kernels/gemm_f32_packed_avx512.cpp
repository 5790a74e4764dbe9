// f32_gemm_packed__avx512 (kernels/gemm_f32.h): C = clamp(A * B + bias) with B packed once.
// A tile is L rows of C by one panel of V vectors: L x V accumulators, each step loading V
// panel vectors and broadcasting one element of each of the L rows of A, read in place through
// a pointer per row. K is cut into chunks whose panel slice stays in L1 while every row tile of
// a task runs over it; C holds the partial sums between chunks, and the last chunk adds the bias
// and clamps. Compiled with AVX-512 flags (the file name says so); only called after a run-time
// check.
#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/gemm_f32.h"

namespace qtune {
namespace {

// Rows per tile for 1..4 vectors: L x V accumulators and V panel vectors fit the 32 vector
// registers, and the L row pointers the general ones.
constexpr int kMaxRows[5] = {0, 8, 8, 8, 6};
// The slice of a panel one K chunk covers stays in L1.
constexpr int64_t kPanelChunkBytes = 32 << 10;
// Below this many multiply-add vectors a call runs on the calling thread.
constexpr int64_t kSerialWork = int64_t{1} << 13;
// Rows of C per task, at least: enough tiles to reuse each panel chunk from L1.
constexpr int64_t kTaskRows = 48;

struct TileArgs {
  const float* const* rows;  // L pointers into A at the chunk's first k
  const float* b;            // the panel at the chunk's first k
  float* c;                  // the tile's first row of C
  int64_t ldc;
  __mmask16 masks[4];        // per vector: its lanes inside N
  bool accumulate;           // add to what C holds (a later chunk)
  bool finish;               // the last chunk: add the bias, clamp
  const float* bias;         // at the panel's first column, or null
  float lo, hi;
};

template <int L, int V>
void gemm_tile(int64_t kc, const TileArgs& t) {
  const float* p[L];
#pragma GCC unroll 8
  for (int l = 0; l < L; ++l) p[l] = t.rows[l];
  __m512 acc[L][V];
#pragma GCC unroll 8
  for (int l = 0; l < L; ++l) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      acc[l][v] = t.accumulate ? _mm512_maskz_loadu_ps(t.masks[v], t.c + l * t.ldc + 16 * v)
                               : _mm512_setzero_ps();
    }
  }
  const float* b = t.b;
  for (int64_t k = 0; k < kc; ++k, b += 16 * V) {
    __m512 wv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) wv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 8
    for (int l = 0; l < L; ++l) {
      const __m512 a = _mm512_set1_ps(p[l][k]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[l][v] = _mm512_fmadd_ps(a, wv[v], acc[l][v]);
    }
  }
  if (t.finish) {
    const __m512 lo = _mm512_set1_ps(t.lo), hi = _mm512_set1_ps(t.hi);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __m512 bv = t.bias ? _mm512_maskz_loadu_ps(t.masks[v], t.bias + 16 * v)
                               : _mm512_setzero_ps();
#pragma GCC unroll 8
      for (int l = 0; l < L; ++l) {
        acc[l][v] = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(acc[l][v], bv), lo), hi);
      }
    }
  }
#pragma GCC unroll 8
  for (int l = 0; l < L; ++l) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      _mm512_mask_storeu_ps(t.c + l * t.ldc + 16 * v, t.masks[v], acc[l][v]);
    }
  }
}

using TileFn = void (*)(int64_t, const TileArgs&);

template <int V, size_t... Ls>
constexpr std::array<TileFn, sizeof...(Ls) + 1> tiles_for(std::index_sequence<Ls...>) {
  return {nullptr, gemm_tile<static_cast<int>(Ls) + 1, V>...};
}
template <int V>
constexpr auto kTiles = tiles_for<V>(std::make_index_sequence<kMaxRows[V]>{});

TileFn tile_fn(int64_t v, int64_t l) {
  switch (v) {
    case 1: return kTiles<1>[l];
    case 2: return kTiles<2>[l];
    case 3: return kTiles<3>[l];
    default: return kTiles<4>[l];
  }
}

// Rows [m0, m1) of C for panel pi.
void run_task(const float* a, int64_t lda, const PackedGemmBF32& b, const GemmF32Epilogue& e,
              float* c, int64_t ldc, int64_t pi, int64_t m0, int64_t m1) {
  const int64_t vecs = b.block / 16, max_l = kMaxRows[vecs];
  const int64_t j0 = pi * b.block;
  __mmask16 masks[4];
  for (int64_t v = 0; v < 4; ++v) {
    const int64_t lanes = std::clamp<int64_t>(b.n - j0 - 16 * v, 0, 16);
    masks[v] = static_cast<__mmask16>((1u << lanes) - 1u);
  }
  const int64_t kc_max = std::max<int64_t>(1, kPanelChunkBytes / (b.block * 4));
  const float* panel = b.panel(pi);
  const float* rows[8];
  for (int64_t k0 = 0; k0 < b.k; k0 += kc_max) {
    const int64_t kc = std::min(kc_max, b.k - k0);
    TileArgs t;
    t.rows = rows;
    t.ldc = ldc;
    std::copy(masks, masks + 4, t.masks);
    t.accumulate = k0 > 0;
    t.finish = k0 + kc == b.k;
    t.bias = e.bias ? e.bias + j0 : nullptr;
    t.lo = e.clamp_min;
    t.hi = e.clamp_max;
    for (int64_t i = m0; i < m1; i += max_l) {
      const int64_t l = std::min(max_l, m1 - i);
      for (int64_t r = 0; r < l; ++r) rows[r] = a + (i + r) * lda + k0;
      t.b = panel + k0 * b.block;
      t.c = c + i * ldc + j0;
      tile_fn(vecs, l)(kc, t);
    }
  }
}

}  // namespace

void f32_gemm_packed__avx512(int64_t m, const float* a, int64_t lda, const PackedGemmBF32& b,
                             const GemmF32Epilogue& e, float* c, int64_t ldc) {
  if (m <= 0 || b.n <= 0) return;
  if (b.k <= 0) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < b.n; ++j) {
        c[i * ldc + j] = std::min(std::max(e.bias ? e.bias[j] : 0.0f, e.clamp_min), e.clamp_max);
      }
    }
    return;
  }
  const int64_t work = m * b.panels * (b.block / 16) * b.k;
  if (work < kSerialWork) {
    for (int64_t pi = 0; pi < b.panels; ++pi) run_task(a, lda, b, e, c, ldc, pi, 0, m);
    return;
  }
  const int64_t threads = std::max(1, tbb::this_task_arena::max_concurrency());
  // Row blocks: as large as possible for panel reuse, as many as needed for every thread to get
  // several tasks.
  int64_t rows = (m * b.panels + 4 * threads - 1) / (4 * threads);
  rows = std::min(m, std::max(kTaskRows, rows));
  const int64_t blocks = (m + rows - 1) / rows;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, blocks * b.panels),
                    [&](const tbb::blocked_range<int64_t>& range) {
                      for (int64_t task = range.begin(); task != range.end(); ++task) {
                        const int64_t pi = task % b.panels, bi = task / b.panels;
                        run_task(a, lda, b, e, c, ldc, pi, bi * rows,
                                 std::min(m, (bi + 1) * rows));
                      }
                    });
}

}  // namespace qtune
