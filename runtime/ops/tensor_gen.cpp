// Operators that generate tensors from shapes and scalars rather than transform data:
// ConstantOfShape, Range and EyeLike, plus Trilu, which keeps one triangle of its input's
// matrices and zeroes the rest.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

Status constant_of_shape(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  QT_ASSIGN_OR_RETURN(auto shape, int_list_input(ctx, 0, "input"));
  for (int64_t d : shape) {
    if (d < 0) return ctx.invalid("shape " + shape_str(shape) + " has a negative dimension");
  }
  Tensor value(DType::kF32, {1});  // the default: one float 0
  if (ctx.node.has_attr("value")) {
    value = ctx.node.attrs.at("value").t;
    if (value.empty() || dtype_size(value.dtype()) == 0) {
      return ctx.unsupported("attribute 'value' has an element type qtune does not store");
    }
    if (value.numel() != 1) {
      return ctx.invalid("attribute 'value' must hold one element, got shape " +
                         shape_str(value.shape()));
    }
  }
  Tensor y(value.dtype(), shape);
  QT_RETURN_IF_ERROR(visit_by_size(value.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v;
    std::memcpy(&v, value.raw(), sizeof(T));
    T* dst = y.data<T>();
    parallel_ranges(y.numel(), [&](int64_t b, int64_t e) { std::fill(dst + b, dst + e, v); });
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// start, start + delta, ... up to (excluding) limit: ceil((limit - start) / delta) elements.
Status range_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, 3));
  const DType t = ctx.input(0)->dtype();
  const char* names[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    if (ctx.input(i)->dtype() != t || ctx.input(i)->numel() != 1) {
      return ctx.invalid(std::string(names[i]) + " must be one " + dtype_str(t) + ", got " +
                         dtype_str(ctx.input(i)->dtype()) + " of shape " +
                         shape_str(ctx.input(i)->shape()));
    }
  }
  return visit_numeric(t, ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    const T start = ctx.input(0)->data<T>()[0];
    const T limit = ctx.input(1)->data<T>()[0];
    const T delta = ctx.input(2)->data<T>()[0];
    if (delta == T(0)) return ctx.invalid("delta must be non-zero");
    int64_t n;
    if constexpr (std::is_floating_point_v<T>) {
      const double count =
          std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / delta);
      if (!(count < 0x1p62)) {  // also catches NaN and infinities
        return ctx.invalid("cannot make a range from " + std::to_string(start) + " to " +
                           std::to_string(limit) + " by " + std::to_string(delta));
      }
      n = static_cast<int64_t>(std::max(count, 0.0));
    } else {
      int64_t diff;
      if (__builtin_sub_overflow(static_cast<int64_t>(limit), static_cast<int64_t>(start),
                                 &diff)) {
        return ctx.invalid("the span from start to limit overflows int64");
      }
      const int64_t d = static_cast<int64_t>(delta);
      // ceil(diff / d) when they share a sign; the +/-1 cannot overflow as |diff| >= 1 there.
      n = diff != 0 && (diff > 0) == (d > 0) ? (diff - (d > 0 ? 1 : -1)) / d + 1 : 0;
    }
    Tensor y(t, {n});
    T* dst = y.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    }
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// A 2-D tensor of the input's shape with ones on diagonal k, in attribute dtype or the input's.
Status eye_like(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.rank() != 2) return ctx.invalid("input must be 2-D, got " + shape_str(x.shape()));
  DType out_type = x.dtype();
  if (ctx.node.has_attr("dtype")) {
    const int64_t code = ctx.node.attr_int("dtype", 0);
    if (!dtype_from_onnx(static_cast<int32_t>(code), &out_type) || dtype_size(out_type) == 0) {
      return ctx.unsupported("dtype " + std::to_string(code) + " is not supported");
    }
  }
  const int64_t k = ctx.node.attr_int("k", 0);
  const int64_t rows = x.dim(0), cols = x.dim(1);
  Tensor y(out_type, x.shape());
  QT_RETURN_IF_ERROR(visit_any(out_type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    storage_t<T>* dst = y.data<storage_t<T>>();
    const storage_t<T> one = store_from_double<T>(1.0);
    for (int64_t i = std::max<int64_t>(0, -k); i < rows && i + k < cols; ++i) {
      dst[i * cols + i + k] = one;
    }
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Keeps, in every matrix of the last two dims, the elements with j - i >= k (upper) or
// j - i <= k (lower); the rest become zero.
Status trilu(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 2));
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) return ctx.invalid("input must be at least 2-D, got " + shape_str(x.shape()));
  int64_t k = 0;
  if (has_input(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(k, scalar_i64(ctx, 1, "k"));
  }
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  Tensor y(x.dtype(), x.shape());  // zero-filled
  const int64_t all_rows = cols > 0 ? x.numel() / cols : 0;
  const size_t esize = dtype_size(x.dtype());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  parallel_ranges(all_rows, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t i = r % rows;
      // Columns [lo, hi) survive; clamping first keeps i + k from overflowing the row.
      const int64_t diag = std::clamp<int64_t>(k, -cols - rows, cols + rows) + i;
      const int64_t lo = upper ? std::clamp<int64_t>(diag, 0, cols) : 0;
      const int64_t hi = upper ? cols : std::clamp<int64_t>(diag + 1, 0, cols);
      if (hi > lo) {
        const size_t off = static_cast<size_t>(r * cols + lo) * esize;
        std::memcpy(dst + off, src + off, static_cast<size_t>(hi - lo) * esize);
      }
    }
  }, std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(cols, 1)));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

}  // namespace

void register_tensor_gen_kernels(KernelRegistry& r) {
  r.add({"", "ConstantOfShape", 9, kLatestOpset, {DType::kS64}}, constant_of_shape);
  r.add({"", "Range", 11, kLatestOpset, {DType::kF32, DType::kF64, DType::kS16, DType::kS32,
                                         DType::kS64}}, range_op);
  r.add({"", "EyeLike", 9, kLatestOpset, kAllTypes}, eye_like);
  r.add({"", "Trilu", 14, kLatestOpset, kAllTypes}, trilu);
}

}  // namespace qtune
