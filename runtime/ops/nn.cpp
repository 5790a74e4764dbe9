// fp32 compute ops of the reference executor: Conv, ConvTranspose, Gemm, MatMul and pooling.
// Convolutions run per (image, group) on gemm_f32: 1-D/2-D as an implicit GEMM over the image,
// 3-D through im2col; pooling handles 1-3 spatial dims by padding the geometry with unit dims.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "runtime/kernel_registry.h"
#include "kernels/gemm_f32.h"
#include "kernels/im2col_f32.h"

namespace qtune {
namespace {

constexpr int kMaxSpatial = 3;  // ConvGeometry3d's limit

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

// Spatial geometry shared by Conv and the pools, before it is padded to three dims.
struct Window {
  int nd = 0;
  std::vector<int64_t> in, out, kernel, stride, dilation, pad_begin, pad_end;
};

// Reads strides/dilations/pads/auto_pad (and ceil_mode for pools) and computes output sizes as
// the ONNX Conv/MaxPool/AveragePool specs define them.
Status resolve_window(const OpContext& ctx, const Shape& x_shape,
                      const std::vector<int64_t>& kernel, bool pooling, Window* w) {
  const Node& n = ctx.node;
  const int nd = static_cast<int>(x_shape.size()) - 2;
  w->nd = nd;
  w->in.assign(x_shape.begin() + 2, x_shape.end());
  w->kernel = kernel;
  w->stride = n.attr_ints("strides", std::vector<int64_t>(nd, 1));
  w->dilation = n.attr_ints("dilations", std::vector<int64_t>(nd, 1));
  std::vector<int64_t> pads = n.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (static_cast<int>(w->kernel.size()) != nd) {
    return ctx.invalid("kernel_shape has " + std::to_string(w->kernel.size()) +
                       " dims, input has " + std::to_string(nd) + " spatial dims");
  }
  if (static_cast<int>(w->stride.size()) != nd) return ctx.invalid("strides must have one value per spatial dim");
  if (static_cast<int>(w->dilation.size()) != nd) return ctx.invalid("dilations must have one value per spatial dim");
  if (static_cast<int>(pads.size()) != 2 * nd) return ctx.invalid("pads must have two values per spatial dim");
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" &&
      auto_pad != "VALID") {
    return ctx.invalid("unknown auto_pad '" + auto_pad + "'");
  }
  const bool ceil_mode = pooling && n.attr_int("ceil_mode", 0) != 0;
  w->out.assign(nd, 0);
  w->pad_begin.assign(nd, 0);
  w->pad_end.assign(nd, 0);
  for (int i = 0; i < nd; ++i) {
    const int64_t in = w->in[i], k = w->kernel[i], s = w->stride[i], d = w->dilation[i];
    if (k < 1 || s < 1 || d < 1) return ctx.invalid("kernel, strides and dilations must be >= 1");
    if (in < 0) return ctx.invalid("negative input dimension");
    const int64_t eff = (k - 1) * d + 1;
    if (auto_pad == "NOTSET") {
      const int64_t pb = pads[i], pe = pads[i + nd];
      if (pb < 0 || pe < 0) return ctx.invalid("pads must be >= 0");
      if (pooling && (pb >= eff || pe >= eff)) {
        return ctx.invalid("pads must be smaller than the pooling window");
      }
      const int64_t span = in + pb + pe - eff;
      if (span < 0) {
        return ctx.invalid("window of extent " + std::to_string(eff) +
                           " exceeds padded input dim " + std::to_string(in + pb + pe));
      }
      int64_t out = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
      // A last window that would start inside the end padding is dropped (as PyTorch and
      // onnxruntime do); it would average or max over nothing but padding.
      if (ceil_mode && (out - 1) * s >= in + pb) --out;
      w->out[i] = out;
      w->pad_begin[i] = pb;
      w->pad_end[i] = pe;
    } else if (auto_pad == "VALID") {
      const int64_t span = in - eff;
      if (span < 0) return ctx.invalid("window exceeds input dim with auto_pad VALID");
      w->out[i] = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
    } else {
      const int64_t out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + eff - in);
      const int64_t small = total / 2, large = total - small;
      w->out[i] = out;
      w->pad_begin[i] = auto_pad == "SAME_UPPER" ? small : large;
      w->pad_end[i] = auto_pad == "SAME_UPPER" ? large : small;
    }
  }
  return Status::Ok();
}

// The [D,H,W] geometry of `w`, unit dims in front.
ConvGeometry3d to_geometry3d(const Window& w, int64_t channels) {
  ConvGeometry3d g;
  g.channels = channels;
  const int off = kMaxSpatial - w.nd;
  for (int i = 0; i < w.nd; ++i) {
    g.in[off + i] = w.in[i];
    g.out[off + i] = w.out[i];
    g.kernel[off + i] = w.kernel[i];
    g.stride[off + i] = w.stride[i];
    g.dilation[off + i] = w.dilation[i];
    g.pad_begin[off + i] = w.pad_begin[i];
  }
  return g;
}

// Per-thread scratch buffers that only grow: reusing them avoids a fresh mmap and page faults
// for every image of every convolution. Slots: 0 im2col / padded image, 1 GEMM output.
float* scratch_buffer(int slot, int64_t floats) {
  thread_local std::vector<float> buf[2];
  if (buf[slot].size() < static_cast<size_t>(floats)) buf[slot].resize(static_cast<size_t>(floats));
  return buf[slot].data();
}
float* col_buffer(int64_t floats) { return scratch_buffer(0, floats); }

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

// ---------------------------------------------------------------------------------------- Conv

Status check_bias(const OpContext& ctx, const Tensor* b, int64_t m) {
  if (!b) return Status::Ok();
  QT_RETURN_IF_ERROR(require_f32(ctx, *b, "B"));
  if (b->rank() != 1 || b->dim(0) != m) {
    return ctx.invalid("bias B has shape " + shape_of(*b) + ", expected [" + std::to_string(m) +
                       "]");
  }
  return Status::Ok();
}

// Convolution over 1 or 2 spatial dims without im2col. The image is split into stride-phase
// images (one for stride 1): phase (a, b) holds padded pixels (i*sh + a, j*sw + b), zeros
// outside the input. Kernel tap (kh, kw) then reads phase (kh*dh % sh, kw*dw % sw) shifted by
// (kh*dh / sh, kw*dw / sw) - a contiguous run - so row (c, kh, kw) of the GEMM's B is a pointer
// into that buffer. The GEMM produces outputs over the phase width Wq, (OH-1)*Wq + OW columns,
// of which the OW valid ones per row are kept. This reads about one image's worth of data in
// place of writing and re-reading a KH*KW times larger im2col matrix.
void conv_implicit_2d(const ConvGeometry3d& g, const float* xd, const float* wd, const float* bd,
                      float* yd, int64_t N, int64_t group, int64_t Mg) {
  const int64_t Cg = g.channels, H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int64_t KH = g.kernel[1], KW = g.kernel[2], dh = g.dilation[1], dw = g.dilation[2];
  const int64_t sh = g.stride[1], sw = g.stride[2], pt = g.pad_begin[1], pl = g.pad_begin[2];
  // Extent of the padded image the windows touch, and the phase image size.
  const int64_t Hp = (OH - 1) * sh + (KH - 1) * dh + 1, Wp = (OW - 1) * sw + (KW - 1) * dw + 1;
  const int64_t Hq = (Hp + sh - 1) / sh, Wq = (Wp + sw - 1) / sw, plane = Hq * Wq;
  // Phases some tap uses, numbered densely.
  std::vector<int64_t> phase_of(static_cast<size_t>(sh * sw), -1);
  std::vector<std::pair<int64_t, int64_t>> phases;
  for (int64_t kh = 0; kh < KH; ++kh)
    for (int64_t kw = 0; kw < KW; ++kw) {
      const int64_t key = (kh * dh % sh) * sw + kw * dw % sw;
      if (phase_of[key] < 0) {
        phase_of[key] = static_cast<int64_t>(phases.size());
        phases.emplace_back(kh * dh % sh, kw * dw % sw);
      }
    }
  // A stride-1, unpadded image can be read where it is.
  const bool in_place = sh == 1 && sw == 1 && pt == 0 && pl == 0 && Hq == H && Wq == W;
  const int64_t n_ext = (OH - 1) * Wq + OW;  // the last row needs only OW: stays in bounds
  const int64_t Kg = Cg * KH * KW, IS = H * W, OS = OH * OW, C = Cg * group, M = Mg * group;
  std::vector<int64_t> row_off;
  row_off.reserve(static_cast<size_t>(Kg));
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < KH; ++kh)
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t ph = phase_of[(kh * dh % sh) * sw + kw * dw % sw];
        row_off.push_back((ph * Cg + c) * plane + (kh * dh / sh) * Wq + kw * dw / sw);
      }
  const int64_t nphase = static_cast<int64_t>(phases.size());
  for_each_task(N * group, [&](int64_t t) {
    const int64_t n = t / group, gi = t % group;
    const float* xg = xd + (n * C + gi * Cg) * IS;
    const float* img = xg;
    if (!in_place) {
      float* buf = scratch_buffer(0, nphase * Cg * plane);
      for (int64_t ph = 0; ph < nphase; ++ph) {
        const auto [a, b] = phases[ph];
        // Columns j whose source w = j*sw + b - pl lies inside [0, W).
        const int64_t off = b - pl;
        int64_t jlo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int64_t jhi = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
        jhi = std::min(jhi, Wq);
        jlo = std::min(jlo, jhi);
        for (int64_t c = 0; c < Cg; ++c) {
          const float* xc = xg + c * IS;
          float* dst = buf + (ph * Cg + c) * plane;
          for (int64_t i = 0; i < Hq; ++i) {
            const int64_t h = i * sh + a - pt;
            float* row = dst + i * Wq;
            if (h < 0 || h >= H) {
              std::fill(row, row + Wq, 0.0f);
              continue;
            }
            const float* src = xc + h * W;
            std::fill(row, row + jlo, 0.0f);
            if (sw == 1) {
              std::copy(src + jlo + off, src + jhi + off, row + jlo);
            } else {
              for (int64_t j = jlo; j < jhi; ++j) row[j] = src[j * sw + off];
            }
            std::fill(row + jhi, row + Wq, 0.0f);
          }
        }
      }
      img = buf;
    }
    thread_local std::vector<const float*> rows;
    rows.resize(static_cast<size_t>(Kg));
    for (int64_t k = 0; k < Kg; ++k) rows[k] = img + row_off[k];
    float* yg = yd + (n * M + gi * Mg) * OS;
    float* ct = Wq == OW ? yg : scratch_buffer(1, Mg * n_ext);
    gemm_f32_rows(false, Mg, n_ext, Kg, 1.0f, wd + gi * Mg * Kg, Kg, rows.data(), 0.0f, ct,
                  n_ext);
    for (int64_t m = 0; m < Mg; ++m) {
      const float bias = bd ? bd[gi * Mg + m] : 0.0f;
      float* out = yg + m * OS;
      const float* src = ct + m * n_ext;
      for (int64_t oh = 0; oh < OH; ++oh) {
        for (int64_t ow = 0; ow < OW; ++ow) out[oh * OW + ow] = src[oh * Wq + ow] + bias;
      }
    }
  });
}

Status conv(OpContext& ctx) {
  const Tensor *x, *w;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "X", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "W", &w));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "X"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *w, "W"));
  const Tensor* b = ctx.input(2);
  if (x->rank() < 3) return ctx.invalid("X has shape " + shape_of(*x) + "; needs [N,C,spatial...]");
  if (w->rank() != x->rank()) {
    return ctx.invalid("W has shape " + shape_of(*w) + ", rank differs from X " + shape_of(*x));
  }
  const int nd = static_cast<int>(x->rank()) - 2;
  if (nd > kMaxSpatial) return ctx.unsupported(std::to_string(nd) + " spatial dims");
  const int64_t group = ctx.node.attr_int("group", 1);
  const int64_t N = x->dim(0), C = x->dim(1), M = w->dim(0);
  if (group < 1) return ctx.invalid("group must be >= 1");
  if (C % group != 0 || w->dim(1) * group != C) {
    return ctx.invalid("X has " + std::to_string(C) + " channels but W " + shape_of(*w) +
                       " with group " + std::to_string(group) + " expects " +
                       std::to_string(w->dim(1) * group));
  }
  if (M % group != 0) return ctx.invalid("output channels not divisible by group");
  std::vector<int64_t> kernel(w->shape().begin() + 2, w->shape().end());
  if (ctx.node.has_attr("kernel_shape") && ctx.node.attr_ints("kernel_shape") != kernel) {
    return ctx.invalid("kernel_shape attribute disagrees with W " + shape_of(*w));
  }
  QT_RETURN_IF_ERROR(check_bias(ctx, b, M));
  Window win;
  QT_RETURN_IF_ERROR(resolve_window(ctx, x->shape(), kernel, false, &win));

  Shape y_shape{N, M};
  y_shape.insert(y_shape.end(), win.out.begin(), win.out.end());
  Tensor y(DType::kF32, y_shape);
  const int64_t Cg = C / group, Mg = M / group;
  const ConvGeometry3d geo = to_geometry3d(win, Cg);
  const int64_t IS = geo.in_size(), OS = geo.out_size(), Kg = Cg * geo.kernel_size();
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  bool pointwise = true;  // a 1x1, stride-1, unpadded conv is a plain GEMM on X
  for (int i = 0; i < nd; ++i) {
    pointwise = pointwise && win.kernel[i] == 1 && win.stride[i] == 1 && win.pad_begin[i] == 0 &&
                win.out[i] == win.in[i];
  }
  const float* xd = x->data<float>();
  const float* wd = w->data<float>();
  const float* bd = b ? b->data<float>() : nullptr;
  float* yd = y.data<float>();
  if (!pointwise && nd <= 2) {
    conv_implicit_2d(geo, xd, wd, bd, yd, N, group, Mg);
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
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
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ConvTranspose: the adjoint of Conv; per (image, group) col = W_g^T x_g, then col2im into Y.
Status conv_transpose(OpContext& ctx) {
  const Tensor *x, *w;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "X", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "W", &w));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "X"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *w, "W"));
  const Tensor* b = ctx.input(2);
  if (x->rank() < 3) return ctx.invalid("X has shape " + shape_of(*x) + "; needs [N,C,spatial...]");
  if (w->rank() != x->rank()) {
    return ctx.invalid("W has shape " + shape_of(*w) + ", rank differs from X " + shape_of(*x));
  }
  const int nd = static_cast<int>(x->rank()) - 2;
  if (nd > kMaxSpatial) return ctx.unsupported(std::to_string(nd) + " spatial dims");
  const Node& node = ctx.node;
  const int64_t group = node.attr_int("group", 1);
  const int64_t N = x->dim(0), C = x->dim(1);
  if (group < 1) return ctx.invalid("group must be >= 1");
  if (w->dim(0) != C || C % group != 0) {
    return ctx.invalid("X has " + std::to_string(C) + " channels but W has shape " +
                       shape_of(*w) + " with group " + std::to_string(group));
  }
  const int64_t Cg = C / group, Mg = w->dim(1), M = Mg * group;
  QT_RETURN_IF_ERROR(check_bias(ctx, b, M));
  std::vector<int64_t> kernel(w->shape().begin() + 2, w->shape().end());
  if (node.has_attr("kernel_shape") && node.attr_ints("kernel_shape") != kernel) {
    return ctx.invalid("kernel_shape attribute disagrees with W " + shape_of(*w));
  }
  auto stride = node.attr_ints("strides", std::vector<int64_t>(nd, 1));
  auto dilation = node.attr_ints("dilations", std::vector<int64_t>(nd, 1));
  auto pads = node.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
  auto out_pad = node.attr_ints("output_padding", std::vector<int64_t>(nd, 0));
  auto out_shape = node.attr_ints("output_shape");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (static_cast<int>(stride.size()) != nd || static_cast<int>(dilation.size()) != nd ||
      static_cast<int>(pads.size()) != 2 * nd || static_cast<int>(out_pad.size()) != nd) {
    return ctx.invalid("strides/dilations/pads/output_padding do not match the spatial rank");
  }
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" &&
      auto_pad != "VALID") {
    return ctx.invalid("unknown auto_pad '" + auto_pad + "'");
  }
  if (!out_shape.empty() && static_cast<int>(out_shape.size()) != nd) {
    if (static_cast<int>(out_shape.size()) != nd + 2) {
      return ctx.invalid("output_shape must list the spatial dims");
    }
    out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  }
  Window win;
  win.nd = nd;
  win.in.assign(x->shape().begin() + 2, x->shape().end());
  win.kernel = kernel;
  win.stride = stride;
  win.dilation = dilation;
  win.out.assign(nd, 0);
  win.pad_begin.assign(nd, 0);
  win.pad_end.assign(nd, 0);
  for (int i = 0; i < nd; ++i) {
    const int64_t in = win.in[i], k = kernel[i], s = stride[i], d = dilation[i];
    if (k < 1 || s < 1 || d < 1) return ctx.invalid("kernel, strides and dilations must be >= 1");
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
      win.pad_begin[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      win.out[i] = target;
    } else if (auto_pad == "VALID") {
      win.out[i] = full;
    } else {
      if (pads[i] < 0 || pads[i + nd] < 0) return ctx.invalid("pads must be >= 0");
      win.pad_begin[i] = pads[i];
      win.out[i] = full - pads[i] - pads[i + nd];
    }
    if (win.out[i] < 1) return ctx.invalid("output spatial dim would be < 1");
  }
  Shape y_shape{N, M};
  y_shape.insert(y_shape.end(), win.out.begin(), win.out.end());
  Tensor y(DType::kF32, y_shape);
  // Conv geometry of the adjoint: it slides over Y and visits X's positions.
  Window adj = win;
  std::swap(adj.in, adj.out);
  const ConvGeometry3d geo = to_geometry3d(adj, Mg);
  const int64_t IS = geo.out_size(), OS = geo.in_size(), Kg = Mg * geo.kernel_size();
  const float* xd = x->data<float>();
  const float* wd = w->data<float>();
  const float* bd = b ? b->data<float>() : nullptr;
  float* yd = y.data<float>();
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  for_each_task(N * group, [&](int64_t t) {
    const int64_t n = t / group, g = t % group;
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
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------- Gemm/MatMul

Status gemm_op(OpContext& ctx) {
  const Tensor *a, *b;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "A", &a));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "B", &b));
  QT_RETURN_IF_ERROR(require_f32(ctx, *a, "A"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *b, "B"));
  const Tensor* c = ctx.input(2);
  if (c && c->empty()) c = nullptr;
  if (c) QT_RETURN_IF_ERROR(require_f32(ctx, *c, "C"));
  if (a->rank() != 2 || b->rank() != 2) {
    return ctx.invalid("A " + shape_of(*a) + " and B " + shape_of(*b) + " must be 2-D");
  }
  const bool ta = ctx.node.attr_int("transA", 0) != 0, tb = ctx.node.attr_int("transB", 0) != 0;
  const float alpha = ctx.node.attr_float("alpha", 1.0f), beta = ctx.node.attr_float("beta", 1.0f);
  const int64_t M = ta ? a->dim(1) : a->dim(0), K = ta ? a->dim(0) : a->dim(1);
  const int64_t Kb = tb ? b->dim(1) : b->dim(0), N = tb ? b->dim(0) : b->dim(1);
  if (K != Kb) {
    return ctx.invalid("inner dims differ: A " + shape_of(*a) + (ta ? " (transposed)" : "") +
                       ", B " + shape_of(*b) + (tb ? " (transposed)" : ""));
  }
  Tensor y(DType::kF32, {M, N});
  float* yd = y.data<float>();
  float eff_beta = 0.0f;
  if (c && beta != 0.0f) {
    // C broadcasts unidirectionally to [M, N].
    if (c->rank() > 2) return ctx.invalid("C " + shape_of(*c) + " has rank > 2");
    const int64_t cm = c->rank() == 2 ? c->dim(0) : 1;
    const int64_t cn = c->rank() >= 1 ? c->dim(c->rank() - 1) : 1;
    if ((cm != 1 && cm != M) || (cn != 1 && cn != N)) {
      return ctx.invalid("C " + shape_of(*c) + " does not broadcast to [" + std::to_string(M) +
                         "," + std::to_string(N) + "]");
    }
    const float* cd = c->data<float>();
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        yd[i * N + j] = cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
      }
    }
    eff_beta = beta;
  }
  gemm_f32(ta, tb, M, N, K, alpha, a->data<float>(), a->dim(1), b->data<float>(), b->dim(1),
           eff_beta, yd, N);
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status matmul(OpContext& ctx) {
  const Tensor *a, *b;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "A", &a));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "B", &b));
  QT_RETURN_IF_ERROR(require_f32(ctx, *a, "A"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *b, "B"));
  if (a->rank() < 1 || b->rank() < 1) return ctx.invalid("MatMul inputs must have rank >= 1");
  // numpy.matmul: 1-D operands gain a unit dim that is dropped from the result.
  Shape as = a->shape(), bs = b->shape();
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), Kb = bs[bs.size() - 2], N = bs.back();
  if (K != Kb) {
    return ctx.invalid("inner dims differ: A " + shape_of(*a) + ", B " + shape_of(*b));
  }
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const size_t rank = std::max(a_batch.size(), b_batch.size());
  Shape batch(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + a_batch.size() >= rank ? a_batch[i + a_batch.size() - rank] : 1;
    const int64_t db = i + b_batch.size() >= rank ? b_batch[i + b_batch.size() - rank] : 1;
    if (da != db && da != 1 && db != 1) {
      return ctx.invalid("batch dims of A " + shape_of(*a) + " and B " + shape_of(*b) +
                         " do not broadcast");
    }
    batch[i] = da == 1 ? db : da;
  }
  Shape y_shape = batch;
  if (!a_vec) y_shape.push_back(M);
  if (!b_vec) y_shape.push_back(N);
  Tensor y(DType::kF32, y_shape);
  const int64_t batches = shape_numel(batch);
  const float* ad = a->data<float>();
  const float* bd = b->data<float>();
  float* yd = y.data<float>();
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  if (shape_numel(b_batch) == 1 && shape_numel(a_batch) == batches) {
    // B is shared by every batch: one tall GEMM over the stacked rows of A.
    gemm_f32(false, false, batches * M, N, K, 1.0f, ad, K, bd, N, 0.0f, yd, N);
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  // Element strides of each operand's batch dims (0 where broadcast).
  std::vector<int64_t> sa(rank, 0), sb(rank, 0);
  int64_t step_a = M * K, step_b = K * N;
  for (size_t i = rank; i-- > 0;) {
    const size_t ia = i + a_batch.size(), ib = i + b_batch.size();
    if (ia >= rank) {
      const int64_t d = a_batch[ia - rank];
      sa[i] = d == 1 ? 0 : step_a;
      step_a *= d;
    }
    if (ib >= rank) {
      const int64_t d = b_batch[ib - rank];
      sb[i] = d == 1 ? 0 : step_b;
      step_b *= d;
    }
  }
  const int64_t per = M * N * K;
  auto one = [&](int64_t t) {
    int64_t rem = t, oa = 0, ob = 0;
    for (size_t i = rank; i-- > 0;) {
      const int64_t idx = rem % batch[i];
      rem /= batch[i];
      oa += idx * sa[i];
      ob += idx * sb[i];
    }
    gemm_f32(false, false, M, N, K, 1.0f, ad + oa, K, bd + ob, N, 0.0f, yd + t * M * N, N);
  };
  if (batches == 1 || per * batches < (int64_t{1} << 16)) {
    for (int64_t t = 0; t < batches; ++t) one(t);
  } else {
    for_each_task(batches, one);
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------------------------- Pooling

Status pool_window(const OpContext& ctx, const Tensor& x, bool need_kernel_attr, Window* w) {
  if (x.rank() < 3) return ctx.invalid("X has shape " + shape_of(x) + "; needs [N,C,spatial...]");
  const int nd = static_cast<int>(x.rank()) - 2;
  if (nd > kMaxSpatial) return ctx.unsupported(std::to_string(nd) + " spatial dims");
  if (need_kernel_attr && !ctx.node.has_attr("kernel_shape")) {
    return ctx.invalid("missing required attribute kernel_shape");
  }
  return resolve_window(ctx, x.shape(), ctx.node.attr_ints("kernel_shape"), true, w);
}

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

struct PoolPlan {
  ConvGeometry3d g;
  Taps taps[3];
};

PoolPlan make_pool_plan(const Window& win) {
  PoolPlan p;
  p.g = to_geometry3d(win, 1);
  for (int i = 0; i < kMaxSpatial; ++i) {
    const int w = i - (kMaxSpatial - win.nd);
    const int64_t pe = w >= 0 ? win.pad_end[w] : 0;
    p.taps[i] = make_taps(p.g.in[i], p.g.out[i], p.g.kernel[i], p.g.stride[i], p.g.dilation[i],
                          p.g.pad_begin[i], pe);
  }
  return p;
}

template <typename T, bool kIndices>
void max_pool_plane(const PoolPlan& P, const T* x, T* y, int64_t* indices, int64_t base,
                    bool col_major) {
  const ConvGeometry3d& g = P.g;
  const Taps &td = P.taps[0], &th = P.taps[1], &tw = P.taps[2];
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t dd = g.dilation[0], dh = g.dilation[1], dw = g.dilation[2];
  const T lowest = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                         : std::numeric_limits<T>::lowest();
  int64_t o = 0;
  for (int64_t od = 0; od < g.out[0]; ++od) {
    for (int64_t oh = 0; oh < g.out[1]; ++oh) {
      for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
        T best = lowest;
        int64_t at = -1;
        for (int64_t kd = td.lo[od]; kd < td.hi[od]; ++kd) {
          const int64_t id = td.start[od] + kd * dd;
          for (int64_t kh = th.lo[oh]; kh < th.hi[oh]; ++kh) {
            const int64_t ih = th.start[oh] + kh * dh;
            const T* row = x + (id * H + ih) * W;
            for (int64_t kw = tw.lo[ow]; kw < tw.hi[ow]; ++kw) {
              const int64_t iw = tw.start[ow] + kw * dw;
              const T v = row[iw];
              if constexpr (kIndices) {
                if (at < 0 || v > best) {
                  best = v;
                  at = col_major ? id + ih * D + iw * D * H : (id * H + ih) * W + iw;
                }
              } else {
                best = v > best ? v : best;
              }
            }
          }
        }
        y[o] = best;
        if constexpr (kIndices) indices[o] = base + std::max<int64_t>(at, 0);
      }
    }
  }
}

template <typename T>
Status max_pool_typed(OpContext& ctx, const Tensor& x, const Window& win) {
  const int64_t N = x.dim(0), C = x.dim(1);
  const PoolPlan plan = make_pool_plan(win);
  Shape y_shape{N, C};
  y_shape.insert(y_shape.end(), win.out.begin(), win.out.end());
  Tensor y(x.dtype(), y_shape);
  const bool want_indices = ctx.node.outputs.size() > 1 && !ctx.node.outputs[1].empty();
  Tensor idx;
  if (want_indices) idx = Tensor(DType::kS64, y_shape);
  const bool col_major = ctx.node.attr_int("storage_order", 0) != 0;
  const int64_t IS = plan.g.in_size(), OS = plan.g.out_size();
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  int64_t* id = want_indices ? idx.data<int64_t>() : nullptr;
  // The common 2x2/stride-2 unpadded 2-D pool gets a branch-free loop.
  const ConvGeometry3d& g = plan.g;
  const bool pool2x2 = win.nd == 2 && !id && g.kernel[1] == 2 && g.kernel[2] == 2 &&
                       g.stride[1] == 2 && g.stride[2] == 2 && g.dilation[1] == 1 &&
                       g.dilation[2] == 1 && g.pad_begin[1] == 0 && g.pad_begin[2] == 0 &&
                       2 * g.out[1] <= g.in[1] && 2 * g.out[2] <= g.in[2];
  if (OS > 0) {
    for_each_task(N * C, [&](int64_t p) {
      if (pool2x2) {
        const int64_t W = g.in[2], OH = g.out[1], OW = g.out[2];
        for (int64_t oh = 0; oh < OH; ++oh) {
          const T* r0 = xd + p * IS + 2 * oh * W;
          const T* r1 = r0 + W;
          T* out = yd + p * OS + oh * OW;
          for (int64_t ow = 0; ow < OW; ++ow) {
            const T a = r0[2 * ow] > r0[2 * ow + 1] ? r0[2 * ow] : r0[2 * ow + 1];
            const T b = r1[2 * ow] > r1[2 * ow + 1] ? r1[2 * ow] : r1[2 * ow + 1];
            out[ow] = a > b ? a : b;
          }
        }
      } else if (id) {
        max_pool_plane<T, true>(plan, xd + p * IS, yd + p * OS, id + p * OS, p * IS, col_major);
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
  const Tensor* x;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "X", &x));
  Window win;
  QT_RETURN_IF_ERROR(pool_window(ctx, *x, true, &win));
  switch (x->dtype()) {
    case DType::kF32: return max_pool_typed<float>(ctx, *x, win);
    case DType::kU8: return max_pool_typed<uint8_t>(ctx, *x, win);
    case DType::kS8: return max_pool_typed<int8_t>(ctx, *x, win);
    default:
      return ctx.unsupported("X has dtype " + std::string(dtype_name(x->dtype())) +
                             "; MaxPool implements f32, u8 and s8");
  }
}

Status average_pool(OpContext& ctx) {
  const Tensor* x;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "X", &x));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "X"));
  Window win;
  QT_RETURN_IF_ERROR(pool_window(ctx, *x, true, &win));
  const bool include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  const int64_t N = x->dim(0), C = x->dim(1);
  const PoolPlan plan = make_pool_plan(win);
  const ConvGeometry3d& g = plan.g;
  const Taps &td = plan.taps[0], &th = plan.taps[1], &tw = plan.taps[2];
  Shape y_shape{N, C};
  y_shape.insert(y_shape.end(), win.out.begin(), win.out.end());
  Tensor y(DType::kF32, y_shape);
  const int64_t IS = g.in_size(), OS = g.out_size();
  const int64_t H = g.in[1], W = g.in[2];
  const float* xd = x->data<float>();
  float* yd = y.data<float>();
  if (OS > 0) {
    for_each_task(N * C, [&](int64_t p) {
      const float* xp = xd + p * IS;
      float* yp = yd + p * OS;
      int64_t o = 0;
      for (int64_t od = 0; od < g.out[0]; ++od) {
        for (int64_t oh = 0; oh < g.out[1]; ++oh) {
          for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
            float sum = 0.0f;
            for (int64_t kd = td.lo[od]; kd < td.hi[od]; ++kd) {
              const int64_t id = td.start[od] + kd * g.dilation[0];
              for (int64_t kh = th.lo[oh]; kh < th.hi[oh]; ++kh) {
                const float* row = xp + (id * H + th.start[oh] + kh * g.dilation[1]) * W;
                for (int64_t kw = tw.lo[ow]; kw < tw.hi[ow]; ++kw) {
                  sum += row[tw.start[ow] + kw * g.dilation[2]];
                }
              }
            }
            const int64_t count =
                include_pad ? (td.phi[od] - td.plo[od]) * (th.phi[oh] - th.plo[oh]) *
                                  (tw.phi[ow] - tw.plo[ow])
                            : (td.hi[od] - td.lo[od]) * (th.hi[oh] - th.lo[oh]) *
                                  (tw.hi[ow] - tw.lo[ow]);
            yp[o] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
          }
        }
      }
    });
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status global_average_pool(OpContext& ctx) {
  const Tensor* x;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "X", &x));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "X"));
  if (x->rank() < 2) return ctx.invalid("X has shape " + shape_of(*x) + "; needs [N,C,...]");
  Shape y_shape = x->shape();
  for (size_t i = 2; i < y_shape.size(); ++i) y_shape[i] = 1;
  Tensor y(DType::kF32, y_shape);
  const int64_t planes = x->dim(0) * x->dim(1);
  const int64_t size = planes == 0 ? 0 : x->numel() / planes;
  const float* xd = x->data<float>();
  float* yd = y.data<float>();
  auto body = [&](int64_t p) {
    const float* xp = xd + p * size;
    double sum = 0.0;
    for (int64_t i = 0; i < size; ++i) sum += xp[i];
    yd[p] = size > 0 ? static_cast<float>(sum / static_cast<double>(size))
                     : std::numeric_limits<float>::quiet_NaN();
  };
  if (planes * size < (int64_t{1} << 15)) {
    for (int64_t p = 0; p < planes; ++p) body(p);
  } else {
    for_each_task(planes, body);
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

}  // namespace

void register_nn_kernels(KernelRegistry& r) {
  r.add({"", "Conv", 1}, conv);
  r.add({"", "ConvTranspose", 1}, conv_transpose);
  r.add({"", "Gemm", 1}, gemm_op);
  r.add({"", "MatMul", 1}, matmul);
  r.add({"", "MaxPool", 1}, max_pool);
  r.add({"", "AveragePool", 1}, average_pool);
  r.add({"", "GlobalAveragePool", 1}, global_average_pool);
}

}  // namespace qtune
