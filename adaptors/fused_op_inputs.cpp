#include "adaptors/fused_op_inputs.h"

#include <cmath>
#include <string>

namespace qtune {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::string dtype_str(DType t) { return std::string(dtype_name(t)); }
bool scalar_like(const Tensor& t) { return t.numel() == 1 && t.rank() <= 1; }

}  // namespace

Status require_input(const OpContext& ctx, size_t i, const char* name, const Tensor** out) {
  const Tensor* t = ctx.input(i);
  if (!t || t->empty()) return ctx.invalid(std::string("missing required input '") + name + "'");
  *out = t;
  return Status::Ok();
}

const Tensor* optional_input(const OpContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  return t && !t->empty() ? t : nullptr;
}

Status positive_scale(const OpContext& ctx, const Tensor* t, const char* name, float* out) {
  if (!t) {
    return ctx.invalid(std::string("missing required input '") + name + "': " + name +
                       " must be an f32 scalar");
  }
  if (t->dtype() != DType::kF32 || !scalar_like(*t)) {
    return ctx.invalid(std::string(name) + " must be an f32 scalar, got " +
                       dtype_str(t->dtype()) + " " + shape_str(t->shape()));
  }
  *out = t->data<float>()[0];
  if (!(*out > 0.0f) || !std::isfinite(*out)) {
    return ctx.invalid(std::string(name) + " must be positive and finite, got " +
                       std::to_string(*out));
  }
  return Status::Ok();
}

Status read_activation(const OpContext& ctx, ActivationBounds* a) {
  const std::string act = ctx.node.attr_string("activation", "none");
  if (act == "none") return Status::Ok();
  if (act == "relu") {
    a->kind = FusedActivation::kRelu;
    a->lo = 0.0f;
    return Status::Ok();
  }
  if (act != "clip") return ctx.invalid("unknown activation '" + act + "'");
  a->kind = FusedActivation::kClip;
  a->lo = ctx.node.attr_float("clip_min", -kInf);
  a->hi = ctx.node.attr_float("clip_max", kInf);
  if (std::isnan(a->lo) || std::isnan(a->hi) || a->lo > a->hi) {
    return ctx.invalid("clip bounds [" + std::to_string(a->lo) + ", " + std::to_string(a->hi) +
                       "] are empty");
  }
  return Status::Ok();
}

Status read_x(const OpContext& ctx, XQuant* q) {
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x_q", &q->x));
  if (q->x->dtype() != DType::kU8 && q->x->dtype() != DType::kS8) {
    return ctx.invalid("x_q has type " + dtype_str(q->x->dtype()) + ", expected u8 or s8");
  }
  QT_RETURN_IF_ERROR(positive_scale(ctx, optional_input(ctx, 4), "x_scale", &q->scale));
  if (const Tensor* zp = optional_input(ctx, 5)) {
    if (zp->dtype() != q->x->dtype() || !scalar_like(*zp)) {
      return ctx.invalid("x_zero_point must be a " + dtype_str(q->x->dtype()) + " scalar, got " +
                         dtype_str(zp->dtype()) + " " + shape_str(zp->shape()));
    }
    q->zero_point = static_cast<int32_t>(zp->get_i64(0));
  }
  return Status::Ok();
}

Status read_out(const OpContext& ctx, OutQuant* o) {
  const Tensor* scale = optional_input(ctx, 6);
  const Tensor* zp = optional_input(ctx, 7);
  const std::string want = ctx.node.attr_string("out_dtype", "");
  if (want == "u8") {
    o->type = DType::kU8;
  } else if (want == "s8") {
    o->type = DType::kS8;
  } else if (want == "f32") {
    o->type = DType::kF32;
  } else if (want.empty()) {
    o->type = zp ? zp->dtype() : (scale ? DType::kU8 : DType::kF32);
  } else {
    return ctx.invalid("unknown out_dtype '" + want + "'");
  }
  if (o->type == DType::kF32) return Status::Ok();
  if (o->type != DType::kU8 && o->type != DType::kS8) {
    return ctx.invalid("y_zero_point has type " + dtype_str(o->type) + ", expected u8 or s8");
  }
  if (!scale) return ctx.invalid("an 8-bit output needs y_scale");
  QT_RETURN_IF_ERROR(positive_scale(ctx, scale, "y_scale", &o->scale));
  if (zp) {
    if (zp->dtype() != o->type || !scalar_like(*zp)) {
      return ctx.invalid("y_zero_point must be a " + dtype_str(o->type) + " scalar, got " +
                         dtype_str(zp->dtype()) + " " + shape_str(zp->shape()));
    }
    o->zero_point = static_cast<int32_t>(zp->get_i64(0));
  }
  return Status::Ok();
}

// A per-output-channel bias of n values ([n] or [1, n]).
Status read_bias(const OpContext& ctx, size_t i, int64_t n, bool s32_ok, const Tensor** out) {
  const Tensor* b = optional_input(ctx, i);
  *out = nullptr;
  if (!b) return Status::Ok();
  if (b->dtype() != DType::kF32 && !(s32_ok && b->dtype() == DType::kS32)) {
    return ctx.invalid("bias has type " + dtype_str(b->dtype()) +
                       (s32_ok ? ", expected s32 or f32" : ", expected f32"));
  }
  const bool shape_ok = (b->rank() == 1 && b->dim(0) == n) ||
                        (b->rank() == 2 && b->dim(0) == 1 && b->dim(1) == n);
  if (!shape_ok) {
    return ctx.invalid("bias shape " + shape_str(b->shape()) + " is not [" + std::to_string(n) +
                       "]");
  }
  *out = b;
  return Status::Ok();
}

Status read_w_scale(const OpContext& ctx, int64_t n, const Tensor** out) {
  const Tensor* s;
  QT_RETURN_IF_ERROR(require_input(ctx, 2, "w_scale", &s));
  if (s->dtype() != DType::kF32 || s->rank() > 1 || (s->numel() != 1 && s->numel() != n)) {
    return ctx.invalid("w_scale must be f32 with 1 or " + std::to_string(n) + " values, got " +
                       dtype_str(s->dtype()) + " " + shape_str(s->shape()));
  }
  *out = s;
  return Status::Ok();
}

Status plan_gemm(const OpContext& ctx, const Tensor& x, const Tensor& w, GemmPlan* g) {
  if (x.rank() < 1) return ctx.invalid("x must have rank >= 1");
  if (w.rank() != 2) return ctx.invalid("weight shape " + shape_str(w.shape()) + " is not 2-D");
  g->trans_b = ctx.node.attr_int("trans_b", 0) != 0;
  g->k = x.dim(x.rank() - 1);
  const int64_t wk = g->trans_b ? w.dim(1) : w.dim(0);
  g->n = g->trans_b ? w.dim(0) : w.dim(1);
  if (wk != g->k) {
    return ctx.invalid("inner dimensions differ: x " + shape_str(x.shape()) + ", w " +
                       shape_str(w.shape()) + (g->trans_b ? " (transposed)" : ""));
  }
  g->m = g->k == 0 ? shape_numel(Shape(x.shape().begin(), x.shape().end() - 1)) : x.numel() / g->k;
  g->out_shape.assign(x.shape().begin(), x.shape().end() - 1);
  g->out_shape.push_back(g->n);
  return Status::Ok();
}

}  // namespace qtune
