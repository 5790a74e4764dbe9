// Convolutions and matrix products of the reference executor: Conv, ConvTranspose, Gemm, MatMul.
// f32 convolutions over 1-2 spatial dims run on kernels/conv2d_f32.h, 3-D ones through im2col
// and gemm_f32; double, the integer products and N-D convolutions use generic loops; f16/bf16
// are computed through f32.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/conv_operands.h"
#include "runtime/op_util.h"
#include "kernels/conv2d_f32.h"
#include "kernels/gemm_f32.h"
#include "kernels/im2col_f32.h"

namespace qtune {
namespace {

constexpr size_t kMaxFastSpatial = 3;  // ConvGeometry3d's limit
const std::vector<DType> kConvTypes = {DType::kF32, DType::kF64, DType::kF16};

// Per-thread im2col buffer that only grows: reusing it avoids a fresh mmap and page faults for
// every image of every convolution.
float* col_buffer(int64_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < static_cast<size_t>(floats)) buf.resize(static_cast<size_t>(floats));
  return buf.data();
}

// Runs fn(t) for t in [0, count), in parallel when there is more than one task. Tasks are
// isolated: while a nested parallel GEMM inside one waits, its thread must not pick up another
// conv task (of this or a concurrently running graph), which would reuse the same per-thread
// scratch buffers.
template <typename Fn>
void for_each_task(int64_t count, Fn&& fn) {
  if (count == 1) {
    tbb::this_task_arena::isolate([&] { fn(0); });
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, count),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      tbb::this_task_arena::isolate([&] {
                        for (int64_t t = r.begin(); t != r.end(); ++t) fn(t);
                      });
                    });
}

// Every operand of the op shares input 0's element type (the schemas' single T).
Status same_type_as_first(const OpContext& ctx) {
  const DType t = ctx.input(0)->dtype();
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const Tensor* in = ctx.input(i);
    if (in && !in->empty() && in->dtype() != t) {
      return ctx.invalid("input " + std::to_string(i) + " has element type " +
                         dtype_str(in->dtype()) + ", input 0 has " + dtype_str(t));
    }
  }
  return Status::Ok();
}


// ------------------------------------------------------------------------------ generic GEMM

// Integers accumulate in their unsigned type: products wrap as two's complement, without UB.
template <typename T>
struct Acc {
  using type = T;
};
template <typename T>
  requires std::is_integral_v<T>
struct Acc<T> {
  using type = std::make_unsigned_t<T>;
};
template <typename T>
using acc_t = typename Acc<T>::type;

// c [M, N] = op(a) op(b), a stored [M, K] ([K, M] when ta), b [K, N] ([N, K] when tb).
template <typename T>
void gemm_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* a, int64_t lda,
              const T* b, int64_t ldb, T* c, int64_t ldc) {
  using A = acc_t<T>;
  parallel_ranges(M, [&](int64_t i0, int64_t i1) {
    std::vector<A> row(static_cast<size_t>(N));
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(row.begin(), row.end(), A(0));
      for (int64_t k = 0; k < K; ++k) {
        const A av = static_cast<A>(ta ? a[k * lda + i] : a[i * lda + k]);
        if (tb) {
          for (int64_t j = 0; j < N; ++j) row[j] += av * static_cast<A>(b[j * ldb + k]);
        } else {
          const T* br = b + k * ldb;
          for (int64_t j = 0; j < N; ++j) row[j] += av * static_cast<A>(br[j]);
        }
      }
      for (int64_t j = 0; j < N; ++j) c[i * ldc + j] = static_cast<T>(row[j]);
    }
  }, std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, N * K)));
}

template <typename T>
void gemm_any(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* a, int64_t lda,
              const T* b, int64_t ldb, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    gemm_f32(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  } else {
    gemm_ref<T>(ta, tb, M, N, K, a, lda, b, ldb, c, ldc);
  }
}

// ---------------------------------------------------------------------------------------- Conv

Status check_bias(const OpContext& ctx, const Tensor* b, int64_t m) {
  if (b && (b->rank() != 1 || b->dim(0) != m)) {
    return ctx.invalid("bias B has shape " + shape_str(b->shape()) + ", expected [" +
                       std::to_string(m) + "]");
  }
  return Status::Ok();
}

// f32 with 1-2 spatial dims: kernels/conv2d_f32.h, weights packed once per model when they are a
// graph constant (per call otherwise), the bias in its epilogue.
void conv_f32_2d(OpContext& ctx, const ConvOperands& ops, const Tensor& x, const Tensor& w,
                 const Tensor* b, Tensor& y) {
  QConvShape s;
  conv2d_shape(x, w, ops, &s);
  auto pack = [&] { return pack_conv_weights_f32(w.data<float>(), s); };
  std::shared_ptr<const PackedConvWeightsF32> packed =
      ctx.cache && ctx.input_is_constant(1)
          ? ctx.cache->get<PackedConvWeightsF32>(w.raw(), pack)
          : std::make_shared<const PackedConvWeightsF32>(pack());
  ConvF32Epilogue e;
  if (b) e.bias = b->data<float>();
  conv2d_f32(s, x.data<float>(), *packed, e, y.data<float>());
}

// f32 with 3 spatial dims: im2col + gemm_f32 per (image, group); a pointwise conv is a plain
// GEMM on X.
void conv_f32_3d(const ConvOperands& ops, const Tensor& x, const Tensor& w, const Tensor* b,
                 Tensor& y) {
  const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0), group = ops.group;
  const int64_t Cg = C / group, Mg = M / group;
  const ConvGeometry3d geo = geometry_3d(ops.in_sp, ops.k_sp, ops.geo, Cg);
  const int64_t IS = geo.in_size(), OS = geo.out_size(), Kg = Cg * geo.kernel_size();
  bool pointwise = true;
  for (size_t i = 0; i < ops.in_sp.size(); ++i) {
    pointwise = pointwise && ops.k_sp[i] == 1 && ops.geo.strides[i] == 1 &&
                ops.geo.pads[i] == 0 && ops.geo.out[i] == ops.in_sp[i];
  }
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* bd = b ? b->data<float>() : nullptr;
  float* yd = y.data<float>();
  for_each_task(N * group, [&](int64_t t) {
    const int64_t n = t / group, g = t % group;
    const float* xg = xd + (n * C + g * Cg) * IS;
    const float* bmat = xg;
    if (!pointwise) {
      float* col = col_buffer(Kg * OS);
      im2col_f32(geo, xg, col);
      bmat = col;
    }
    float* yg = yd + (n * M + g * Mg) * OS;
    gemm_f32(false, false, Mg, OS, Kg, 1.0f, wd + g * Mg * Kg, Kg, bmat, OS, 0.0f, yg, OS);
    if (bd) {
      for (int64_t m = 0; m < Mg; ++m) {
        const float bias = bd[g * Mg + m];
        float* row = yg + m * OS;
        for (int64_t j = 0; j < OS; ++j) row[j] += bias;
      }
    }
  });
}

// Any number of spatial dims: per (image, group) an N-D im2col and a GEMM.
template <typename T>
void conv_generic(const ConvOperands& ops, const Tensor& x, const Tensor& w, const Tensor* b,
                  Tensor& y) {
  const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0), group = ops.group;
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t IS = shape_numel(ops.in_sp), OS = shape_numel(ops.geo.out);
  const int64_t Kg = Cg * shape_numel(ops.k_sp);
  const T* xd = x.data<T>();
  const T* wd = w.data<T>();
  T* yd = y.data<T>();
  for_each_task(N * group, [&](int64_t t) {
    const int64_t n = t / group, g = t % group;
    std::vector<T> col(static_cast<size_t>(Kg * OS));
    im2col_nd<T>(ops.in_sp, ops.k_sp, ops.geo, Cg, xd + (n * C + g * Cg) * IS, T(0), col.data());
    T* yg = yd + (n * M + g * Mg) * OS;
    gemm_any<T>(false, false, Mg, OS, Kg, wd + g * Mg * Kg, Kg, col.data(), OS, yg, OS);
    if (b) {
      for (int64_t m = 0; m < Mg; ++m) {
        const T bias = b->data<T>()[g * Mg + m];
        for (int64_t j = 0; j < OS; ++j) yg[m * OS + j] += bias;
      }
    }
  });
}

Status conv(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 3));
  QT_RETURN_IF_ERROR(same_type_as_first(ctx));
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  if (is_half(x.dtype())) return run_in_f32(ctx, conv);
  const Tensor* b = has_input(ctx, 2) ? ctx.input(2) : nullptr;
  QT_ASSIGN_OR_RETURN(ConvOperands ops, check_conv_operands(ctx, x, w));
  QT_RETURN_IF_ERROR(check_bias(ctx, b, w.dim(0)));
  Shape y_shape{x.dim(0), w.dim(0)};
  y_shape.insert(y_shape.end(), ops.geo.out.begin(), ops.geo.out.end());
  Tensor y = Tensor::uninitialized(x.dtype(), y_shape);  // every path writes all of it
  if (y.numel() > 0) {
    if (x.dtype() == DType::kF64) {
      conv_generic<double>(ops, x, w, b, y);
    } else if (ops.in_sp.size() <= 2) {
      conv_f32_2d(ctx, ops, x, w, b, y);
    } else if (ops.in_sp.size() <= kMaxFastSpatial) {
      conv_f32_3d(ops, x, w, b, y);
    } else {
      conv_generic<float>(ops, x, w, b, y);
    }
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------------------- ConvTranspose

struct TransposeGeometry {
  Shape in_sp, k_sp, out_sp;
  std::vector<int64_t> strides, dilations, pad_begin;
};

// Output size and leading padding per the ConvTranspose spec: explicit pads, output_shape (the
// padding it implies is split as auto_pad says, the odd one at the start unless SAME_UPPER) or
// SAME_* (output = input * stride). Opsets 1-10 printed the split rule inverted, contradicting
// their own auto_pad text; ONNX fixed the formula in 11 and runtimes implement the 11 rule.
Result<TransposeGeometry> transpose_geometry(const OpContext& ctx, const Tensor& x,
                                             const Tensor& w) {
  const Node& node = ctx.node;
  const size_t nd = static_cast<size_t>(x.rank()) - 2;
  TransposeGeometry t;
  t.in_sp.assign(x.shape().begin() + 2, x.shape().end());
  t.k_sp.assign(w.shape().begin() + 2, w.shape().end());
  if (node.has_attr("kernel_shape") && node.attr_ints("kernel_shape") != t.k_sp) {
    return ctx.invalid("kernel_shape attribute disagrees with W " + shape_str(w.shape()));
  }
  t.strides = node.attr_ints("strides", std::vector<int64_t>(nd, 1));
  t.dilations = node.attr_ints("dilations", std::vector<int64_t>(nd, 1));
  const auto pads = node.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
  const auto out_pad = node.attr_ints("output_padding", std::vector<int64_t>(nd, 0));
  auto out_shape = node.attr_ints("output_shape");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (t.strides.size() != nd || t.dilations.size() != nd || pads.size() != 2 * nd ||
      out_pad.size() != nd) {
    return ctx.invalid("strides/dilations/pads/output_padding do not match the spatial rank");
  }
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" &&
      auto_pad != "VALID" && !auto_pad.empty()) {
    return ctx.invalid("unknown auto_pad '" + auto_pad + "'");
  }
  if (!out_shape.empty() && out_shape.size() != nd) {
    if (out_shape.size() != nd + 2) return ctx.invalid("output_shape must list the spatial dims");
    out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  }
  t.out_sp.assign(nd, 0);
  t.pad_begin.assign(nd, 0);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t in = t.in_sp[i], k = t.k_sp[i], s = t.strides[i], d = t.dilations[i];
    if (k < 1 || s < 1 || d < 1) return ctx.invalid("kernel, strides and dilations must be >= 1");
    if (out_pad[i] < 0) return ctx.invalid("output_padding must be >= 0");
    const int64_t full = s * (in - 1) + out_pad[i] + (k - 1) * d + 1;
    int64_t target = -1;
    if (!out_shape.empty()) {
      target = out_shape[i];
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      target = in * s;
    }
    if (target >= 0) {
      const int64_t total = full - target;
      // Floor division, as the spec's reference code; total is negative when output_shape
      // asks for more than the strides produce (the extra lands at the end).
      const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      t.pad_begin[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      t.out_sp[i] = target;
    } else if (auto_pad == "VALID") {
      t.out_sp[i] = full;
    } else {
      if (pads[i] < 0 || pads[i + nd] < 0) return ctx.invalid("pads must be >= 0");
      t.pad_begin[i] = pads[i];
      t.out_sp[i] = full - pads[i] - pads[i + nd];
    }
    if (t.out_sp[i] < 1) return ctx.invalid("output spatial dim would be < 1");
  }
  return t;
}

// f32 with 1-3 spatial dims: per (image, group) col = W_g^T x_g, then col2im into Y.
void conv_transpose_f32_fast(const TransposeGeometry& t, int64_t group, const Tensor& x,
                             const Tensor& w, const Tensor* b, Tensor& y) {
  const int64_t N = x.dim(0), C = x.dim(1), Cg = C / group, Mg = w.dim(1), M = Mg * group;
  // Conv geometry of the adjoint: it slides over Y and visits X's positions.
  ConvGeometry adj;
  adj.strides = t.strides;
  adj.dilations = t.dilations;
  adj.pads = t.pad_begin;
  adj.pads.insert(adj.pads.end(), t.pad_begin.begin(), t.pad_begin.end());
  adj.out = t.in_sp;
  const ConvGeometry3d geo = geometry_3d(t.out_sp, t.k_sp, adj, Mg);
  const int64_t IS = geo.out_size(), OS = geo.in_size(), Kg = Mg * geo.kernel_size();
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* bd = b ? b->data<float>() : nullptr;
  float* yd = y.data<float>();
  for_each_task(N * group, [&](int64_t task) {
    const int64_t n = task / group, g = task % group;
    float* yg = yd + (n * M + g * Mg) * OS;
    for (int64_t m = 0; m < Mg; ++m) {
      std::fill(yg + m * OS, yg + (m + 1) * OS, bd ? bd[g * Mg + m] : 0.0f);
    }
    if (IS == 0 || Cg == 0) return;
    float* col = col_buffer(Kg * IS);
    // W_g is [Cg, Kg]; col = W_g^T [Kg, Cg] x X_g [Cg, IS].
    gemm_f32(true, false, Kg, IS, Cg, 1.0f, wd + g * Cg * Kg, Kg, xd + (n * C + g * Cg) * IS, IS,
             0.0f, col, IS);
    col2im_add_f32(geo, col, yg);
  });
}

// Any number of spatial dims: every input pixel scatters its kernel-weighted values into Y.
// One task per output plane, so no two tasks write the same element.
template <typename T>
void conv_transpose_generic(const TransposeGeometry& t, int64_t group, const Tensor& x,
                            const Tensor& w, const Tensor* b, Tensor& y) {
  const int64_t N = x.dim(0), C = x.dim(1), Cg = C / group, Mg = w.dim(1), M = Mg * group;
  const size_t nd = t.in_sp.size();
  const int64_t IS = shape_numel(t.in_sp), OS = shape_numel(t.out_sp), KS = shape_numel(t.k_sp);
  // Per (input pixel, tap): the output offset, or -1 where it falls into the padding.
  std::vector<int64_t> target(static_cast<size_t>(IS * KS));
  std::vector<int64_t> ic(nd, 0), kc(nd);
  for (int64_t i = 0; i < IS; ++i) {
    for (int64_t k = 0; k < KS; ++k) {
      int64_t rem = k, off = 0;
      for (size_t d = nd; d-- > 0;) {
        kc[d] = rem % t.k_sp[d];
        rem /= t.k_sp[d];
      }
      for (size_t d = 0; d < nd && off >= 0; ++d) {
        const int64_t pos = ic[d] * t.strides[d] - t.pad_begin[d] + kc[d] * t.dilations[d];
        off = pos < 0 || pos >= t.out_sp[d] ? -1 : off * t.out_sp[d] + pos;
      }
      target[i * KS + k] = off;
    }
    for (size_t d = nd; d-- > 0;) {
      if (++ic[d] < t.in_sp[d]) break;
      ic[d] = 0;
    }
  }
  const T* xd = x.data<T>();
  const T* wd = w.data<T>();
  T* yd = y.data<T>();
  for_each_task(N * M, [&](int64_t plane) {
    const int64_t n = plane / M, oc = plane % M, g = oc / Mg, m = oc % Mg;
    T* yp = yd + plane * OS;
    std::fill(yp, yp + OS, b ? b->data<T>()[oc] : T(0));
    for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c) {
      const T* xp = xd + (n * C + c) * IS;
      const T* wp = wd + (c * Mg + m) * KS;
      for (int64_t i = 0; i < IS; ++i) {
        const int64_t* tgt = target.data() + i * KS;
        for (int64_t k = 0; k < KS; ++k) {
          if (tgt[k] >= 0) yp[tgt[k]] += xp[i] * wp[k];
        }
      }
    }
  });
}

Status conv_transpose(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 3));
  QT_RETURN_IF_ERROR(same_type_as_first(ctx));
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  if (is_half(x.dtype())) return run_in_f32(ctx, conv_transpose);
  const Tensor* b = has_input(ctx, 2) ? ctx.input(2) : nullptr;
  if (x.rank() < 3) return ctx.invalid("X has shape " + shape_str(x.shape()) + "; needs [N,C,spatial...]");
  if (w.rank() != x.rank()) {
    return ctx.invalid("W has shape " + shape_str(w.shape()) + ", rank differs from X " +
                       shape_str(x.shape()));
  }
  const int64_t group = ctx.node.attr_int("group", 1);
  const int64_t C = x.dim(1);
  if (group < 1) return ctx.invalid("group must be >= 1");
  if (w.dim(0) != C || C % group != 0) {
    return ctx.invalid("X has " + std::to_string(C) + " channels but W has shape " +
                       shape_str(w.shape()) + " with group " + std::to_string(group));
  }
  const int64_t M = w.dim(1) * group;
  QT_RETURN_IF_ERROR(check_bias(ctx, b, M));
  QT_ASSIGN_OR_RETURN(TransposeGeometry t, transpose_geometry(ctx, x, w));
  Shape y_shape{x.dim(0), M};
  y_shape.insert(y_shape.end(), t.out_sp.begin(), t.out_sp.end());
  Tensor y(x.dtype(), y_shape);
  if (y.numel() > 0) {
    if (x.dtype() == DType::kF64) {
      conv_transpose_generic<double>(t, group, x, w, b, y);
    } else if (t.in_sp.size() <= kMaxFastSpatial) {
      conv_transpose_f32_fast(t, group, x, w, b, y);
    } else {
      conv_transpose_generic<float>(t, group, x, w, b, y);
    }
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------- Gemm

// What differs between Gemm versions: C is required before opset 11, and before 7 it only
// broadcasts when the `broadcast` attribute says so.
struct GemmForm {
  bool c_optional = false;
  bool broadcast_attr = false;
};

const std::vector<DType> kGemmIntTypes = {DType::kS32, DType::kS64, DType::kU32, DType::kU64};

// y = alpha * y + beta * C for the non-f32 types; y already holds A x B. Integer types stay
// exact (wrapping) when alpha and beta are whole numbers.
template <typename T>
void gemm_epilogue(T* y, int64_t M, int64_t N, double alpha, double beta, const T* c,
                   int64_t cm, int64_t cn) {
  const bool exact = std::is_integral_v<T> && alpha == std::floor(alpha) &&
                     beta == std::floor(beta);
  using A = acc_t<T>;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      T& out = y[i * N + j];
      const T cv = c ? c[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)] : T(0);
      if constexpr (std::is_integral_v<T>) {
        if (exact) {
          out = static_cast<T>(static_cast<A>(static_cast<int64_t>(alpha)) * static_cast<A>(out) +
                               static_cast<A>(static_cast<int64_t>(beta)) * static_cast<A>(cv));
          continue;
        }
        out = saturate_cast<T>(alpha * static_cast<double>(out) + beta * static_cast<double>(cv));
      } else {
        out = static_cast<T>(alpha * out + beta * cv);
      }
    }
  }
}

Status gemm(OpContext& ctx, GemmForm form) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, form.c_optional ? 2 : 3, 3));
  QT_RETURN_IF_ERROR(same_type_as_first(ctx));
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  if (is_half(a.dtype())) {
    return run_in_f32(ctx, [form](OpContext& c) { return gemm(c, form); });
  }
  const Tensor* c = has_input(ctx, 2) ? ctx.input(2) : nullptr;
  if (a.rank() != 2 || b.rank() != 2) {
    return ctx.invalid("A " + shape_str(a.shape()) + " and B " + shape_str(b.shape()) +
                       " must be 2-D");
  }
  const bool ta = ctx.node.attr_int("transA", 0) != 0, tb = ctx.node.attr_int("transB", 0) != 0;
  const float alpha = ctx.node.attr_float("alpha", 1.0f), beta = ctx.node.attr_float("beta", 1.0f);
  const int64_t M = ta ? a.dim(1) : a.dim(0), K = ta ? a.dim(0) : a.dim(1);
  const int64_t Kb = tb ? b.dim(1) : b.dim(0), N = tb ? b.dim(0) : b.dim(1);
  if (K != Kb) {
    return ctx.invalid("inner dims differ: A " + shape_str(a.shape()) + (ta ? " (transposed)" : "") +
                       ", B " + shape_str(b.shape()) + (tb ? " (transposed)" : ""));
  }
  // C broadcasts unidirectionally to [M, N].
  int64_t cm = 1, cn = 1;
  if (c) {
    if (c->rank() > 2) return ctx.invalid("C " + shape_str(c->shape()) + " has rank > 2");
    cm = c->rank() == 2 ? c->dim(0) : 1;
    cn = c->rank() >= 1 ? c->dim(c->rank() - 1) : 1;
    const bool full = c->rank() == 2 && cm == M && cn == N;
    const bool no_broadcast = form.broadcast_attr && ctx.node.attr_int("broadcast", 0) == 0;
    if ((cm != 1 && cm != M) || (cn != 1 && cn != N) || (no_broadcast && !full)) {
      return ctx.invalid("C " + shape_str(c->shape()) + " does not " +
                         (no_broadcast ? "equal [" : "broadcast to [") + std::to_string(M) + "," +
                         std::to_string(N) + "]");
    }
  }
  Tensor y(a.dtype(), {M, N});
  if (a.dtype() == DType::kF32) {
    float* yd = y.data<float>();
    float eff_beta = 0.0f;
    if (c && beta != 0.0f) {
      const float* cd = c->data<float>();
      for (int64_t i = 0; i < M; ++i) {
        for (int64_t j = 0; j < N; ++j) yd[i * N + j] = cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
      }
      eff_beta = beta;
    }
    gemm_f32(ta, tb, M, N, K, alpha, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1),
             eff_beta, yd, N);
  } else {
    QT_RETURN_IF_ERROR(visit_numeric(a.dtype(), ctx, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* yd = y.data<T>();
      gemm_ref<T>(ta, tb, M, N, K, a.data<T>(), a.dim(1), b.data<T>(), b.dim(1), yd, N);
      // beta 0 ignores C, NaNs included, as on the f32 path.
      const T* cd = c && beta != 0.0f ? c->data<T>() : nullptr;
      gemm_epilogue<T>(yd, M, N, alpha, cd ? beta : 0.0, cd, cm, cn);
      return Status::Ok();
    }));
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// -------------------------------------------------------------------------------------- MatMul

void matmul_f32(const MatMulPlan& p, const float* ad, const float* bd, float* yd) {
  const int64_t M = p.m, N = p.n, K = p.k, batches = p.batches();
  bool stacked = shape_numel(p.b_batch) == 1;  // B shared and A's batches in order
  for (int64_t t = 0; t < batches && stacked; ++t) stacked = p.a_index[t] == t;
  if (stacked) {
    // One tall GEMM over the stacked rows of A.
    gemm_f32(false, false, batches * M, N, K, 1.0f, ad, K, bd, N, 0.0f, yd, N);
    return;
  }
  auto one = [&](int64_t t) {
    gemm_f32(false, false, M, N, K, 1.0f, ad + p.a_index[t] * M * K, K, bd + p.b_index[t] * K * N,
             N, 0.0f, yd + t * M * N, N);
  };
  if (batches == 1 || M * N * K * batches < (int64_t{1} << 16)) {
    for (int64_t t = 0; t < batches; ++t) one(t);
  } else {
    for_each_task(batches, one);
  }
}

Status matmul(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_RETURN_IF_ERROR(same_type_as_first(ctx));
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  if (is_half(a.dtype())) return run_in_f32(ctx, matmul);
  QT_ASSIGN_OR_RETURN(MatMulPlan p, plan_matmul(ctx, a.shape(), b.shape()));
  Tensor y(a.dtype(), p.out_shape);
  if (y.numel() > 0) {
    if (a.dtype() == DType::kF32) {
      matmul_f32(p, a.data<float>(), b.data<float>(), y.data<float>());
    } else {
      QT_RETURN_IF_ERROR(visit_numeric(a.dtype(), ctx, [&](auto tag) {
        using T = typename decltype(tag)::type;
        for (int64_t t = 0; t < p.batches(); ++t) {
          gemm_ref<T>(false, false, p.m, p.n, p.k, a.data<T>() + p.a_index[t] * p.m * p.k, p.k,
                      b.data<T>() + p.b_index[t] * p.k * p.n, p.n, y.data<T>() + t * p.m * p.n,
                      p.n);
        }
        return Status::Ok();
      }));
    }
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

}  // namespace

void register_nn_kernels(KernelRegistry& r) {
  // Conv and ConvTranspose keep their semantics from opset 1 (11 only clarified the text).
  r.add({"", "Conv", 1, kLatestOpset, kConvTypes}, conv);
  r.add({"", "ConvTranspose", 1, kLatestOpset, kConvTypes}, conv_transpose);
  // Gemm: `broadcast` attribute until 6, integer types from 9, optional C from 11, bf16 from 13.
  std::vector<DType> gemm_types = kConvTypes;
  gemm_types.insert(gemm_types.end(), kGemmIntTypes.begin(), kGemmIntTypes.end());
  std::vector<DType> gemm_types_13 = gemm_types;
  gemm_types_13.push_back(DType::kBF16);
  r.add({"", "Gemm", 1, 6, kConvTypes}, [](OpContext& c) { return gemm(c, {false, true}); });
  r.add({"", "Gemm", 7, 8, kConvTypes}, [](OpContext& c) { return gemm(c, {false, false}); });
  r.add({"", "Gemm", 9, 10, gemm_types}, [](OpContext& c) { return gemm(c, {false, false}); });
  r.add({"", "Gemm", 11, 12, gemm_types}, [](OpContext& c) { return gemm(c, {true, false}); });
  r.add({"", "Gemm", 13, kLatestOpset, gemm_types_13},
        [](OpContext& c) { return gemm(c, {true, false}); });
  // MatMul: integer types from 9, bf16 from 13.
  r.add({"", "MatMul", 1, 8, kConvTypes}, matmul);
  r.add({"", "MatMul", 9, 12, gemm_types}, matmul);
  r.add({"", "MatMul", 13, kLatestOpset, gemm_types_13}, matmul);
}

}  // namespace qtune
