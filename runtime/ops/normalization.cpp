// Normalisation and the softmax family: BatchNormalization, LayerNormalization,
// InstanceNormalization, LRN, MeanVarianceNormalization, LpNormalization, Softmax, LogSoftmax,
// Hardmax and Dropout, for f32, f64, f16 and bf16. Half types compute in float, f64 in double;
// statistics accumulate in double so results do not depend on how work is split across threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "runtime/op_util.h"
#include "kernels/softmax_f32.h"

namespace qtune {
namespace {

// Arithmetic type of element type T.
template <typename T>
using compute_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename T>
compute_t<T> ld(storage_t<T> v) {
  return static_cast<compute_t<T>>(load_as_double<T>(v));
}
template <typename T>
storage_t<T> st(double v) {
  return store_from_double<T>(v);
}

// Calls fn(TypeTag<T>{}) for the four floating element types.
template <typename Fn>
Status visit_float(DType t, const OpContext& ctx, Fn&& fn) {
  return visit_any(t, ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (is_float_v<T>) {
      return fn(tag);
    } else {
      return ctx.unsupported("element type " + dtype_str(t) + " is not supported");
    }
  });
}


// Minimum rows per parallel block so a block holds about kMinParallelElements values.
int64_t rows_per_block(int64_t row_elems) {
  return std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(row_elems, 1));
}

bool output_wanted(const OpContext& ctx, size_t i) {
  return i < ctx.node.outputs.size() && !ctx.node.outputs[i].empty();
}

// ------------------------------------------------------------------------- BatchNormalization

// y = (x - mean) / sqrt(var + eps) * scale + B per channel. With `spatial` false (opsets 7-8)
// the statistics are per activation: shaped [C, D1, ...], so every non-batch element is a
// channel of its own. Training mode (opset 14+) normalises with the batch statistics and
// outputs the running averages.
Status batch_norm(OpContext& ctx, bool training_outputs) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 5, 5));
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) return ctx.invalid("X has shape " + shape_str(x.shape()) + "; needs [N,C,...]");
  const bool spatial = ctx.node.attr_int("spatial", 1) != 0;
  const bool training = training_outputs && ctx.node.attr_int("training_mode", 0) != 0;
  for (size_t i = 1; i < ctx.node.outputs.size(); ++i) {
    if (output_wanted(ctx, i) && !training) {
      return ctx.unsupported("training outputs of BatchNormalization at opset " +
                             std::to_string(ctx.opset));
    }
  }
  const int64_t N = x.dim(0);
  const Shape stat_shape =
      spatial ? Shape{x.dim(1)} : Shape(x.shape().begin() + 1, x.shape().end());
  const int64_t C = shape_numel(stat_shape);
  const int64_t inner = spatial ? dims_product(x.shape(), 2, x.shape().size()) : 1;
  const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
  std::vector<std::vector<double>> p(5);
  for (size_t i = 1; i < 5; ++i) {
    const Tensor& t = *ctx.input(i);
    if (!dtype_is_float(t.dtype())) return need_type(ctx, i, kFloatTypes);
    if (t.shape() != stat_shape) {
      return ctx.invalid(std::string(names[i]) + " has shape " + shape_str(t.shape()) +
                         ", expected " + shape_str(stat_shape));
    }
    p[i] = as_doubles(t);
  }
  const double eps = ctx.node.attr_float("epsilon", 1e-5f);
  std::vector<double>& mean = p[3];
  std::vector<double>& var = p[4];
  return visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using Cm = compute_t<T>;
    const storage_t<T>* xd = x.data<storage_t<T>>();
    if (training) {
      // Batch statistics (population variance), blended into the running ones by momentum.
      const double momentum = ctx.node.attr_float("momentum", 0.9f);
      const double count = static_cast<double>(N * inner);
      std::vector<double> run_mean(static_cast<size_t>(C)), run_var(static_cast<size_t>(C));
      for (int64_t c = 0; c < C; ++c) {
        double s = 0.0, ss = 0.0;
        for (int64_t n = 0; n < N; ++n) {
          const storage_t<T>* q = xd + (n * C + c) * inner;
          for (int64_t i = 0; i < inner; ++i) s += load_as_double<T>(q[i]);
        }
        const double mu = count > 0 ? s / count : 0.0;
        for (int64_t n = 0; n < N; ++n) {
          const storage_t<T>* q = xd + (n * C + c) * inner;
          for (int64_t i = 0; i < inner; ++i) {
            const double d = load_as_double<T>(q[i]) - mu;
            ss += d * d;
          }
        }
        const double v = count > 0 ? ss / count : 0.0;
        run_mean[c] = mean[c] * momentum + mu * (1.0 - momentum);
        run_var[c] = var[c] * momentum + v * (1.0 - momentum);
        mean[c] = mu;
        var[c] = v;
      }
      if (output_wanted(ctx, 1)) {
        QT_ASSIGN_OR_RETURN(ctx.outputs[1],
                            tensor_from_doubles(ctx, ctx.input(3)->dtype(), stat_shape, run_mean));
      }
      if (output_wanted(ctx, 2)) {
        QT_ASSIGN_OR_RETURN(ctx.outputs[2],
                            tensor_from_doubles(ctx, ctx.input(4)->dtype(), stat_shape, run_var));
      }
    }
    std::vector<Cm> a(static_cast<size_t>(C)), b(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      const double inv = 1.0 / std::sqrt(var[c] + eps);
      a[c] = static_cast<Cm>(p[1][c] * inv);
      b[c] = static_cast<Cm>(p[2][c] - mean[c] * p[1][c] * inv);
    }
    Tensor y(x.dtype(), x.shape());
    storage_t<T>* yd = y.data<storage_t<T>>();
    parallel_ranges(N * C, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t c = r % C;
        const storage_t<T>* q = xd + r * inner;
        storage_t<T>* o = yd + r * inner;
        for (int64_t i = 0; i < inner; ++i) o[i] = st<T>(ld<T>(q[i]) * a[c] + b[c]);
      }
    }, rows_per_block(inner));
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// ------------------------------------------------------------------------- LayerNormalization

// Expands t (broadcastable to `shape`, aligned right) to a dense array of shape_numel(shape).
template <typename C>
bool expand_to(const Tensor& t, const Shape& shape, std::vector<C>* out) {
  if (t.rank() > static_cast<int64_t>(shape.size())) return false;
  const size_t off = shape.size() - static_cast<size_t>(t.rank());
  for (size_t i = 0; i < static_cast<size_t>(t.rank()); ++i) {
    if (t.dim(i) != 1 && t.dim(i) != shape[off + i]) return false;
  }
  const int64_t total = shape_numel(shape);
  out->assign(static_cast<size_t>(total), C{0});
  for (int64_t e = 0; e < total; ++e) {
    int64_t rem = e, si = 0, stride = 1;
    for (size_t i = shape.size(); i-- > off;) {
      const int64_t idx = rem % shape[i];
      rem /= shape[i];
      const int64_t td = t.dim(static_cast<int64_t>(i - off));
      if (td != 1) si += idx * stride;
      stride *= td;
    }
    (*out)[static_cast<size_t>(e)] = static_cast<C>(t.get_f64(si));
  }
  return true;
}

Status layer_norm(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 3));
  const Tensor& x = *ctx.input(0);
  const Tensor* scale = ctx.input(1);
  const Tensor* bias = has_input(ctx, 2) ? ctx.input(2) : nullptr;
  DType stash;
  if (!dtype_from_onnx(static_cast<int32_t>(ctx.node.attr_int("stash_type", 1)), &stash) ||
      (stash != DType::kF32 && stash != DType::kBF16)) {
    return ctx.invalid("stash_type " + std::to_string(ctx.node.attr_int("stash_type", 1)) +
                       " is neither float nor bfloat16");
  }
  QT_ASSIGN_OR_RETURN(const int64_t axis,
                      normalize_axis(ctx, ctx.node.attr_int("axis", -1), x.rank()));
  const double eps = ctx.node.attr_float("epsilon", 1e-5f);
  const Shape norm_shape(x.shape().begin() + axis, x.shape().end());
  const int64_t cols = shape_numel(norm_shape);
  const int64_t rows = dims_product(x.shape(), 0, static_cast<size_t>(axis));
  Shape stat_shape = x.shape();
  for (size_t i = static_cast<size_t>(axis); i < stat_shape.size(); ++i) stat_shape[i] = 1;
  std::vector<double> mean(static_cast<size_t>(rows)), inv(static_cast<size_t>(rows));
  QT_RETURN_IF_ERROR(visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using Cm = compute_t<T>;
    std::vector<Cm> s, b;
    if (!expand_to(*scale, norm_shape, &s)) {
      return ctx.invalid("Scale " + shape_str(scale->shape()) +
                         " does not broadcast to the normalised shape " + shape_str(norm_shape));
    }
    if (bias && !expand_to(*bias, norm_shape, &b)) {
      return ctx.invalid("B " + shape_str(bias->shape()) +
                         " does not broadcast to the normalised shape " + shape_str(norm_shape));
    }
    Tensor y(x.dtype(), x.shape());
    const storage_t<T>* xd = x.data<storage_t<T>>();
    storage_t<T>* yd = y.data<storage_t<T>>();
    parallel_ranges(rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const storage_t<T>* p = xd + r * cols;
        storage_t<T>* q = yd + r * cols;
        double sum = 0.0;
        for (int64_t j = 0; j < cols; ++j) sum += ld<T>(p[j]);
        const double mu = sum / static_cast<double>(cols);
        double ss = 0.0;
        for (int64_t j = 0; j < cols; ++j) ss += (ld<T>(p[j]) - mu) * (ld<T>(p[j]) - mu);
        const double iv = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
        const Cm muc = static_cast<Cm>(mu), ivc = static_cast<Cm>(iv);
        for (int64_t j = 0; j < cols; ++j) {
          const Cm v = (ld<T>(p[j]) - muc) * ivc * s[j];
          q[j] = st<T>(b.empty() ? v : v + b[j]);
        }
        mean[r] = mu;
        inv[r] = iv;
      }
    }, rows_per_block(cols));
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }));
  if (output_wanted(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(ctx.outputs[1], tensor_from_doubles(ctx, stash, stat_shape, mean));
  }
  if (output_wanted(ctx, 2)) {
    QT_ASSIGN_OR_RETURN(ctx.outputs[2], tensor_from_doubles(ctx, stash, stat_shape, inv));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------- InstanceNormalization

Status instance_norm(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, 3));
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 3) {
    return ctx.invalid("input has shape " + shape_str(x.shape()) + "; needs [N,C,D1,...]");
  }
  const int64_t N = x.dim(0), C = x.dim(1);
  const int64_t inner = dims_product(x.shape(), 2, x.shape().size());
  for (size_t i = 1; i < 3; ++i) {
    if (ctx.input(i)->shape() != Shape{C}) {
      return ctx.invalid(std::string(i == 1 ? "scale" : "B") + " has shape " +
                         shape_str(ctx.input(i)->shape()) + ", expected [" +
                         std::to_string(C) + "]");
    }
  }
  const std::vector<double> scale = as_doubles(*ctx.input(1)), bias = as_doubles(*ctx.input(2));
  const double eps = ctx.node.attr_float("epsilon", 1e-5f);
  return visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), x.shape());
    const storage_t<T>* xd = x.data<storage_t<T>>();
    storage_t<T>* yd = y.data<storage_t<T>>();
    parallel_ranges(N * C, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const storage_t<T>* p = xd + r * inner;
        storage_t<T>* q = yd + r * inner;
        double sum = 0.0, ss = 0.0;
        for (int64_t i = 0; i < inner; ++i) sum += load_as_double<T>(p[i]);
        const double mu = sum / static_cast<double>(inner);
        for (int64_t i = 0; i < inner; ++i) {
          const double d = load_as_double<T>(p[i]) - mu;
          ss += d * d;
        }
        const double a = scale[r % C] / std::sqrt(ss / static_cast<double>(inner) + eps);
        const double b = bias[r % C] - mu * a;
        for (int64_t i = 0; i < inner; ++i) q[i] = st<T>(load_as_double<T>(p[i]) * a + b);
      }
    }, rows_per_block(inner));
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// ------------------------------------------------------------------------------------ LRN

Status lrn(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 3) return ctx.invalid("X has shape " + shape_str(x.shape()) + "; needs [N,C,...]");
  const int64_t size = ctx.node.attr_int("size", 0);
  if (size <= 0) return ctx.invalid("size must be a positive integer");
  const double alpha = ctx.node.attr_float("alpha", 1e-4f);
  const double beta = ctx.node.attr_float("beta", 0.75f);
  const double bias = ctx.node.attr_float("bias", 1.0f);
  const int64_t N = x.dim(0), C = x.dim(1);
  const int64_t inner = dims_product(x.shape(), 2, x.shape().size());
  const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;  // floor and ceil of (size-1)/2
  return visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), x.shape());
    const storage_t<T>* xd = x.data<storage_t<T>>();
    storage_t<T>* yd = y.data<storage_t<T>>();
    parallel_ranges(N * C, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / C, c = r % C;
        const int64_t c0 = std::max<int64_t>(0, c - lo), c1 = std::min(C - 1, c + hi);
        for (int64_t i = 0; i < inner; ++i) {
          double ss = 0.0;
          for (int64_t k = c0; k <= c1; ++k) {
            const double v = load_as_double<T>(xd[(n * C + k) * inner + i]);
            ss += v * v;
          }
          const double v = load_as_double<T>(xd[r * inner + i]);
          const double denom = std::pow(bias + alpha / static_cast<double>(size) * ss, beta);
          yd[r * inner + i] = st<T>(v / denom);
        }
      }
    }, rows_per_block(inner * size));
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// -------------------------------------------------------------- MeanVarianceNormalization

// (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default N, H, W), as onnx's reference.
Status mean_variance_norm(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const int64_t rank = x.rank();
  QT_ASSIGN_OR_RETURN(const std::vector<int64_t> axes,
                      normalize_axes(ctx, ctx.node.attr_ints("axes", {0, 2, 3}), rank));
  std::vector<bool> reduce(static_cast<size_t>(rank), false);
  for (int64_t a : axes) reduce[static_cast<size_t>(a)] = true;
  const Shape& s = x.shape();
  const std::vector<int64_t> stride = contiguous_strides(s);
  // Each group of elements that share the non-reduced index is normalised together.
  Shape kept, red;
  std::vector<int64_t> kept_stride, red_stride;
  for (size_t i = 0; i < s.size(); ++i) {
    (reduce[i] ? red : kept).push_back(s[i]);
    (reduce[i] ? red_stride : kept_stride).push_back(stride[i]);
  }
  const int64_t groups = shape_numel(kept), count = shape_numel(red);
  auto offset = [](int64_t flat, const Shape& dims, const std::vector<int64_t>& strides) {
    int64_t off = 0;
    for (size_t k = dims.size(); k-- > 0;) {
      off += (flat % dims[k]) * strides[k];
      flat /= dims[k];
    }
    return off;
  };
  std::vector<int64_t> red_off(static_cast<size_t>(count));
  for (int64_t j = 0; j < count; ++j) red_off[static_cast<size_t>(j)] = offset(j, red, red_stride);
  return visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), s);
    const storage_t<T>* xd = x.data<storage_t<T>>();
    storage_t<T>* yd = y.data<storage_t<T>>();
    parallel_ranges(groups, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) {
        const int64_t base = offset(g, kept, kept_stride);
        double sum = 0.0, sq = 0.0;
        for (int64_t off : red_off) {
          const double v = load_as_double<T>(xd[base + off]);
          sum += v;
          sq += v * v;
        }
        const double mu = sum / static_cast<double>(count);
        const double sd = std::sqrt(std::max(0.0, sq / static_cast<double>(count) - mu * mu));
        for (int64_t off : red_off) {
          yd[base + off] = st<T>((load_as_double<T>(xd[base + off]) - mu) / (sd + 1e-9));
        }
      }
    }, rows_per_block(count));
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// -------------------------------------------------------------------------- LpNormalization

// x / ||x||_p along `axis`, p 1 or 2; an all-zero vector stays zero.
Status lp_norm(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const int64_t p = ctx.node.attr_int("p", 2);
  if (p != 1 && p != 2) return ctx.invalid("p must be 1 or 2, got " + std::to_string(p));
  QT_ASSIGN_OR_RETURN(const int64_t axis,
                      normalize_axis(ctx, ctx.node.attr_int("axis", -1), x.rank()));
  const int64_t n = x.dim(axis);
  const int64_t outer = dims_product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  return visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), x.shape());
    const storage_t<T>* xd = x.data<storage_t<T>>();
    storage_t<T>* yd = y.data<storage_t<T>>();
    parallel_ranges(outer * inner, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t base = (t / inner) * n * inner + t % inner;
        double norm = 0.0;
        for (int64_t j = 0; j < n; ++j) {
          const double v = load_as_double<T>(xd[base + j * inner]);
          norm += p == 1 ? std::fabs(v) : v * v;
        }
        if (p == 2) norm = std::sqrt(norm);
        for (int64_t j = 0; j < n; ++j) {
          const double v = load_as_double<T>(xd[base + j * inner]);
          yd[base + j * inner] = st<T>(norm == 0.0 ? 0.0 : v / norm);
        }
      }
    }, rows_per_block(n));
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// ------------------------------------------------------------------ Softmax, LogSoftmax, Hardmax

enum class SoftKind { kSoftmax, kLogSoftmax, kHardmax };

// One op over the middle dim of an [outer, n, inner] view, for outer rows [o0, o1). Float and
// double results are built in place; half types go through a row buffer in float.
template <SoftKind K, typename T>
void soft_rows(const storage_t<T>* x, storage_t<T>* y, int64_t o0, int64_t o1, int64_t n,
               int64_t inner) {
  using C = compute_t<T>;
  constexpr bool kInPlace = std::is_same_v<storage_t<T>, C>;
  std::vector<C> buf(kInPlace ? 0 : static_cast<size_t>(n * inner));
  if constexpr (K == SoftKind::kSoftmax && std::is_same_v<storage_t<T>, float>) {
    if (inner == 1) {
      softmax_rows_f32(x + o0 * n, y + o0 * n, o1 - o0, n);
      return;
    }
  }
  if (inner == 1 && K != SoftKind::kHardmax) {  // contiguous rows: running values in registers
    for (int64_t o = o0; o < o1; ++o) {
      const storage_t<T>* p = x + o * n;
      storage_t<T>* q = y + o * n;
      C mx = -std::numeric_limits<C>::infinity();
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, ld<T>(p[j]));
      C sum = 0;
      if constexpr (K == SoftKind::kSoftmax) {
        C* w;
        if constexpr (kInPlace) w = q;
        else w = buf.data();
        for (int64_t j = 0; j < n; ++j) {
          w[j] = std::exp(ld<T>(p[j]) - mx);
          sum += w[j];
        }
        const C inv = C{1} / sum;
        for (int64_t j = 0; j < n; ++j) {
          if constexpr (kInPlace) w[j] *= inv;
          else q[j] = st<T>(w[j] * inv);
        }
      } else {
        for (int64_t j = 0; j < n; ++j) sum += std::exp(ld<T>(p[j]) - mx);
        const C shift = mx + std::log(sum);
        for (int64_t j = 0; j < n; ++j) q[j] = st<T>(ld<T>(p[j]) - shift);
      }
    }
    return;
  }
  std::vector<C> mx(static_cast<size_t>(inner)), sum(static_cast<size_t>(inner));
  std::vector<int64_t> at(static_cast<size_t>(inner));
  for (int64_t o = o0; o < o1; ++o) {
    const storage_t<T>* p = x + o * n * inner;
    storage_t<T>* q = y + o * n * inner;
    C* w;
    if constexpr (kInPlace) w = q;
    else w = buf.data();
    std::fill(mx.begin(), mx.end(), -std::numeric_limits<C>::infinity());
    std::fill(at.begin(), at.end(), 0);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < inner; ++i) {
        const C v = ld<T>(p[j * inner + i]);
        if (v > mx[i]) {
          mx[i] = v;
          at[i] = j;
        }
      }
    }
    if constexpr (K == SoftKind::kHardmax) {
      // The first maximum of each column is 1, everything else 0.
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t i = 0; i < inner; ++i) q[j * inner + i] = st<T>(at[i] == j ? 1.0 : 0.0);
      }
      continue;
    }
    std::fill(sum.begin(), sum.end(), C{0});
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < inner; ++i) {
        const C e = std::exp(ld<T>(p[j * inner + i]) - mx[i]);
        if constexpr (K == SoftKind::kSoftmax) w[j * inner + i] = e;
        sum[i] += e;
      }
    }
    if constexpr (K == SoftKind::kSoftmax) {
      for (int64_t i = 0; i < inner; ++i) sum[i] = C{1} / sum[i];
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t i = 0; i < inner; ++i) {
          if constexpr (kInPlace) w[j * inner + i] *= sum[i];
          else q[j * inner + i] = st<T>(w[j * inner + i] * sum[i]);
        }
      }
    } else {
      for (int64_t i = 0; i < inner; ++i) sum[i] = mx[i] + std::log(sum[i]);
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t i = 0; i < inner; ++i) {
          q[j * inner + i] = st<T>(ld<T>(p[j * inner + i]) - sum[i]);
        }
      }
    }
  }
}

// Opsets 1-12 (`coerce_2d`) flatten the input to [outer, rest] at axis (default 1) and
// normalise each row; opset 13 normalises along the one axis (default -1).
template <SoftKind K, bool kCoerce2d>
Status soft_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const int64_t rank = x.rank();
  const Shape& s = x.shape();
  int64_t outer = 1, n = 1, inner = 1;
  if (rank > 0) {
    QT_ASSIGN_OR_RETURN(const int64_t axis,
                        normalize_axis(ctx, ctx.node.attr_int("axis", kCoerce2d ? 1 : -1), rank));
    outer = dims_product(s, 0, static_cast<size_t>(axis));
    if (kCoerce2d) {
      n = dims_product(s, static_cast<size_t>(axis), s.size());
    } else {
      n = s[static_cast<size_t>(axis)];
      inner = dims_product(s, static_cast<size_t>(axis) + 1, s.size());
    }
  }
  return visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), s);
    if (y.numel() > 0) {
      const storage_t<T>* xd = x.data<storage_t<T>>();
      storage_t<T>* yd = y.data<storage_t<T>>();
      parallel_ranges(outer, [&](int64_t o0, int64_t o1) {
        soft_rows<K, T>(xd, yd, o0, o1, n, inner);
      }, rows_per_block(n * inner));
    }
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// ------------------------------------------------------------------------------------ Dropout

// Inference is the identity with an all-true mask. Training mode (opset 12+, a true
// training_mode input and a ratio above 0) zeroes elements with probability `ratio` and scales
// the rest by 1 / (1 - ratio); the draw is seeded by the `seed` attribute when present.
template <bool kMaskIsBool>
Status dropout_impl(OpContext& ctx, bool training, double ratio) {
  const Tensor& x = *ctx.input(0);
  if (!(ratio >= 0.0 && ratio < 1.0)) {
    return ctx.invalid("ratio must be in [0, 1), got " + std::to_string(ratio));
  }
  const bool drop = training && ratio > 0.0;
  const bool want_mask = output_wanted(ctx, 1);
  Tensor mask;
  if (want_mask) mask = Tensor(kMaskIsBool ? DType::kBool : x.dtype(), x.shape());
  if (!drop) {
    ctx.outputs[0] = x;
    if (want_mask) {
      QT_RETURN_IF_ERROR(visit_any(mask.dtype(), ctx, [&](auto tag) -> Status {
        using T = typename decltype(tag)::type;
        std::fill_n(mask.data<storage_t<T>>(), mask.numel(), store_from_double<T>(1.0));
        return Status::Ok();
      }));
      ctx.outputs[1] = std::move(mask);
    }
    return Status::Ok();
  }
  std::mt19937_64 rng(ctx.node.has_attr("seed")
                          ? static_cast<uint64_t>(ctx.node.attr_int("seed", 0))
                          : std::random_device{}());
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double scale = 1.0 / (1.0 - ratio);
  return visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), x.shape());
    const storage_t<T>* xd = x.data<storage_t<T>>();
    storage_t<T>* yd = y.data<storage_t<T>>();
    uint8_t* md = want_mask ? mask.data<uint8_t>() : nullptr;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const bool keep = u(rng) >= ratio;
      yd[i] = st<T>(keep ? load_as_double<T>(xd[i]) * scale : 0.0);
      if (md) md[i] = keep ? 1 : 0;
    }
    ctx.outputs[0] = std::move(y);
    if (want_mask) ctx.outputs[1] = std::move(mask);
    return Status::Ok();
  });
}

// Opsets 7-11: ratio attribute, always inference; the mask has X's type until opset 10.
template <bool kMaskIsBool>
Status dropout_attr(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  return dropout_impl<kMaskIsBool>(ctx, false, ctx.node.attr_float("ratio", 0.5f));
}

// Opset 12+: optional ratio (default 0.5) and training_mode (default false) inputs.
Status dropout_inputs(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 3));
  double ratio = 0.5;
  bool training = false;
  if (has_input(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(ratio, scalar_f64(ctx, 1, "ratio"));
  }
  if (has_input(ctx, 2)) {
    QT_ASSIGN_OR_RETURN(const int64_t t, scalar_i64(ctx, 2, "training_mode"));
    training = t != 0;
  }
  return dropout_impl<true>(ctx, training, ratio);
}

const std::vector<DType> kHalfFloatTypes = {DType::kF32, DType::kF64, DType::kF16};

}  // namespace

void register_normalization_kernels(KernelRegistry& r) {
  // Opset 6 flags inference with is_test; its training mode is not implemented.
  r.add({"", "BatchNormalization", 6, 6, kHalfFloatTypes}, [](OpContext& ctx) {
    if (ctx.node.attr_int("is_test", 0) == 0) return ctx.unsupported("training mode (is_test=0)");
    return batch_norm(ctx, false);
  });
  r.add({"", "BatchNormalization", 7, 8, kHalfFloatTypes},
        [](OpContext& ctx) { return batch_norm(ctx, false); });
  r.add({"", "BatchNormalization", 9, 13, kHalfFloatTypes},
        [](OpContext& ctx) { return batch_norm(ctx, false); });
  r.add({"", "BatchNormalization", 14, 14, kFloatTypes},
        [](OpContext& ctx) { return batch_norm(ctx, true); });
  r.add({"", "BatchNormalization", 15, kLatestOpset, kFloatTypes},
        [](OpContext& ctx) { return batch_norm(ctx, true); });
  r.add({"", "LayerNormalization", 17, kLatestOpset, kFloatTypes}, layer_norm);
  r.add({"", "InstanceNormalization", 6, kLatestOpset, kHalfFloatTypes}, instance_norm);
  r.add({"", "LRN", 1, kLatestOpset, kFloatTypes}, lrn);
  r.add({"", "MeanVarianceNormalization", 9, kLatestOpset, kFloatTypes}, mean_variance_norm);
  r.add({"", "LpNormalization", 1, kLatestOpset, kHalfFloatTypes}, lp_norm);
  r.add({"", "Softmax", 1, 12, kHalfFloatTypes}, soft_op<SoftKind::kSoftmax, true>);
  r.add({"", "Softmax", 13, kLatestOpset, kFloatTypes}, soft_op<SoftKind::kSoftmax, false>);
  r.add({"", "LogSoftmax", 1, 12, kHalfFloatTypes}, soft_op<SoftKind::kLogSoftmax, true>);
  r.add({"", "LogSoftmax", 13, kLatestOpset, kFloatTypes}, soft_op<SoftKind::kLogSoftmax, false>);
  r.add({"", "Hardmax", 1, 12, kHalfFloatTypes}, soft_op<SoftKind::kHardmax, true>);
  r.add({"", "Hardmax", 13, kLatestOpset, kFloatTypes}, soft_op<SoftKind::kHardmax, false>);
  r.add({"", "Dropout", 7, 9, kHalfFloatTypes}, dropout_attr<false>);
  r.add({"", "Dropout", 10, 11, kHalfFloatTypes}, dropout_attr<true>);
  r.add({"", "Dropout", 12, 12, kHalfFloatTypes}, dropout_inputs);
  r.add({"", "Dropout", 13, kLatestOpset, kFloatTypes}, dropout_inputs);
}

}  // namespace qtune
