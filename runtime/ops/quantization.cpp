// Quantization operators of the reference executor: QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger.
// Arithmetic lives in kernels/quantize_ref.h (rounding, requantization) and the int8 GEMMs:
// kernels/qgemm.h / qconv.h (packed, s8 weights without zero points) or kernels/gemm_s8_ref.h
// (every other case). This file validates inputs against the ONNX specs, lays out the work and
// parallelises it with TBB.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/conv_operands.h"
#include "runtime/op_util.h"
#include "kernels/gemm_s8_ref.h"
#include "kernels/qconv.h"
#include "kernels/qgemm.h"
#include "kernels/quantize_ref.h"

namespace qtune {
namespace {

// Scales are f32 in every opset qtune loads; f16/bf16 scales (opset 19+) are not implemented.
Result<std::vector<float>> read_scales(const OpContext& ctx, const Tensor& t, const char* name) {
  if (t.dtype() != DType::kF32) {
    return ctx.unsupported(std::string(name) + " of type " + dtype_str(t.dtype()) +
                           " (only f32 scales are implemented)");
  }
  // Zero or non-finite scales are not rejected: the rounding rule defines every outcome.
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

std::vector<int32_t> read_ints(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<int32_t>(t.get_i64(i));
  return v;
}

// The node's cache for packed weights, when input `i` is a constant that may key it.
NodeCache* weight_cache(const OpContext& ctx, size_t i) {
  return ctx.input_is_constant(i) ? ctx.cache : nullptr;
}

// Scalar or a 1-element 1-D tensor: ONNX Runtime treats both as per-tensor, and so do we.
bool is_scalar_like(const Tensor& t) { return t.numel() == 1 && t.rank() <= 1; }

Status require_scalar(const OpContext& ctx, const Tensor& t, const char* name) {
  if (t.numel() != 1) {
    return ctx.invalid(std::string(name) + " must be a scalar, got shape " + shape_str(t.shape()));
  }
  return Status::Ok();
}

// The tensor [outer, channels, inner] view for a per-axis scale, or a per-tensor view.
struct AxisView {
  int64_t outer = 1, channels = 1, inner = 1;
  bool per_channel = false;
};

Result<AxisView> axis_view(const OpContext& ctx, const Tensor& x, const Tensor& scale,
                           const Tensor* zp, const char* scale_name) {
  AxisView v;
  if (zp && zp->shape() != scale.shape()) {
    return ctx.invalid("zero point shape " + shape_str(zp->shape()) + " does not match " +
                       scale_name + " shape " + shape_str(scale.shape()));
  }
  if (is_scalar_like(scale)) {
    v.inner = x.numel();
    return v;
  }
  if (scale.rank() != 1) {
    return ctx.invalid(std::string(scale_name) + " must be a scalar or 1-D, got shape " +
                       shape_str(scale.shape()));
  }
  int64_t axis = ctx.node.attr_int("axis", 1);
  const int64_t r = x.rank();
  if (axis < -r || axis >= r) {
    return ctx.invalid("axis " + std::to_string(axis) + " is out of range for input of rank " +
                       std::to_string(r));
  }
  if (axis < 0) axis += r;
  if (scale.dim(0) != x.dim(axis)) {
    return ctx.invalid(std::string(scale_name) + " shape " + shape_str(scale.shape()) +
                       " does not match input dimension " + std::to_string(x.dim(axis)) +
                       " on axis " + std::to_string(axis) + " of input shape " +
                       shape_str(x.shape()));
  }
  v.per_channel = true;
  v.channels = x.dim(axis);
  for (int64_t i = 0; i < axis; ++i) v.outer *= x.dim(i);
  for (int64_t i = axis + 1; i < r; ++i) v.inner *= x.dim(i);
  return v;
}

// Runs fn(row0, channel0, channels) over contiguous runs of [outer*channels] rows, in parallel,
// never letting one call cross an outer boundary so per-channel pointers can be offset.
template <typename Fn>
void for_each_row_run(const AxisView& v, Fn fn) {
  const int64_t rows = v.outer * v.channels;
  if (rows == 0 || v.inner == 0) return;
  const int64_t grain = std::max<int64_t>(1, kMinParallelElements / v.inner);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, static_cast<size_t>(grain)),
                    [&](const tbb::blocked_range<int64_t>& br) {
                      int64_t r = br.begin();
                      while (r < br.end()) {
                        const int64_t c = r % v.channels;
                        const int64_t len = std::min(br.end() - r, v.channels - c);
                        fn(r, c, len);
                        r += len;
                      }
                    });
}

// Per-tensor work is a single flat run; split it into chunks of inner elements.
AxisView flatten_per_tensor(const AxisView& v) {
  if (v.per_channel) return v;
  AxisView f;
  const int64_t n = v.outer * v.channels * v.inner;
  f.inner = std::min<int64_t>(kMinParallelElements, std::max<int64_t>(1, n));
  f.outer = n == 0 ? 0 : (n + f.inner - 1) / f.inner;
  return f;  // the last row may be partial; callers clip with the total count
}

// ---------------------------------------------------------------- QuantizeLinear

// Before opset 13 QuantizeLinear/DequantizeLinear have no axis: scale and zero point are scalars.
Status per_tensor_only(OpContext& ctx, Status (*fn)(OpContext&)) {
  for (size_t i : {size_t{1}, size_t{2}}) {
    const Tensor* t = ctx.input(i);
    if (t && t->numel() != 1) {
      return ctx.invalid(std::string(i == 1 ? "scale" : "zero point") +
                         " must be a scalar before opset 13, got shape " + shape_str(t->shape()));
    }
  }
  return fn(ctx);
}


Status quantize_linear(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
  QT_ASSIGN_OR_RETURN(const Tensor* scale_t, required_input(ctx, 1, "y_scale"));
  const Tensor* zp_t = ctx.input(2);
  if (ctx.node.attr_int("block_size", 0) != 0) {
    return ctx.unsupported("blocked quantization (block_size) is not implemented");
  }
  if (x->dtype() != DType::kF32 && x->dtype() != DType::kS32) {
    return ctx.unsupported("input x of type " + dtype_str(x->dtype()) + " (f32 and s32 are implemented)");
  }
  DType out_type = DType::kU8;
  if (zp_t) {
    out_type = zp_t->dtype();
  } else if (ctx.node.has_attr("output_dtype") && ctx.node.attr_int("output_dtype", 0) != 0) {
    DType d;
    if (!dtype_from_onnx(static_cast<int32_t>(ctx.node.attr_int("output_dtype", 0)), &d)) d = DType::kUndefined;
    out_type = d;
  }
  if (!is_q8(out_type)) {
    return ctx.unsupported("quantizing to " + dtype_str(out_type) + " (u8 and s8 are implemented)");
  }
  QT_ASSIGN_OR_RETURN(std::vector<float> scales, read_scales(ctx, *scale_t, "y_scale"));
  QT_ASSIGN_OR_RETURN(AxisView v, axis_view(ctx, *x, *scale_t, zp_t, "y_scale"));
  std::vector<int32_t> zps = zp_t ? read_ints(*zp_t) : std::vector<int32_t>(scales.size(), 0);

  // s32 input goes through f32, which is exact up to 2^24; beyond that ONNX does not pin it down.
  std::vector<float> xf;
  const float* xp = x->data<float>();
  if (x->dtype() == DType::kS32) {
    xf.resize(static_cast<size_t>(x->numel()));
    for (int64_t i = 0; i < x->numel(); ++i) xf[i] = static_cast<float>(x->data<int32_t>()[i]);
    xp = xf.data();
  }
  Tensor y(out_type, x->shape());
  const size_t esz = dtype_size(out_type);
  const int64_t total = x->numel();
  AxisView w = flatten_per_tensor(v);
  for_each_row_run(w, [&](int64_t r, int64_t c, int64_t len) {
    QuantizeDesc d;
    const int64_t start = r * w.inner;
    d.inner = w.inner;
    d.channels = len;
    if (!w.per_channel) {
      d.channels = 1;
      d.inner = std::min(w.inner * len, total - start);
    }
    d.x = xp + start;
    d.y = static_cast<uint8_t*>(y.raw()) + start * esz;
    d.y_type = out_type;
    d.q.per_channel = w.per_channel;
    d.q.scale = scales.data() + (w.per_channel ? c : 0);
    d.q.zero_point = zps.data() + (w.per_channel ? c : 0);
    q8_quantize_f32__ref(d);
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ---------------------------------------------------------------- DequantizeLinear

Status dequantize_linear(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
  QT_ASSIGN_OR_RETURN(const Tensor* scale_t, required_input(ctx, 1, "x_scale"));
  const Tensor* zp_t = ctx.input(2);
  if (ctx.node.attr_int("block_size", 0) != 0) {
    return ctx.unsupported("blocked dequantization (block_size) is not implemented");
  }
  if (!is_q8(x->dtype()) && x->dtype() != DType::kS32) {
    return ctx.unsupported("input x of type " + dtype_str(x->dtype()) +
                           " (u8, s8 and s32 are implemented)");
  }
  if (zp_t && zp_t->dtype() != x->dtype()) {
    return ctx.invalid("x_zero_point has type " + dtype_str(zp_t->dtype()) + ", x has " + dtype_str(x->dtype()));
  }
  QT_ASSIGN_OR_RETURN(std::vector<float> scales, read_scales(ctx, *scale_t, "x_scale"));
  QT_ASSIGN_OR_RETURN(AxisView v, axis_view(ctx, *x, *scale_t, zp_t, "x_scale"));
  std::vector<int32_t> zps = zp_t ? read_ints(*zp_t) : std::vector<int32_t>(scales.size(), 0);

  Tensor y(DType::kF32, x->shape());
  const size_t esz = dtype_size(x->dtype());
  const int64_t total = x->numel();
  AxisView w = flatten_per_tensor(v);
  for_each_row_run(w, [&](int64_t r, int64_t c, int64_t len) {
    DequantizeDesc d;
    const int64_t start = r * w.inner;
    d.inner = w.inner;
    d.channels = len;
    if (!w.per_channel) {
      d.channels = 1;
      d.inner = std::min(w.inner * len, total - start);
    }
    d.x = static_cast<const uint8_t*>(x->raw()) + start * esz;
    d.x_type = x->dtype();
    d.y = y.data<float>() + start;
    d.q.per_channel = w.per_channel;
    d.q.scale = scales.data() + (w.per_channel ? c : 0);
    d.q.zero_point = zps.data() + (w.per_channel ? c : 0);
    q8_dequantize_f32__ref(d);
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ---------------------------------------------------------------- DynamicQuantizeLinear

// u8 only (the spec's single output type); the range always includes 0 so 0 is exact.
Status dynamic_quantize_linear(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
  if (x->dtype() != DType::kF32) {
    return ctx.unsupported("input x of type " + dtype_str(x->dtype()) + " (f32 is implemented)");
  }
  float lo = 0.0f, hi = 0.0f;
  for (float f : x->span<float>()) {
    if (std::isnan(f)) continue;
    lo = std::min(lo, f);
    hi = std::max(hi, f);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) return ctx.invalid("input holds infinities");
  const QRange r = qrange(DType::kU8);
  // As ONNX Runtime: an all-zero input gets scale 1 instead of dividing by zero.
  const float scale = hi == lo ? 1.0f : (hi - lo) / static_cast<float>(r.hi - r.lo);
  const float zp_f = std::clamp(static_cast<float>(r.lo) - lo / scale, static_cast<float>(r.lo),
                                static_cast<float>(r.hi));
  const int32_t zp = static_cast<int32_t>(round_half_even(zp_f));

  Tensor y(DType::kU8, x->shape());
  AxisView w = flatten_per_tensor(AxisView{1, 1, x->numel(), false});
  const int64_t total = x->numel();
  for_each_row_run(w, [&](int64_t row, int64_t, int64_t len) {
    QuantizeDesc d;
    const int64_t start = row * w.inner;
    d.inner = std::min(w.inner * len, total - start);
    d.x = x->data<float>() + start;
    d.y = y.data<uint8_t>() + start;
    d.y_type = DType::kU8;
    d.q.scale = &scale;
    d.q.zero_point = &zp;
    q8_quantize_f32__ref(d);
  });
  ctx.outputs[0] = std::move(y);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = Tensor::scalar_f32(scale);
  if (ctx.outputs.size() > 2) {
    Tensor z(DType::kU8, {});
    z.data<uint8_t>()[0] = static_cast<uint8_t>(zp);
    ctx.outputs[2] = std::move(z);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- MatMul family

// A per-tensor / per-row (of A) / per-column (of B) parameter, materialised per operand batch:
// value(batch, i) with i a row of A or a column of B.
template <typename T>
struct LineParam {
  bool scalar = true;
  int64_t len = 1;        // M or N
  std::vector<T> values;  // 1, or batches * len
  T at(int64_t batch, int64_t i) const { return scalar ? values[0] : values[batch * len + i]; }
  const T* line(int64_t batch) const { return scalar ? nullptr : values.data() + batch * len; }
};

// Shapes the spec allows: a scalar; an M-vector ([N] for B); or [D.., M, 1] ([D.., 1, N] for B)
// whose batch dims broadcast to the operand's own.
template <typename T>
Result<LineParam<T>> line_param(const OpContext& ctx, const Tensor& t, const std::string& name,
                                const Shape& operand, bool rows, int64_t len,
                                const Shape& own_batch) {
  LineParam<T> p;
  auto value = [&](int64_t i) -> T {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(t.get_f64(i));
    else return static_cast<T>(t.get_i64(i));
  };
  if (t.numel() == 1) {
    p.values = {value(0)};
    return p;
  }
  const int64_t batches = shape_numel(own_batch);
  p.scalar = false;
  p.len = len;
  p.values.resize(static_cast<size_t>(batches * len));
  const Shape& s = t.shape();
  const std::string what = rows ? "per-row of A" : "per-column of B";
  if (s.size() == 1 && s[0] == len && operand.size() >= 2) {
    for (int64_t b = 0; b < batches; ++b)
      for (int64_t i = 0; i < len; ++i) p.values[b * len + i] = value(i);
    return p;
  }
  const bool shaped = s.size() == operand.size() && operand.size() >= 2 &&
                      s[s.size() - 2] == (rows ? len : 1) && s[s.size() - 1] == (rows ? 1 : len);
  bool batch_ok = shaped;
  for (size_t i = 0; batch_ok && i + 2 < s.size(); ++i) {
    batch_ok = s[i] == 1 || s[i] == own_batch[i];
  }
  if (!batch_ok) {
    return ctx.invalid(name + " shape " + shape_str(s) + " is neither a scalar nor " + what +
                       " for operand shape " + shape_str(operand));
  }
  Shape pb(s.begin(), s.end() - 2);
  std::vector<int64_t> idx(own_batch.size(), 0);
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t base = broadcast_offset(pb, own_batch, idx) * len;
    for (int64_t i = 0; i < len; ++i) p.values[b * len + i] = value(base + i);
    for (size_t i = idx.size(); i-- > 0;) {
      if (++idx[i] < own_batch[i]) break;
      idx[i] = 0;
    }
  }
  return p;
}

bool all_zero(const std::vector<int32_t>& v) {
  return std::all_of(v.begin(), v.end(), [](int32_t x) { return x == 0; });
}

// The packed int8 GEMM (VNNI where available) serves the common case: s8 B without zero points
// and one A zero point. B is packed once per model when it is a constant (`cache` set).
template <typename Sink>
bool run_matmul_packed(const MatMulPlan& p, const Tensor& a, const Tensor& b,
                       const LineParam<int32_t>& azp, const LineParam<int32_t>& bzp,
                       NodeCache* cache, Sink& sink) {
  if (b.dtype() != DType::kS8 || !azp.scalar || !all_zero(bzp.values)) return false;
  std::vector<int32_t> acc(static_cast<size_t>(p.m * p.n));
  const auto* a_base = static_cast<const uint8_t*>(a.raw());
  const auto* b_base = b.data<int8_t>();
  const bool one_b = *std::max_element(p.b_index.begin(), p.b_index.end()) == 0;
  std::shared_ptr<const PackedWeightsS8> packed;
  int64_t packed_for = -1;
  for (int64_t batch = 0; batch < p.batches(); ++batch) {
    const int64_t ab = p.a_index[batch], bb = p.b_index[batch];
    if (bb != packed_for) {
      auto pack = [&] { return pack_weights_s8(b_base + bb * p.k * p.n, p.k, p.n, p.n, 1); };
      packed = cache && one_b ? cache->get<PackedWeightsS8>(b.raw(), pack)
                              : std::make_shared<const PackedWeightsS8>(pack());
      packed_for = bb;
    }
    QGemmParams qp;
    qp.M = p.m;
    qp.a_type = a.dtype();
    qp.a_zero_point = azp.at(ab, 0);
    qgemm(qp, a_base + ab * p.m * p.k, p.k, *packed, acc.data(), p.n);
    sink(batch, ab, bb, int64_t{0}, p.m, acc.data());
  }
  return true;
}

// Computes every output batch's s32 product A x B (zero points applied) and hands each block of
// rows to `sink(batch, a_batch, b_batch, m0, m1, acc)`, acc being (m1-m0) x N.
template <typename Sink>
void run_matmul(const MatMulPlan& p, const Tensor& a, const Tensor& b,
                const LineParam<int32_t>& azp, const LineParam<int32_t>& bzp, NodeCache* cache,
                Sink sink) {
  if (p.batches() > 0 && run_matmul_packed(p, a, b, azp, bzp, cache, sink)) return;
  const int64_t rows_per_task = std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, p.n * p.k / 16 + 1));
  const int64_t blocks = (p.m + rows_per_task - 1) / rows_per_task;
  const int64_t tasks = p.batches() * blocks;
  const auto* a_base = static_cast<const uint8_t*>(a.raw());
  const auto* b_base = static_cast<const uint8_t*>(b.raw());
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks), [&](const tbb::blocked_range<int64_t>& br) {
    std::vector<int32_t> acc;
    for (int64_t t = br.begin(); t < br.end(); ++t) {
      const int64_t batch = t / blocks;
      const int64_t m0 = (t % blocks) * rows_per_task;
      const int64_t m1 = std::min(p.m, m0 + rows_per_task);
      const int64_t ab = p.a_index[batch], bb = p.b_index[batch];
      acc.assign(static_cast<size_t>((m1 - m0) * p.n), 0);
      QGemmDesc d;
      d.m = m1 - m0;
      d.n = p.n;
      d.k = p.k;
      d.a_type = a.dtype();
      d.a = a_base + (ab * p.m + m0) * p.k;  // 8-bit elements: byte offsets
      d.lda = p.k;
      d.b_type = b.dtype();
      d.b = b_base + bb * p.k * p.n;
      d.ldb = p.n;
      d.c = acc.data();
      d.ldc = p.n;
      d.a_zero_point = azp.at(ab, 0);
      d.a_zero_points = azp.scalar ? nullptr : azp.line(ab) + m0;
      d.b_zero_point = bzp.at(bb, 0);
      d.b_zero_points = bzp.line(bb);
      qs8_gemm__ref(d);
      sink(batch, ab, bb, m0, m1, acc.data());
    }
  });
}

Status check_q8(const OpContext& ctx, const Tensor& t, const char* name) {
  if (!is_q8(t.dtype())) {
    return ctx.unsupported(std::string(name) + " of type " + dtype_str(t.dtype()) +
                           " (u8 and s8 are implemented)");
  }
  return Status::Ok();
}

Status check_zp_type(const OpContext& ctx, const Tensor* zp, const Tensor& of, const char* name,
                     const char* of_name) {
  if (zp && zp->dtype() != of.dtype()) {
    return ctx.invalid(std::string(name) + " has type " + dtype_str(zp->dtype()) + ", " + of_name +
                       " has " + dtype_str(of.dtype()));
  }
  return Status::Ok();
}

Status matmul_integer(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
  QT_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
  const Tensor* azp_t = ctx.input(2);
  const Tensor* bzp_t = ctx.input(3);
  QT_RETURN_IF_ERROR(check_q8(ctx, *a, "A"));
  QT_RETURN_IF_ERROR(check_q8(ctx, *b, "B"));
  QT_RETURN_IF_ERROR(check_zp_type(ctx, azp_t, *a, "a_zero_point", "A"));
  QT_RETURN_IF_ERROR(check_zp_type(ctx, bzp_t, *b, "b_zero_point", "B"));
  QT_ASSIGN_OR_RETURN(MatMulPlan p, plan_matmul(ctx, a->shape(), b->shape()));
  LineParam<int32_t> azp, bzp;
  azp.values = bzp.values = {0};
  if (azp_t) {
    QT_ASSIGN_OR_RETURN(azp, line_param<int32_t>(ctx, *azp_t, "a_zero_point", a->shape(), true,
                                                 p.m, p.a_batch));
  }
  if (bzp_t) {
    QT_ASSIGN_OR_RETURN(bzp, line_param<int32_t>(ctx, *bzp_t, "b_zero_point", b->shape(), false,
                                                 p.n, p.b_batch));
  }
  Tensor y(DType::kS32, p.out_shape);
  int32_t* yp = y.data<int32_t>();
  run_matmul(p, *a, *b, azp, bzp, weight_cache(ctx, 1),
             [&](int64_t batch, int64_t, int64_t, int64_t m0, int64_t m1, const int32_t* acc) {
               std::copy(acc, acc + (m1 - m0) * p.n, yp + (batch * p.m + m0) * p.n);
             });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status qlinear_matmul(OpContext& ctx) {
  static const char* names[] = {"a", "a_scale", "a_zero_point", "b",
                                "b_scale", "b_zero_point", "y_scale", "y_zero_point"};
  const Tensor* in[8];
  for (size_t i = 0; i < 8; ++i) {
    QT_ASSIGN_OR_RETURN(in[i], required_input(ctx, i, names[i]));
  }
  const Tensor &a = *in[0], &b = *in[3], &y_zp_t = *in[7];
  QT_RETURN_IF_ERROR(check_q8(ctx, a, "a"));
  QT_RETURN_IF_ERROR(check_q8(ctx, b, "b"));
  QT_RETURN_IF_ERROR(check_q8(ctx, y_zp_t, "y_zero_point"));
  QT_RETURN_IF_ERROR(check_zp_type(ctx, in[2], a, "a_zero_point", "a"));
  QT_RETURN_IF_ERROR(check_zp_type(ctx, in[5], b, "b_zero_point", "b"));
  for (int i : {1, 4, 6}) QT_RETURN_IF_ERROR(read_scales(ctx, *in[i], names[i]).status());
  QT_RETURN_IF_ERROR(require_scalar(ctx, *in[6], "y_scale"));
  QT_RETURN_IF_ERROR(require_scalar(ctx, y_zp_t, "y_zero_point"));
  QT_ASSIGN_OR_RETURN(MatMulPlan p, plan_matmul(ctx, a.shape(), b.shape()));
  QT_ASSIGN_OR_RETURN(auto as, line_param<float>(ctx, *in[1], "a_scale", a.shape(), true, p.m, p.a_batch));
  QT_ASSIGN_OR_RETURN(auto azp, line_param<int32_t>(ctx, *in[2], "a_zero_point", a.shape(), true, p.m, p.a_batch));
  QT_ASSIGN_OR_RETURN(auto bs, line_param<float>(ctx, *in[4], "b_scale", b.shape(), false, p.n, p.b_batch));
  QT_ASSIGN_OR_RETURN(auto bzp, line_param<int32_t>(ctx, *in[5], "b_zero_point", b.shape(), false, p.n, p.b_batch));
  const float ys = in[6]->data<float>()[0];
  const int32_t yzp = static_cast<int32_t>(y_zp_t.get_i64(0));
  const DType yt = y_zp_t.dtype();

  Tensor y(yt, p.out_shape);
  auto* yp = static_cast<uint8_t*>(y.raw());
  run_matmul(p, a, b, azp, bzp, weight_cache(ctx, 3),
             [&](int64_t batch, int64_t ab, int64_t bb, int64_t m0, int64_t m1, const int32_t* acc) {
               std::vector<float> mult(static_cast<size_t>(p.n));
               for (int64_t i = m0; i < m1; ++i) {
                 for (int64_t j = 0; j < p.n; ++j) {
                   mult[j] = requant_multiplier(as.at(ab, i), bs.at(bb, j), ys);
                 }
                 RequantizeDesc d;
                 d.channels = p.n;
                 d.acc = acc + (i - m0) * p.n;
                 d.multiplier = mult.data();
                 d.per_channel = true;
                 d.y_zero_point = yzp;
                 d.y = yp + (batch * p.m + i) * p.n;  // 8-bit output: byte offsets
                 d.y_type = yt;
                 qs32_requantize_q8__ref(d);
               }
             });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ---------------------------------------------------------------- Conv family

struct ConvPlan {
  int64_t batch = 0, c = 0, m = 0, group = 1;
  int64_t cg = 0, mg = 0;       // channels per group (in, out)
  Shape in_sp, k_sp, out_sp;    // spatial sizes
  ConvGeometry geo;
  int64_t kdim = 0;             // cg * prod(kernel): GEMM K
  int64_t in_pix = 0, out_pix = 0, k_pix = 0;
  bool pointwise = false;       // 1x1, stride 1, no pads: the input is already the GEMM B
  Shape out_shape;
};

Result<ConvPlan> plan_conv(const OpContext& ctx, const Tensor& x, const Tensor& w) {
  QT_ASSIGN_OR_RETURN(ConvOperands ops, check_conv_operands(ctx, x, w));
  ConvPlan p;
  p.batch = x.dim(0);
  p.c = x.dim(1);
  p.m = w.dim(0);
  p.group = ops.group;
  p.cg = p.c / p.group;
  p.mg = p.m / p.group;
  p.in_sp = std::move(ops.in_sp);
  p.k_sp = std::move(ops.k_sp);
  p.geo = std::move(ops.geo);
  p.out_sp = p.geo.out;
  p.in_pix = shape_numel(p.in_sp);
  p.out_pix = shape_numel(p.out_sp);
  p.k_pix = shape_numel(p.k_sp);
  p.kdim = p.cg * p.k_pix;
  p.pointwise = p.k_pix == 1 && p.in_sp == p.out_sp;
  for (size_t i = 0; i < p.in_sp.size(); ++i) {
    p.pointwise = p.pointwise && p.geo.strides[i] == 1 && p.geo.pads[i] == 0;
  }
  p.out_shape = {p.batch, p.m};
  p.out_shape.insert(p.out_shape.end(), p.out_sp.begin(), p.out_sp.end());
  return p;
}

// 2-D convolutions with s8 weights and no weight zero points run on the packed int8
// convolution (VNNI where available); weights are packed once per model when constant.
template <typename Sink>
bool run_conv_packed(const ConvPlan& p, const Tensor& x, const Tensor& w, int32_t x_zp,
                     const std::vector<int32_t>& w_zp, NodeCache* cache, Sink& sink) {
  if (p.in_sp.size() != 2 || w.dtype() != DType::kS8 || !all_zero(w_zp)) return false;
  QConvShape s;
  s.batch = p.batch;
  s.in_channels = p.c;
  s.in_h = p.in_sp[0];
  s.in_w = p.in_sp[1];
  s.out_channels = p.m;
  s.kernel_h = p.k_sp[0];
  s.kernel_w = p.k_sp[1];
  s.stride_h = p.geo.strides[0];
  s.stride_w = p.geo.strides[1];
  s.dilation_h = p.geo.dilations[0];
  s.dilation_w = p.geo.dilations[1];
  s.pad_top = p.geo.pads[0];
  s.pad_left = p.geo.pads[1];
  s.pad_bottom = p.geo.pads[2];
  s.pad_right = p.geo.pads[3];
  s.group = p.group;
  auto pack = [&] { return pack_conv_weights_s8(w.data<int8_t>(), s); };
  std::shared_ptr<const PackedConvWeightsS8> packed =
      cache ? cache->get<PackedConvWeightsS8>(w.raw(), pack)
            : std::make_shared<const PackedConvWeightsS8>(pack());
  std::vector<int32_t> acc(static_cast<size_t>(p.batch * p.m * p.out_pix));
  QGemmParams qp;
  qp.a_type = x.dtype();
  qp.a_zero_point = x_zp;
  qconv2d(s, qp, x.raw(), *packed, acc.data());
  for (int64_t n = 0; n < p.batch; ++n) sink(n, int64_t{0}, p.m, acc.data() + n * p.m * p.out_pix);
  return true;
}

// Runs the convolution as per-(image, group) GEMMs W_g [mg, kdim] x col [kdim, out_pix] and
// hands each block of output channels to sink(n, channel0, channels, acc [channels, out_pix]).
template <typename Sink>
void run_conv(const ConvPlan& p, const Tensor& x, const Tensor& w, int32_t x_zp,
              const std::vector<int32_t>& w_zp, NodeCache* cache, Sink sink) {
  if (run_conv_packed(p, x, w, x_zp, w_zp, cache, sink)) return;
  const int64_t jobs = p.batch * p.group;
  const auto* xb = static_cast<const uint8_t*>(x.raw());  // 8-bit elements: byte offsets
  const auto* wb = static_cast<const uint8_t*>(w.raw());
  const bool w_per_channel = w_zp.size() > 1;
  const int64_t rows_per_task =
      std::max<int64_t>(1, (kMinParallelElements * 16) / std::max<int64_t>(1, p.kdim * p.out_pix));
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, jobs), [&](const tbb::blocked_range<int64_t>& br) {
    std::vector<uint8_t> col;
    for (int64_t job = br.begin(); job < br.end(); ++job) {
      const int64_t n = job / p.group, g = job % p.group;
      const uint8_t* xg = xb + (n * p.c + g * p.cg) * p.in_pix;
      const uint8_t* bmat = xg;
      if (!p.pointwise) {
        col.resize(static_cast<size_t>(p.kdim * p.out_pix));
        // Padding reads as the zero point, contributing (zp - zp) = 0; the byte pattern of
        // the zero point serves both u8 and s8.
        im2col_nd<uint8_t>(p.in_sp, p.k_sp, p.geo, p.cg, xg, static_cast<uint8_t>(x_zp),
                           col.data());
        bmat = col.data();
      }
      const int64_t blocks = (p.mg + rows_per_task - 1) / rows_per_task;
      tbb::parallel_for(int64_t{0}, blocks, [&](int64_t blk) {
        const int64_t m0 = blk * rows_per_task, m1 = std::min(p.mg, m0 + rows_per_task);
        const int64_t oc0 = g * p.mg + m0;
        std::vector<int32_t> acc(static_cast<size_t>((m1 - m0) * p.out_pix));
        QGemmDesc d;
        d.m = m1 - m0;
        d.n = p.out_pix;
        d.k = p.kdim;
        d.a_type = w.dtype();
        d.a = wb + oc0 * p.kdim;
        d.lda = p.kdim;
        d.a_zero_point = w_zp[0];
        d.a_zero_points = w_per_channel ? w_zp.data() + oc0 : nullptr;
        d.b_type = x.dtype();
        d.b = bmat;
        d.ldb = p.out_pix;
        d.b_zero_point = x_zp;
        d.c = acc.data();
        d.ldc = p.out_pix;
        qs8_gemm__ref(d);
        sink(n, oc0, m1 - m0, acc.data());
      });
    }
  });
}

// A scalar, or (when per_channel_ok) a 1-D tensor of `m` values; returns the values.
template <typename T>
Result<std::vector<T>> channel_param(const OpContext& ctx, const Tensor& t, const char* name,
                                     int64_t m, bool per_channel_ok) {
  std::vector<T> v;
  if (t.numel() == 1 && t.rank() <= 1) {
    v.push_back(std::is_floating_point_v<T> ? static_cast<T>(t.get_f64(0))
                                            : static_cast<T>(t.get_i64(0)));
    return v;
  }
  if (!per_channel_ok) {
    return ctx.invalid(std::string(name) + " must be a scalar, got shape " + shape_str(t.shape()));
  }
  if (t.rank() != 1 || t.dim(0) != m) {
    return ctx.invalid(std::string(name) + " shape " + shape_str(t.shape()) +
                       " is neither a scalar nor one value per output channel (" +
                       std::to_string(m) + ")");
  }
  for (int64_t i = 0; i < m; ++i) {
    v.push_back(std::is_floating_point_v<T> ? static_cast<T>(t.get_f64(i))
                                            : static_cast<T>(t.get_i64(i)));
  }
  return v;
}

Status conv_integer(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
  QT_ASSIGN_OR_RETURN(const Tensor* w, required_input(ctx, 1, "w"));
  const Tensor* xzp_t = ctx.input(2);
  const Tensor* wzp_t = ctx.input(3);
  QT_RETURN_IF_ERROR(check_q8(ctx, *x, "x"));
  QT_RETURN_IF_ERROR(check_q8(ctx, *w, "w"));
  QT_RETURN_IF_ERROR(check_zp_type(ctx, xzp_t, *x, "x_zero_point", "x"));
  QT_RETURN_IF_ERROR(check_zp_type(ctx, wzp_t, *w, "w_zero_point", "w"));
  QT_ASSIGN_OR_RETURN(ConvPlan p, plan_conv(ctx, *x, *w));
  std::vector<int32_t> xzp{0}, wzp{0};
  if (xzp_t) { QT_ASSIGN_OR_RETURN(xzp, channel_param<int32_t>(ctx, *xzp_t, "x_zero_point", p.c, false)); }
  if (wzp_t) { QT_ASSIGN_OR_RETURN(wzp, channel_param<int32_t>(ctx, *wzp_t, "w_zero_point", p.m, true)); }
  Tensor y(DType::kS32, p.out_shape);
  int32_t* yp = y.data<int32_t>();
  run_conv(p, *x, *w, xzp[0], wzp, weight_cache(ctx, 1), [&](int64_t n, int64_t oc0, int64_t count, const int32_t* acc) {
    std::copy(acc, acc + count * p.out_pix, yp + (n * p.m + oc0) * p.out_pix);
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status qlinear_conv(OpContext& ctx) {
  static const char* names[] = {"x", "x_scale", "x_zero_point", "w",
                                "w_scale", "w_zero_point", "y_scale", "y_zero_point"};
  const Tensor* in[8];
  for (size_t i = 0; i < 8; ++i) {
    QT_ASSIGN_OR_RETURN(in[i], required_input(ctx, i, names[i]));
  }
  const Tensor* bias_t = ctx.input(8);
  const Tensor &x = *in[0], &w = *in[3], &y_zp_t = *in[7];
  QT_RETURN_IF_ERROR(check_q8(ctx, x, "x"));
  QT_RETURN_IF_ERROR(check_q8(ctx, w, "w"));
  QT_RETURN_IF_ERROR(check_q8(ctx, y_zp_t, "y_zero_point"));
  QT_RETURN_IF_ERROR(check_zp_type(ctx, in[2], x, "x_zero_point", "x"));
  QT_RETURN_IF_ERROR(check_zp_type(ctx, in[5], w, "w_zero_point", "w"));
  for (int i : {1, 4, 6}) QT_RETURN_IF_ERROR(read_scales(ctx, *in[i], names[i]).status());
  QT_ASSIGN_OR_RETURN(ConvPlan p, plan_conv(ctx, x, w));
  QT_ASSIGN_OR_RETURN(auto xs, channel_param<float>(ctx, *in[1], "x_scale", p.c, false));
  QT_ASSIGN_OR_RETURN(auto xzp, channel_param<int32_t>(ctx, *in[2], "x_zero_point", p.c, false));
  QT_ASSIGN_OR_RETURN(auto ws, channel_param<float>(ctx, *in[4], "w_scale", p.m, true));
  QT_ASSIGN_OR_RETURN(auto wzp, channel_param<int32_t>(ctx, *in[5], "w_zero_point", p.m, true));
  QT_ASSIGN_OR_RETURN(auto ys, channel_param<float>(ctx, *in[6], "y_scale", p.m, false));
  QT_ASSIGN_OR_RETURN(auto yzp, channel_param<int32_t>(ctx, y_zp_t, "y_zero_point", p.m, false));
  std::vector<int32_t> bias;
  if (bias_t) {
    if (bias_t->dtype() != DType::kS32) {
      return ctx.invalid("bias B has type " + dtype_str(bias_t->dtype()) + ", expected s32");
    }
    if (bias_t->rank() != 1 || bias_t->dim(0) != p.m) {
      return ctx.invalid("bias B shape " + shape_str(bias_t->shape()) + " is not [" +
                         std::to_string(p.m) + "]");
    }
    bias = read_ints(*bias_t);
  }
  std::vector<float> mult(static_cast<size_t>(p.m));
  for (int64_t i = 0; i < p.m; ++i) mult[i] = requant_multiplier(xs[0], ws[ws.size() > 1 ? i : 0], ys[0]);
  const DType yt = y_zp_t.dtype();
  Tensor y(yt, p.out_shape);
  auto* yp = static_cast<uint8_t*>(y.raw());
  run_conv(p, x, w, xzp[0], wzp, weight_cache(ctx, 3), [&](int64_t n, int64_t oc0, int64_t count, const int32_t* acc) {
    RequantizeDesc d;
    d.channels = count;
    d.inner = p.out_pix;
    d.acc = acc;
    d.bias = bias.empty() ? nullptr : bias.data() + oc0;
    d.multiplier = mult.data() + oc0;
    d.per_channel = true;
    d.y_zero_point = yzp[0];
    d.y = yp + (n * p.m + oc0) * p.out_pix;  // 8-bit output: byte offsets
    d.y_type = yt;
    qs32_requantize_q8__ref(d);
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

}  // namespace

void register_quantization_kernels(KernelRegistry& r) {
  const std::vector<DType> q8 = {DType::kU8, DType::kS8};
  // Opsets 10-12 quantize per tensor; 13 adds the axis attribute for per-channel scales.
  r.add({"", "QuantizeLinear", 10, 12, {DType::kF32, DType::kS32}},
        [](OpContext& c) { return per_tensor_only(c, quantize_linear); });
  r.add({"", "QuantizeLinear", 13, kLatestOpset, {DType::kF32, DType::kS32}}, quantize_linear);
  r.add({"", "DequantizeLinear", 10, 12, {DType::kU8, DType::kS8, DType::kS32}},
        [](OpContext& c) { return per_tensor_only(c, dequantize_linear); });
  r.add({"", "DequantizeLinear", 13, kLatestOpset, {DType::kU8, DType::kS8, DType::kS32}},
        dequantize_linear);
  r.add({"", "DynamicQuantizeLinear", 11, kLatestOpset, {DType::kF32}}, dynamic_quantize_linear);
  r.add({"", "QLinearMatMul", 10, kLatestOpset, q8}, qlinear_matmul);
  r.add({"", "MatMulInteger", 10, kLatestOpset, q8}, matmul_integer);
  r.add({"", "QLinearConv", 10, kLatestOpset, q8}, qlinear_conv);
  r.add({"", "ConvInteger", 10, kLatestOpset, q8}, conv_integer);
}

}  // namespace qtune
