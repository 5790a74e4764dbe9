// Sequence and optional operators (opset 11 and 15 onwards): building, indexing and editing
// sequences of tensors, splitting a tensor into one and concatenating one back, and wrapping or
// unwrapping optional values. Sequences are immutable values (common/tensor.h); every edit makes
// a new one sharing the element tensors.
#include <algorithm>
#include <string>
#include <vector>

#include "runtime/kernel_registry.h"
#include "runtime/op_util.h"

namespace qtune {
namespace {

Result<const Tensor*> sequence_input(const OpContext& ctx, size_t i) {
  QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, "input_sequence"));
  if (!t->is_sequence()) return ctx.invalid("input " + std::to_string(i) + " must be a sequence");
  return t;
}

Result<const Tensor*> tensor_input(const OpContext& ctx, size_t i, const char* name) {
  QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, name));
  if (!t->is_tensor()) return ctx.invalid(std::string(name) + " must be a tensor");
  return t;
}

// A position input in [-n, n - 1] (or [-n, n] when `inclusive_end`), made non-negative.
Result<int64_t> position(const OpContext& ctx, size_t i, int64_t n, bool inclusive_end) {
  QT_ASSIGN_OR_RETURN(const Tensor* t, tensor_input(ctx, i, "position"));
  if (t->dtype() != DType::kS32 && t->dtype() != DType::kS64) {
    return ctx.invalid("position must be int32 or int64");
  }
  QT_ASSIGN_OR_RETURN(int64_t p, scalar_i64(ctx, i, "position"));
  const int64_t hi = inclusive_end ? n : n - 1;
  if (p < -n || p > hi) {
    return ctx.invalid("position " + std::to_string(p) + " is out of range for a sequence of " +
                       std::to_string(n) + " tensors");
  }
  return p < 0 ? p + n : p;
}

// A tensor may join a sequence only with the sequence's element type.
Status check_element(const OpContext& ctx, const Tensor& seq, const Tensor& t) {
  const DType want = seq.items().empty() ? seq.elem_dtype() : seq.items().front().dtype();
  if (want != DType::kUndefined && want != t.dtype()) {
    return ctx.invalid("tensor of type " + dtype_str(t.dtype()) + " cannot join a sequence of " +
                       dtype_str(want));
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ building and editing

Status sequence_empty_op(OpContext& ctx) {
  if (ctx.num_inputs() != 0) return ctx.invalid("expects no inputs");
  DType dtype = DType::kF32;
  if (ctx.node.has_attr("dtype") &&
      !dtype_from_onnx(static_cast<int32_t>(ctx.node.attr_int("dtype", 1)), &dtype)) {
    return ctx.unsupported("dtype " + std::to_string(ctx.node.attr_int("dtype", 1)));
  }
  ctx.outputs[0] = Tensor::sequence(dtype, {});
  return Status::Ok();
}

Status sequence_construct_op(OpContext& ctx) {
  if (ctx.num_inputs() == 0) return ctx.invalid("expects at least one input");
  std::vector<Tensor> items;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    QT_ASSIGN_OR_RETURN(const Tensor* t, tensor_input(ctx, i, "inputs"));
    if (t->dtype() != ctx.input(0)->dtype()) {
      return ctx.invalid("inputs must all have one element type");
    }
    items.push_back(*t);
  }
  const DType dtype = items.front().dtype();
  ctx.outputs[0] = Tensor::sequence(dtype, std::move(items));
  return Status::Ok();
}

Status sequence_insert_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 3));
  QT_ASSIGN_OR_RETURN(const Tensor* seq, sequence_input(ctx, 0));
  QT_ASSIGN_OR_RETURN(const Tensor* t, tensor_input(ctx, 1, "tensor"));
  QT_RETURN_IF_ERROR(check_element(ctx, *seq, *t));
  std::vector<Tensor> items = seq->items();
  int64_t at = static_cast<int64_t>(items.size());
  if (has_input(ctx, 2)) {
    QT_ASSIGN_OR_RETURN(at, position(ctx, 2, static_cast<int64_t>(items.size()), true));
  }
  items.insert(items.begin() + at, *t);
  ctx.outputs[0] = Tensor::sequence(t->dtype(), std::move(items));
  return Status::Ok();
}

Status sequence_at_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_ASSIGN_OR_RETURN(const Tensor* seq, sequence_input(ctx, 0));
  QT_ASSIGN_OR_RETURN(int64_t at,
                      position(ctx, 1, static_cast<int64_t>(seq->items().size()), false));
  ctx.outputs[0] = seq->items()[static_cast<size_t>(at)];
  return Status::Ok();
}

Status sequence_erase_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 2));
  QT_ASSIGN_OR_RETURN(const Tensor* seq, sequence_input(ctx, 0));
  std::vector<Tensor> items = seq->items();
  if (items.empty()) return ctx.invalid("cannot erase from an empty sequence");
  int64_t at = static_cast<int64_t>(items.size()) - 1;
  if (has_input(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(at, position(ctx, 1, static_cast<int64_t>(items.size()), false));
  }
  items.erase(items.begin() + at);
  ctx.outputs[0] = Tensor::sequence(seq->elem_dtype(), std::move(items));
  return Status::Ok();
}

Status sequence_length_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  QT_ASSIGN_OR_RETURN(const Tensor* seq, sequence_input(ctx, 0));
  ctx.outputs[0] = Tensor::from_i64({}, {static_cast<int64_t>(seq->items().size())});
  return Status::Ok();
}

// ------------------------------------------------------------------ split and concat

Status split_to_sequence_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 2));
  QT_ASSIGN_OR_RETURN(const Tensor* x, tensor_input(ctx, 0, "input"));
  if (x->rank() == 0) return ctx.invalid("cannot split a scalar");
  QT_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), x->rank()));
  const int64_t len = x->dim(axis);
  std::vector<int64_t> sizes;
  bool squeeze = false;
  if (has_input(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(const Tensor* split, tensor_input(ctx, 1, "split"));
    QT_ASSIGN_OR_RETURN(sizes, int_list_input(ctx, 1, "split"));
    if (split->rank() == 0) {
      const int64_t chunk = sizes[0];
      if (chunk <= 0) return ctx.invalid("split must be positive");
      sizes.clear();
      for (int64_t done = 0; done < len; done += chunk) sizes.push_back(std::min(chunk, len - done));
    } else {
      int64_t total = 0;
      for (int64_t s : sizes) {
        if (s < 0) return ctx.invalid("split sizes must not be negative");
        total += s;
      }
      if (total != len) {
        return ctx.invalid("split sizes add up to " + std::to_string(total) + ", axis has " +
                           std::to_string(len));
      }
    }
  } else {
    sizes.assign(static_cast<size_t>(len), 1);
    squeeze = ctx.node.attr_int("keepdims", 1) == 0;
  }
  const int64_t outer = dims_product(x->shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(x->shape(), static_cast<size_t>(axis) + 1, x->shape().size());
  std::vector<Tensor> items;
  int64_t offset = 0;
  for (int64_t s : sizes) {
    Shape shape = x->shape();
    shape[static_cast<size_t>(axis)] = s;
    Tensor part(x->dtype(), shape);
    for (int64_t o = 0; o < outer; ++o) {
      part.copy_elements(*x, (o * len + offset) * inner, o * s * inner, s * inner);
    }
    offset += s;
    if (squeeze) shape.erase(shape.begin() + axis);
    items.push_back(part.reshaped(shape));
  }
  ctx.outputs[0] = Tensor::sequence(x->dtype(), std::move(items));
  return Status::Ok();
}

Status concat_from_sequence_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  QT_ASSIGN_OR_RETURN(const Tensor* seq, sequence_input(ctx, 0));
  if (!ctx.node.has_attr("axis")) return ctx.invalid("attribute axis is missing");
  const auto& items = seq->items();
  if (items.empty()) return ctx.invalid("cannot concatenate an empty sequence");
  const bool new_axis = ctx.node.attr_int("new_axis", 0) != 0;
  const Tensor& first = items.front();
  const int64_t out_rank = first.rank() + (new_axis ? 1 : 0);
  if (out_rank == 0) return ctx.invalid("cannot concatenate scalars without new_axis");
  QT_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), out_rank));
  // Each item viewed with the output's rank: a new axis of length 1 when stacking.
  std::vector<Shape> shapes;
  for (const Tensor& t : items) {
    Shape s = t.shape();
    if (new_axis) s.insert(s.begin() + axis, 1);
    if (t.dtype() != first.dtype() || static_cast<int64_t>(s.size()) != out_rank) {
      return ctx.invalid("sequence elements differ in element type or rank");
    }
    shapes.push_back(std::move(s));
  }
  Shape out_shape = shapes.front();
  out_shape[static_cast<size_t>(axis)] = 0;
  for (const Shape& s : shapes) {
    for (size_t d = 0; d < s.size(); ++d) {
      if (d != static_cast<size_t>(axis) && s[d] != out_shape[d]) {
        return ctx.invalid("sequence elements " + shape_str(shapes.front()) + " and " +
                           shape_str(s) + " differ outside axis " + std::to_string(axis));
      }
    }
    out_shape[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
  }
  Tensor out(first.dtype(), out_shape);
  const int64_t outer = dims_product(out_shape, 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(out_shape, static_cast<size_t>(axis) + 1, out_shape.size());
  const int64_t out_row = out_shape[static_cast<size_t>(axis)] * inner;
  int64_t offset = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const int64_t row = shapes[i][static_cast<size_t>(axis)] * inner;
    for (int64_t o = 0; o < outer; ++o) {
      out.copy_elements(items[i], o * row, o * out_row + offset, row);
    }
    offset += row;
  }
  ctx.outputs[0] = std::move(out);
  return Status::Ok();
}

// ------------------------------------------------------------------ optionals

Status optional_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 0, 1));
  if (has_input(ctx, 0)) {
    const Tensor* v = ctx.input(0);
    if (v->is_optional()) return ctx.invalid("input must be a tensor or a sequence");
    ctx.outputs[0] = Tensor::optional(*v);
    return Status::Ok();
  }
  auto it = ctx.node.attrs.find("type");
  if (it == ctx.node.attrs.end() || it->second.kind != Attribute::Kind::kType ||
      it->second.type.kind == ValueKind::kOptional) {
    return ctx.invalid("an empty Optional needs a tensor or sequence 'type' attribute");
  }
  ctx.outputs[0] = Tensor::none(it->second.type.kind, it->second.type.dtype);
  return Status::Ok();
}

Status optional_has_element_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor* v = ctx.input(0);
  if (!v->is_optional()) return ctx.invalid("input must be an optional");
  ctx.outputs[0] = Tensor(DType::kBool, {});
  ctx.outputs[0].data<uint8_t>()[0] = v->items().empty() ? 0 : 1;
  return Status::Ok();
}

Status optional_get_element_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor* v = ctx.input(0);
  if (!v->is_optional()) return ctx.invalid("input must be an optional");
  if (v->items().empty()) return ctx.invalid("the optional input holds no value");
  ctx.outputs[0] = v->items().front();
  return Status::Ok();
}

}  // namespace

void register_sequence_kernels(KernelRegistry& r) {
  r.add({"", "SequenceEmpty", 11}, sequence_empty_op);
  r.add({"", "SequenceConstruct", 11}, sequence_construct_op);
  r.add({"", "SequenceInsert", 11}, sequence_insert_op);
  r.add({"", "SequenceAt", 11}, sequence_at_op);
  r.add({"", "SequenceErase", 11}, sequence_erase_op);
  r.add({"", "SequenceLength", 11}, sequence_length_op);
  r.add({"", "SplitToSequence", 11}, split_to_sequence_op);
  r.add({"", "ConcatFromSequence", 11}, concat_from_sequence_op);
  r.add({"", "Optional", 15}, optional_op);
  r.add({"", "OptionalHasElement", 15}, optional_has_element_op);
  r.add({"", "OptionalGetElement", 15}, optional_get_element_op);
}

}  // namespace qtune
