// Shape and data-movement operators: Reshape, Shape, Size, Flatten, Squeeze, Unsqueeze, Transpose,
// Concat, Split, Slice, Gather, Expand, Tile, Pad, DepthToSpace and SpaceToDepth. They move bytes
// only, so every element type works; ops that merely relabel the shape return views sharing the
// input's storage.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "runtime/op_util.h"

namespace qtune {
namespace {

// "[1,-1,0]": shape_str would print negative values as "?".
std::string ints_str(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(v[i]);
  }
  return out + "]";
}

Status need_non_negative(const OpContext& ctx, const std::vector<int64_t>& v, const char* what) {
  for (int64_t a : v) {
    if (a < 0) return ctx.invalid(std::string(what) + " " + ints_str(v) + " has a negative value");
  }
  return Status::Ok();
}

// Elements before / after `axis` in a row-major tensor: the outer loop and the block it moves.
int64_t outer_size(const Shape& s, int64_t axis) {
  return dims_product(s, 0, static_cast<size_t>(axis));
}
int64_t inner_size(const Shape& s, int64_t axis) {
  return dims_product(s, static_cast<size_t>(axis) + 1, s.size());
}

// ------------------------------------------------------------------ strided copy

// Copies n elements of `esize` bytes from src (stepping `stride` elements) to contiguous dst.
void copy_strided_row(const uint8_t* src, int64_t stride, uint8_t* dst, int64_t n, size_t esize) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* s = reinterpret_cast<const T*>(src);
    T* d = reinterpret_cast<T*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = s[i * stride];
  };
  switch (esize) {
    case 1: run(uint8_t{}); break;
    case 2: run(uint16_t{}); break;
    case 4: run(uint32_t{}); break;
    case 8: run(uint64_t{}); break;
    default:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * esize, src + i * stride * esize, esize);
  }
}

// memcpy, but short rows (attention heads are 16 floats) are copied inline: a libc call per
// 64 bytes costs as much as the copy.
inline void copy_row(uint8_t* dst, const uint8_t* src, int64_t bytes) {
  if (bytes <= 256 && bytes % 16 == 0) {
    for (int64_t k = 0; k < bytes; k += 16) std::memcpy(dst + k, src + k, 16);
  } else {
    std::memcpy(dst, src, static_cast<size_t>(bytes));
  }
}

// dst(i, j) = src(i, j) for an nq x nl block where src steps 1 along i and `src_sl` along j, and
// dst steps `dst_sq` along i and 1 along j: a transpose, done in cache-sized tiles.
template <typename T>
void copy_tile_2d(const T* src, int64_t src_sl, T* dst, int64_t dst_sq, int64_t i0, int64_t i1,
                  int64_t nl) {
  constexpr int64_t kTile = 16;
  for (int64_t jb = 0; jb < nl; jb += kTile) {
    const int64_t je = std::min(jb + kTile, nl);
    for (int64_t i = i0; i < i1; ++i) {
      T* d = dst + i * dst_sq;
      const T* s = src + i;
      for (int64_t j = jb; j < je; ++j) d[j] = s[j * src_sl];
    }
  }
}

#if defined(__SSE2__)
// 4-byte elements (f32, the common case) move through SSE registers in 4x4 blocks; shuffles copy
// bits exactly, so this works for any 4-byte type.
template <>
void copy_tile_2d<uint32_t>(const uint32_t* src, int64_t src_sl, uint32_t* dst, int64_t dst_sq,
                            int64_t i0, int64_t i1, int64_t nl) {
  int64_t i = i0;
  for (; i + 4 <= i1; i += 4) {
    int64_t j = 0;
    for (; j + 4 <= nl; j += 4) {
      const float* s = reinterpret_cast<const float*>(src + i + j * src_sl);
      __m128 r0 = _mm_loadu_ps(s);
      __m128 r1 = _mm_loadu_ps(s + src_sl);
      __m128 r2 = _mm_loadu_ps(s + 2 * src_sl);
      __m128 r3 = _mm_loadu_ps(s + 3 * src_sl);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      float* d = reinterpret_cast<float*>(dst + i * dst_sq + j);
      _mm_storeu_ps(d, r0);
      _mm_storeu_ps(d + dst_sq, r1);
      _mm_storeu_ps(d + 2 * dst_sq, r2);
      _mm_storeu_ps(d + 3 * dst_sq, r3);
    }
    for (; j < nl; ++j) {
      for (int64_t k = 0; k < 4; ++k) dst[(i + k) * dst_sq + j] = src[i + k + j * src_sl];
    }
  }
  for (; i < i1; ++i) {
    for (int64_t j = 0; j < nl; ++j) dst[i * dst_sq + j] = src[i + j * src_sl];
  }
}
#endif

// Writes the view of `src` (first element at `src` and element strides `strides`, possibly
// negative, one per output dim) into the contiguous tensor `dst` of shape `dims`.
void strided_copy(const uint8_t* src, const Shape& dims, const std::vector<int64_t>& strides,
                  uint8_t* dst, size_t esize) {
  const int64_t numel = shape_numel(dims);
  if (numel == 0) return;
  // Merge dims the view walks without a jump; size-1 dims carry no movement.
  std::vector<int64_t> d, s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    if (!d.empty() && s.back() == strides[i] * dims[i]) {
      d.back() *= dims[i];
      s.back() = strides[i];
    } else {
      d.push_back(dims[i]);
      s.push_back(strides[i]);
    }
  }
  if (d.empty()) {
    std::memcpy(dst, src, esize);
    return;
  }
  const size_t rank = d.size();
  const int64_t inner = d.back();
  const int64_t inner_stride = s.back();

  // A dim other than the innermost that reads contiguously: tile it against the innermost one.
  size_t q = rank;
  for (size_t i = 0; i + 1 < rank; ++i) if (s[i] == 1) q = i;
  if (inner_stride != 1 && q != rank && esize <= 8 && (esize & (esize - 1)) == 0) {
    std::vector<int64_t> dst_stride = contiguous_strides(d);
    std::vector<int64_t> od, os, ods;  // the remaining (outer) dims
    for (size_t i = 0; i + 1 < rank; ++i) {
      if (i == q) continue;
      od.push_back(d[i]);
      os.push_back(s[i]);
      ods.push_back(dst_stride[i]);
    }
    const int64_t nq = d[q], dst_sq = dst_stride[q];
    constexpr int64_t kStrip = 16;
    const int64_t strips = (nq + kStrip - 1) / kStrip;
    const int64_t outer = shape_numel(od);
    const int64_t min_units = std::max<int64_t>(1, kMinParallelElements / (kStrip * inner));
    parallel_ranges(outer * strips, [&](int64_t ub, int64_t ue) {
      for (int64_t u = ub; u < ue; ++u) {
        int64_t o = u / strips, soff = 0, doff = 0;
        for (size_t k = od.size(); k-- > 0;) {
          const int64_t idx = o % od[k];
          o /= od[k];
          soff += idx * os[k];
          doff += idx * ods[k];
        }
        const int64_t i0 = (u % strips) * kStrip, i1 = std::min(i0 + kStrip, nq);
        const uint8_t* sb = src + soff * static_cast<int64_t>(esize);
        uint8_t* db = dst + doff * static_cast<int64_t>(esize);
        switch (esize) {
          case 1: copy_tile_2d(sb, inner_stride, db, dst_sq, i0, i1, inner); break;
          case 2: copy_tile_2d(reinterpret_cast<const uint16_t*>(sb), inner_stride,
                               reinterpret_cast<uint16_t*>(db), dst_sq, i0, i1, inner); break;
          case 4: copy_tile_2d(reinterpret_cast<const uint32_t*>(sb), inner_stride,
                               reinterpret_cast<uint32_t*>(db), dst_sq, i0, i1, inner); break;
          default: copy_tile_2d(reinterpret_cast<const uint64_t*>(sb), inner_stride,
                                reinterpret_cast<uint64_t*>(db), dst_sq, i0, i1, inner); break;
        }
      }
    }, min_units);
    return;
  }

  // Row by row: memcpy when rows are contiguous, a strided element loop otherwise.
  const int64_t rows = numel / inner;
  const int64_t row_bytes = inner * static_cast<int64_t>(esize);
  const int64_t min_rows = std::max<int64_t>(1, kMinParallelElements / inner);
  parallel_ranges(rows, [&](int64_t rb, int64_t re) {
    std::vector<int64_t> idx(rank - 1, 0);
    int64_t soff = 0, rem = rb;
    for (size_t k = rank - 1; k-- > 0;) {
      idx[k] = rem % d[k];
      rem /= d[k];
      soff += idx[k] * s[k];
    }
    for (int64_t r = rb; r < re; ++r) {
      const uint8_t* sp = src + soff * static_cast<int64_t>(esize);
      uint8_t* dp = dst + r * row_bytes;
      if (inner_stride == 1) {
        copy_row(dp, sp, row_bytes);
      } else {
        copy_strided_row(sp, inner_stride, dp, inner, esize);
      }
      for (size_t k = rank - 1; k-- > 0;) {  // odometer over the outer dims
        soff += s[k];
        if (++idx[k] < d[k]) break;
        soff -= idx[k] * s[k];
        idx[k] = 0;
      }
    }
  }, min_rows);
}

// ------------------------------------------------------------------ view ops

Status flatten(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const int64_t r = x.rank();
  int64_t axis = ctx.node.attr_int("axis", 1);
  if (axis < -r || axis > r) {  // axis == rank is allowed: the output is [numel, 1]
    return ctx.invalid("axis " + std::to_string(axis) + " is out of range for rank " +
                       std::to_string(r));
  }
  if (axis < 0) axis += r;
  const auto a = static_cast<size_t>(axis);
  ctx.outputs[0] = x.reshaped({dims_product(x.shape(), 0, a),
                               dims_product(x.shape(), a, x.shape().size())});
  return Status::Ok();
}

// Reshape to `want`: 0 copies the input's dimension unless `allowzero`, one -1 is inferred.
Status reshape_to(OpContext& ctx, const std::vector<int64_t>& want, bool allowzero) {
  const Tensor& x = *ctx.input(0);
  Shape out(want.size());
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < want.size(); ++i) {
    int64_t v = want[i];
    if (v == 0 && !allowzero) {
      if (static_cast<int64_t>(i) >= x.rank()) {
        return ctx.invalid("shape " + ints_str(want) + ": 0 at position " + std::to_string(i) +
                           " has no matching dimension in input shape " + shape_str(x.shape()));
      }
      v = x.dim(static_cast<int64_t>(i));
    }
    if (v == -1) {
      if (infer >= 0) return ctx.invalid("shape " + ints_str(want) + " has more than one -1");
      infer = static_cast<int64_t>(i);
      continue;
    }
    if (v < 0) return ctx.invalid("shape " + ints_str(want) + " has a negative dimension");
    out[i] = v;
    known *= v;
  }
  if (infer >= 0) {
    if (known == 0) {
      return ctx.invalid("shape " + ints_str(want) + ": -1 cannot be inferred beside a 0");
    }
    if (x.numel() % known != 0) {
      return ctx.invalid("cannot reshape input of shape " + shape_str(x.shape()) + " to " +
                         ints_str(want));
    }
    out[static_cast<size_t>(infer)] = x.numel() / known;
  }
  if (shape_numel(out) != x.numel()) {
    return ctx.invalid("cannot reshape input of shape " + shape_str(x.shape()) + " (" +
                       std::to_string(x.numel()) + " elements) to " + ints_str(want));
  }
  ctx.outputs[0] = x.reshaped(out);
  return Status::Ok();
}

Status reshape_attr(OpContext& ctx) {  // opset 1-4: the shape is an attribute
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  if (!ctx.node.has_attr("shape")) return ctx.invalid("attribute 'shape' is missing");
  return reshape_to(ctx, ctx.node.attr_ints("shape"), false);
}

Status reshape_input(OpContext& ctx, bool with_allowzero) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_ASSIGN_OR_RETURN(auto want, int_list_input(ctx, 1, "shape"));
  return reshape_to(ctx, want, with_allowzero && ctx.node.attr_int("allowzero", 0) != 0);
}

Status unsqueeze_axes(OpContext& ctx, std::vector<int64_t> axes) {
  const Tensor& x = *ctx.input(0);
  const int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
  QT_ASSIGN_OR_RETURN(axes, normalize_axes(ctx, std::move(axes), out_rank));
  Shape out;
  size_t next = 0, a = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    if (a < axes.size() && axes[a] == i) {
      out.push_back(1);
      ++a;
    } else {
      out.push_back(x.shape()[next++]);
    }
  }
  ctx.outputs[0] = x.reshaped(out);
  return Status::Ok();
}

// Drops the listed axes (which must be 1), or every 1 when `axes` is absent.
Status squeeze_axes(OpContext& ctx, const std::optional<std::vector<int64_t>>& axes) {
  const Tensor& x = *ctx.input(0);
  std::vector<bool> drop(static_cast<size_t>(x.rank()), false);
  if (axes) {
    QT_ASSIGN_OR_RETURN(auto norm, normalize_axes(ctx, *axes, x.rank()));
    for (int64_t n : norm) {
      if (x.dim(n) != 1) {
        return ctx.invalid("cannot squeeze axis " + std::to_string(n) + " of size " +
                           std::to_string(x.dim(n)) + " in shape " + shape_str(x.shape()));
      }
      drop[static_cast<size_t>(n)] = true;
    }
  } else {
    for (int64_t i = 0; i < x.rank(); ++i) drop[static_cast<size_t>(i)] = x.dim(i) == 1;
  }
  Shape out;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (!drop[static_cast<size_t>(i)]) out.push_back(x.dim(i));
  }
  ctx.outputs[0] = x.reshaped(out);
  return Status::Ok();
}

// Opset 1-12: axes is an attribute (required for Unsqueeze, optional for Squeeze).
Status unsqueeze_attr(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  if (!ctx.node.has_attr("axes")) return ctx.invalid("attribute 'axes' is missing");
  return unsqueeze_axes(ctx, ctx.node.attr_ints("axes"));
}

Status squeeze_attr(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  std::optional<std::vector<int64_t>> axes;
  if (ctx.node.has_attr("axes")) axes = ctx.node.attr_ints("axes");
  return squeeze_axes(ctx, axes);
}

// Opset 13 on: axes is an input (required for Unsqueeze, optional for Squeeze).
Status unsqueeze_input(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_ASSIGN_OR_RETURN(auto axes, int_list_input(ctx, 1, "axes"));
  return unsqueeze_axes(ctx, std::move(axes));
}

Status squeeze_input(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 2));
  std::optional<std::vector<int64_t>> axes;
  if (has_input(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(axes, int_list_input(ctx, 1, "axes"));
  }
  return squeeze_axes(ctx, axes);
}

Status shape_of(OpContext& ctx, int64_t start, int64_t end) {
  const Tensor& x = *ctx.input(0);
  Tensor y(DType::kS64, {std::max<int64_t>(end - start, 0)});
  for (int64_t i = start; i < end; ++i) y.data<int64_t>()[i - start] = x.dim(i);
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status shape_all(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  return shape_of(ctx, 0, ctx.input(0)->rank());
}

// Opset 15: start/end slice the shape, clamped like Python slicing.
Status shape_range(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const int64_t r = ctx.input(0)->rank();
  auto clamp = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  return shape_of(ctx, clamp(ctx.node.attr_int("start", 0)), clamp(ctx.node.attr_int("end", r)));
}

Status size_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  Tensor y(DType::kS64, {});
  y.data<int64_t>()[0] = ctx.input(0)->numel();
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ copying ops

Status transpose(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const int64_t r = x.rank();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (!ctx.node.has_attr("perm")) {
    for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != r) {
    return ctx.invalid("perm " + ints_str(perm) + " does not match input rank " +
                       std::to_string(r));
  }
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= r || seen[static_cast<size_t>(p)]) {
      return ctx.invalid("perm " + ints_str(perm) + " is not a permutation of 0.." +
                         std::to_string(r - 1));
    }
    seen[static_cast<size_t>(p)] = true;
  }
  const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  Shape out_shape(static_cast<size_t>(r));
  std::vector<int64_t> strides(static_cast<size_t>(r));
  for (size_t i = 0; i < static_cast<size_t>(r); ++i) {
    out_shape[i] = x.dim(perm[i]);
    strides[i] = in_strides[static_cast<size_t>(perm[i])];
  }
  auto compute = [&] {
    Tensor y(x.dtype(), out_shape);
    strided_copy(static_cast<const uint8_t*>(x.raw()), out_shape, strides,
                 static_cast<uint8_t*>(y.raw()), dtype_size(x.dtype()));
    return y;
  };
  // Weights (MatMul's W^T in exported Linear layers) are transposed once per executor.
  if (ctx.cache && ctx.input_is_constant(0)) {
    ctx.outputs[0] = *ctx.cache->get<Tensor>(ctx.input(0), compute);
  } else {
    ctx.outputs[0] = compute();
  }
  return Status::Ok();
}

// Opset 4 on: axis is required (opset 1-3 defaulted it to 1).
Status concat(OpContext& ctx) {
  if (ctx.num_inputs() == 0) return ctx.invalid("expects at least 1 input, got 0");
  QT_RETURN_IF_ERROR(need_inputs(ctx, ctx.num_inputs(), ctx.num_inputs()));
  if (!ctx.node.has_attr("axis")) return ctx.invalid("attribute 'axis' is missing");
  const Tensor& first = *ctx.input(0);
  const int64_t r = first.rank();
  QT_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), r));
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(axis)] = 0;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    const Tensor& t = *ctx.input(k);
    if (t.dtype() != first.dtype()) {
      return ctx.invalid("input " + std::to_string(k) + " has element type " +
                         dtype_str(t.dtype()) + ", input 0 has " + dtype_str(first.dtype()));
    }
    bool ok = t.rank() == r;
    for (int64_t i = 0; ok && i < r; ++i) ok = i == axis || t.dim(i) == first.dim(i);
    if (!ok) {
      return ctx.invalid("input " + std::to_string(k) + " has shape " + shape_str(t.shape()) +
                         ", which does not match " + shape_str(first.shape()) +
                         " outside axis " + std::to_string(axis));
    }
    out_shape[static_cast<size_t>(axis)] += t.dim(axis);
  }
  Tensor y(first.dtype(), out_shape);
  const int64_t esize = static_cast<int64_t>(dtype_size(first.dtype()));
  const int64_t outer = outer_size(first.shape(), axis);
  const int64_t inner = inner_size(first.shape(), axis);
  const int64_t out_row = out_shape[static_cast<size_t>(axis)] * inner;  // elements per outer index
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  parallel_ranges(out_row > 0 ? outer : 0, [&](int64_t ob, int64_t oe) {
    for (int64_t o = ob; o < oe; ++o) {
      int64_t col = 0;
      for (size_t k = 0; k < ctx.num_inputs(); ++k) {
        const Tensor& t = *ctx.input(k);
        const int64_t row = t.dim(axis) * inner;
        if (row) {
          std::memcpy(dst + (o * out_row + col) * esize,
                      static_cast<const uint8_t*>(t.raw()) + o * row * esize,
                      static_cast<size_t>(row * esize));
        }
        col += row;
      }
    }
  }, std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(out_row, 1)));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Splits input 0 along `axis` into one output per node output, of lengths `split` or equal parts.
Status split_into(OpContext& ctx, const std::optional<std::vector<int64_t>>& split) {
  const Tensor& x = *ctx.input(0);
  QT_ASSIGN_OR_RETURN(const int64_t axis,
                      normalize_axis(ctx, ctx.node.attr_int("axis", 0), x.rank()));
  const int64_t n_out = static_cast<int64_t>(ctx.outputs.size());
  const int64_t dim = x.dim(axis);
  std::vector<int64_t> lens;
  if (split) {
    lens = *split;
    int64_t sum = 0;
    for (int64_t l : lens) {
      if (l < 0) return ctx.invalid("split " + ints_str(lens) + " has a negative length");
      sum += l;
    }
    if (static_cast<int64_t>(lens.size()) != n_out || sum != dim) {
      return ctx.invalid("split " + ints_str(lens) + " must have " + std::to_string(n_out) +
                         " lengths summing to " + std::to_string(dim) + ", the size of axis " +
                         std::to_string(axis));
    }
  } else {
    // Up to opset 17 an equal split needs the axis to divide (libonnx's inference rejects the
    // rest); the smaller last part arrives with opset 18.
    if (dim % n_out != 0) {
      return ctx.invalid("axis " + std::to_string(axis) + " of size " + std::to_string(dim) +
                         " does not split into " + std::to_string(n_out) + " equal parts");
    }
    lens.assign(static_cast<size_t>(n_out), dim / n_out);
  }
  const int64_t esize = static_cast<int64_t>(dtype_size(x.dtype()));
  const int64_t outer = outer_size(x.shape(), axis);
  const int64_t inner = inner_size(x.shape(), axis);
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  int64_t col = 0;  // elements into each input row where this output starts
  for (int64_t k = 0; k < n_out; ++k) {
    Shape shape = x.shape();
    shape[static_cast<size_t>(axis)] = lens[static_cast<size_t>(k)];
    Tensor y(x.dtype(), shape);
    const int64_t row = lens[static_cast<size_t>(k)] * inner;
    uint8_t* dst = static_cast<uint8_t*>(y.raw());
    parallel_ranges(row > 0 ? outer : 0, [&](int64_t ob, int64_t oe) {
      for (int64_t o = ob; o < oe; ++o) {
        std::memcpy(dst + o * row * esize, src + (o * dim * inner + col) * esize,
                    static_cast<size_t>(row * esize));
      }
    }, std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(row, 1)));
    col += row;
    ctx.outputs[static_cast<size_t>(k)] = std::move(y);
  }
  return Status::Ok();
}

Status split_attr(OpContext& ctx) {  // opset 2-12: split is an attribute
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  std::optional<std::vector<int64_t>> split;
  if (ctx.node.has_attr("split")) split = ctx.node.attr_ints("split");
  return split_into(ctx, split);
}

Status split_input(OpContext& ctx) {  // opset 13 on: split is an optional input
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 2));
  std::optional<std::vector<int64_t>> split;
  if (has_input(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(split, int_list_input(ctx, 1, "split"));
  }
  return split_into(ctx, split);
}

// Negative indices count from the end.
Status gather(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  if (ind.dtype() != DType::kS64 && ind.dtype() != DType::kS32) {
    return ctx.invalid("indices must be int32 or int64, got " + dtype_str(ind.dtype()));
  }
  const int64_t r = data.rank();
  QT_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), r));
  const int64_t n_axis = data.dim(axis);
  std::vector<int64_t> idx = ind.to_i64_vector();
  for (int64_t& i : idx) {
    if (i < -n_axis || i >= n_axis) {
      return ctx.invalid("index " + std::to_string(i) + " is out of range for axis " +
                         std::to_string(axis) + " of size " + std::to_string(n_axis));
    }
    if (i < 0) i += n_axis;
  }
  Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
  out_shape.insert(out_shape.end(), ind.shape().begin(), ind.shape().end());
  out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  Tensor y(data.dtype(), out_shape);
  const int64_t outer = outer_size(data.shape(), axis);
  const int64_t inner = inner_size(data.shape(), axis);
  const int64_t n_idx = static_cast<int64_t>(idx.size());
  const int64_t chunk = inner * static_cast<int64_t>(dtype_size(data.dtype()));
  const uint8_t* src = static_cast<const uint8_t*>(data.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  if (chunk > 0) {
    parallel_ranges(outer * n_idx, [&](int64_t ub, int64_t ue) {
      for (int64_t u = ub; u < ue; ++u) {
        const int64_t o = u / n_idx, j = u % n_idx;
        std::memcpy(dst + u * chunk, src + (o * n_axis + idx[static_cast<size_t>(j)]) * chunk,
                    static_cast<size_t>(chunk));
      }
    }, std::max<int64_t>(1, kMinParallelElements / inner));
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Slices input 0; absent axes mean 0..n-1, absent steps mean 1.
Status slice_with(OpContext& ctx, const std::vector<int64_t>& starts,
                  const std::vector<int64_t>& ends, std::optional<std::vector<int64_t>> axes_in,
                  std::optional<std::vector<int64_t>> steps_in) {
  const Tensor& x = *ctx.input(0);
  const int64_t r = x.rank();
  const size_t n = starts.size();
  std::vector<int64_t> axes = axes_in ? *axes_in : std::vector<int64_t>();
  if (!axes_in) {
    for (size_t i = 0; i < n; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  const std::vector<int64_t> steps = steps_in ? *steps_in : std::vector<int64_t>(n, 1);
  if (ends.size() != n || axes.size() != n || steps.size() != n) {
    return ctx.invalid("starts " + ints_str(starts) + ", ends " + ints_str(ends) + ", axes " +
                       ints_str(axes) + " and steps " + ints_str(steps) +
                       " must have the same length");
  }
  QT_RETURN_IF_ERROR(normalize_axes(ctx, axes, r).status());  // range and duplicates
  Shape out_shape = x.shape();
  std::vector<int64_t> first(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
  for (size_t i = 0; i < n; ++i) {
    const int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
    const int64_t dim = x.dim(a);
    if (steps[i] == 0) return ctx.invalid("steps must be non-zero");
    // A step longer than the axis takes at most one element; capping it keeps the arithmetic
    // below from overflowing on steps like INT64_MIN.
    const int64_t cap = std::max<int64_t>(dim, 1);
    const int64_t st = std::clamp<int64_t>(steps[i], -cap, cap);
    // Starts/ends like INT64_MIN stay far out of range after adding dim, then clamp.
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b = std::max(b, -dim - 1) + dim;
    if (e < 0) e = std::max(e, -dim - 1) + dim;
    // Clamp as the spec says: into [0, dim] going forward, [-1, dim-1] going backward.
    int64_t len;
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      len = e > b ? (e - b - 1) / st + 1 : 0;
    } else {
      b = std::clamp<int64_t>(b, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      len = b > e ? (b - e - 1) / -st + 1 : 0;
    }
    out_shape[static_cast<size_t>(a)] = len;
    first[static_cast<size_t>(a)] = len > 0 ? b : 0;
    step[static_cast<size_t>(a)] = st;
  }
  const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  int64_t offset = 0;
  std::vector<int64_t> strides(static_cast<size_t>(r));
  for (size_t i = 0; i < static_cast<size_t>(r); ++i) {
    offset += first[i] * in_strides[i];
    strides[i] = step[i] * in_strides[i];
  }
  Tensor y(x.dtype(), out_shape);
  const size_t esize = dtype_size(x.dtype());
  if (y.numel() > 0) {
    strided_copy(static_cast<const uint8_t*>(x.raw()) + offset * static_cast<int64_t>(esize),
                 out_shape, strides, static_cast<uint8_t*>(y.raw()), esize);
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status slice_attr(OpContext& ctx) {  // opset 1-9: starts/ends/axes are attributes, no steps
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  if (!ctx.node.has_attr("starts") || !ctx.node.has_attr("ends")) {
    return ctx.invalid("attributes 'starts' and 'ends' are required");
  }
  std::optional<std::vector<int64_t>> axes;
  if (ctx.node.has_attr("axes")) axes = ctx.node.attr_ints("axes");
  return slice_with(ctx, ctx.node.attr_ints("starts"), ctx.node.attr_ints("ends"), axes,
                    std::nullopt);
}

Status slice_input(OpContext& ctx) {  // opset 10 on: all inputs
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, 5));
  QT_ASSIGN_OR_RETURN(auto starts, int_list_input(ctx, 1, "starts"));
  QT_ASSIGN_OR_RETURN(auto ends, int_list_input(ctx, 2, "ends"));
  std::optional<std::vector<int64_t>> axes, steps;
  if (has_input(ctx, 3)) {
    QT_ASSIGN_OR_RETURN(axes, int_list_input(ctx, 3, "axes"));
  }
  if (has_input(ctx, 4)) {
    QT_ASSIGN_OR_RETURN(steps, int_list_input(ctx, 4, "steps"));
  }
  return slice_with(ctx, starts, ends, axes, steps);
}

// Broadcasts input 0 to `shape` numpy-style (either side may hold the 1).
Status expand(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& x = *ctx.input(0);
  QT_ASSIGN_OR_RETURN(auto shape, int_list_input(ctx, 1, "shape"));
  QT_RETURN_IF_ERROR(need_non_negative(ctx, shape, "shape"));
  BroadcastPlan plan;
  if (!make_broadcast_plan({x.shape(), shape}, &plan)) {
    return ctx.invalid("input shape " + shape_str(x.shape()) + " does not broadcast to " +
                       ints_str(shape));
  }
  Tensor y(x.dtype(), plan.out_shape);
  QT_RETURN_IF_ERROR(visit_by_size(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    const bool runs = plan.inner_stride(0) != 0;
    for_each_broadcast_run(plan, [&](int64_t o, const int64_t* off, int64_t len) {
      if (runs) {
        std::memcpy(dst + o, src + off[0], static_cast<size_t>(len) * sizeof(T));
      } else {
        std::fill(dst + o, dst + o + len, src[off[0]]);
      }
    });
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Element offset in a tensor of contiguous `strides` of output row `row` (over all dims but the
// last of `out`), each outer index mapped to an input index by `src_index` (-1: no source).
template <typename Map>
int64_t source_row_offset(int64_t row, const Shape& out, const std::vector<int64_t>& strides,
                          Map&& src_index) {
  int64_t off = 0;
  for (size_t k = out.size() - 1; k-- > 0;) {
    const int64_t i = row % out[k];
    row /= out[k];
    const int64_t s = src_index(k, i);
    if (s < 0) return -1;
    off += s * strides[k];
  }
  return off;
}

Status tile(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& x = *ctx.input(0);
  QT_ASSIGN_OR_RETURN(auto repeats, int_list_input(ctx, 1, "repeats"));
  if (static_cast<int64_t>(repeats.size()) != x.rank()) {
    return ctx.invalid("repeats " + ints_str(repeats) + " must have one value per dimension of " +
                       shape_str(x.shape()));
  }
  QT_RETURN_IF_ERROR(need_non_negative(ctx, repeats, "repeats"));
  Shape out = x.shape();
  for (size_t i = 0; i < out.size(); ++i) out[i] *= repeats[i];
  Tensor y(x.dtype(), out);
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  if (x.rank() == 0) {
    ctx.outputs[0] = x.clone();
    return Status::Ok();
  }
  const int64_t esize = static_cast<int64_t>(dtype_size(x.dtype()));
  const int64_t inner = x.shape().back();
  const int64_t row_bytes = inner * esize;
  const int64_t out_row = out.back();
  const int64_t rows = y.numel() / out_row;
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  parallel_ranges(rows, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t off = source_row_offset(r, out, strides, [&](size_t k, int64_t i) {
        return i % x.shape()[k];
      });
      uint8_t* d = dst + r * out_row * esize;
      for (int64_t t = 0; t < repeats.back(); ++t) {
        std::memcpy(d + t * row_bytes, src + off * esize, static_cast<size_t>(row_bytes));
      }
    }
  }, std::max<int64_t>(1, kMinParallelElements / out_row));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

enum class PadMode { kConstant, kReflect, kEdge };

// Pads (or, where negative, crops) input 0 by `pads` ([x1_begin, x2_begin, ..., x1_end, ...]).
// Crops apply first and padding mirrors or repeats the cropped tensor, as ONNX Runtime does;
// `value` holds the constant's bytes in the input's element type.
Status pad_with(OpContext& ctx, const std::vector<int64_t>& pads, const std::string& mode_name,
                const std::vector<uint8_t>& value) {
  const Tensor& x = *ctx.input(0);
  const size_t r = static_cast<size_t>(x.rank());
  PadMode mode;
  if (mode_name == "constant") mode = PadMode::kConstant;
  else if (mode_name == "reflect") mode = PadMode::kReflect;
  else if (mode_name == "edge") mode = PadMode::kEdge;
  else return ctx.invalid("mode '" + mode_name + "' is not one of constant, reflect, edge");
  if (pads.size() != 2 * r) {
    return ctx.invalid("pads " + ints_str(pads) + " must have 2 values per dimension of " +
                       shape_str(x.shape()));
  }
  // Per axis, the input index each output index reads (-1: the constant).
  Shape out(r);
  std::vector<std::vector<int64_t>> src(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t b = pads[i], e = pads[i + r], d = x.dim(static_cast<int64_t>(i));
    const int64_t lo = std::max<int64_t>(-b, 0);
    const int64_t kept = d - lo - std::max<int64_t>(-e, 0);
    const int64_t before = std::max<int64_t>(b, 0), after = std::max<int64_t>(e, 0);
    if (kept < 0) {
      return ctx.invalid("pads " + ints_str(pads) + " crop more than axis " + std::to_string(i) +
                         " of size " + std::to_string(d) + " holds");
    }
    if (kept == 0 && mode != PadMode::kConstant && before + after > 0) {
      return ctx.invalid("cannot " + mode_name + "-pad axis " + std::to_string(i) +
                         ", which is empty");
    }
    out[i] = kept + before + after;
    src[i].resize(static_cast<size_t>(out[i]));
    for (int64_t o = 0; o < out[i]; ++o) {
      int64_t j = o - before;
      if (j < 0 || j >= kept) {
        if (mode == PadMode::kConstant) {
          j = -1;
        } else if (mode == PadMode::kEdge || kept == 1) {
          j = std::clamp<int64_t>(j, 0, kept - 1);
        } else {  // reflect without repeating the edge: period 2 * (kept - 1)
          const int64_t period = 2 * (kept - 1);
          j = ((j % period) + period) % period;
          if (j >= kept) j = period - j;
        }
      }
      src[i][static_cast<size_t>(o)] = j < 0 ? -1 : j + lo;
    }
  }
  Tensor y(x.dtype(), out);
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  if (r == 0) {
    ctx.outputs[0] = x.clone();
    return Status::Ok();
  }
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  QT_RETURN_IF_ERROR(visit_by_size(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T fill;
    std::memcpy(&fill, value.data(), sizeof(T));
    const T* in = x.data<T>();
    T* dst = y.data<T>();
    const std::vector<int64_t>& last = src.back();
    const int64_t out_row = out.back();
    // The run of the last axis that reads the input contiguously, copied with one memcpy.
    const int64_t before = std::max<int64_t>(pads[r - 1], 0);
    const int64_t kept = out_row - before - std::max<int64_t>(pads[2 * r - 1], 0);
    parallel_ranges(y.numel() / out_row, [&](int64_t rb, int64_t re) {
      for (int64_t row = rb; row < re; ++row) {
        T* d = dst + row * out_row;
        const int64_t off = source_row_offset(row, out, strides, [&](size_t k, int64_t i) {
          return src[k][static_cast<size_t>(i)];
        });
        if (off < 0) {
          std::fill(d, d + out_row, fill);
          continue;
        }
        const T* s = in + off;
        for (int64_t o = 0; o < before; ++o) d[o] = last[o] < 0 ? fill : s[last[o]];
        if (kept > 0) {
          std::memcpy(d + before, s + last[before], static_cast<size_t>(kept) * sizeof(T));
        }
        for (int64_t o = before + kept; o < out_row; ++o) d[o] = last[o] < 0 ? fill : s[last[o]];
      }
    }, std::max<int64_t>(1, kMinParallelElements / out_row));
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Opset 2-10: pads and the float value are attributes.
Status pad_attr(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  if (!ctx.node.has_attr("pads")) return ctx.invalid("attribute 'pads' is missing");
  const DType t = ctx.input(0)->dtype();
  std::vector<uint8_t> value(dtype_size(t));
  QT_RETURN_IF_ERROR(visit_any(t, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const storage_t<T> v = store_from_double<T>(ctx.node.attr_float("value", 0.0f));
    std::memcpy(value.data(), &v, sizeof(v));
    return Status::Ok();
  }));
  return pad_with(ctx, ctx.node.attr_ints("pads"), ctx.node.attr_string("mode", "constant"),
                  value);
}

// Opset 11 on: pads and the constant (a scalar of the input's type) are inputs.
Status pad_input(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 3));
  const Tensor& x = *ctx.input(0);
  QT_ASSIGN_OR_RETURN(auto pads, int_list_input(ctx, 1, "pads"));
  std::vector<uint8_t> value(dtype_size(x.dtype()));
  if (has_input(ctx, 2)) {
    const Tensor& c = *ctx.input(2);
    if (c.dtype() != x.dtype() || c.numel() != 1) {
      return ctx.invalid("constant_value must be one " + dtype_str(x.dtype()) + ", got " +
                         dtype_str(c.dtype()) + " of shape " + shape_str(c.shape()));
    }
    std::memcpy(value.data(), c.raw(), value.size());
  }
  return pad_with(ctx, pads, ctx.node.attr_string("mode", "constant"), value);
}

// [N, C, H, W] input dims and the blocksize, checked for DepthToSpace/SpaceToDepth.
Result<int64_t> checked_blocksize(const OpContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() != 4) {
    return ctx.invalid("input must be 4-D [N, C, H, W], got " + shape_str(x.shape()));
  }
  if (!ctx.node.has_attr("blocksize")) return ctx.invalid("attribute 'blocksize' is missing");
  const int64_t b = ctx.node.attr_int("blocksize", 0);
  if (b <= 0) return ctx.invalid("blocksize " + std::to_string(b) + " must be positive");
  return b;
}

// Copies x viewed with 6-D `dims`/`strides` (elements) into a new tensor of shape `out`.
Tensor permuted_copy(const Tensor& x, const Shape& dims, const std::vector<int64_t>& strides,
                     const Shape& out) {
  Tensor y(x.dtype(), out);
  strided_copy(static_cast<const uint8_t*>(x.raw()), dims, strides,
               static_cast<uint8_t*>(y.raw()), dtype_size(x.dtype()));
  return y;
}

// Opset 1-10 knows only DCR; opset 11 adds mode CRD.
Status depth_to_space(OpContext& ctx, bool has_mode) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  QT_ASSIGN_OR_RETURN(const int64_t b, checked_blocksize(ctx));
  const Tensor& x = *ctx.input(0);
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (c % b != 0 || (c / b) % b != 0) {  // dividing twice: b * b may overflow
    return ctx.invalid("channels " + std::to_string(c) + " are not a multiple of blocksize " +
                       std::to_string(b) + " squared");
  }
  const std::string mode = has_mode ? ctx.node.attr_string("mode", "DCR") : "DCR";
  const int64_t oc = c / (b * b);
  const int64_t hw = h * w;
  // Output [N, C', H, b1, W, b2] read from the input's channel c = (b1 * b + b2) * C' + c' (DCR)
  // or c' * b * b + b1 * b + b2 (CRD).
  std::vector<int64_t> strides;
  if (mode == "DCR") {
    strides = {c * hw, hw, w, b * oc * hw, 1, oc * hw};
  } else if (mode == "CRD") {
    strides = {c * hw, b * b * hw, w, b * hw, 1, hw};
  } else {
    return ctx.invalid("mode '" + mode + "' is neither DCR nor CRD");
  }
  ctx.outputs[0] = permuted_copy(x, {n, oc, h, b, w, b}, strides, {n, oc, h * b, w * b});
  return Status::Ok();
}

Status space_to_depth(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  QT_ASSIGN_OR_RETURN(const int64_t b, checked_blocksize(ctx));
  const Tensor& x = *ctx.input(0);
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (h % b != 0 || w % b != 0) {
    return ctx.invalid("spatial dims " + shape_str({h, w}) + " are not multiples of blocksize " +
                       std::to_string(b));
  }
  // Output channel (b1 * b + b2) * C + c reads input [n, c, h' * b + b1, w' * b + b2].
  const int64_t hw = h * w;
  ctx.outputs[0] = permuted_copy(x, {n, b, b, c, h / b, w / b},
                                 {c * hw, w, 1, hw, b * w, b}, {n, c * b * b, h / b, w / b});
  return Status::Ok();
}

}  // namespace

// Negative axes (and Gather indices) count from the back at every opset: the spec only names them
// from opset 11, but exporters emit them earlier (PyTorch's GLU: Split axis -1 at opset 6) and ONNX
// Runtime accepts them, so the older ranges share the kernels instead of rejecting such models.
void register_shape_kernels(KernelRegistry& r) {
  r.add({"", "Reshape", 1, 4, kAllTypes}, reshape_attr);
  r.add({"", "Reshape", 5, 13, kAllTypes}, [](OpContext& c) { return reshape_input(c, false); });
  r.add({"", "Reshape", 14, kLatestOpset, kAllTypes},
        [](OpContext& c) { return reshape_input(c, true); });
  r.add({"", "Shape", 1, 14, kAllTypes}, shape_all);
  r.add({"", "Shape", 15, kLatestOpset, kAllTypes}, shape_range);
  r.add({"", "Size", 1, kLatestOpset, kAllTypes}, size_op);
  r.add({"", "Flatten", 1, kLatestOpset, kAllTypes}, flatten);
  r.add({"", "Squeeze", 1, 12, kAllTypes}, squeeze_attr);
  r.add({"", "Squeeze", 13, kLatestOpset, kAllTypes}, squeeze_input);
  r.add({"", "Unsqueeze", 1, 12, kAllTypes}, unsqueeze_attr);
  r.add({"", "Unsqueeze", 13, kLatestOpset, kAllTypes}, unsqueeze_input);
  r.add({"", "Transpose", 1, kLatestOpset, kAllTypes}, transpose);
  r.add({"", "Concat", 4, kLatestOpset, kAllTypes}, concat);
  r.add({"", "Split", 2, 12, kAllTypes}, split_attr);
  r.add({"", "Split", 13, kLatestOpset, kAllTypes}, split_input);
  r.add({"", "Slice", 1, 9, kAllTypes}, slice_attr);
  r.add({"", "Slice", 10, kLatestOpset, kAllTypes}, slice_input);
  r.add({"", "Gather", 1, kLatestOpset, kAllTypes}, gather);
  r.add({"", "Expand", 8, kLatestOpset, kAllTypes}, expand);
  r.add({"", "Tile", 6, kLatestOpset, kAllTypes}, tile);
  r.add({"", "Pad", 2, 10, kAllTypes}, pad_attr);
  r.add({"", "Pad", 11, kLatestOpset, kAllTypes}, pad_input);
  r.add({"", "DepthToSpace", 1, 10, kAllTypes},
        [](OpContext& c) { return depth_to_space(c, false); });
  r.add({"", "DepthToSpace", 11, kLatestOpset, kAllTypes},
        [](OpContext& c) { return depth_to_space(c, true); });
  r.add({"", "SpaceToDepth", 1, kLatestOpset, kAllTypes}, space_to_depth);
}

}  // namespace qtune
