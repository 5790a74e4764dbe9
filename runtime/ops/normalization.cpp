// Normalisation-style fp32 ops of the reference executor: BatchNormalization,
// LayerNormalization, Softmax and ReduceMean. Statistics accumulate in double so results do not
// depend on how the work is split across threads.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/kernel_registry.h"

namespace qtune {
namespace {

// Below this many elements a single thread is faster than a hand-off.
constexpr int64_t kParallelElems = int64_t{1} << 15;

std::string shape_of(const Tensor& t) { return shape_str(t.shape()); }

Status require_input(const OpContext& ctx, size_t i, const char* name, const Tensor** out) {
  const Tensor* t = ctx.input(i);
  if (!t || t->empty()) return ctx.invalid(std::string("missing input ") + name);
  *out = t;
  return Status::Ok();
}

Status require_f32(const OpContext& ctx, const Tensor& t, const char* name) {
  if (t.dtype() == DType::kF32) return Status::Ok();
  return ctx.unsupported(std::string("input ") + name + " has dtype " +
                         std::string(dtype_name(t.dtype())) + "; only f32 is implemented");
}

// Runs fn(begin, end) over [0, count) rows, split across threads when the work is large.
template <typename Fn>
void for_rows(int64_t count, int64_t row_elems, Fn&& fn) {
  if (count * row_elems < kParallelElems || count == 1) {
    fn(int64_t{0}, count);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, count),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}

Status normalize_axis(const OpContext& ctx, int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank) {
    return ctx.invalid("axis " + std::to_string(axis) + " out of range for rank " +
                       std::to_string(rank));
  }
  *out = axis < 0 ? axis + rank : axis;
  return Status::Ok();
}

// ------------------------------------------------------------------------- BatchNormalization

Status batch_norm(OpContext& ctx) {
  const Tensor *x, *scale, *bias, *mean, *var;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "X", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "scale", &scale));
  QT_RETURN_IF_ERROR(require_input(ctx, 2, "B", &bias));
  QT_RETURN_IF_ERROR(require_input(ctx, 3, "input_mean", &mean));
  QT_RETURN_IF_ERROR(require_input(ctx, 4, "input_var", &var));
  for (const Tensor* t : {x, scale, bias, mean, var}) {
    QT_RETURN_IF_ERROR(require_f32(ctx, *t, t == x ? "X" : "scale/B/mean/var"));
  }
  if (x->rank() < 2) return ctx.invalid("X has shape " + shape_of(*x) + "; needs [N,C,...]");
  // Opsets 7-8 could normalise per activation (spatial=0, statistics shaped [C, D1, ...]).
  if (ctx.opset < 9 && ctx.node.attr_int("spatial", 1) == 0) {
    return ctx.unsupported("spatial=0 (per-activation statistics)");
  }
  const int64_t N = x->dim(0), C = x->dim(1);
  const int64_t inner = N * C == 0 ? 0 : x->numel() / (N * C);
  for (const Tensor* t : {scale, bias, mean, var}) {
    if (t->rank() != 1 || t->dim(0) != C) {
      return ctx.invalid("per-channel input has shape " + shape_of(*t) + ", expected [" +
                         std::to_string(C) + "]");
    }
  }
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  const bool training = ctx.node.attr_int("training_mode", 0) != 0;
  size_t extra_outputs = 0;
  for (size_t i = 1; i < ctx.node.outputs.size(); ++i) {
    if (!ctx.node.outputs[i].empty()) ++extra_outputs;
  }
  // Before opset 14 the optional outputs meant saved mean/variance of a different training
  // formulation; only inference is implemented there.
  if (extra_outputs > 0 && (!training || ctx.opset < 14 || ctx.node.outputs.size() > 3)) {
    return ctx.unsupported("training outputs of BatchNormalization (opset " +
                           std::to_string(ctx.opset) + ")");
  }
  if (training && ctx.opset < 14) {
    return ctx.unsupported("training_mode before opset 14");
  }
  const float* xd = x->data<float>();
  std::vector<float> use_mean(mean->data<float>(), mean->data<float>() + C);
  std::vector<float> use_var(var->data<float>(), var->data<float>() + C);
  if (training) {
    // Batch statistics (population variance), as onnx's reference implementation.
    const float momentum = ctx.node.attr_float("momentum", 0.9f);
    Tensor run_mean(DType::kF32, {C}), run_var(DType::kF32, {C});
    const double count = static_cast<double>(N * inner);
    for (int64_t c = 0; c < C; ++c) {
      double s = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        const float* p = xd + (n * C + c) * inner;
        for (int64_t i = 0; i < inner; ++i) s += p[i];
      }
      const double mu = count > 0 ? s / count : 0.0;
      double ss = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        const float* p = xd + (n * C + c) * inner;
        for (int64_t i = 0; i < inner; ++i) ss += (p[i] - mu) * (p[i] - mu);
      }
      const double v = count > 0 ? ss / count : 0.0;
      run_mean.data<float>()[c] =
          static_cast<float>(mean->data<float>()[c] * momentum + mu * (1.0 - momentum));
      run_var.data<float>()[c] =
          static_cast<float>(var->data<float>()[c] * momentum + v * (1.0 - momentum));
      use_mean[c] = static_cast<float>(mu);
      use_var[c] = static_cast<float>(v);
    }
    if (ctx.outputs.size() > 1) ctx.outputs[1] = std::move(run_mean);
    if (ctx.outputs.size() > 2) ctx.outputs[2] = std::move(run_var);
  }
  // y = x * a + b per channel.
  std::vector<float> a(C), b(C);
  for (int64_t c = 0; c < C; ++c) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(use_var[c]) + eps);
    a[c] = static_cast<float>(scale->data<float>()[c] * inv);
    b[c] = static_cast<float>(bias->data<float>()[c] - use_mean[c] * scale->data<float>()[c] * inv);
  }
  Tensor y(DType::kF32, x->shape());
  float* yd = y.data<float>();
  for_rows(N * C, inner, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r % C;
      const float* p = xd + r * inner;
      float* q = yd + r * inner;
      for (int64_t i = 0; i < inner; ++i) q[i] = p[i] * a[c] + b[c];
    }
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------------- LayerNormalization

// Expands t (broadcastable to `shape`, aligned right) to a dense array of shape_numel(shape).
bool expand_to(const Tensor& t, const Shape& shape, std::vector<float>* out) {
  if (t.rank() > static_cast<int64_t>(shape.size())) return false;
  const size_t off = shape.size() - static_cast<size_t>(t.rank());
  for (size_t i = 0; i < static_cast<size_t>(t.rank()); ++i) {
    if (t.dim(i) != 1 && t.dim(i) != shape[off + i]) return false;
  }
  const int64_t total = shape_numel(shape);
  out->assign(static_cast<size_t>(total), 0.0f);
  const float* src = t.data<float>();
  for (int64_t e = 0; e < total; ++e) {
    int64_t rem = e, si = 0, stride = 1;
    for (size_t i = shape.size(); i-- > off;) {
      const int64_t idx = rem % shape[i];
      rem /= shape[i];
      const int64_t td = t.dim(static_cast<int64_t>(i - off));
      if (td != 1) si += idx * stride;
      stride *= td;
    }
    (*out)[static_cast<size_t>(e)] = src[si];
  }
  return true;
}

Status layer_norm(OpContext& ctx) {
  const Tensor *x, *scale;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "X", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "Scale", &scale));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "X"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *scale, "Scale"));
  const Tensor* bias = ctx.input(2);
  if (bias && bias->empty()) bias = nullptr;
  if (bias) QT_RETURN_IF_ERROR(require_f32(ctx, *bias, "B"));
  if (ctx.node.attr_int("stash_type", 1) != 1) {
    return ctx.unsupported("stash_type other than float32");
  }
  int64_t axis;
  QT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node.attr_int("axis", -1), x->rank(), &axis));
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  const Shape norm_shape(x->shape().begin() + axis, x->shape().end());
  const int64_t cols = shape_numel(norm_shape);
  const int64_t rows = cols == 0 ? 0 : x->numel() / cols;
  std::vector<float> s, b;
  if (!expand_to(*scale, norm_shape, &s)) {
    return ctx.invalid("Scale " + shape_of(*scale) + " does not broadcast to the normalised shape " +
                       shape_str(norm_shape));
  }
  if (bias && !expand_to(*bias, norm_shape, &b)) {
    return ctx.invalid("B " + shape_of(*bias) + " does not broadcast to the normalised shape " +
                       shape_str(norm_shape));
  }
  Shape stat_shape = x->shape();
  for (size_t i = static_cast<size_t>(axis); i < stat_shape.size(); ++i) stat_shape[i] = 1;
  Tensor y(DType::kF32, x->shape()), mean_t(DType::kF32, stat_shape),
      inv_t(DType::kF32, stat_shape);
  const float* xd = x->data<float>();
  float* yd = y.data<float>();
  float* md = mean_t.data<float>();
  float* id = inv_t.data<float>();
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* p = xd + r * cols;
      float* q = yd + r * cols;
      double sum = 0.0;
      for (int64_t j = 0; j < cols; ++j) sum += p[j];
      const double mu = sum / static_cast<double>(cols);
      double ss = 0.0;
      for (int64_t j = 0; j < cols; ++j) ss += (p[j] - mu) * (p[j] - mu);
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
      const float muf = static_cast<float>(mu), invf = static_cast<float>(inv);
      for (int64_t j = 0; j < cols; ++j) {
        const float v = (p[j] - muf) * invf * s[j];
        q[j] = b.empty() ? v : v + b[j];
      }
      md[r] = muf;
      id[r] = invf;
    }
  });
  ctx.outputs[0] = std::move(y);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = std::move(mean_t);
  if (ctx.outputs.size() > 2) ctx.outputs[2] = std::move(inv_t);
  return Status::Ok();
}

// ------------------------------------------------------------------------------------ Softmax

// Softmax over the middle dim of a [outer, n, inner] view.
void softmax_rows(const float* x, float* y, int64_t o0, int64_t o1, int64_t n, int64_t inner) {
  if (inner == 1) {  // contiguous rows: keep the running max and sum in registers
    for (int64_t o = o0; o < o1; ++o) {
      const float* p = x + o * n;
      float* q = y + o * n;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, p[j]);
      float sum = 0.0f;
      for (int64_t j = 0; j < n; ++j) {
        q[j] = std::exp(p[j] - mx);
        sum += q[j];
      }
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < n; ++j) q[j] *= inv;
    }
    return;
  }
  std::vector<float> mx(static_cast<size_t>(inner)), sum(static_cast<size_t>(inner));
  for (int64_t o = o0; o < o1; ++o) {
    const float* p = x + o * n * inner;
    float* q = y + o * n * inner;
    std::fill(mx.begin(), mx.end(), -std::numeric_limits<float>::infinity());
    std::fill(sum.begin(), sum.end(), 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < inner; ++i) mx[i] = std::max(mx[i], p[j * inner + i]);
    }
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < inner; ++i) {
        const float e = std::exp(p[j * inner + i] - mx[i]);
        q[j * inner + i] = e;
        sum[i] += e;
      }
    }
    for (int64_t i = 0; i < inner; ++i) sum[i] = 1.0f / sum[i];
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < inner; ++i) q[j * inner + i] *= sum[i];
    }
  }
}

Status softmax(OpContext& ctx) {
  const Tensor* x;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "input", &x));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "input"));
  const bool legacy = ctx.opset < 13;  // before 13: flatten to 2-D at axis, default 1
  const int64_t rank = x->rank();
  int64_t axis;
  if (rank == 0) {
    // A scalar has no axis to normalise along; onnx defines the result as 1.
    Tensor y(DType::kF32, {});
    y.data<float>()[0] = 1.0f;
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  QT_RETURN_IF_ERROR(
      normalize_axis(ctx, ctx.node.attr_int("axis", legacy ? 1 : -1), rank, &axis));
  const Shape& s = x->shape();
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= s[i];
  if (legacy) {
    for (int64_t i = axis; i < rank; ++i) n *= s[i];
  } else {
    n = s[axis];
    for (int64_t i = axis + 1; i < rank; ++i) inner *= s[i];
  }
  Tensor y(DType::kF32, s);
  if (y.numel() > 0) {
    const float* xd = x->data<float>();
    float* yd = y.data<float>();
    for_rows(outer, n * inner, [&](int64_t o0, int64_t o1) {
      softmax_rows(xd, yd, o0, o1, n, inner);
    });
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// --------------------------------------------------------------------------------- ReduceMean

Status reduce_mean(OpContext& ctx) {
  const Tensor* x;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "data", &x));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "data"));
  const int64_t rank = x->rank();
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  std::vector<int64_t> axes;
  const Tensor* axes_in = ctx.input(1);  // opset 18 moved axes from attribute to input
  if (axes_in && !axes_in->empty()) {
    if (axes_in->dtype() != DType::kS64 && axes_in->dtype() != DType::kS32) {
      return ctx.invalid("axes input must be int64");
    }
    axes = axes_in->to_i64_vector();
  } else {
    axes = ctx.node.attr_ints("axes");
  }
  if (axes.empty() && ctx.node.attr_int("noop_with_empty_axes", 0) != 0) {
    ctx.outputs[0] = *x;
    return Status::Ok();
  }
  std::vector<bool> reduce(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : axes) {
    int64_t ax;
    QT_RETURN_IF_ERROR(normalize_axis(ctx, a, rank, &ax));
    if (reduce[ax]) return ctx.invalid("axis " + std::to_string(a) + " listed twice");
    reduce[ax] = true;
  }
  const Shape& s = x->shape();
  Shape out_shape, kept_shape;
  int64_t count = 1;
  for (int64_t i = 0; i < rank; ++i) {
    if (reduce[i]) {
      count *= s[i];
      if (keepdims) out_shape.push_back(1);
    } else {
      out_shape.push_back(s[i]);
      kept_shape.push_back(s[i]);
    }
  }
  Tensor y(DType::kF32, out_shape);
  const float* xd = x->data<float>();
  float* yd = y.data<float>();
  const int64_t out_n = y.numel();
  // Element stride in x of each kept dim, and of each reduced dim.
  std::vector<int64_t> stride(static_cast<size_t>(rank), 1);
  for (int64_t i = rank - 1; i > 0; --i) stride[i - 1] = stride[i] * s[i];
  std::vector<int64_t> kept_stride, red_dims, red_stride;
  for (int64_t i = 0; i < rank; ++i) {
    if (reduce[i]) {
      red_dims.push_back(s[i]);
      red_stride.push_back(stride[i]);
    } else {
      kept_stride.push_back(stride[i]);
    }
  }
  // Fast path: the reduced dims form one contiguous block, so x is [outer, count, inner] and
  // each output row is a sum of `count` contiguous rows of `inner` values.
  int64_t first = -1, last = -1;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduce[i]) continue;
    if (first < 0) first = i;
    last = i;
  }
  bool contiguous = first >= 0;
  for (int64_t i = first; contiguous && i <= last; ++i) contiguous = reduce[i];
  const double scale = count > 0 ? 1.0 / static_cast<double>(count)
                                 : std::numeric_limits<double>::quiet_NaN();
  if (contiguous) {
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < first; ++i) outer *= s[i];
    for (int64_t i = last + 1; i < rank; ++i) inner *= s[i];
    for_rows(outer, count * inner, [&](int64_t o0, int64_t o1) {
      std::vector<double> acc(static_cast<size_t>(inner));
      for (int64_t o = o0; o < o1; ++o) {
        const float* p = xd + o * count * inner;
        if (inner == 1) {
          // Four partial sums break the add dependency chain.
          double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
          int64_t j = 0;
          for (; j + 4 <= count; j += 4) {
            a0 += p[j];
            a1 += p[j + 1];
            a2 += p[j + 2];
            a3 += p[j + 3];
          }
          for (; j < count; ++j) a0 += p[j];
          yd[o] = static_cast<float>(((a0 + a1) + (a2 + a3)) * scale);
          continue;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t r = 0; r < count; ++r) {
          const float* row = p + r * inner;
          for (int64_t i = 0; i < inner; ++i) acc[i] += row[i];
        }
        for (int64_t i = 0; i < inner; ++i) yd[o * inner + i] = static_cast<float>(acc[i] * scale);
      }
    });
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  for_rows(out_n, count, [&](int64_t o0, int64_t o1) {
    std::vector<int64_t> idx(red_dims.size());
    for (int64_t o = o0; o < o1; ++o) {
      double sum = 0.0;
      int64_t base = 0, rem = o;
      for (size_t k = kept_shape.size(); k-- > 0;) {
        base += (rem % kept_shape[k]) * kept_stride[k];
        rem /= kept_shape[k];
      }
      std::fill(idx.begin(), idx.end(), 0);
      for (int64_t j = 0; j < count; ++j) {
        int64_t off = base;
        for (size_t k = 0; k < idx.size(); ++k) off += idx[k] * red_stride[k];
        sum += xd[off];
        for (size_t k = idx.size(); k-- > 0;) {
          if (++idx[k] < red_dims[k]) break;
          idx[k] = 0;
        }
      }
      yd[o] = static_cast<float>(sum * scale);
    }
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

}  // namespace

void register_normalization_kernels(KernelRegistry& r) {
  r.add({"", "BatchNormalization", 1}, batch_norm);
  r.add({"", "LayerNormalization", 17}, layer_norm);
  r.add({"", "Softmax", 1}, softmax);
  r.add({"", "ReduceMean", 1}, reduce_mean);
}

}  // namespace qtune
