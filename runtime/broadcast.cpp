#include "runtime/broadcast.h"

namespace qtune {

bool broadcast_shape(const std::vector<Shape>& shapes, Shape* out) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  Shape r(rank, 1);
  for (const auto& s : shapes) {
    const size_t pad = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      const int64_t d = s[i];
      int64_t& o = r[pad + i];
      if (d == o || d == 1) continue;
      if (o != 1) return false;
      o = d;  // also takes a 0 over a 1, as numpy does
    }
  }
  *out = std::move(r);
  return true;
}

bool make_broadcast_plan(const std::vector<Shape>& in_shapes, BroadcastPlan* plan) {
  BroadcastPlan p;
  if (!broadcast_shape(in_shapes, &p.out_shape)) return false;
  p.numel = shape_numel(p.out_shape);
  const size_t rank = p.out_shape.size();
  const size_t n_in = in_shapes.size();

  // Row-major strides of each input, aligned to the output rank; 0 where it broadcasts.
  std::vector<std::vector<int64_t>> full(n_in, std::vector<int64_t>(rank, 0));
  for (size_t k = 0; k < n_in; ++k) {
    const Shape& s = in_shapes[k];
    const size_t pad = rank - s.size();
    int64_t stride = 1;
    for (size_t i = s.size(); i-- > 0;) {
      full[k][pad + i] = s[i] == 1 ? 0 : stride;
      stride *= s[i];
    }
  }

  // Drop size-1 output dims, then merge a dim into its left neighbour when every input steps
  // across the boundary without a jump.
  p.strides.assign(n_in, {});
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = p.out_shape[d];
    if (n == 1) continue;
    bool merge = !p.dims.empty();
    for (size_t k = 0; merge && k < n_in; ++k) {
      merge = p.strides[k].back() == full[k][d] * n;
    }
    if (merge) {
      p.dims.back() *= n;
      for (size_t k = 0; k < n_in; ++k) p.strides[k].back() = full[k][d];
    } else {
      p.dims.push_back(n);
      for (size_t k = 0; k < n_in; ++k) p.strides[k].push_back(full[k][d]);
    }
  }
  if (p.dims.empty()) {
    p.dims.push_back(1);
    for (size_t k = 0; k < n_in; ++k) p.strides[k].push_back(0);
  }
  *plan = std::move(p);
  return true;
}

}  // namespace qtune
