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

// Calls run(out_offset, in_offsets, len) for contiguous runs covering the whole output (whole
// rows of the innermost merged dim, or pieces of it when that is the only dim), where
// in_offsets[k] is input k's element offset at out_offset and advances by inner_stride(k) per
// output element. Runs handed to different threads never overlap in the output.
template <typename Run>
void for_each_broadcast_run(const BroadcastPlan& p, Run&& run) {
  const size_t rank = p.dims.size();
  const size_t n_in = p.strides.size();
  if (p.numel <= 0) return;
  if (rank == 1) {  // one run over everything: split it by elements
    parallel_ranges(p.numel, [&](int64_t begin, int64_t end) {
      std::vector<int64_t> off(n_in);
      for (size_t k = 0; k < n_in; ++k) off[k] = begin * p.strides[k][0];
      run(begin, off.data(), end - begin);
    });
    return;
  }
  // Whole rows per task; the outer strides are copied into one flat array for the odometer.
  const size_t outer_rank = rank - 1;
  std::vector<int64_t> st(outer_rank * n_in);
  for (size_t d = 0; d < outer_rank; ++d) {
    for (size_t k = 0; k < n_in; ++k) st[d * n_in + k] = p.strides[k][d];
  }
  const int64_t inner = p.dims.back();
  const int64_t rows = p.numel / inner;
  parallel_ranges(rows, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> idx(outer_rank, 0), off(n_in, 0);
    int64_t rem = begin;
    for (size_t d = outer_rank; d-- > 0;) {
      idx[d] = rem % p.dims[d];
      rem /= p.dims[d];
      for (size_t k = 0; k < n_in; ++k) off[k] += idx[d] * st[d * n_in + k];
    }
    for (int64_t r = begin; r < end; ++r) {
      run(r * inner, off.data(), inner);
      for (size_t d = outer_rank; d-- > 0;) {  // carry into the next row
        const int64_t* sd = &st[d * n_in];
        if (++idx[d] < p.dims[d]) {
          for (size_t k = 0; k < n_in; ++k) off[k] += sd[k];
          break;
        }
        for (size_t k = 0; k < n_in; ++k) off[k] -= (p.dims[d] - 1) * sd[k];
        idx[d] = 0;
      }
    }
  }, std::max<int64_t>(1, kMinParallelElements / inner));
}

}  // namespace qtune
