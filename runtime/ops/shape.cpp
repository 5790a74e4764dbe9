// Shape and data-movement operators of the reference runtime: Flatten, Reshape, Transpose, Concat,
// Gather, Shape, Unsqueeze, Squeeze and Slice. They move bytes only, so every dtype works; ops
// that merely relabel the shape return views sharing the input's storage.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "runtime/broadcast.h"
#include "runtime/kernel_registry.h"

namespace qtune {
namespace {

std::string ints_str(const std::vector<int64_t>& v) { return shape_str(v); }

Status need_inputs(const OpContext& ctx, size_t min, size_t max) {
  const size_t n = ctx.num_inputs();
  if (n < min || n > max) {
    const std::string range =
        min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
    return ctx.invalid("expects " + range + " inputs, got " + std::to_string(n));
  }
  for (size_t i = 0; i < min; ++i) {
    if (!ctx.input(i)) return ctx.invalid("required input " + std::to_string(i) + " is missing");
  }
  if (ctx.outputs.empty()) return ctx.invalid("has no output");
  if (dtype_size(ctx.input(0)->dtype()) == 0) {
    return ctx.unsupported("element type " + std::string(dtype_name(ctx.input(0)->dtype())) +
                           " is not supported");
  }
  return Status::Ok();
}

// Maps axis from [-rank, rank) onto [0, rank); false when out of range.
bool normalize_axis(int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank) return false;
  *out = axis < 0 ? axis + rank : axis;
  return true;
}

Status bad_axis(const OpContext& ctx, int64_t axis, int64_t rank) {
  return ctx.invalid("axis " + std::to_string(axis) + " is out of range for rank " +
                     std::to_string(rank));
}

// Reads a 1-D int32/int64 input (shape, axes, starts, ...) as int64 values.
Status int_list(const OpContext& ctx, size_t i, const char* what, std::vector<int64_t>* out) {
  const Tensor& t = *ctx.input(i);
  if (t.dtype() != DType::kS64 && t.dtype() != DType::kS32) {
    return ctx.invalid(std::string(what) + " must be int32 or int64, got " +
                       std::string(dtype_name(t.dtype())));
  }
  if (t.rank() > 1) {
    return ctx.invalid(std::string(what) + " must be 1-D, got shape " + shape_str(t.shape()));
  }
  *out = t.to_i64_vector();
  return Status::Ok();
}

// Element strides of a contiguous row-major tensor.
std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
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
  if (axis < -r || axis > r) return bad_axis(ctx, axis, r);
  if (axis < 0) axis += r;
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  int64_t inner = 1;
  for (int64_t i = axis; i < r; ++i) inner *= x.dim(i);
  ctx.outputs[0] = x.reshaped({outer, inner});
  return Status::Ok();
}

Status reshape(OpContext& ctx) {
  const bool attr_form = ctx.opset < 5;  // the target shape became an input in opset 5
  QT_RETURN_IF_ERROR(need_inputs(ctx, attr_form ? 1 : 2, attr_form ? 1 : 2));
  const Tensor& x = *ctx.input(0);
  std::vector<int64_t> want;
  if (attr_form) {
    want = ctx.node.attr_ints("shape");
  } else {
    QT_RETURN_IF_ERROR(int_list(ctx, 1, "shape", &want));
  }
  const bool allowzero = ctx.node.attr_int("allowzero", 0) != 0;
  Shape out(want.size());
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < want.size(); ++i) {
    int64_t v = want[i];
    if (v == 0 && !allowzero) {  // 0 copies the input's dimension
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
    if (allowzero && known == 0) {
      return ctx.invalid("shape " + ints_str(want) + " mixes -1 with 0 while allowzero is set");
    }
    if (known == 0 || x.numel() % known != 0) {
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

// Axes for Squeeze/Unsqueeze: an attribute before opset 13, an input from 13 on.
Status squeeze_axes(const OpContext& ctx, bool* given, std::vector<int64_t>* axes) {
  if (ctx.opset < 13) {
    *given = ctx.node.has_attr("axes");
    *axes = ctx.node.attr_ints("axes");
    return Status::Ok();
  }
  *given = ctx.input(1) != nullptr;
  if (*given) return int_list(ctx, 1, "axes", axes);
  return Status::Ok();
}

Status unsqueeze(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, ctx.opset < 13 ? 1 : 2, ctx.opset < 13 ? 1 : 2));
  const Tensor& x = *ctx.input(0);
  bool given = false;
  std::vector<int64_t> axes;
  QT_RETURN_IF_ERROR(squeeze_axes(ctx, &given, &axes));
  const int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : axes) {
    int64_t n;
    if (!normalize_axis(a, out_rank, &n)) return bad_axis(ctx, a, out_rank);
    if (inserted[static_cast<size_t>(n)]) {
      return ctx.invalid("axes " + ints_str(axes) + " repeat an axis");
    }
    inserted[static_cast<size_t>(n)] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    out.push_back(inserted[static_cast<size_t>(i)] ? 1 : x.shape()[next++]);
  }
  ctx.outputs[0] = x.reshaped(out);
  return Status::Ok();
}

Status squeeze(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, ctx.opset < 13 ? 1 : 2));
  const Tensor& x = *ctx.input(0);
  bool given = false;
  std::vector<int64_t> axes;
  QT_RETURN_IF_ERROR(squeeze_axes(ctx, &given, &axes));
  std::vector<bool> drop(static_cast<size_t>(x.rank()), false);
  if (given) {
    for (int64_t a : axes) {
      int64_t n;
      if (!normalize_axis(a, x.rank(), &n)) return bad_axis(ctx, a, x.rank());
      if (x.dim(n) != 1) {
        return ctx.invalid("cannot squeeze axis " + std::to_string(a) + " of size " +
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

Status shape_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const int64_t r = x.rank();
  // start/end (opset 15) slice the shape with clamping, like Python slicing.
  auto clamp = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  const int64_t start = clamp(ctx.node.attr_int("start", 0));
  const int64_t end = clamp(ctx.node.attr_int("end", r));
  Tensor y(DType::kS64, {std::max<int64_t>(end - start, 0)});
  for (int64_t i = start; i < end; ++i) y.data<int64_t>()[i - start] = x.dim(i);
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
  for (int64_t i = 0; i < r; ++i) {
    out_shape[static_cast<size_t>(i)] = x.dim(perm[static_cast<size_t>(i)]);
    strides[static_cast<size_t>(i)] = in_strides[static_cast<size_t>(perm[static_cast<size_t>(i)])];
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

Status concat(OpContext& ctx) {
  if (ctx.num_inputs() == 0) return ctx.invalid("expects at least 1 input, got 0");
  QT_RETURN_IF_ERROR(need_inputs(ctx, ctx.num_inputs(), ctx.num_inputs()));
  const Tensor& first = *ctx.input(0);
  const int64_t r = first.rank();
  if (!ctx.node.has_attr("axis") && ctx.opset >= 4) {
    return ctx.invalid("attribute 'axis' is missing");
  }
  const int64_t raw_axis = ctx.node.attr_int("axis", 1);  // opset < 4 defaulted to 1
  int64_t axis;
  if (!normalize_axis(raw_axis, r, &axis)) return bad_axis(ctx, raw_axis, r);
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(axis)] = 0;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    const Tensor& t = *ctx.input(k);
    if (t.dtype() != first.dtype()) {
      return ctx.invalid("input " + std::to_string(k) + " has element type " +
                         std::string(dtype_name(t.dtype())) + ", input 0 has " +
                         std::string(dtype_name(first.dtype())));
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
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= first.dim(i);
  for (int64_t i = axis + 1; i < r; ++i) inner *= first.dim(i);
  const int64_t out_row = out_shape[static_cast<size_t>(axis)] * inner;  // elements per outer index
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  parallel_ranges(outer, [&](int64_t ob, int64_t oe) {
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

Status gather(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  if (ind.dtype() != DType::kS64 && ind.dtype() != DType::kS32) {
    return ctx.invalid("indices must be int32 or int64, got " +
                       std::string(dtype_name(ind.dtype())));
  }
  const int64_t r = data.rank();
  const int64_t raw_axis = ctx.node.attr_int("axis", 0);
  int64_t axis;
  if (!normalize_axis(raw_axis, r, &axis)) return bad_axis(ctx, raw_axis, r);
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
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= data.dim(i);
  for (int64_t i = axis + 1; i < r; ++i) inner *= data.dim(i);
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

Status slice(OpContext& ctx) {
  const bool attr_form = ctx.opset < 10;  // starts/ends/axes were attributes before opset 10
  QT_RETURN_IF_ERROR(need_inputs(ctx, attr_form ? 1 : 3, attr_form ? 1 : 5));
  const Tensor& x = *ctx.input(0);
  const int64_t r = x.rank();
  std::vector<int64_t> starts, ends, axes, steps;
  bool have_axes = false, have_steps = false;
  if (attr_form) {
    starts = ctx.node.attr_ints("starts");
    ends = ctx.node.attr_ints("ends");
    have_axes = ctx.node.has_attr("axes");
    axes = ctx.node.attr_ints("axes");
  } else {
    QT_RETURN_IF_ERROR(int_list(ctx, 1, "starts", &starts));
    QT_RETURN_IF_ERROR(int_list(ctx, 2, "ends", &ends));
    if ((have_axes = ctx.input(3) != nullptr)) QT_RETURN_IF_ERROR(int_list(ctx, 3, "axes", &axes));
    if ((have_steps = ctx.input(4) != nullptr)) {
      QT_RETURN_IF_ERROR(int_list(ctx, 4, "steps", &steps));
    }
  }
  const size_t n = starts.size();
  if (!have_axes) {
    axes.clear();
    for (size_t i = 0; i < n; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (!have_steps) steps.assign(n, 1);
  if (ends.size() != n || axes.size() != n || steps.size() != n) {
    return ctx.invalid("starts " + ints_str(starts) + ", ends " + ints_str(ends) + ", axes " +
                       ints_str(axes) + " and steps " + ints_str(steps) +
                       " must have the same length");
  }
  Shape out_shape = x.shape();
  std::vector<int64_t> first(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < n; ++i) {
    int64_t a;
    if (!normalize_axis(axes[i], r, &a)) return bad_axis(ctx, axes[i], r);
    if (seen[static_cast<size_t>(a)]) {
      return ctx.invalid("axes " + ints_str(axes) + " repeat an axis");
    }
    seen[static_cast<size_t>(a)] = true;
    const int64_t dim = x.dim(a);
    if (steps[i] == 0) return ctx.invalid("steps must be non-zero");
    // A step longer than the axis takes at most one element; capping it keeps the arithmetic
    // below from overflowing on steps like INT64_MIN.
    const int64_t cap = std::max<int64_t>(dim, 1);
    const int64_t st = std::clamp<int64_t>(steps[i], -cap, cap);
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    // Clamp as the spec says: into [0, dim] going forward, [-1, dim-1] going backward.
    int64_t len;
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      len = e > b ? (e - b - 1) / st + 1 : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, dim - 1);
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

}  // namespace

void register_shape_kernels(KernelRegistry& r) {
  r.add({"", "Flatten", 1}, flatten);
  r.add({"", "Reshape", 1}, reshape);
  r.add({"", "Transpose", 1}, transpose);
  r.add({"", "Concat", 1}, concat);
  r.add({"", "Gather", 1}, gather);
  r.add({"", "Shape", 1}, shape_op);
  r.add({"", "Unsqueeze", 1}, unsqueeze);
  r.add({"", "Squeeze", 1}, squeeze);
  r.add({"", "Slice", 1}, slice);
}

}  // namespace qtune
