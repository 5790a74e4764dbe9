// Pieces shared by the AVX-512 fp32 convolution kernels. Only for files compiled with AVX-512
// flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/conv2d_f32.h"
#include "kernels/transpose16x16_avx512.h"

namespace qtune::conv_f32_detail {

inline __mmask16 lanes_between(int64_t lo, int64_t hi) {  // lanes j with lo <= j < hi
  lo = std::clamp<int64_t>(lo, 0, 16);
  hi = std::clamp<int64_t>(hi, 0, 16);
  return hi <= lo ? 0 : static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// How to build the rows of one buffer (or column phase): row[j] = src[j * fs + off] for
// jlo <= j < jhi, zero elsewhere in [0, wq). Per 16-column chunk, the lanes to load: for fs == 1
// those of the chunk; for fs == 2 those of the 32 source columns it reads (valid ones only: the
// even ones are the chunk's, the odd ones between them are dropped by a permute).
struct RowFill {
  int64_t fs, off, jlo, jhi, wq;
  std::vector<__mmask16> load, load_hi, store;  // per chunk

  RowFill(int64_t fs_, int64_t off_, int64_t jlo_, int64_t jhi_, int64_t wq_)
      : fs(fs_), off(off_), jlo(jlo_), jhi(jhi_), wq(wq_) {
    for (int64_t j0 = 0; j0 < wq; j0 += 16) {
      store.push_back(lanes_between(0, wq - j0));
      if (fs == 2) {
        // Source columns 2*j0 + off + i for i < 32 that valid outputs read or that lie between.
        const int64_t s0 = 2 * j0 + off, lo = 2 * jlo + off, hi = 2 * (jhi - 1) + off + 1;
        load.push_back(jhi > jlo ? lanes_between(lo - s0, hi - s0) : 0);
        load_hi.push_back(jhi > jlo ? lanes_between(lo - s0 - 16, hi - s0 - 16) : 0);
      } else {
        load.push_back(lanes_between(jlo - j0, jhi - j0));
      }
    }
  }

  void operator()(float* row, const float* src) const {
    if (fs == 1) {
      for (size_t k = 0; k < store.size(); ++k) {
        const int64_t j0 = static_cast<int64_t>(k) * 16;
        // Masked-off lanes are not read: src may start before or end inside this chunk.
        _mm512_mask_storeu_ps(row + j0, store[k], _mm512_maskz_loadu_ps(load[k], src + j0 + off));
      }
      return;
    }
    if (fs == 2) {
      const __m512i evens =
          _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      for (size_t k = 0; k < store.size(); ++k) {
        const float* s0 = src + 2 * static_cast<int64_t>(k) * 16 + off;
        const __m512 a = _mm512_maskz_loadu_ps(load[k], s0);
        const __m512 b = _mm512_maskz_loadu_ps(load_hi[k], s0 + 16);
        _mm512_mask_storeu_ps(row + static_cast<int64_t>(k) * 16, store[k],
                              _mm512_permutex2var_ps(a, evens, b));
      }
      return;
    }
    std::fill(row, row + jlo, 0.0f);
    for (int64_t j = jlo; j < jhi; ++j) row[j] = src[j * fs + off];
    std::fill(row + jhi, row + wq, 0.0f);
  }
};

// The RowFill for one column phase b (phase columns j read input column j*stride + b - pad_left)
// of an input row in_w wide, into rows wq wide.
inline RowFill phase_fill(int64_t stride, int64_t b, int64_t pad_left, int64_t in_w, int64_t wq) {
  const int64_t off = b - pad_left;
  int64_t jlo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t jhi = in_w - 1 - off < 0 ? 0 : (in_w - 1 - off) / stride + 1;
  jhi = std::min(jhi, wq);
  jlo = std::min(jlo, jhi);
  return RowFill(stride, off, jlo, jhi, wq);
}

// A tile's L x V accumulators: pixel l's vector v at tile + l * l_stride + 16v. They start from
// what the tile holds when `accumulate` (a later chunk of taps), else from zero.
template <int L, int V>
__attribute__((always_inline)) inline void start_tile(__m512 (&acc)[L][V], const float* tile,
                                                      int64_t l_stride, bool accumulate) {
#pragma GCC unroll 24
  for (int l = 0; l < L; ++l) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      acc[l][v] = accumulate ? _mm512_loadu_ps(tile + l * l_stride + v * 16) : _mm512_setzero_ps();
    }
  }
}
template <int L, int V>
__attribute__((always_inline)) inline void finish_tile(const __m512 (&acc)[L][V], float* tile,
                                                       int64_t l_stride) {
#pragma GCC unroll 24
  for (int l = 0; l < L; ++l) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(tile + l * l_stride + v * 16, acc[l][v]);
  }
}

// acc[l][v] += sum over channels c < cg of b[c * plane + l * step] * w[(c * V + v) * 16]: each
// step loads V weight vectors and broadcasts L inputs `step` apart (pixels of a row, or images).
template <int L, int V>
__attribute__((always_inline)) inline void fma_channels(__m512 (&acc)[L][V], const float* b,
                                                        int64_t step, int64_t plane,
                                                        const float* w, int64_t cg) {
  for (int64_t c = 0; c < cg; ++c, b += plane, w += 16 * V) {
    __m512 wv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) wv[v] = _mm512_load_ps(w + 16 * v);
#pragma GCC unroll 24
    for (int l = 0; l < L; ++l) {
      const __m512 a = _mm512_set1_ps(b[l * step]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[l][v] = _mm512_fmadd_ps(a, wv[v], acc[l][v]);
    }
  }
}

// The tile's L pixels x `channels` channels (from output channel oc0) into NCHW y at `out`
// (channel oc0, the tile's first pixel); channel planes are `ohw` apart. `sum` likewise.
inline void store_tile(const float* tile, int64_t vecs, int l_count, int64_t channels, int64_t oc0,
                const ConvF32Epilogue& e, int64_t ohw, float* out, const float* sum) {
  const __m512 lo = _mm512_set1_ps(e.clamp_min), hi = _mm512_set1_ps(e.clamp_max);
  for (int l0 = 0; l0 < l_count; l0 += 16) {
    const int lanes = std::min(16, l_count - l0);
    const __mmask16 mask = static_cast<__mmask16>((1u << lanes) - 1u);
    for (int64_t v = 0; v < vecs; ++v) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(tile + ((l0 + i) * vecs + v) * 16);
      transpose16x16(r);
      const int64_t jn = std::min<int64_t>(16, channels - v * 16);
      for (int64_t j = 0; j < jn; ++j) {
        const int64_t ch = v * 16 + j, at = ch * ohw + l0;
        __m512 val = r[j];
        if (e.bias) val = _mm512_add_ps(val, _mm512_set1_ps(e.bias[oc0 + ch]));
        if (sum) val = _mm512_add_ps(val, _mm512_maskz_loadu_ps(mask, sum + at));
        val = _mm512_min_ps(_mm512_max_ps(val, lo), hi);
        _mm512_mask_storeu_ps(out + at, mask, val);
      }
    }
  }
}

}  // namespace qtune::conv_f32_detail
