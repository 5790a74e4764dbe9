// Object-detection operators: RoiAlign (opset 10 with output_half_pixel coordinates, 16 with the
// coordinate_transformation_mode attribute), MaxRoiPool and NonMaxSuppression. Sampling follows
// the reference runtime the ONNX test data was produced with, including RoiAlign's max mode.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

const std::vector<DType> kRoiTypes = {DType::kF32, DType::kF64, DType::kF16};

// Reads a float tensor of any kRoiTypes element type as doubles.

// ------------------------------------------------------------------ RoiAlign

// One bilinear sample: four pixel offsets and weights (all zero outside the feature map).
struct Sample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

Sample bilinear_sample(double y, double x, int64_t height, int64_t width) {
  Sample s;
  if (y < -1.0 || y > height || x < -1.0 || x > width) return s;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  int64_t y_lo = static_cast<int64_t>(y), x_lo = static_cast<int64_t>(x), y_hi, x_hi;
  if (y_lo >= height - 1) {
    y_hi = y_lo = height - 1;
    y = static_cast<double>(y_lo);
  } else {
    y_hi = y_lo + 1;
  }
  if (x_lo >= width - 1) {
    x_hi = x_lo = width - 1;
    x = static_cast<double>(x_lo);
  } else {
    x_hi = x_lo + 1;
  }
  const double ly = y - y_lo, lx = x - x_lo, hy = 1 - ly, hx = 1 - lx;
  s.pos[0] = y_lo * width + x_lo;
  s.pos[1] = y_lo * width + x_hi;
  s.pos[2] = y_hi * width + x_lo;
  s.pos[3] = y_hi * width + x_hi;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

// half_pixel shifts ROI corners by half a pixel and lets ROIs shrink below one pixel;
// output_half_pixel (opset 10's only behaviour) keeps them at least a pixel wide.
Status roi_align_impl(OpContext& ctx, bool half_pixel) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, 3));
  const Tensor& x = *ctx.input(0);
  const Tensor& rois = *ctx.input(1);
  const Tensor& batch_idx = *ctx.input(2);
  QT_RETURN_IF_ERROR(need_type(ctx, 1, {x.dtype()}));
  if (x.rank() != 4) return ctx.invalid("X must be [N,C,H,W], got " + shape_str(x.shape()));
  if (rois.rank() != 2 || rois.dim(1) != 4) {
    return ctx.invalid("rois must be [num_rois, 4], got " + shape_str(rois.shape()));
  }
  if (batch_idx.rank() != 1 || batch_idx.dim(0) != rois.dim(0)) {
    return ctx.invalid("batch_indices must be [num_rois], got " + shape_str(batch_idx.shape()));
  }
  const std::string mode = ctx.node.attr_string("mode", "avg");
  if (mode != "avg" && mode != "max") return ctx.invalid("mode '" + mode + "' is not avg or max");
  const bool max_mode = mode == "max";
  const int64_t oh = ctx.node.attr_int("output_height", 1);
  const int64_t ow = ctx.node.attr_int("output_width", 1);
  const int64_t sampling = ctx.node.attr_int("sampling_ratio", 0);
  const double scale = ctx.node.attr_float("spatial_scale", 1.0f);
  if (oh < 1 || ow < 1 || sampling < 0) {
    return ctx.invalid("output_height/output_width must be positive, sampling_ratio not negative");
  }
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), R = rois.dim(0);
  const std::vector<int64_t> batches = batch_idx.to_i64_vector();
  for (int64_t b : batches) {
    if (b < 0 || b >= N) {
      return ctx.invalid("batch index " + std::to_string(b) + " is out of range");
    }
  }
  const std::vector<double> box = as_doubles(rois);
  ctx.outputs[0] = Tensor(x.dtype(), {R, C, oh, ow});
  const double offset = half_pixel ? 0.5 : 0.0;
  return visit_any(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    const S* src = x.data<S>();
    S* dst = ctx.outputs[0].data<S>();
    parallel_ranges(
        R,
        [&](int64_t rb, int64_t re) {
          std::vector<Sample> samples;
          for (int64_t r = rb; r < re; ++r) {
            const double* b = &box[r * 4];
            const double x0 = b[0] * scale - offset, y0 = b[1] * scale - offset;
            double rw = b[2] * scale - offset - x0, rh = b[3] * scale - offset - y0;
            if (!half_pixel) {
              rw = std::max(rw, 1.0);
              rh = std::max(rh, 1.0);
            }
            const double bin_h = rh / oh, bin_w = rw / ow;
            const int64_t gh = sampling > 0 ? sampling : static_cast<int64_t>(std::ceil(rh / oh));
            const int64_t gw = sampling > 0 ? sampling : static_cast<int64_t>(std::ceil(rw / ow));
            const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
            // The sample positions are the same for every channel.
            samples.clear();
            for (int64_t ph = 0; ph < oh; ++ph) {
              for (int64_t pw = 0; pw < ow; ++pw) {
                for (int64_t iy = 0; iy < gh; ++iy) {
                  const double yy = y0 + ph * bin_h + (iy + 0.5) * bin_h / gh;
                  for (int64_t ix = 0; ix < gw; ++ix) {
                    const double xx = x0 + pw * bin_w + (ix + 0.5) * bin_w / gw;
                    samples.push_back(bilinear_sample(yy, xx, H, W));
                  }
                }
              }
            }
            const size_t per_bin = static_cast<size_t>(gh * gw);
            for (int64_t c = 0; c < C; ++c) {
              const S* plane = src + (batches[r] * C + c) * H * W;
              S* out = dst + (r * C + c) * oh * ow;
              for (int64_t bin = 0; bin < oh * ow; ++bin) {
                double acc = 0;
                bool first = true;
                for (size_t k = 0; k < per_bin; ++k) {
                  const Sample& s = samples[bin * per_bin + k];
                  if (max_mode) {
                    double m = s.w[0] * load_as_double<T>(plane[s.pos[0]]);
                    for (int q = 1; q < 4; ++q) {
                      m = std::max(m, s.w[q] * load_as_double<T>(plane[s.pos[q]]));
                    }
                    acc = first ? m : std::max(acc, m);
                    first = false;
                  } else {
                    for (int q = 0; q < 4; ++q) acc += s.w[q] * load_as_double<T>(plane[s.pos[q]]);
                  }
                }
                out[bin] = store_from_double<T>(max_mode ? acc : acc / count);
              }
            }
          }
        },
        1);
    return Status::Ok();
  });
}

Status roi_align_v10(OpContext& ctx) { return roi_align_impl(ctx, false); }

Status roi_align_v16(OpContext& ctx) {
  const std::string c = ctx.node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (c != "half_pixel" && c != "output_half_pixel") {
    return ctx.invalid("coordinate_transformation_mode '" + c + "' is not valid");
  }
  return roi_align_impl(ctx, c == "half_pixel");
}

// ------------------------------------------------------------------ MaxRoiPool

Status max_roi_pool(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& x = *ctx.input(0);
  const Tensor& rois = *ctx.input(1);
  QT_RETURN_IF_ERROR(need_type(ctx, 1, {x.dtype()}));
  if (x.rank() != 4) return ctx.invalid("X must be [N,C,H,W], got " + shape_str(x.shape()));
  if (rois.rank() != 2 || rois.dim(1) != 5) {
    return ctx.invalid("rois must be [num_rois, 5], got " + shape_str(rois.shape()));
  }
  const std::vector<int64_t> pooled = ctx.node.attr_ints("pooled_shape");
  if (pooled.size() != 2 || pooled[0] < 1 || pooled[1] < 1) {
    return ctx.invalid("pooled_shape must hold two positive sizes");
  }
  const double scale = ctx.node.attr_float("spatial_scale", 1.0f);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), R = rois.dim(0);
  const int64_t ph_n = pooled[0], pw_n = pooled[1];
  const std::vector<double> box = as_doubles(rois);
  for (int64_t r = 0; r < R; ++r) {
    const int64_t b = static_cast<int64_t>(box[r * 5]);
    if (b < 0 || b >= N) {
      return ctx.invalid("roi batch index " + std::to_string(b) + " is out of range");
    }
  }
  ctx.outputs[0] = Tensor(x.dtype(), {R, C, ph_n, pw_n});
  return visit_any(x.dtype(), ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    const S* src = x.data<S>();
    S* dst = ctx.outputs[0].data<S>();
    parallel_ranges(
        R * C,
        [&](int64_t b, int64_t e) {
          for (int64_t rc = b; rc < e; ++rc) {
            const int64_t r = rc / C, c = rc % C;
            const double* roi = &box[r * 5];
            // Corners snap to whole pixels; a bin covers the pixels it overlaps.
            const int64_t x1 = std::llround(roi[1] * scale), y1 = std::llround(roi[2] * scale);
            const int64_t x2 = std::llround(roi[3] * scale), y2 = std::llround(roi[4] * scale);
            const double bin_h = static_cast<double>(std::max<int64_t>(y2 - y1 + 1, 1)) / ph_n;
            const double bin_w = static_cast<double>(std::max<int64_t>(x2 - x1 + 1, 1)) / pw_n;
            const S* plane = src + (static_cast<int64_t>(roi[0]) * C + c) * H * W;
            S* out = dst + rc * ph_n * pw_n;
            for (int64_t ph = 0; ph < ph_n; ++ph) {
              const int64_t hs =
                  std::clamp<int64_t>(static_cast<int64_t>(std::floor(ph * bin_h)) + y1, 0, H);
              const int64_t he =
                  std::clamp<int64_t>(static_cast<int64_t>(std::ceil((ph + 1) * bin_h)) + y1, 0, H);
              for (int64_t pw = 0; pw < pw_n; ++pw) {
                const int64_t ws =
                    std::clamp<int64_t>(static_cast<int64_t>(std::floor(pw * bin_w)) + x1, 0, W);
                const int64_t we = std::clamp<int64_t>(
                    static_cast<int64_t>(std::ceil((pw + 1) * bin_w)) + x1, 0, W);
                double m = 0;  // an empty bin is 0
                bool any = false;
                for (int64_t yy = hs; yy < he; ++yy) {
                  for (int64_t xx = ws; xx < we; ++xx) {
                    const double v = load_as_double<T>(plane[yy * W + xx]);
                    m = any ? std::max(m, v) : v;
                    any = true;
                  }
                }
                out[ph * pw_n + pw] = store_from_double<T>(m);
              }
            }
          }
        },
        1);
    return Status::Ok();
  });
}

// ------------------------------------------------------------------ NonMaxSuppression

struct Box {
  float y1, x1, y2, x2;  // y1 <= y2, x1 <= x2
  float area() const { return (y2 - y1) * (x2 - x1); }
};

// Overlap above the threshold; degenerate boxes never suppress.
bool suppresses(const Box& a, const Box& b, float iou_threshold) {
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  if (ih <= 0 || iw <= 0) return false;
  const float inter = ih * iw;
  const float area_a = a.area(), area_b = b.area();
  const float uni = area_a + area_b - inter;
  if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

Status non_max_suppression(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 5));
  const Tensor& boxes = *ctx.input(0);
  const Tensor& scores = *ctx.input(1);
  QT_RETURN_IF_ERROR(need_type(ctx, 1, {DType::kF32}));
  if (boxes.rank() != 3 || boxes.dim(2) != 4) {
    return ctx.invalid("boxes must be [batches, boxes, 4], got " + shape_str(boxes.shape()));
  }
  if (scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1)) {
    return ctx.invalid("scores " + shape_str(scores.shape()) + " do not match boxes " +
                       shape_str(boxes.shape()));
  }
  int64_t max_out = 0;
  float iou_threshold = 0, score_threshold = 0;
  const bool use_score_threshold = has_input(ctx, 4);
  if (has_input(ctx, 2)) {
    QT_ASSIGN_OR_RETURN(max_out, scalar_i64(ctx, 2, "max_output_boxes_per_class"));
  }
  if (has_input(ctx, 3)) {
    QT_ASSIGN_OR_RETURN(const double v, scalar_f64(ctx, 3, "iou_threshold"));
    iou_threshold = static_cast<float>(v);
    if (iou_threshold < 0 || iou_threshold > 1) {
      return ctx.invalid("iou_threshold must be in [0, 1]");
    }
  }
  if (use_score_threshold) {
    QT_ASSIGN_OR_RETURN(const double v, scalar_f64(ctx, 4, "score_threshold"));
    score_threshold = static_cast<float>(v);
  }
  const int64_t center = ctx.node.attr_int("center_point_box", 0);
  if (center != 0 && center != 1) return ctx.invalid("center_point_box must be 0 or 1");
  const int64_t B = boxes.dim(0), n = boxes.dim(1), classes = scores.dim(1);
  const float* bp = boxes.data<float>();
  const float* sp = scores.data<float>();
  std::vector<int64_t> selected;  // (batch, class, box) triples
  std::vector<Box> corner(static_cast<size_t>(n));
  std::vector<int64_t> order;
  std::vector<int64_t> kept;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < n; ++i) {
      const float* p = bp + (b * n + i) * 4;
      if (center) {  // [x_center, y_center, width, height]
        corner[i] = {p[1] - p[3] / 2, p[0] - p[2] / 2, p[1] + p[3] / 2, p[0] + p[2] / 2};
      } else {  // any two opposite corners [y1, x1, y2, x2]
        corner[i] = {std::min(p[0], p[2]), std::min(p[1], p[3]), std::max(p[0], p[2]),
                     std::max(p[1], p[3])};
      }
    }
    for (int64_t c = 0; c < classes && max_out > 0; ++c) {
      const float* s = sp + (b * classes + c) * n;
      order.clear();
      for (int64_t i = 0; i < n; ++i) {
        if (!use_score_threshold || s[i] > score_threshold) order.push_back(i);
      }
      // Highest score first; equal scores keep the lower box index first.
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t z) { return s[a] > s[z]; });
      kept.clear();
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= max_out) break;
        bool drop = false;
        for (int64_t k : kept) {
          if (suppresses(corner[k], corner[i], iou_threshold)) {
            drop = true;
            break;
          }
        }
        if (drop) continue;
        kept.push_back(i);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  }
  const int64_t count = static_cast<int64_t>(selected.size()) / 3;
  ctx.outputs[0] = Tensor(DType::kS64, {count, 3});
  std::copy(selected.begin(), selected.end(), ctx.outputs[0].data<int64_t>());
  return Status::Ok();
}

}  // namespace

void register_detection_kernels(KernelRegistry& r) {
  r.add({"", "RoiAlign", 10, 15, kRoiTypes}, roi_align_v10);
  r.add({"", "RoiAlign", 16, kLatestOpset, kRoiTypes}, roi_align_v16);
  r.add({"", "MaxRoiPool", 1, kLatestOpset, kRoiTypes}, max_roi_pool);
  r.add({"", "NonMaxSuppression", 10, kLatestOpset, {DType::kF32}}, non_max_suppression);
}

}  // namespace qtune
