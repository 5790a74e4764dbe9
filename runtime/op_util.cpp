#include "runtime/op_util.h"

#include <algorithm>

namespace qtune {

std::string dtype_str(DType t) { return std::string(dtype_name(t)); }

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
