// Numpy-style multidirectional broadcasting for the runtime's element-wise ops: the output shape,
// per-input strides, and a driver that walks the output in contiguous runs (in parallel, with
// TBB, when the output is large). Used by ops_elementwise.cpp and any ops_*.cpp with broadcasting
// inputs. Plans are immutable values; the driver calls back concurrently on disjoint output ranges.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/tensor.h"

namespace qtune {

// Loops over fewer elements than this stay on the calling thread; parallel blocks are at least
// this big, so thread hand-off never dominates a cheap per-element body.
inline constexpr int64_t kMinParallelElements = 16384;

// Calls fn(begin, end) on disjoint ranges covering [0, n): inline when n is small, otherwise from
// TBB worker threads with every range holding at least `min_block` indices.
template <typename Fn>
void parallel_ranges(int64_t n, Fn&& fn, int64_t min_block = kMinParallelElements) {
  if (n <= 0) return;
  min_block = std::max<int64_t>(min_block, 1);
  if (n < 2 * min_block) {
    fn(int64_t{0}, n);
    return;
  }
  // blocked_range splits while a range exceeds the grain, so pieces end up in (grain/2, grain].
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, 2 * min_block),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}

// Output shape of broadcasting all `shapes` together; false when, aligned from the right, two
// dimensions differ and neither is 1.
bool broadcast_shape(const std::vector<Shape>& shapes, Shape* out);

// How to read each input while walking the broadcast output in row-major order. Output dimensions
// of size 1 are dropped and neighbours merged wherever every input stays contiguous across them,
// so same-shape inputs become a single run and "[N,C,H,W] + [W]" becomes rows of W.
struct BroadcastPlan {
  Shape out_shape;
  int64_t numel = 0;
  std::vector<int64_t> dims;                  // merged output dims; never empty
  std::vector<std::vector<int64_t>> strides;  // [input][merged dim], in elements; 0 = broadcast
  // Step of input k within a run: 1 (reads consecutive elements) or 0 (repeats one element).
  int64_t inner_stride(size_t k) const { return strides[k].back(); }
};

// False when the shapes do not broadcast.
bool make_broadcast_plan(const std::vector<Shape>& in_shapes, BroadcastPlan* plan);

// Calls run(out_offset, in_offsets, len) for contiguous runs covering the whole output, where
// in_offsets[k] is input k's element offset at out_offset and advances by inner_stride(k) per
// output element. Runs handed to different threads never overlap in the output.
template <typename Run>
void for_each_broadcast_run(const BroadcastPlan& p, Run&& run) {
  const size_t rank = p.dims.size();
  const size_t n_in = p.strides.size();
  const int64_t inner = p.dims.back();
  parallel_ranges(p.numel, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> idx(rank, 0), off(n_in, 0);
    // Position the odometer at `begin`.
    int64_t rem = begin;
    for (size_t d = rank; d-- > 0;) {
      idx[d] = rem % p.dims[d];
      rem /= p.dims[d];
      for (size_t k = 0; k < n_in; ++k) off[k] += idx[d] * p.strides[k][d];
    }
    int64_t pos = begin;
    while (pos < end) {
      const int64_t len = std::min(inner - idx[rank - 1], end - pos);
      run(pos, off.data(), len);
      pos += len;
      if (pos >= end) break;
      // Finished a row: rewind the inner dim, carry into the outer ones.
      for (size_t k = 0; k < n_in; ++k) off[k] -= idx[rank - 1] * p.strides[k][rank - 1];
      idx[rank - 1] = 0;
      for (size_t d = rank - 1; d-- > 0;) {
        ++idx[d];
        for (size_t k = 0; k < n_in; ++k) off[k] += p.strides[k][d];
        if (idx[d] < p.dims[d]) break;
        for (size_t k = 0; k < n_in; ++k) off[k] -= idx[d] * p.strides[k][d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace qtune
