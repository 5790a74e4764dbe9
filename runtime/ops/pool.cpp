// Pooling operators of the reference executor: MaxPool (with Indices), AveragePool, LpPool, their
// Global forms and MaxUnpool. Windows over 1-3 spatial dims are walked as [D,H,W] with unit dims
// in front, more dims by a generic odometer; output sizes come from the shared conv_geometry
// rule, as libonnx infers them.
// f32/f64 (and s8/u8 for MaxPool) are computed directly, f16 through f32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/maxpool_f32.h"
#include "runtime/conv_operands.h"
#include "runtime/op_util.h"

namespace qtune {
namespace {

constexpr int kMaxSpatial = 3;
const std::vector<DType> kPoolTypes = {DType::kF32, DType::kF64, DType::kF16};

// For every output position along one dim: where its window starts in the input and which taps
// [lo, hi) land inside the input; [plo, phi) are the taps inside input + padding
// (count_include_pad). Computed once per op call and shared by all planes.
struct Taps {
  std::vector<int64_t> start, lo, hi, plo, phi;
};

Taps make_taps(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  Taps t;
  for (int64_t o = 0; o < out; ++o) {
    const int64_t st = o * s - pb;
    auto first_at_least = [&](int64_t bound) {
      int64_t j = 0;
      while (j < k && st + j * d < bound) ++j;
      return j;
    };
    auto end_below = [&](int64_t bound, int64_t from) {
      int64_t j = k;
      while (j > from && st + (j - 1) * d >= bound) --j;
      return j;
    };
    const int64_t lo = first_at_least(0), plo = first_at_least(-pb);
    t.start.push_back(st);
    t.lo.push_back(lo);
    t.hi.push_back(end_below(in, lo));
    t.plo.push_back(plo);
    t.phi.push_back(end_below(in + pe, plo));
  }
  return t;
}

// Spatial dims as the loops walk them: 1-3 dims padded to [D,H,W] with unit dims in front,
// more dims as they are.
struct PoolPlan {
  int64_t n = 0, c = 0;
  Shape out_shape;
  Shape in, out;
  std::vector<int64_t> kernel, stride, dilation, pad_begin;
  std::vector<Taps> taps;
  int64_t planes() const { return n * c; }
  int64_t in_size() const { return shape_numel(in); }
  int64_t out_size() const { return shape_numel(out); }
  bool generic() const { return in.size() > kMaxSpatial; }
};

// Reads kernel_shape/strides/dilations/pads/auto_pad (and ceil_mode) for X [N, C, spatial...].
Result<PoolPlan> plan_pool(const OpContext& ctx, const Tensor& x) {
  if (x.rank() < 3) return ctx.invalid("X has shape " + shape_str(x.shape()) + "; needs [N,C,spatial...]");
  if (!ctx.node.has_attr("kernel_shape")) return ctx.invalid("missing required attribute kernel_shape");
  const size_t nd = static_cast<size_t>(x.rank()) - 2;
  const Shape in_sp(x.shape().begin() + 2, x.shape().end());
  const Shape kernel = ctx.node.attr_ints("kernel_shape");
  QT_ASSIGN_OR_RETURN(ConvGeometry geo, conv_geometry(ctx.node, in_sp, kernel,
                                                      ctx.node.attr_int("ceil_mode", 0) != 0));
  PoolPlan p;
  p.n = x.dim(0);
  p.c = x.dim(1);
  p.out_shape = {p.n, p.c};
  p.out_shape.insert(p.out_shape.end(), geo.out.begin(), geo.out.end());
  const size_t walked = std::max<size_t>(nd, kMaxSpatial), off = walked - nd;
  p.in.assign(walked, 1);
  p.out.assign(walked, 1);
  p.kernel.assign(walked, 1);
  p.stride.assign(walked, 1);
  p.dilation.assign(walked, 1);
  p.pad_begin.assign(walked, 0);
  for (size_t i = 0; i < nd; ++i) {
    p.in[off + i] = in_sp[i];
    p.out[off + i] = geo.out[i];
    p.kernel[off + i] = kernel[i];
    p.stride[off + i] = geo.strides[i];
    p.dilation[off + i] = geo.dilations[i];
    p.pad_begin[off + i] = geo.pads[i];
  }
  for (size_t i = 0; i < walked; ++i) {
    const int64_t pe = i >= off ? geo.pads[i - off + nd] : 0;
    p.taps.push_back(make_taps(p.in[i], p.out[i], p.kernel[i], p.stride[i], p.dilation[i],
                               p.pad_begin[i], pe));
  }
  return p;
}

// Calls fn(plane) for every [N*C] plane, in parallel when the work is large.
template <typename Fn>
void for_each_plane(const PoolPlan& p, Fn&& fn) {
  const int64_t work = std::max<int64_t>(1, p.out_size() * shape_numel(p.kernel));
  parallel_ranges(p.planes(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) fn(i);
  }, std::max<int64_t>(1, kMinParallelElements / work));
}

// More than three spatial dims: for every output position o of a plane, calls
// tap(row-major offset, column-major offset) for each window tap inside the input, then
// done(o, taps inside the input, taps inside input + padding).
template <typename Tap, typename Done>
void walk_windows_nd(const PoolPlan& P, Tap&& tap, Done&& done) {
  const size_t nd = P.in.size();
  const std::vector<int64_t> rs = contiguous_strides(P.in);
  std::vector<int64_t> cs(nd, 1), oc(nd, 0), kc(nd);
  for (size_t d = 1; d < nd; ++d) cs[d] = cs[d - 1] * P.in[d - 1];
  for (int64_t o = 0; o < P.out_size(); ++o) {
    int64_t inside = 1, padded = 1;
    for (size_t d = 0; d < nd; ++d) {
      const Taps& t = P.taps[d];
      inside *= t.hi[oc[d]] - t.lo[oc[d]];
      padded *= t.phi[oc[d]] - t.plo[oc[d]];
      kc[d] = t.lo[oc[d]];
    }
    for (int64_t k = 0; k < inside; ++k) {
      int64_t row = 0, col = 0;
      for (size_t d = 0; d < nd; ++d) {
        const int64_t pos = P.taps[d].start[oc[d]] + kc[d] * P.dilation[d];
        row += pos * rs[d];
        col += pos * cs[d];
      }
      tap(row, col);
      for (size_t d = nd; d-- > 0;) {
        if (++kc[d] < P.taps[d].hi[oc[d]]) break;
        kc[d] = P.taps[d].lo[oc[d]];
      }
    }
    done(o, inside, padded);
    for (size_t d = nd; d-- > 0;) {
      if (++oc[d] < P.out[d]) break;
      oc[d] = 0;
    }
  }
}

// ------------------------------------------------------------------------------------ MaxPool

// The larger of a and b, NaN only when both are.
template <typename T>
inline T max_skip_nan(T a, T b) {
  return b > a || a != a ? b : a;
}

template <typename T>
constexpr T lowest_value() {
  return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                               : std::numeric_limits<T>::lowest();
}

// Max of every window of one plane; `indices` (when kIndices) gets base + the flat offset of
// the maximum within the plane, row-major or (col_major) column-major.
template <typename T, bool kIndices>
void max_pool_plane(const PoolPlan& P, const T* x, T* y, int64_t* indices, int64_t base,
                    bool col_major) {
  T best = lowest_value<T>();
  int64_t at = -1;
  // NaN never wins (as the ONNX reference skips it); the first other tap does.
  auto visit = [&](T v, int64_t row, int64_t col) {
    if constexpr (kIndices) {
      if (v > best || (at < 0 && v == v)) {
        best = v;
        at = col_major ? col : row;
      }
    } else {
      best = max_skip_nan(best, v);
    }
  };
  auto emit = [&](int64_t o) {
    y[o] = best;
    if constexpr (kIndices) indices[o] = base + std::max<int64_t>(at, 0);
    best = lowest_value<T>();
    at = -1;
  };
  if (P.generic()) {
    walk_windows_nd(P, [&](int64_t row, int64_t col) { visit(x[row], row, col); },
                    [&](int64_t o, int64_t, int64_t) { emit(o); });
    return;
  }
  const Taps &td = P.taps[0], &th = P.taps[1], &tw = P.taps[2];
  const int64_t D = P.in[0], H = P.in[1], W = P.in[2];
  const int64_t dd = P.dilation[0], dh = P.dilation[1], dw = P.dilation[2];
  int64_t o = 0;
  for (int64_t od = 0; od < P.out[0]; ++od) {
    for (int64_t oh = 0; oh < P.out[1]; ++oh) {
      for (int64_t ow = 0; ow < P.out[2]; ++ow, ++o) {
        for (int64_t kd = td.lo[od]; kd < td.hi[od]; ++kd) {
          const int64_t id = td.start[od] + kd * dd;
          for (int64_t kh = th.lo[oh]; kh < th.hi[oh]; ++kh) {
            const int64_t ih = th.start[oh] + kh * dh;
            const T* row = x + (id * H + ih) * W;
            for (int64_t kw = tw.lo[ow]; kw < tw.hi[ow]; ++kw) {
              const int64_t iw = tw.start[ow] + kw * dw;
              if constexpr (kIndices) {
                visit(row[iw], (id * H + ih) * W + iw, id + ih * D + iw * D * H);
              } else {
                best = max_skip_nan(best, row[iw]);
              }
            }
          }
        }
        emit(o);
      }
    }
  }
}

// One plane of a 1-D/2-D pool without Indices: per output row, the maximum over the kernel rows
// inside the image of each column (into `row`, which holds the lowest value where the padding
// is), then each window's maximum over its columns. Both steps are branch-free maxima over
// contiguous data that the compiler vectorizes. NaN never wins, as in max_pool_plane; the same
// result but for which of +0 and -0 a window of both gives.
template <typename T>
void max_pool_plane_rows(const PoolPlan& P, const T* x, T* y, std::vector<T>& row) {
  const Taps& th = P.taps[1];
  const int64_t W = P.in[2], OH = P.out[1], OW = P.out[2];
  const int64_t kw = P.kernel[2], sw = P.stride[2], dw = P.dilation[2], dh = P.dilation[1];
  const int64_t pl = P.pad_begin[2];
  // row[j] is input column j - pl, for every column some window reads.
  const int64_t span = (OW - 1) * sw + (kw - 1) * dw + 1;
  const int64_t c1 = std::min(W, span - pl);
  row.resize(static_cast<size_t>(span));
  T* r = row.data();
  for (int64_t oh = 0; oh < OH; ++oh) {
    std::fill(r, r + span, lowest_value<T>());
    for (int64_t kh = th.lo[oh]; kh < th.hi[oh]; ++kh) {
      const T* src = x + (th.start[oh] + kh * dh) * W;
      T* dst = r + pl;
      for (int64_t c = 0; c < c1; ++c) dst[c] = src[c] > dst[c] ? src[c] : dst[c];
    }
    T* out = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T* w = r + ow * sw;
      T best = w[0];
      for (int64_t k = 1; k < kw; ++k) best = w[k * dw] > best ? w[k * dw] : best;
      out[ow] = best;
    }
  }
}

template <typename T>
Status max_pool_typed(OpContext& ctx, const Tensor& x, const PoolPlan& plan) {
  Tensor y(x.dtype(), plan.out_shape);
  const bool want_indices = ctx.outputs.size() > 1 && ctx.node.outputs.size() > 1 &&
                            !ctx.node.outputs[1].empty();
  Tensor idx;
  if (want_indices) idx = Tensor(DType::kS64, plan.out_shape);
  const bool col_major = ctx.node.attr_int("storage_order", 0) != 0;
  const int64_t IS = plan.in_size(), OS = plan.out_size();
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  int64_t* id = want_indices ? idx.data<int64_t>() : nullptr;
  // The common 2x2/stride-2 unpadded 2-D pool gets a branch-free loop.
  const PoolPlan& g = plan;
  const bool pool2x2 = !g.generic() && g.in[0] == 1 && g.kernel[0] == 1 && !id &&
                       g.kernel[1] == 2 && g.kernel[2] == 2 && g.stride[1] == 2 &&
                       g.stride[2] == 2 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
                       g.pad_begin[1] == 0 && g.pad_begin[2] == 0 && 2 * g.out[1] <= g.in[1] &&
                       2 * g.out[2] <= g.in[2];
  // Other 1-D/2-D pools go row by row.
  const bool rows = !g.generic() && g.in[0] == 1 && g.kernel[0] == 1;
  if (OS > 0) {
    for_each_plane(plan, [&](int64_t p) {
      if (pool2x2 && std::is_same_v<T, float>) {
        maxpool2x2_f32(g.in[2], g.out[1], g.out[2], reinterpret_cast<const float*>(xd + p * IS),
                       reinterpret_cast<float*>(yd + p * OS));
      } else if (pool2x2) {
        const int64_t W = g.in[2], OH = g.out[1], OW = g.out[2];
        for (int64_t oh = 0; oh < OH; ++oh) {
          const T* r0 = xd + p * IS + 2 * oh * W;
          const T* r1 = r0 + W;
          T* out = yd + p * OS + oh * OW;
          for (int64_t ow = 0; ow < OW; ++ow) {
            const T a = max_skip_nan(r0[2 * ow], r0[2 * ow + 1]);
            const T b = max_skip_nan(r1[2 * ow], r1[2 * ow + 1]);
            out[ow] = max_skip_nan(a, b);
          }
        }
      } else if (id) {
        max_pool_plane<T, true>(plan, xd + p * IS, yd + p * OS, id + p * OS, p * IS, col_major);
      } else if (rows) {
        thread_local std::vector<T> row;
        max_pool_plane_rows<T>(plan, xd + p * IS, yd + p * OS, row);
      } else {
        max_pool_plane<T, false>(plan, xd + p * IS, yd + p * OS, nullptr, 0, false);
      }
    });
  }
  ctx.outputs[0] = std::move(y);
  if (want_indices) ctx.outputs[1] = std::move(idx);
  return Status::Ok();
}

Status max_pool(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.dtype() == DType::kF16) return run_in_f32(ctx, max_pool);
  QT_ASSIGN_OR_RETURN(PoolPlan plan, plan_pool(ctx, x));
  switch (x.dtype()) {
    case DType::kF32: return max_pool_typed<float>(ctx, x, plan);
    case DType::kF64: return max_pool_typed<double>(ctx, x, plan);
    case DType::kU8: return max_pool_typed<uint8_t>(ctx, x, plan);
    case DType::kS8: return max_pool_typed<int8_t>(ctx, x, plan);
    default: return ctx.unsupported("X has element type " + dtype_str(x.dtype()));
  }
}

// -------------------------------------------------------------------- AveragePool and LpPool

// Reduces every window of every plane: acc = step(acc, x) over the taps inside the input, then
// y = finish(acc, taps inside the input, taps inside input + padding).
template <typename T, typename Step, typename Finish>
void window_reduce(const PoolPlan& P, const T* xd, T* yd, Step step, Finish finish) {
  const int64_t IS = P.in_size(), OS = P.out_size();
  if (OS == 0) return;
  if (P.generic()) {
    for_each_plane(P, [&](int64_t p) {
      const T* xp = xd + p * IS;
      T acc = 0;
      walk_windows_nd(P, [&](int64_t row, int64_t) { acc = step(acc, xp[row]); },
                      [&](int64_t o, int64_t inside, int64_t padded) {
                        yd[p * OS + o] = finish(acc, inside, padded);
                        acc = 0;
                      });
    });
    return;
  }
  const Taps &td = P.taps[0], &th = P.taps[1], &tw = P.taps[2];
  const int64_t H = P.in[1], W = P.in[2];
  for_each_plane(P, [&](int64_t p) {
    const T* xp = xd + p * IS;
    T* yp = yd + p * OS;
    int64_t o = 0;
    for (int64_t od = 0; od < P.out[0]; ++od) {
      for (int64_t oh = 0; oh < P.out[1]; ++oh) {
        for (int64_t ow = 0; ow < P.out[2]; ++ow, ++o) {
          T acc = 0;
          for (int64_t kd = td.lo[od]; kd < td.hi[od]; ++kd) {
            const int64_t id = td.start[od] + kd * P.dilation[0];
            for (int64_t kh = th.lo[oh]; kh < th.hi[oh]; ++kh) {
              const T* row = xp + (id * H + th.start[oh] + kh * P.dilation[1]) * W;
              for (int64_t kw = tw.lo[ow]; kw < tw.hi[ow]; ++kw) {
                acc = step(acc, row[tw.start[ow] + kw * P.dilation[2]]);
              }
            }
          }
          const int64_t inside = (td.hi[od] - td.lo[od]) * (th.hi[oh] - th.lo[oh]) *
                                 (tw.hi[ow] - tw.lo[ow]);
          const int64_t padded = (td.phi[od] - td.plo[od]) * (th.phi[oh] - th.plo[oh]) *
                                 (tw.phi[ow] - tw.plo[ow]);
          yp[o] = finish(acc, inside, padded);
        }
      }
    }
  });
}

template <typename T>
Status average_pool_typed(OpContext& ctx, const Tensor& x, const PoolPlan& plan) {
  const bool include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  Tensor y(x.dtype(), plan.out_shape);
  window_reduce<T>(plan, x.data<T>(), y.data<T>(), [](T acc, T v) { return acc + v; },
                   [&](T acc, int64_t inside, int64_t padded) {
                     const int64_t count = include_pad ? padded : inside;
                     return count > 0 ? acc / static_cast<T>(count) : T(0);
                   });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status average_pool(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.dtype() == DType::kF16) return run_in_f32(ctx, average_pool);
  QT_ASSIGN_OR_RETURN(PoolPlan plan, plan_pool(ctx, x));
  if (x.dtype() == DType::kF64) return average_pool_typed<double>(ctx, x, plan);
  return average_pool_typed<float>(ctx, x, plan);
}

// Lp norm of every window: (sum |x|^p)^(1/p); padding adds nothing.
template <typename T>
Status lp_pool_typed(OpContext& ctx, const Tensor& x, const PoolPlan& plan, double p) {
  Tensor y(x.dtype(), plan.out_shape);
  const T pt = static_cast<T>(p), inv = static_cast<T>(1.0 / p);
  window_reduce<T>(plan, x.data<T>(), y.data<T>(),
                   [&](T acc, T v) { return acc + std::pow(std::fabs(v), pt); },
                   [&](T acc, int64_t, int64_t) { return std::pow(acc, inv); });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// LpPool-1 and GlobalLpPool-1 take p as a float attribute, later versions as an int.
double lp_exponent(const OpContext& ctx, bool float_p) {
  return float_p ? ctx.node.attr_float("p", 2.0f) : static_cast<double>(ctx.node.attr_int("p", 2));
}

Status lp_pool(OpContext& ctx, bool float_p) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.dtype() == DType::kF16) {
    return run_in_f32(ctx, [float_p](OpContext& c) { return lp_pool(c, float_p); });
  }
  const double p = lp_exponent(ctx, float_p);
  if (!(p > 0)) return ctx.invalid("p must be positive");
  QT_ASSIGN_OR_RETURN(PoolPlan plan, plan_pool(ctx, x));
  if (x.dtype() == DType::kF64) return lp_pool_typed<double>(ctx, x, plan, p);
  return lp_pool_typed<float>(ctx, x, plan, p);
}

// ---------------------------------------------------------------------------- Global pools

enum class Global { kAverage, kMax, kLp };

// Reduces all spatial positions of every [N, C] plane to one value; an empty plane gives NaN
// (average), -inf (max) or 0 (Lp).
template <typename T>
Status global_pool_typed(OpContext& ctx, const Tensor& x, Global kind, double p) {
  Shape y_shape = x.shape();
  for (size_t i = 2; i < y_shape.size(); ++i) y_shape[i] = 1;
  Tensor y(x.dtype(), y_shape);
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t size = planes == 0 ? 0 : x.numel() / planes;
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  parallel_ranges(planes, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T* xp = xd + i * size;
      double acc = kind == Global::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
      for (int64_t j = 0; j < size; ++j) {
        const double v = xp[j];
        if (kind == Global::kAverage) acc += v;
        else if (kind == Global::kMax) acc = v > acc || std::isnan(v) ? v : acc;
        else acc += std::pow(std::fabs(v), p);
      }
      if (kind == Global::kAverage) {
        acc = size > 0 ? acc / static_cast<double>(size) : std::numeric_limits<double>::quiet_NaN();
      } else if (kind == Global::kLp) {
        acc = std::pow(acc, 1.0 / p);
      }
      yd[i] = static_cast<T>(acc);
    }
  }, std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, size)));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status global_pool(OpContext& ctx, Global kind, bool float_p) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.dtype() == DType::kF16) {
    return run_in_f32(ctx, [=](OpContext& c) { return global_pool(c, kind, float_p); });
  }
  if (x.rank() < 2) return ctx.invalid("X has shape " + shape_str(x.shape()) + "; needs [N,C,...]");
  const double p = kind == Global::kLp ? lp_exponent(ctx, float_p) : 1.0;
  if (!(p > 0)) return ctx.invalid("p must be positive");
  if (x.dtype() == DType::kF64) return global_pool_typed<double>(ctx, x, kind, p);
  return global_pool_typed<float>(ctx, x, kind, p);
}

// ---------------------------------------------------------------------------------- MaxUnpool

// Scatters X into zeros at the flat positions I (as MaxPool's Indices output gives them) of the
// unpooled shape [N, C, (in-1)*stride - pads + kernel...]. A larger output_shape input keeps
// that block at its start and fills the rest with zeros, as the ONNX reference does.
Status max_unpool(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 3));
  const Tensor& x = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  QT_RETURN_IF_ERROR(need_type(ctx, 1, {DType::kS64}));
  if (x.rank() < 3) return ctx.invalid("X has shape " + shape_str(x.shape()) + "; needs [N,C,spatial...]");
  if (ind.shape() != x.shape()) {
    return ctx.invalid("indices " + shape_str(ind.shape()) + " do not match X " + shape_str(x.shape()));
  }
  const size_t nd = static_cast<size_t>(x.rank()) - 2;
  if (!ctx.node.has_attr("kernel_shape")) return ctx.invalid("missing required attribute kernel_shape");
  const auto kernel = ctx.node.attr_ints("kernel_shape");
  const auto strides = ctx.node.attr_ints("strides", std::vector<int64_t>(nd, 1));
  const auto pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (kernel.size() != nd || strides.size() != nd || pads.size() != 2 * nd) {
    return ctx.invalid("kernel_shape, strides and pads must match the " + std::to_string(nd) +
                       " spatial dims of X");
  }
  Shape unpooled{x.dim(0), x.dim(1)};
  for (size_t i = 0; i < nd; ++i) {
    unpooled.push_back((x.dim(i + 2) - 1) * strides[i] - pads[i] - pads[i + nd] + kernel[i]);
    if (unpooled.back() < 0) return ctx.invalid("unpooled shape " + shape_str(unpooled) + " is negative");
  }
  Shape y_shape = unpooled;
  if (has_input(ctx, 2)) {
    QT_ASSIGN_OR_RETURN(y_shape, int_list_input(ctx, 2, "output_shape"));
    bool fits = y_shape.size() == unpooled.size();
    for (size_t i = 0; fits && i < y_shape.size(); ++i) fits = y_shape[i] >= unpooled[i];
    if (!fits) {
      return ctx.invalid("output_shape " + shape_str(y_shape) + " is smaller than the unpooled " +
                         shape_str(unpooled));
    }
  }
  const int64_t limit = shape_numel(unpooled);
  const int64_t* id = ind.data<int64_t>();
  std::vector<int64_t> target(static_cast<size_t>(ind.numel()));
  for (int64_t i = 0; i < ind.numel(); ++i) {
    if (id[i] < 0 || id[i] >= limit) {
      return ctx.invalid("index " + std::to_string(id[i]) + " is outside the unpooled " +
                         shape_str(unpooled));
    }
    // The same coordinates in the (possibly larger) output.
    int64_t rem = id[i], off = 0, scale = 1;
    for (size_t d = unpooled.size(); d-- > 0;) {
      off += (rem % unpooled[d]) * scale;
      rem /= unpooled[d];
      scale *= y_shape[d];
    }
    target[i] = off;
  }
  Tensor y(x.dtype(), y_shape);
  std::memset(y.raw(), 0, y.nbytes());
  QT_RETURN_IF_ERROR(visit_by_size(x.dtype(), ctx, [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* xd = x.data<U>();
    U* yd = y.data<U>();
    for (int64_t i = 0; i < x.numel(); ++i) yd[target[i]] = xd[i];
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

}  // namespace

void register_pool_kernels(KernelRegistry& r) {
  // MaxPool: Indices and storage_order from 8, ceil_mode and dilations from 10, s8/u8 from 12.
  std::vector<DType> max_types = kPoolTypes;
  max_types.insert(max_types.end(), {DType::kS8, DType::kU8});
  r.add({"", "MaxPool", 1, 7, kPoolTypes}, max_pool);
  r.add({"", "MaxPool", 8, 9, kPoolTypes}, max_pool);
  r.add({"", "MaxPool", 10, 11, kPoolTypes}, max_pool);
  r.add({"", "MaxPool", 12, kLatestOpset, max_types}, max_pool);
  // AveragePool: count_include_pad from 7, ceil_mode from 10.
  r.add({"", "AveragePool", 1, 6, kPoolTypes}, average_pool);
  r.add({"", "AveragePool", 7, 9, kPoolTypes}, average_pool);
  r.add({"", "AveragePool", 10, kLatestOpset, kPoolTypes}, average_pool);
  r.add({"", "LpPool", 1, 1, kPoolTypes}, [](OpContext& c) { return lp_pool(c, true); });
  r.add({"", "LpPool", 2, kLatestOpset, kPoolTypes}, [](OpContext& c) { return lp_pool(c, false); });
  r.add({"", "GlobalAveragePool", 1, kLatestOpset, kPoolTypes},
        [](OpContext& c) { return global_pool(c, Global::kAverage, false); });
  r.add({"", "GlobalMaxPool", 1, kLatestOpset, kPoolTypes},
        [](OpContext& c) { return global_pool(c, Global::kMax, false); });
  r.add({"", "GlobalLpPool", 1, 1, kPoolTypes},
        [](OpContext& c) { return global_pool(c, Global::kLp, true); });
  r.add({"", "GlobalLpPool", 2, kLatestOpset, kPoolTypes},
        [](OpContext& c) { return global_pool(c, Global::kLp, false); });
  r.add({"", "MaxUnpool", 9, kLatestOpset, kPoolTypes}, max_unpool);
}

}  // namespace qtune
