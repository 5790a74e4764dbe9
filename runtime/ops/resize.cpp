// Image resampling operators: Resize (opset 10, 11-12, 13+), the deprecated Upsample (scales as
// attribute in 7-8, as input from 9) and GridSample. Resize is separable: each axis maps every
// output coordinate to at most four weighted input taps, and rows are combined from those taps.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

// ------------------------------------------------------------------ parameters

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord {
  kHalfPixel,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNN,
  kTfCropAndResize
};
enum class Round { kPreferFloor, kPreferCeil, kFloor, kCeil };

struct ResizeParams {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  Round round = Round::kPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
};

// Opset 11 added cubic; Upsample also spells linear "bilinear".
Result<Mode> parse_mode(const OpContext& ctx, const std::string& s, bool allow_cubic,
                        bool allow_bilinear) {
  if (s == "nearest") return Mode::kNearest;
  if (s == "linear" || (s == "bilinear" && allow_bilinear)) return Mode::kLinear;
  if (s == "cubic" && allow_cubic) return Mode::kCubic;
  return ctx.invalid("mode '" + s + "' is not supported by this opset");
}

Result<ResizeParams> parse_v11_params(const OpContext& ctx, bool tf_nn_ok) {
  ResizeParams p;
  const Node& n = ctx.node;
  QT_ASSIGN_OR_RETURN(p.mode, parse_mode(ctx, n.attr_string("mode", "nearest"), true, false));
  const std::string c = n.attr_string("coordinate_transformation_mode", "half_pixel");
  if (c == "half_pixel") p.coord = Coord::kHalfPixel;
  else if (c == "pytorch_half_pixel") p.coord = Coord::kPytorchHalfPixel;
  else if (c == "align_corners") p.coord = Coord::kAlignCorners;
  else if (c == "asymmetric") p.coord = Coord::kAsymmetric;
  else if (c == "tf_crop_and_resize") p.coord = Coord::kTfCropAndResize;
  else if (c == "tf_half_pixel_for_nn" && tf_nn_ok) p.coord = Coord::kTfHalfPixelForNN;
  else return ctx.invalid("coordinate_transformation_mode '" + c + "' is not valid at this opset");
  const std::string r = n.attr_string("nearest_mode", "round_prefer_floor");
  if (r == "round_prefer_floor") p.round = Round::kPreferFloor;
  else if (r == "round_prefer_ceil") p.round = Round::kPreferCeil;
  else if (r == "floor") p.round = Round::kFloor;
  else if (r == "ceil") p.round = Round::kCeil;
  else return ctx.invalid("nearest_mode '" + r + "' is not valid");
  p.cubic_a = n.attr_float("cubic_coeff_a", -0.75f);
  p.exclude_outside = n.attr_int("exclude_outside", 0) != 0;
  p.extrapolation = n.attr_float("extrapolation_value", 0.0f);
  return p;
}

// Opset 10 Resize and Upsample: asymmetric coordinates, nearest rounds down.
Result<ResizeParams> parse_legacy_params(const OpContext& ctx, bool allow_bilinear) {
  ResizeParams p;
  QT_ASSIGN_OR_RETURN(
      p.mode, parse_mode(ctx, ctx.node.attr_string("mode", "nearest"), false, allow_bilinear));
  p.coord = Coord::kAsymmetric;
  p.round = Round::kFloor;
  return p;
}

// ------------------------------------------------------------------ per-axis taps

// The input positions (already clamped into the axis) and weights one output coordinate reads,
// or `outside` when tf_crop_and_resize maps it beyond the input and it takes the extrapolation.
struct Taps {
  int n = 0;
  bool outside = false;
  std::array<int64_t, 4> idx{};
  std::array<double, 4> w{};
};

double cubic_weight(double d, double a) {  // Keys' kernel at distance |d|
  d = std::fabs(d);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

// Maps output coordinate x of an axis (input length `in`, `scale`, ROI [r0, r1]) onto the input.
double source_coord(const ResizeParams& p, int64_t x, int64_t in, double scale, double r0,
                    double r1) {
  const double out_len = scale * static_cast<double>(in);  // fractional, as the reference uses
  const double xd = static_cast<double>(x);
  switch (p.coord) {
    case Coord::kHalfPixel: return (xd + 0.5) / scale - 0.5;
    case Coord::kPytorchHalfPixel: return out_len > 1 ? (xd + 0.5) / scale - 0.5 : 0.0;
    case Coord::kAlignCorners: return out_len == 1 ? 0.0 : xd * (in - 1) / (out_len - 1);
    case Coord::kAsymmetric: return xd / scale;
    case Coord::kTfHalfPixelForNN: return (xd + 0.5) / scale;
    case Coord::kTfCropAndResize:
      return (out_len == 1 ? (r1 - r0) * (in - 1) / 2 : xd * (r1 - r0) * (in - 1) / (out_len - 1)) +
             r0 * (in - 1);
  }
  return 0.0;
}

std::vector<Taps> axis_taps(const ResizeParams& p, int64_t in, int64_t out, double scale, double r0,
                            double r1) {
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int64_t x = 0; x < out; ++x) {
    Taps& t = taps[x];
    const double src = source_coord(p, x, in, scale, r0, r1);
    if (p.coord == Coord::kTfCropAndResize && (src < 0 || src > static_cast<double>(in - 1))) {
      t.outside = true;
      continue;
    }
    const double fl = std::floor(src);
    const double frac = src - fl;
    const int64_t base = static_cast<int64_t>(fl);
    if (p.mode == Mode::kNearest) {
      bool up = false;
      if (frac != 0) {
        switch (p.round) {
          case Round::kPreferFloor: up = frac > 0.5; break;
          case Round::kPreferCeil: up = frac >= 0.5; break;
          case Round::kFloor: up = false; break;
          case Round::kCeil: up = true; break;
        }
      }
      t.n = 1;
      t.idx[0] = base + (up ? 1 : 0);
      t.w[0] = 1.0;
    } else if (p.mode == Mode::kLinear) {
      t.n = 2;
      t.idx = {base, base + 1, 0, 0};
      t.w = {1 - frac, frac, 0, 0};
    } else {
      t.n = 4;
      for (int k = 0; k < 4; ++k) {
        t.idx[k] = base - 1 + k;
        t.w[k] = cubic_weight(frac - (k - 1), p.cubic_a);
      }
    }
    if (p.exclude_outside) {
      double sum = 0;
      for (int k = 0; k < t.n; ++k) {
        if (t.idx[k] < 0 || t.idx[k] >= in) t.w[k] = 0;
        sum += t.w[k];
      }
      if (sum != 0) {
        for (int k = 0; k < t.n; ++k) t.w[k] /= sum;
      }
    }
    // Edge padding; taps with no weight are dropped.
    int kept = 0;
    for (int k = 0; k < t.n; ++k) {
      if (t.w[k] == 0 && !(kept == 0 && k == t.n - 1)) continue;
      t.idx[kept] = std::clamp<int64_t>(t.idx[k], 0, in - 1);
      t.w[kept] = t.w[k];
      ++kept;
    }
    t.n = kept;
  }
  return taps;
}

// ------------------------------------------------------------------ the resampler

template <typename T>
storage_t<T> from_acc(double v) {
  if constexpr (is_float_v<T> || std::is_same_v<T, Bool>) return store_from_double<T>(v);
  else return saturate_cast<T>(std::nearbyint(v));  // integer images round to nearest
}

// Resamples x into out (shape out_shape) with per-axis scales (and ROI for tf_crop_and_resize).
Status resample(const OpContext& ctx, const ResizeParams& p, const Tensor& x,
                const Shape& out_shape, const std::vector<double>& scales,
                const std::vector<double>& roi, Tensor* out) {
  const int64_t rank = x.rank();
  if (rank < 1) return ctx.invalid("input must have rank >= 1");
  std::vector<std::vector<Taps>> taps(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) {
    const double r0 = roi.empty() ? 0.0 : roi[d], r1 = roi.empty() ? 1.0 : roi[rank + d];
    if (x.dim(d) == 0 && out_shape[d] > 0) return ctx.invalid("cannot resize an empty axis");
    taps[d] = axis_taps(p, x.dim(d), out_shape[d], scales[d], r0, r1);
  }
  *out = Tensor(x.dtype(), out_shape);
  if (out->numel() == 0) return Status::Ok();
  const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  const int64_t width = out_shape[rank - 1];
  const int64_t rows = out->numel() / width;
  const std::vector<Taps>& xt = taps[rank - 1];

  // Each output row reads a weighted set of input rows: the product of its outer axes' taps.
  // Returns false when the row lies outside a tf_crop_and_resize ROI.
  auto row_taps = [&](int64_t row, std::vector<std::pair<int64_t, double>>* acc) {
    acc->assign(1, {0, 1.0});
    for (int64_t d = rank - 2; d >= 0; --d) {
      const Taps& t = taps[d][row % out_shape[d]];
      row /= out_shape[d];
      if (t.outside) return false;
      const size_t prev = acc->size();
      for (int k = 1; k < t.n; ++k) {
        for (size_t j = 0; j < prev; ++j) {
          acc->push_back({(*acc)[j].first + t.idx[k] * in_strides[d], (*acc)[j].second * t.w[k]});
        }
      }
      for (size_t j = 0; j < prev; ++j) {
        (*acc)[j].first += t.idx[0] * in_strides[d];
        (*acc)[j].second *= t.w[0];
      }
    }
    return true;
  };
  const int64_t min_rows = std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, width));

  if (p.mode == Mode::kNearest) {
    // Pure element movement, whatever the type; the extrapolation value needs a real type.
    return visit_any(x.dtype(), ctx, [&](auto tag) {
      using T = typename decltype(tag)::type;
      using S = storage_t<T>;
      const S* src = x.data<S>();
      S* dst = out->data<S>();
      const S fill = from_acc<T>(p.extrapolation);
      parallel_ranges(
          rows,
          [&](int64_t b, int64_t e) {
            std::vector<std::pair<int64_t, double>> rt;
            int64_t last_src = -1;
            for (int64_t r = b; r < e; ++r) {
              S* o = dst + r * width;
              if (!row_taps(r, &rt)) {
                std::fill(o, o + width, fill);
                last_src = -1;
                continue;
              }
              const int64_t base = rt[0].first;
              if (base == last_src) {  // same source row as the previous output row
                std::memcpy(o, o - width, static_cast<size_t>(width) * sizeof(S));
                continue;
              }
              const S* in = src + base;
              for (int64_t i = 0; i < width; ++i) o[i] = xt[i].outside ? fill : in[xt[i].idx[0]];
              last_src = base;
            }
          },
          min_rows);
      return Status::Ok();
    });
  }
  if (x.dtype() == DType::kBool) {
    return ctx.unsupported("linear and cubic modes need a numeric type");
  }
  return visit_any(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    // f32 images accumulate in float (the fast path); everything else in double.
    using Acc = std::conditional_t<std::is_same_v<T, float>, float, double>;
    const S* src = x.data<S>();
    S* dst = out->data<S>();
    const S fill = from_acc<T>(p.extrapolation);
    // f32 linear: the common image case reads two taps per axis from flat float tables.
    std::vector<int64_t> i0, i1;
    std::vector<float> w0, w1;
    bool flat = std::is_same_v<T, float> && p.mode == Mode::kLinear;
    for (const Taps& t : xt) flat = flat && !t.outside;
    if (flat) {
      for (const Taps& t : xt) {
        i0.push_back(t.idx[0]);
        i1.push_back(t.n > 1 ? t.idx[1] : t.idx[0]);
        w0.push_back(static_cast<float>(t.w[0]));
        w1.push_back(t.n > 1 ? static_cast<float>(t.w[1]) : 0.0f);
      }
    }
    parallel_ranges(
        rows,
        [&](int64_t b, int64_t e) {
          std::vector<std::pair<int64_t, double>> rt;
          for (int64_t r = b; r < e; ++r) {
            S* o = dst + r * width;
            if (!row_taps(r, &rt)) {
              std::fill(o, o + width, fill);
              continue;
            }
            if constexpr (std::is_same_v<T, float>) {
              if (flat) {
                std::fill(o, o + width, 0.0f);
                for (const auto& [off, wr] : rt) {
                  const float* in = src + off;
                  const float w = static_cast<float>(wr);
                  for (int64_t i = 0; i < width; ++i) {
                    o[i] += w * (w0[i] * in[i0[i]] + w1[i] * in[i1[i]]);
                  }
                }
                continue;
              }
            }
            for (int64_t i = 0; i < width; ++i) {
              const Taps& t = xt[i];
              if (t.outside) {
                o[i] = fill;
                continue;
              }
              Acc sum = 0;
              for (const auto& [off, wr] : rt) {
                const S* in = src + off;
                Acc s = 0;
                for (int k = 0; k < t.n; ++k) {
                  s += static_cast<Acc>(t.w[k]) * static_cast<Acc>(load_as_double<T>(in[t.idx[k]]));
                }
                sum += static_cast<Acc>(wr) * s;
              }
              if constexpr (std::is_same_v<T, float>) o[i] = sum;
              else o[i] = from_acc<T>(sum);
            }
          }
        },
        min_rows);
    return Status::Ok();
  });
}

// ------------------------------------------------------------------ Resize and Upsample

// Output shape from per-axis scales: floor(dim * scale), in float as libonnx infers it.
Result<Shape> scaled_shape(const OpContext& ctx, const Tensor& x,
                           const std::vector<double>& scales) {
  if (static_cast<int64_t>(scales.size()) != x.rank()) {
    return ctx.invalid(std::to_string(scales.size()) + " scales for an input of rank " +
                       std::to_string(x.rank()));
  }
  Shape out(x.shape());
  for (size_t d = 0; d < scales.size(); ++d) {
    if (!(scales[d] > 0)) return ctx.invalid("scales must be positive");
    out[d] = static_cast<int64_t>(
        std::floor(static_cast<float>(x.dim(d)) * static_cast<float>(scales[d])));
  }
  return out;
}

Result<std::vector<double>> float_list(const OpContext& ctx, size_t i, const char* name) {
  QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, name));
  if (t->dtype() != DType::kF32 && t->dtype() != DType::kF64 && t->dtype() != DType::kF16) {
    return ctx.invalid(std::string(name) + " must be a float tensor");
  }
  std::vector<double> v(static_cast<size_t>(t->numel()));
  for (int64_t k = 0; k < t->numel(); ++k) v[k] = t->get_f64(k);
  return v;
}

Status resize_by_scales(OpContext& ctx, const ResizeParams& p, const std::vector<double>& scales) {
  const Tensor& x = *ctx.input(0);
  QT_ASSIGN_OR_RETURN(const Shape out_shape, scaled_shape(ctx, x, scales));
  return resample(ctx, p, x, out_shape, scales, {}, &ctx.outputs[0]);
}

// Opset 10 Resize and opset 9+ Upsample: X and scales.
Status resize_scales_input(OpContext& ctx, bool upsample) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_ASSIGN_OR_RETURN(const ResizeParams p, parse_legacy_params(ctx, upsample));
  QT_ASSIGN_OR_RETURN(const std::vector<double> scales, float_list(ctx, 1, "scales"));
  if (upsample) {
    for (double s : scales) {
      if (s < 1) return ctx.invalid("Upsample scales must be >= 1");
    }
  }
  return resize_by_scales(ctx, p, scales);
}

Status resize_v10(OpContext& ctx) { return resize_scales_input(ctx, false); }
Status upsample_v9(OpContext& ctx) { return resize_scales_input(ctx, true); }

Status upsample_v7(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  QT_ASSIGN_OR_RETURN(const ResizeParams p, parse_legacy_params(ctx, true));
  if (!ctx.node.has_attr("scales")) return ctx.invalid("missing attribute scales");
  std::vector<double> scales;
  for (float s : ctx.node.attr_floats("scales")) {
    if (s < 1) return ctx.invalid("Upsample scales must be >= 1");
    scales.push_back(s);
  }
  return resize_by_scales(ctx, p, scales);
}

// Opset 11+: X, roi, scales, sizes; exactly one of scales and sizes is given (non-empty).
Status resize_v11_impl(OpContext& ctx, bool tf_nn_ok) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 4));
  const Tensor& x = *ctx.input(0);
  QT_ASSIGN_OR_RETURN(const ResizeParams p, parse_v11_params(ctx, tf_nn_ok));
  const int64_t rank = x.rank();
  std::vector<double> roi;
  if (p.coord == Coord::kTfCropAndResize) {
    if (!has_input(ctx, 1)) return ctx.invalid("tf_crop_and_resize needs the roi input");
    QT_ASSIGN_OR_RETURN(roi, float_list(ctx, 1, "roi"));
    if (static_cast<int64_t>(roi.size()) != 2 * rank) {
      return ctx.invalid("roi must hold " + std::to_string(2 * rank) + " values, got " +
                         std::to_string(roi.size()));
    }
  }
  const bool with_scales = has_input(ctx, 2) && ctx.input(2)->numel() > 0;
  const bool with_sizes = has_input(ctx, 3) && ctx.input(3)->numel() > 0;
  if (with_scales == with_sizes) return ctx.invalid("needs exactly one of scales and sizes");
  std::vector<double> scales;
  Shape out_shape;
  if (with_scales) {
    QT_ASSIGN_OR_RETURN(scales, float_list(ctx, 2, "scales"));
    QT_ASSIGN_OR_RETURN(out_shape, scaled_shape(ctx, x, scales));
  } else {
    QT_ASSIGN_OR_RETURN(out_shape, int_list_input(ctx, 3, "sizes"));
    if (static_cast<int64_t>(out_shape.size()) != rank) {
      return ctx.invalid(std::to_string(out_shape.size()) + " sizes for an input of rank " +
                         std::to_string(rank));
    }
    for (int64_t d = 0; d < rank; ++d) {
      if (out_shape[d] < 0) return ctx.invalid("sizes must not be negative");
      scales.push_back(x.dim(d) > 0 ? static_cast<double>(out_shape[d]) / x.dim(d) : 1.0);
    }
  }
  return resample(ctx, p, x, out_shape, scales, roi, &ctx.outputs[0]);
}

Status resize_v11(OpContext& ctx) { return resize_v11_impl(ctx, true); }
Status resize_v13(OpContext& ctx) { return resize_v11_impl(ctx, false); }

// ------------------------------------------------------------------ GridSample

enum class GridMode { kBilinear, kNearest, kBicubic };
enum class GridPad { kZeros, kBorder, kReflection };

// Reflects x into [lo, hi] (given doubled, so half-pixel bounds stay integral).
double reflect(double x, int64_t twice_lo, int64_t twice_hi) {
  if (twice_lo == twice_hi) return 0;
  const double lo = twice_lo / 2.0, span = (twice_hi - twice_lo) / 2.0;
  x = std::fabs(x - lo);
  const double extra = std::fmod(x, span);
  const int64_t flips = static_cast<int64_t>(std::floor(x / span));
  return flips % 2 == 0 ? extra + lo : span - extra + lo;
}

// Applies the padding mode to a source coordinate on an axis of `size`.
double pad_coord(double x, int64_t size, GridPad pad, bool align) {
  if (pad == GridPad::kBorder) return std::clamp(x, 0.0, static_cast<double>(size - 1));
  if (pad == GridPad::kReflection) {
    x = align ? reflect(x, 0, 2 * (size - 1)) : reflect(x, -1, 2 * size - 1);
    return std::clamp(x, 0.0, static_cast<double>(size - 1));
  }
  return x;
}

Status grid_sample(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& x = *ctx.input(0);
  const Tensor& grid = *ctx.input(1);
  QT_RETURN_IF_ERROR(need_type(ctx, 1, {DType::kF32, DType::kF64, DType::kF16}));
  if (x.rank() != 4 || grid.rank() != 4 || grid.dim(0) != x.dim(0) || grid.dim(3) != 2) {
    return ctx.invalid("expects X [N,C,H,W] and grid [N,H_out,W_out,2], got " +
                       shape_str(x.shape()) + " and " + shape_str(grid.shape()));
  }
  const std::string m = ctx.node.attr_string("mode", "bilinear");
  const std::string pm = ctx.node.attr_string("padding_mode", "zeros");
  GridMode mode;
  if (m == "bilinear") mode = GridMode::kBilinear;
  else if (m == "nearest") mode = GridMode::kNearest;
  else if (m == "bicubic") mode = GridMode::kBicubic;
  else return ctx.invalid("mode '" + m + "' is not valid");
  GridPad pad;
  if (pm == "zeros") pad = GridPad::kZeros;
  else if (pm == "border") pad = GridPad::kBorder;
  else if (pm == "reflection") pad = GridPad::kReflection;
  else return ctx.invalid("padding_mode '" + pm + "' is not valid");
  const bool align = ctx.node.attr_int("align_corners", 0) != 0;
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t Ho = grid.dim(1), Wo = grid.dim(2);
  std::vector<double> g(static_cast<size_t>(grid.numel()));
  for (int64_t i = 0; i < grid.numel(); ++i) g[i] = grid.get_f64(i);
  ctx.outputs[0] = Tensor(x.dtype(), {N, C, Ho, Wo});
  // Grid values in [-1, 1] span the corner pixels' centres (align_corners) or their outer edges.
  auto unnormalize = [&](double v, int64_t size) {
    return align ? (v + 1) / 2 * (size - 1) : ((v + 1) * size - 1) / 2;
  };
  return visit_any(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    const S* src = x.data<S>();
    S* dst = ctx.outputs[0].data<S>();
    parallel_ranges(
        N * C * Ho,
        [&](int64_t b, int64_t e) {
          for (int64_t row = b; row < e; ++row) {
            const int64_t oy = row % Ho, nc = row / Ho, n = nc / C;
            const S* plane = src + nc * H * W;
            auto at = [&](int64_t yy, int64_t xx) -> double {  // zero outside the image
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) return 0.0;
              return load_as_double<T>(plane[yy * W + xx]);
            };
            for (int64_t ox = 0; ox < Wo; ++ox) {
              const double* gp = &g[((n * Ho + oy) * Wo + ox) * 2];
              const double fx = unnormalize(gp[0], W), fy = unnormalize(gp[1], H);
              double v = 0;
              if (mode == GridMode::kBicubic) {
                // Padding applies to each of the 4x4 taps around the unpadded coordinate.
                const double x0 = std::floor(fx), y0 = std::floor(fy);
                const double tx = fx - x0, ty = fy - y0;
                for (int j = 0; j < 4; ++j) {
                  const double wy = cubic_weight(ty - (j - 1), -0.75);
                  double rowv = 0;
                  for (int i = 0; i < 4; ++i) {
                    const double px = pad_coord(x0 - 1 + i, W, pad, align);
                    const double py = pad_coord(y0 - 1 + j, H, pad, align);
                    rowv += cubic_weight(tx - (i - 1), -0.75) *
                            at(static_cast<int64_t>(py), static_cast<int64_t>(px));
                  }
                  v += wy * rowv;
                }
              } else {
                const double px = pad_coord(fx, W, pad, align), py = pad_coord(fy, H, pad, align);
                if (mode == GridMode::kNearest) {
                  v = at(static_cast<int64_t>(std::nearbyint(py)),
                         static_cast<int64_t>(std::nearbyint(px)));
                } else {
                  const double x0 = std::floor(px), y0 = std::floor(py);
                  const double tx = px - x0, ty = py - y0;
                  const int64_t ix = static_cast<int64_t>(x0), iy = static_cast<int64_t>(y0);
                  v = (1 - ty) * ((1 - tx) * at(iy, ix) + tx * at(iy, ix + 1)) +
                      ty * ((1 - tx) * at(iy + 1, ix) + tx * at(iy + 1, ix + 1));
                }
              }
              dst[row * Wo + ox] = from_acc<T>(v);
            }
          }
        },
        std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, Wo)));
    return Status::Ok();
  });
}

}  // namespace

void register_resize_kernels(KernelRegistry& r) {
  std::vector<DType> no_bf16;
  for (DType t : kAllTypes) {
    if (t != DType::kBF16) no_bf16.push_back(t);
  }
  r.add({"", "Resize", 10, 10, no_bf16}, resize_v10);
  r.add({"", "Resize", 11, 12, no_bf16}, resize_v11);
  r.add({"", "Resize", 13, kLatestOpset, kAllTypes}, resize_v13);
  r.add({"", "Upsample", 7, 8, no_bf16}, upsample_v7);
  r.add({"", "Upsample", 9, kLatestOpset, no_bf16}, upsample_v9);
  // libonnx 1.12 gives grid X's type, so only float images have meaningful grids.
  r.add({"", "GridSample", 16, kLatestOpset, {DType::kF32, DType::kF64, DType::kF16}},
        grid_sample);
}

}  // namespace qtune
