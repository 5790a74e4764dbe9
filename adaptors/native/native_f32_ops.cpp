// F32Conv, F32Gemm, LayerNorm and Gelu of the native adaptor (adaptors/lowering.h defines
// them) on the fp32 kernels: kernels/conv2d_f32.h and the packed GEMM of kernels/gemm_f32.h,
// bias, residual sum, Relu/Clip and F32Conv's 2x2 max pool fused into their epilogues. Constant weights are packed once per model through
// the node cache. Registered into native_ops() by native_ops.cpp.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "adaptors/fused_op_inputs.h"
#include "adaptors/native/native_ops.h"
#include "runtime/broadcast.h"
#include "runtime/conv_operands.h"
#include "runtime/op_util.h"
#include "kernels/conv2d_f32.h"
#include "kernels/erf_f32.h"
#include "kernels/gemm_f32.h"
#include "kernels/layer_norm_f32.h"
#include "kernels/maxpool_f32.h"

namespace qtune {
namespace {

Status require_f32(const OpContext& ctx, const Tensor& t, const char* name) {
  if (t.dtype() == DType::kF32) return Status::Ok();
  return ctx.invalid(std::string(name) + " has type " + std::string(dtype_name(t.dtype())) +
                     ", expected f32");
}

// Weights packed by `make`, once per model when input 1 is a graph constant.
template <typename Packed, typename Make>
std::shared_ptr<const Packed> packed_weights(OpContext& ctx, Make&& make) {
  auto counted = [&] {
    note_native_weight_pack();
    return make();
  };
  if (ctx.cache && ctx.input_is_constant(1)) {
    return ctx.cache->get<Packed>(ctx.input(1)->raw(), counted);
  }
  return std::make_shared<const Packed>(counted());
}

// y = clamp(y + sum) with numpy broadcasting, into a tensor of the broadcast shape (y's own
// shape unless sum has more or larger dims).
Result<Tensor> add_broadcast_sum(const OpContext& ctx, const Tensor& y, const Tensor& sum,
                                 const ActivationBounds& act) {
  BroadcastPlan plan;
  if (!make_broadcast_plan({y.shape(), sum.shape()}, &plan)) {
    return ctx.invalid("sum of shape " + shape_str(sum.shape()) + " does not broadcast with the "
                       "output " + shape_str(y.shape()));
  }
  Tensor out = Tensor::uninitialized(DType::kF32, plan.out_shape);
  const float* a = y.data<float>();
  const float* b = sum.data<float>();
  float* o = out.data<float>();
  const int64_t sa = plan.inner_stride(0), sb = plan.inner_stride(1);
  for_each_broadcast_run(plan, [&](int64_t at, const int64_t* off, int64_t len) {
    for (int64_t i = 0; i < len; ++i) {
      o[at + i] = std::min(std::max(a[off[0] + i * sa] + b[off[1] + i * sb], act.lo), act.hi);
    }
  });
  return out;
}

Status f32_conv(OpContext& ctx) {
  const Tensor *x, *w, *bias;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "w", &w));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "x"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *w, "w"));
  if (x->rank() != 3 && x->rank() != 4) {
    return ctx.invalid("x has shape " + shape_str(x->shape()) + "; expected [N,C,W] or [N,C,H,W]");
  }
  QT_ASSIGN_OR_RETURN(ConvOperands ops, check_conv_operands(ctx, *x, *w));
  QConvShape s;
  conv2d_shape(*x, *w, ops, &s);
  QT_RETURN_IF_ERROR(read_bias(ctx, 2, s.out_channels, false, &bias));
  const Tensor* sum = optional_input(ctx, 3);
  if (sum) QT_RETURN_IF_ERROR(require_f32(ctx, *sum, "sum"));
  ActivationBounds act;
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));
  const bool pool = ctx.node.attr_int("max_pool_2x2", 0) != 0;
  if (pool && x->rank() != 4) {
    return ctx.invalid("max_pool_2x2 needs a 2-D convolution; x has shape " + shape_str(x->shape()));
  }
  Shape out_shape{s.batch, s.out_channels};
  out_shape.insert(out_shape.end(), ops.geo.out.begin(), ops.geo.out.end());
  // A sum of the output's own shape is added in the epilogue; any other broadcasts after it,
  // and the pool then follows on its own.
  const bool fused_sum = sum && sum->shape() == out_shape;
  const bool fused_pool = pool && (!sum || fused_sum);
  Shape pooled_shape = out_shape;
  if (pool) {
    pooled_shape[2] /= 2;
    pooled_shape[3] /= 2;
  }
  Tensor y = Tensor::uninitialized(DType::kF32, fused_pool ? pooled_shape : out_shape);
  if (y.numel() > 0) {
    auto pk = packed_weights<PackedConvWeightsF32>(
        ctx, [&] { return pack_conv_weights_f32(w->data<float>(), s); });
    ConvF32Epilogue e;
    e.bias = bias ? bias->data<float>() : nullptr;
    if (!sum || fused_sum) {
      e.sum = fused_sum ? sum->data<float>() : nullptr;
      e.clamp_min = act.lo;
      e.clamp_max = act.hi;
    }
    e.max_pool_2x2 = fused_pool;
    conv2d_f32(s, x->data<float>(), *pk, e, y.data<float>());
  }
  if (sum && !fused_sum) {
    QT_ASSIGN_OR_RETURN(y, add_broadcast_sum(ctx, y, *sum, act));
  }
  if (pool && !fused_pool) {
    // The broadcast sum may have widened the output: pool what it gives.
    const Shape full = y.shape();
    if (full.size() != 4) {
      return ctx.invalid("max_pool_2x2 after a sum that gives shape " + shape_str(full));
    }
    Tensor pooled = Tensor::uninitialized(DType::kF32, {full[0], full[1], full[2] / 2, full[3] / 2});
    maxpool2x2_f32_planes(full[0] * full[1], full[2], full[3], y.data<float>(), pooled.data<float>());
    y = std::move(pooled);
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status f32_gemm(OpContext& ctx) {
  const Tensor *x, *w, *bias;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "w", &w));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "x"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *w, "w"));
  GemmPlan g;
  QT_RETURN_IF_ERROR(plan_gemm(ctx, *x, *w, &g));
  QT_RETURN_IF_ERROR(read_bias(ctx, 2, g.n, false, &bias));
  ActivationBounds act;
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));
  Tensor y = Tensor::uninitialized(DType::kF32, g.out_shape);
  if (y.numel() > 0) {
    auto pk = packed_weights<PackedGemmBF32>(ctx, [&] {
      return pack_gemm_b_f32(g.trans_b, g.k, g.n, w->data<float>(), g.trans_b ? g.k : g.n);
    });
    GemmF32Epilogue e;
    e.bias = bias ? bias->data<float>() : nullptr;
    e.clamp_min = act.lo;
    e.clamp_max = act.hi;
    gemm_f32_packed(g.m, x->data<float>(), g.k, *pk, e, y.data<float>(), g.n);
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// A LayerNorm parameter (broadcastable over the normalised dims, aligned right) as `cols` floats.
Result<std::vector<float>> expand_param(const OpContext& ctx, const Tensor& p, const Shape& x,
                                        int64_t axis, const char* name) {
  QT_RETURN_IF_ERROR(require_f32(ctx, p, name));
  const int64_t rank = static_cast<int64_t>(x.size());
  const int64_t cols = dims_product(x, static_cast<size_t>(axis), x.size());
  bool fits = p.rank() <= rank - axis;
  for (int64_t i = 0; fits && i < p.rank(); ++i) {
    fits = p.dim(i) == 1 || p.dim(i) == x[static_cast<size_t>(rank - p.rank() + i)];
  }
  if (!fits) {
    return ctx.invalid(std::string(name) + " " + shape_str(p.shape()) +
                       " does not broadcast to the normalised dims of " + shape_str(x));
  }
  const float* src = p.data<float>();
  std::vector<float> out(static_cast<size_t>(cols));
  if (p.numel() == cols) {
    std::copy(src, src + cols, out.begin());
    return out;
  }
  for (int64_t e = 0; e < cols; ++e) {
    int64_t rem = e, at = 0, stride = 1;
    for (int64_t i = p.rank(); i-- > 0;) {
      const int64_t d = x[static_cast<size_t>(rank - p.rank() + i)];
      if (p.dim(i) != 1) at += (rem % d) * stride;
      rem /= d;
      stride *= p.dim(i);
    }
    out[static_cast<size_t>(e)] = src[at];
  }
  return out;
}

Status layer_norm_op(OpContext& ctx) {
  const Tensor *x, *scale;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "scale", &scale));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "x"));
  const Tensor* bias = optional_input(ctx, 2);
  const int64_t rank = x->rank();
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (rank == 0 || axis < -rank || axis >= rank) {
    return ctx.invalid("axis " + std::to_string(axis) + " is out of range for x " +
                       shape_str(x->shape()));
  }
  if (axis < 0) axis += rank;
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  QT_ASSIGN_OR_RETURN(std::vector<float> s, expand_param(ctx, *scale, x->shape(), axis, "scale"));
  std::vector<float> b;
  if (bias) {
    QT_ASSIGN_OR_RETURN(b, expand_param(ctx, *bias, x->shape(), axis, "bias"));
  }
  const int64_t cols = dims_product(x->shape(), static_cast<size_t>(axis), x->shape().size());
  const int64_t rows = cols == 0 ? 0 : x->numel() / cols;
  Tensor y = Tensor::uninitialized(DType::kF32, x->shape());
  const float* xd = x->data<float>();
  float* yd = y.data<float>();
  const float* bp = b.empty() ? nullptr : b.data();
  parallel_ranges(rows, [&](int64_t r0, int64_t r1) {
    layer_norm_rows_f32(xd + r0 * cols, yd + r0 * cols, r1 - r0, cols, s.data(), bp, eps);
  }, std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(cols, 1)));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status gelu_op(OpContext& ctx) {
  const Tensor* x;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "x"));
  Tensor y = Tensor::uninitialized(DType::kF32, x->shape());
  const float* xd = x->data<float>();
  float* yd = y.data<float>();
  const std::string approx = ctx.node.attr_string("approximate", "none");
  if (approx != "none" && approx != "tanh") {
    return ctx.invalid("approximate must be none or tanh, got '" + approx + "'");
  }
  const auto fn = approx == "tanh" ? gelu_tanh_f32 : gelu_f32;
  parallel_ranges(x->numel(), [&](int64_t b, int64_t e) { fn(xd + b, yd + b, e - b); });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

}  // namespace

void add_native_f32_ops(KernelRegistry* r) {
  r->add({kNativeDomain, kLayerNormOp, 1, 1}, layer_norm_op);
  r->add({kNativeDomain, kGeluOp, 1, 1}, gelu_op);
  r->add({kNativeDomain, kF32ConvOp, 1, 1}, f32_conv);
  r->add({kNativeDomain, kF32GemmOp, 1, 1}, f32_gemm);
}

}  // namespace qtune
