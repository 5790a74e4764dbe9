// Indexing and selection operators: GatherElements, GatherND, Scatter/ScatterElements, ScatterND,
// Compress, OneHot, NonZero, Unique, TopK, ReverseSequence and CumSum. Ops that only move
// elements dispatch on element size; ops that compare or add dispatch on the element type.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

// ------------------------------------------------------------------ shared helpers

// Reads an int32/int64 index tensor, mapping each value from [-limit(i), limit(i)) onto
// [0, limit(i)); an index outside that range is invalid.
template <typename Limit>
Result<std::vector<int64_t>> read_indices(const OpContext& ctx, const Tensor& t, Limit&& limit) {
  if (t.dtype() != DType::kS64 && t.dtype() != DType::kS32) {
    return ctx.invalid("indices must be int32 or int64, got " + dtype_str(t.dtype()));
  }
  std::vector<int64_t> v = t.to_i64_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t n = limit(static_cast<int64_t>(i));
    if (v[i] < -n || v[i] >= n) {
      return ctx.invalid("index " + std::to_string(v[i]) + " is out of range for a dimension of " +
                         std::to_string(n));
    }
    if (v[i] < 0) v[i] += n;
  }
  return v;
}

// Calls fn(i, offset) for elements [begin, end) of a row-major walk over `shape`, where offset is
// the dot product of the element's coordinates with `strides`.
template <typename Fn>
void walk_offsets(const Shape& shape, const std::vector<int64_t>& strides, int64_t begin,
                  int64_t end, Fn&& fn) {
  if (begin >= end) return;
  const size_t rank = shape.size();
  std::vector<int64_t> idx(rank, 0);
  int64_t off = 0, rem = begin;
  for (size_t d = rank; d-- > 0;) {
    idx[d] = rem % shape[d];
    rem /= shape[d];
    off += idx[d] * strides[d];
  }
  for (int64_t i = begin; i < end; ++i) {
    fn(i, off);
    for (size_t d = rank; d-- > 0;) {
      off += strides[d];
      if (++idx[d] < shape[d]) break;
      off -= shape[d] * strides[d];
      idx[d] = 0;
    }
  }
}

// Scatter reductions (opset 16); bool add/mul are or/and.
enum class Reduction { kNone, kAdd, kMul };

Result<Reduction> read_reduction(const OpContext& ctx) {
  const std::string r = ctx.node.attr_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  return ctx.invalid("reduction '" + r + "' is not one of none, add, mul");
}

template <typename T>
storage_t<T> combine(storage_t<T> a, storage_t<T> b, Reduction r) {
  if (r == Reduction::kNone) return b;
  if constexpr (std::is_same_v<T, Bool>) {
    return r == Reduction::kAdd ? (a || b) : (a && b);
  } else if constexpr (std::is_same_v<T, F16> || std::is_same_v<T, BF16>) {
    const double x = load_as_double<T>(a), y = load_as_double<T>(b);
    return store_from_double<T>(r == Reduction::kAdd ? x + y : x * y);
  } else if constexpr (std::is_integral_v<T>) {
    // Wrap around like the unsigned type instead of overflowing.
    using U = std::make_unsigned_t<T>;
    const U x = static_cast<U>(a), y = static_cast<U>(b);
    return static_cast<T>(r == Reduction::kAdd ? static_cast<U>(x + y) : static_cast<U>(x * y));
  } else {
    return r == Reduction::kAdd ? a + b : a * b;
  }
}

// Strict weak order on element values: numbers ascending, NaN after everything and equal to NaN.
template <typename T>
bool value_less(storage_t<T> a, storage_t<T> b) {
  if constexpr (is_float_v<T>) {
    const double x = load_as_double<T>(a), y = load_as_double<T>(b);
    if (std::isnan(x)) return false;
    if (std::isnan(y)) return true;
    return x < y;
  } else {
    return a < b;
  }
}

template <typename T>
bool value_equal(storage_t<T> a, storage_t<T> b) {
  return !value_less<T>(a, b) && !value_less<T>(b, a);
}

// ------------------------------------------------------------------ GatherElements

Status gather_elements(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const int64_t rank = data.rank();
  if (rank < 1 || ind.rank() != rank) {
    return ctx.invalid("data " + shape_str(data.shape()) + " and indices " +
                       shape_str(ind.shape()) + " must have the same rank >= 1");
  }
  QT_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), rank));
  for (int64_t d = 0; d < rank; ++d) {
    if (d != axis && ind.dim(d) > data.dim(d)) {
      return ctx.invalid("indices " + shape_str(ind.shape()) + " exceed data " +
                         shape_str(data.shape()) + " in dimension " + std::to_string(d));
    }
  }
  QT_ASSIGN_OR_RETURN(auto idx, read_indices(ctx, ind, [&](int64_t) { return data.dim(axis); }));
  std::vector<int64_t> strides = contiguous_strides(data.shape());
  const int64_t axis_stride = strides[axis];
  strides[axis] = 0;
  ctx.outputs[0] = Tensor(data.dtype(), ind.shape());
  return visit_by_size(data.dtype(), ctx, [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* src = data.data<U>();
    U* dst = ctx.outputs[0].data<U>();
    parallel_ranges(ind.numel(), [&](int64_t b, int64_t e) {
      walk_offsets(ind.shape(), strides, b, e,
                   [&](int64_t i, int64_t off) { dst[i] = src[off + idx[i] * axis_stride]; });
    });
    return Status::Ok();
  });
}

// ------------------------------------------------------------------ GatherND

Status gather_nd_impl(OpContext& ctx, int64_t batch_dims) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const int64_t r = data.rank(), q = ind.rank();
  if (ind.dtype() != DType::kS64) return ctx.invalid("indices must be int64");
  if (r < 1 || q < 1) return ctx.invalid("data and indices must have rank >= 1");
  if (batch_dims < 0 || batch_dims >= std::min(r, q)) {
    return ctx.invalid("batch_dims " + std::to_string(batch_dims) + " must be below both ranks");
  }
  const int64_t m = ind.dim(q - 1);
  if (m < 1 || m > r - batch_dims) {
    return ctx.invalid("indices' last dimension " + std::to_string(m) + " must be in [1, " +
                       std::to_string(r - batch_dims) + "]");
  }
  for (int64_t d = 0; d < batch_dims; ++d) {
    if (data.dim(d) != ind.dim(d)) {
      return ctx.invalid("batch dimension " + std::to_string(d) + " differs: data " +
                         shape_str(data.shape()) + ", indices " + shape_str(ind.shape()));
    }
  }
  QT_ASSIGN_OR_RETURN(
      auto idx, read_indices(ctx, ind, [&](int64_t i) { return data.dim(batch_dims + i % m); }));
  Shape out_shape(ind.shape().begin(), ind.shape().end() - 1);
  out_shape.insert(out_shape.end(), data.shape().begin() + batch_dims + m, data.shape().end());
  const std::vector<int64_t> strides = contiguous_strides(data.shape());
  const int64_t slice = dims_product(data.shape(), static_cast<size_t>(batch_dims + m), r);
  const int64_t batch_size = dims_product(data.shape(), static_cast<size_t>(batch_dims), r);
  const int64_t tuples = ind.numel() / m;
  const int64_t per_batch = tuples / std::max<int64_t>(1, dims_product(ind.shape(), 0, batch_dims));
  ctx.outputs[0] = Tensor(data.dtype(), out_shape);
  const size_t esize = dtype_size(data.dtype());
  const uint8_t* src = static_cast<const uint8_t*>(data.raw());
  uint8_t* dst = static_cast<uint8_t*>(ctx.outputs[0].raw());
  parallel_ranges(
      tuples,
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          int64_t off = per_batch > 0 ? (t / per_batch) * batch_size : 0;
          for (int64_t j = 0; j < m; ++j) off += idx[t * m + j] * strides[batch_dims + j];
          std::memcpy(dst + t * slice * esize, src + off * esize, slice * esize);
        }
      },
      std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, slice)));
  return Status::Ok();
}

Status gather_nd_v11(OpContext& ctx) { return gather_nd_impl(ctx, 0); }
// batch_dims arrived in opset 12.
Status gather_nd_batched(OpContext& ctx) {
  return gather_nd_impl(ctx, ctx.node.attr_int("batch_dims", 0));
}

// ------------------------------------------------------------------ Scatter / ScatterElements

Status scatter_elements_impl(OpContext& ctx, Reduction red) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, 3));
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const Tensor& upd = *ctx.input(2);
  const int64_t rank = data.rank();
  if (rank < 1 || ind.rank() != rank || upd.shape() != ind.shape() || upd.dtype() != data.dtype()) {
    return ctx.invalid("data " + shape_str(data.shape()) + ", indices " + shape_str(ind.shape()) +
                       " and updates " + shape_str(upd.shape()) +
                       " must have one rank, indices and updates one shape and type");
  }
  QT_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), rank));
  for (int64_t d = 0; d < rank; ++d) {
    if (d != axis && ind.dim(d) > data.dim(d)) {
      return ctx.invalid("indices " + shape_str(ind.shape()) + " exceed data " +
                         shape_str(data.shape()) + " in dimension " + std::to_string(d));
    }
  }
  QT_ASSIGN_OR_RETURN(auto idx, read_indices(ctx, ind, [&](int64_t) { return data.dim(axis); }));
  std::vector<int64_t> strides = contiguous_strides(data.shape());
  const int64_t axis_stride = strides[axis];
  strides[axis] = 0;
  ctx.outputs[0] = data.clone();
  return visit_any(data.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    const S* u = upd.data<S>();
    S* dst = ctx.outputs[0].data<S>();
    // In order: with duplicate indices the last update wins (or all of them accumulate).
    walk_offsets(ind.shape(), strides, 0, ind.numel(), [&](int64_t i, int64_t off) {
      S& d = dst[off + idx[i] * axis_stride];
      d = combine<T>(d, u[i], red);
    });
    return Status::Ok();
  });
}

Status scatter_elements_plain(OpContext& ctx) {
  return scatter_elements_impl(ctx, Reduction::kNone);
}

Status scatter_elements_reduce(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(const Reduction red, read_reduction(ctx));
  return scatter_elements_impl(ctx, red);
}

// ------------------------------------------------------------------ ScatterND

Status scatter_nd_impl(OpContext& ctx, Reduction red) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, 3));
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const Tensor& upd = *ctx.input(2);
  const int64_t r = data.rank(), q = ind.rank();
  if (ind.dtype() != DType::kS64) return ctx.invalid("indices must be int64");
  if (upd.dtype() != data.dtype()) return ctx.invalid("updates and data differ in element type");
  if (r < 1 || q < 1) return ctx.invalid("data and indices must have rank >= 1");
  const int64_t k = ind.dim(q - 1);
  if (k > r) {
    return ctx.invalid("indices' last dimension " + std::to_string(k) + " exceeds data rank " +
                       std::to_string(r));
  }
  Shape want(ind.shape().begin(), ind.shape().end() - 1);
  want.insert(want.end(), data.shape().begin() + k, data.shape().end());
  if (upd.shape() != want) {
    return ctx.invalid("updates " + shape_str(upd.shape()) + " must have shape " + shape_str(want));
  }
  QT_ASSIGN_OR_RETURN(auto idx, read_indices(ctx, ind, [&](int64_t i) {
                        return data.dim(i % std::max<int64_t>(k, 1));
                      }));
  const std::vector<int64_t> strides = contiguous_strides(data.shape());
  const int64_t slice = dims_product(data.shape(), static_cast<size_t>(k), r);
  const int64_t tuples = k > 0 ? ind.numel() / k : dims_product(ind.shape(), 0, q - 1);
  ctx.outputs[0] = data.clone();
  return visit_any(data.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    const S* u = upd.data<S>();
    S* dst = ctx.outputs[0].data<S>();
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = 0;
      for (int64_t j = 0; j < k; ++j) off += idx[t * k + j] * strides[j];
      for (int64_t e = 0; e < slice; ++e) {
        dst[off + e] = combine<T>(dst[off + e], u[t * slice + e], red);
      }
    }
    return Status::Ok();
  });
}

Status scatter_nd_plain(OpContext& ctx) { return scatter_nd_impl(ctx, Reduction::kNone); }

Status scatter_nd_reduce(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(const Reduction red, read_reduction(ctx));
  return scatter_nd_impl(ctx, red);
}

// ------------------------------------------------------------------ Compress

Status compress(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_RETURN_IF_ERROR(need_type(ctx, 1, {DType::kBool}));
  const Tensor& x = *ctx.input(0);
  const Tensor& cond = *ctx.input(1);
  if (cond.rank() != 1) return ctx.invalid("condition must be 1-D, got " + shape_str(cond.shape()));
  // Without an axis the input is flattened; (outer, n, inner) views both cases alike.
  int64_t outer = 1, n = x.numel(), inner = 1;
  int64_t axis = -1;
  if (ctx.node.has_attr("axis")) {
    QT_ASSIGN_OR_RETURN(axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), x.rank()));
    outer = dims_product(x.shape(), 0, axis);
    n = x.dim(axis);
    inner = dims_product(x.shape(), axis + 1, x.rank());
  }
  // A condition shorter than the axis drops the rest; entries beyond the axis must be false.
  const uint8_t* c = cond.data<uint8_t>();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (!c[i]) continue;
    if (i >= n) {
      return ctx.invalid("condition selects entry " + std::to_string(i) + " of a dimension of " +
                         std::to_string(n));
    }
    keep.push_back(i);
  }
  const int64_t kept = static_cast<int64_t>(keep.size());
  Shape out_shape = axis < 0 ? Shape{kept} : x.shape();
  if (axis >= 0) out_shape[axis] = kept;
  ctx.outputs[0] = Tensor(x.dtype(), out_shape);
  const size_t row = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(ctx.outputs[0].raw());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < kept; ++j) {
      std::memcpy(dst + (o * kept + j) * row, src + (o * n + keep[j]) * row, row);
    }
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ OneHot

Status one_hot(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, 3));
  const Tensor& ind = *ctx.input(0);
  const Tensor& values = *ctx.input(2);
  QT_ASSIGN_OR_RETURN(const double depth_f, scalar_f64(ctx, 1, "depth"));
  const int64_t depth = saturate_cast<int64_t>(depth_f);
  if (depth < 1) return ctx.invalid("depth must be positive, got " + std::to_string(depth_f));
  if (values.numel() != 2) {
    return ctx.invalid("values must hold [off, on], got shape " + shape_str(values.shape()));
  }
  const int64_t rank = ind.rank();
  QT_ASSIGN_OR_RETURN(const int64_t axis,
                      normalize_axis(ctx, ctx.node.attr_int("axis", -1), rank + 1));
  Shape out_shape = ind.shape();
  out_shape.insert(out_shape.begin() + axis, depth);
  const int64_t outer = dims_product(ind.shape(), 0, axis);
  const int64_t inner = dims_product(ind.shape(), axis, rank);
  // Indices in [-depth, depth) select a position (negative ones count from the end); others none.
  std::vector<int64_t> pos(static_cast<size_t>(ind.numel()));
  for (int64_t i = 0; i < ind.numel(); ++i) {
    int64_t v = saturate_cast<int64_t>(ind.get_f64(i));
    if (v < 0) v += depth;
    pos[i] = v >= 0 && v < depth ? v : -1;
  }
  ctx.outputs[0] = Tensor(values.dtype(), out_shape);
  return visit_by_size(values.dtype(), ctx, [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U off = values.data<U>()[0], on = values.data<U>()[1];
    U* dst = ctx.outputs[0].data<U>();
    std::fill(dst, dst + ctx.outputs[0].numel(), off);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t p = pos[o * inner + i];
        if (p >= 0) dst[(o * depth + p) * inner + i] = on;
      }
    }
    return Status::Ok();
  });
}

// ------------------------------------------------------------------ NonZero

Status non_zero(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  std::vector<int64_t> hits;
  QT_RETURN_IF_ERROR(visit_any(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const storage_t<T>* p = x.data<storage_t<T>>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (load_as_double<T>(p[i]) != 0.0) hits.push_back(i);
    }
    return Status::Ok();
  }));
  const int64_t rank = x.rank(), nnz = static_cast<int64_t>(hits.size());
  ctx.outputs[0] = Tensor(DType::kS64, {rank, nnz});
  int64_t* out = ctx.outputs[0].data<int64_t>();
  for (int64_t j = 0; j < nnz; ++j) {
    int64_t rem = hits[j];
    for (int64_t d = rank; d-- > 0;) {
      out[d * nnz + j] = rem % x.dim(d);
      rem /= x.dim(d);
    }
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ Unique

Status unique(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const bool sorted = ctx.node.attr_int("sorted", 1) != 0;
  // Slices along the axis (single elements without one) are compared lexicographically, as the
  // rows of the input with the axis moved to the front.
  int64_t outer = 1, n = x.numel(), inner = 1, axis = -1;
  if (ctx.node.has_attr("axis")) {
    QT_ASSIGN_OR_RETURN(axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), x.rank()));
    outer = dims_product(x.shape(), 0, axis);
    n = x.dim(axis);
    inner = dims_product(x.shape(), axis + 1, x.rank());
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> group_of(static_cast<size_t>(n));  // slice -> unique group
  std::vector<int64_t> first;                             // group -> first slice
  std::vector<int64_t> counts;
  QT_RETURN_IF_ERROR(visit_any(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const storage_t<T>* p = x.data<storage_t<T>>();
    // -1, 0, 1 as slice a sorts before, with or after slice b.
    auto cmp = [&](int64_t a, int64_t b) {
      for (int64_t o = 0; o < outer; ++o) {
        const storage_t<T>* ra = p + (o * n + a) * inner;
        const storage_t<T>* rb = p + (o * n + b) * inner;
        for (int64_t k = 0; k < inner; ++k) {
          if (value_less<T>(ra[k], rb[k])) return -1;
          if (value_less<T>(rb[k], ra[k])) return 1;
        }
      }
      return 0;
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
    for (int64_t i = 0; i < n; ++i) {
      if (i == 0 || cmp(order[i - 1], order[i]) != 0) {
        first.push_back(order[i]);
        counts.push_back(0);
      }
      group_of[order[i]] = static_cast<int64_t>(first.size()) - 1;
      ++counts.back();
    }
    return Status::Ok();
  }));
  const int64_t groups = static_cast<int64_t>(first.size());
  // Output position of each sorted group: sorted order, or order of first occurrence.
  std::vector<int64_t> rank_of(static_cast<size_t>(groups));
  std::iota(rank_of.begin(), rank_of.end(), 0);
  if (!sorted) {
    std::vector<int64_t> by_first(rank_of);
    std::sort(by_first.begin(), by_first.end(),
              [&](int64_t a, int64_t b) { return first[a] < first[b]; });
    for (int64_t j = 0; j < groups; ++j) rank_of[by_first[j]] = j;
  }
  Shape y_shape = axis < 0 ? Shape{groups} : x.shape();
  if (axis >= 0) y_shape[axis] = groups;
  Tensor y(x.dtype(), y_shape), indices(DType::kS64, {groups}), inverse(DType::kS64, {n}),
      count(DType::kS64, {groups});
  const size_t row = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t j = rank_of[g];
    indices.data<int64_t>()[j] = first[g];
    count.data<int64_t>()[j] = counts[g];
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + (o * groups + j) * row, src + (o * n + first[g]) * row, row);
    }
  }
  for (int64_t i = 0; i < n; ++i) inverse.data<int64_t>()[i] = rank_of[group_of[i]];
  Tensor* outs[] = {&y, &indices, &inverse, &count};
  for (size_t i = 0; i < ctx.outputs.size() && i < 4; ++i) ctx.outputs[i] = std::move(*outs[i]);
  return Status::Ok();
}

// ------------------------------------------------------------------ TopK

Status top_k_impl(OpContext& ctx, int64_t k, bool largest) {
  const Tensor& x = *ctx.input(0);
  if (ctx.outputs.size() < 2) return ctx.invalid("needs outputs Values and Indices");
  QT_ASSIGN_OR_RETURN(const int64_t axis,
                      normalize_axis(ctx, ctx.node.attr_int("axis", -1), x.rank()));
  const int64_t n = x.dim(axis);
  if (k < 0 || k > n) {
    return ctx.invalid("k " + std::to_string(k) + " is outside [0, " + std::to_string(n) + "]");
  }
  const int64_t outer = dims_product(x.shape(), 0, axis);
  const int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
  Shape out_shape = x.shape();
  out_shape[axis] = k;
  ctx.outputs[0] = Tensor(x.dtype(), out_shape);
  ctx.outputs[1] = Tensor(DType::kS64, out_shape);
  return visit_any(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    const S* src = x.data<S>();
    S* vals = ctx.outputs[0].data<S>();
    int64_t* inds = ctx.outputs[1].data<int64_t>();
    parallel_ranges(
        outer * inner,
        [&](int64_t b, int64_t e) {
          std::vector<int64_t> order(static_cast<size_t>(n));
          for (int64_t line = b; line < e; ++line) {
            const int64_t o = line / inner, i = line % inner;
            const S* in = src + o * n * inner + i;
            std::iota(order.begin(), order.end(), 0);
            // Equal values keep their index order, so the result does not depend on the sort.
            auto before = [&](int64_t a, int64_t c) {
              const bool lt = largest ? value_less<T>(in[c * inner], in[a * inner])
                                      : value_less<T>(in[a * inner], in[c * inner]);
              return lt || (a < c && value_equal<T>(in[a * inner], in[c * inner]));
            };
            std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
            for (int64_t j = 0; j < k; ++j) {
              const int64_t dst = (o * k + j) * inner + i;
              vals[dst] = in[order[j] * inner];
              inds[dst] = order[j];
            }
          }
        },
        std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, n)));
    return Status::Ok();
  });
}

// Opset 1-9: k is an attribute.
Status top_k_attr(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  if (!ctx.node.has_attr("k")) return ctx.invalid("missing attribute k");
  return top_k_impl(ctx, ctx.node.attr_int("k", 0), true);
}

// Opset 10: k is an input; always the largest.
Status top_k_input(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_ASSIGN_OR_RETURN(const int64_t k, scalar_i64(ctx, 1, "K"));
  return top_k_impl(ctx, k, true);
}

// Opset 11+: largest or smallest; `sorted` = 0 allows any order, and sorted is one of them.
Status top_k_largest(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_ASSIGN_OR_RETURN(const int64_t k, scalar_i64(ctx, 1, "K"));
  return top_k_impl(ctx, k, ctx.node.attr_int("largest", 1) != 0);
}

// ------------------------------------------------------------------ ReverseSequence

Status reverse_sequence(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& x = *ctx.input(0);
  const int64_t batch_axis = ctx.node.attr_int("batch_axis", 1);
  const int64_t time_axis = ctx.node.attr_int("time_axis", 0);
  if (x.rank() < 2) return ctx.invalid("input must have rank >= 2");
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0))) {
    return ctx.invalid("batch_axis and time_axis must be 0 and 1 in some order");
  }
  const int64_t batch = x.dim(batch_axis), steps = x.dim(time_axis);
  QT_ASSIGN_OR_RETURN(const std::vector<int64_t> lens, int_list_input(ctx, 1, "sequence_lens"));
  if (static_cast<int64_t>(lens.size()) != batch) {
    return ctx.invalid("sequence_lens has " + std::to_string(lens.size()) +
                       " entries for a batch of " + std::to_string(batch));
  }
  for (int64_t l : lens) {
    if (l < 0 || l > steps) {
      return ctx.invalid("sequence length " + std::to_string(l) + " is outside [0, " +
                         std::to_string(steps) + "]");
    }
  }
  const int64_t inner = dims_product(x.shape(), 2, x.rank());
  const int64_t batch_stride = (batch_axis == 0 ? steps : 1) * inner;
  const int64_t time_stride = (time_axis == 0 ? batch : 1) * inner;
  const size_t row = static_cast<size_t>(inner) * dtype_size(x.dtype());
  ctx.outputs[0] = Tensor(x.dtype(), x.shape());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(ctx.outputs[0].raw());
  const size_t esize = dtype_size(x.dtype());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t from = t < lens[b] ? lens[b] - 1 - t : t;
      std::memcpy(dst + (b * batch_stride + t * time_stride) * esize,
                  src + (b * batch_stride + from * time_stride) * esize, row);
    }
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ CumSum

Status cum_sum(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& x = *ctx.input(0);
  QT_ASSIGN_OR_RETURN(const int64_t axis_in, scalar_i64(ctx, 1, "axis"));
  QT_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, axis_in, x.rank()));
  const bool exclusive = ctx.node.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attr_int("reverse", 0) != 0;
  const int64_t outer = dims_product(x.shape(), 0, axis);
  const int64_t n = x.dim(axis);
  const int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
  ctx.outputs[0] = Tensor(x.dtype(), x.shape());
  return visit_any(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    // Floats sum in double; integers in their own type, wrapping like the unsigned type.
    using Acc = std::conditional_t<is_float_v<T>, double, S>;
    const S* src = x.data<S>();
    S* dst = ctx.outputs[0].data<S>();
    parallel_ranges(
        outer * inner,
        [&](int64_t b, int64_t e) {
          for (int64_t line = b; line < e; ++line) {
            const int64_t base = (line / inner) * n * inner + line % inner;
            Acc acc = 0;
            for (int64_t j = 0; j < n; ++j) {
              const int64_t at = base + (reverse ? n - 1 - j : j) * inner;
              Acc v;
              if constexpr (is_float_v<T>) v = load_as_double<T>(src[at]);
              else v = src[at];
              if (exclusive) {
                if constexpr (is_float_v<T>) dst[at] = store_from_double<T>(acc);
                else dst[at] = acc;
              }
              if constexpr (is_float_v<T>) acc += v;
              else acc = combine<T>(acc, v, Reduction::kAdd);
              if (!exclusive) {
                if constexpr (is_float_v<T>) dst[at] = store_from_double<T>(acc);
                else dst[at] = acc;
              }
            }
          }
        },
        std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, n)));
    return Status::Ok();
  });
}

}  // namespace

void register_indexing_kernels(KernelRegistry& r) {
  const std::vector<DType> float3 = {DType::kF32, DType::kF64, DType::kF16};
  const std::vector<DType> no_bf16 = [] {
    std::vector<DType> v;
    for (DType t : kAllTypes) {
      if (t != DType::kBF16) v.push_back(t);
    }
    return v;
  }();
  const std::vector<DType> cumsum11 = {DType::kU32, DType::kU64, DType::kS32,
                                       DType::kS64, DType::kF32, DType::kF64};
  std::vector<DType> cumsum14 = cumsum11;
  cumsum14.insert(cumsum14.end(), {DType::kF16, DType::kBF16});

  r.add({"", "GatherElements", 11, 12, no_bf16}, gather_elements);
  r.add({"", "GatherElements", 13, kLatestOpset, kAllTypes}, gather_elements);
  r.add({"", "GatherND", 11, 11, no_bf16}, gather_nd_v11);
  r.add({"", "GatherND", 12, 12, no_bf16}, gather_nd_batched);
  r.add({"", "GatherND", 13, kLatestOpset, kAllTypes}, gather_nd_batched);
  r.add({"", "Scatter", 9, 10, no_bf16}, scatter_elements_plain);
  r.add({"", "ScatterElements", 11, 12, no_bf16}, scatter_elements_plain);
  r.add({"", "ScatterElements", 13, 15, kAllTypes}, scatter_elements_plain);
  r.add({"", "ScatterElements", 16, kLatestOpset, kAllTypes}, scatter_elements_reduce);
  r.add({"", "ScatterND", 11, 12, no_bf16}, scatter_nd_plain);
  r.add({"", "ScatterND", 13, 15, kAllTypes}, scatter_nd_plain);
  r.add({"", "ScatterND", 16, kLatestOpset, kAllTypes}, scatter_nd_reduce);
  r.add({"", "Compress", 9, kLatestOpset, no_bf16}, compress);
  std::vector<DType> numeric_no_bf16 = no_bf16;
  numeric_no_bf16.pop_back();  // bool
  r.add({"", "OneHot", 9, kLatestOpset, numeric_no_bf16}, one_hot);
  r.add({"", "NonZero", 9, 12, no_bf16}, non_zero);
  r.add({"", "NonZero", 13, kLatestOpset, kAllTypes}, non_zero);
  r.add({"", "Unique", 11, kLatestOpset, no_bf16}, unique);
  r.add({"", "TopK", 1, 9, float3}, top_k_attr);
  r.add({"", "TopK", 10, 10, float3}, top_k_input);
  std::vector<DType> topk11 = kIntTypes;
  topk11.insert(topk11.end(), float3.begin(), float3.end());
  r.add({"", "TopK", 11, kLatestOpset, topk11}, top_k_largest);
  r.add({"", "ReverseSequence", 10, kLatestOpset, no_bf16}, reverse_sequence);
  r.add({"", "CumSum", 11, 13, cumsum11}, cum_sum);
  r.add({"", "CumSum", 14, kLatestOpset, cumsum14}, cum_sum);
}

}  // namespace qtune
