#include "runtime/op_util.h"

#include <algorithm>

namespace qtune {

std::string dtype_str(DType t) { return std::string(dtype_name(t)); }

Tensor widen_to_f32(const Tensor& t) {
  if (!is_half(t.dtype())) return t;
  Tensor y(DType::kF32, t.shape());
  const uint16_t* in = t.data<uint16_t>();
  float* out = y.data<float>();
  const bool f16 = t.dtype() == DType::kF16;
  parallel_ranges(t.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = f16 ? f16_to_f32(in[i]) : bf16_to_f32(in[i]);
  });
  return y;
}

Tensor narrow_from_f32(const Tensor& t, DType half) {
  Tensor y(half, t.shape());
  const float* in = t.data<float>();
  uint16_t* out = y.data<uint16_t>();
  const bool f16 = half == DType::kF16;
  parallel_ranges(t.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = f16 ? f32_to_f16(in[i]) : f32_to_bf16(in[i]);
  });
  return y;
}

Status run_in_f32(OpContext& ctx, const OpFn& fn) {
  bool any_half = false;
  for (const Tensor* in : ctx.inputs) any_half = any_half || (in && is_half(in->dtype()));
  if (!any_half) return fn(ctx);
  const DType t = ctx.input(0) ? ctx.input(0)->dtype() : DType::kUndefined;
  std::vector<Tensor> wide(ctx.num_inputs());
  OpContext f32{ctx.node, ctx.opset, ctx.inputs, {}, nullptr, ctx.constant_inputs};
  f32.outputs.resize(ctx.outputs.size());
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.input(i) && is_half(ctx.input(i)->dtype())) {
      wide[i] = widen_to_f32(*ctx.input(i));
      f32.inputs[i] = &wide[i];
    }
  }
  QT_RETURN_IF_ERROR(fn(f32));
  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    Tensor& out = f32.outputs[i];
    ctx.outputs[i] =
        is_half(t) && out.dtype() == DType::kF32 ? narrow_from_f32(out, t) : std::move(out);
  }
  return Status::Ok();
}

std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.get_f64(i);
  return v;
}

Result<Tensor> tensor_from_doubles(const OpContext& ctx, DType dtype, Shape shape,
                                   const std::vector<double>& v) {
  Tensor t(dtype, std::move(shape));
  QT_RETURN_IF_ERROR(visit_any(dtype, ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    storage_t<T>* d = t.data<storage_t<T>>();
    for (size_t i = 0; i < v.size(); ++i) d[i] = store_from_double<T>(v[i]);
    return Status::Ok();
  }));
  return t;
}

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
  return Status::Ok();
}

Result<const Tensor*> required_input(const OpContext& ctx, size_t i, const char* name) {
  const Tensor* t = ctx.input(i);
  if (!t || t->empty()) return ctx.invalid(std::string("missing input ") + name);
  return t;
}

bool has_input(const OpContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  return t && !t->empty();
}

Status need_type(const OpContext& ctx, size_t i, const std::vector<DType>& types) {
  const Tensor* t = ctx.input(i);
  if (!t) return Status::Ok();
  if (std::find(types.begin(), types.end(), t->dtype()) != types.end()) return Status::Ok();
  return ctx.unsupported("input " + std::to_string(i) + " has element type " +
                         dtype_str(t->dtype()) + ", which is not supported");
}

Result<double> scalar_f64(const OpContext& ctx, size_t i, const char* name) {
  QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, name));
  if (t->numel() != 1) {
    return ctx.invalid(std::string(name) + " must hold one value, got shape " +
                       shape_str(t->shape()));
  }
  return t->get_f64(0);
}

Result<int64_t> scalar_i64(const OpContext& ctx, size_t i, const char* name) {
  QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, name));
  if (t->numel() != 1) {
    return ctx.invalid(std::string(name) + " must hold one value, got shape " +
                       shape_str(t->shape()));
  }
  return t->get_i64(0);
}

Result<std::vector<int64_t>> int_list_input(const OpContext& ctx, size_t i, const char* name) {
  QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, name));
  if (t->dtype() != DType::kS64 && t->dtype() != DType::kS32) {
    return ctx.invalid(std::string(name) + " must be int32 or int64, got " +
                       dtype_str(t->dtype()));
  }
  if (t->rank() > 1) {
    return ctx.invalid(std::string(name) + " must be 1-D, got shape " + shape_str(t->shape()));
  }
  return t->to_i64_vector();
}

Result<std::optional<std::vector<int64_t>>> ints_from_input_or_attr(const OpContext& ctx, size_t i,
                                                                    const char* attr) {
  if (has_input(ctx, i)) {
    QT_ASSIGN_OR_RETURN(auto v, int_list_input(ctx, i, attr));
    return std::optional<std::vector<int64_t>>(std::move(v));
  }
  if (ctx.node.has_attr(attr)) {
    return std::optional<std::vector<int64_t>>(ctx.node.attr_ints(attr));
  }
  return std::optional<std::vector<int64_t>>();
}

Result<int64_t> normalize_axis(const OpContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) {
    return ctx.invalid("axis " + std::to_string(axis) + " is out of range for rank " +
                       std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

Result<std::vector<int64_t>> normalize_axes(const OpContext& ctx, std::vector<int64_t> axes,
                                            int64_t rank) {
  for (auto& a : axes) {
    QT_ASSIGN_OR_RETURN(a, normalize_axis(ctx, a, rank));
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) {
    return ctx.invalid("axes " + shape_str(axes) + " repeat an axis");
  }
  return axes;
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

int64_t dims_product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

}  // namespace qtune
