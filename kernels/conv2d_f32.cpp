// Weight packing, kernel choice and the portable paths of conv2d_f32 (kernels/conv2d_f32.h).
#include "kernels/conv2d_f32.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm_f32.h"
#include "kernels/maxpool_f32.h"

namespace qtune {
namespace {

float apply_epilogue(const ConvF32Epilogue& e, float v, int64_t oc, int64_t idx) {
  if (e.bias) v += e.bias[oc];
  if (e.sum) v += e.sum[idx];
  return std::min(std::max(v, e.clamp_min), e.clamp_max);
}

struct Choice {
  void (*fn)(const QConvShape&, const float*, const PackedConvWeightsF32&, const ConvF32Epilogue&,
             float*);
  const char* name;
};

const Choice& choice() {
  static const Choice c = cpu_features().avx512f
                              ? Choice{f32_conv2d_direct__avx512, "f32_conv2d_direct__avx512"}
                              : Choice{f32_conv2d__scalar, "f32_conv2d__scalar"};
  return c;
}

// Depthwise with one output per channel: channels in the lanes (the blocked kernel) when the
// rows are too short to fill pixel lanes or strided; measured with `qtune bench kernels`, the
// pixel-lane kernel wins on wide stride-1 maps (56x56 and up), the blocked one below and at
// stride 2.
bool depthwise_blocked(const QConvShape& s, const PackedConvWeightsF32& w) {
  return w.out_channels == w.group && (s.out_w() < 32 || s.stride_w > 1);
}

}  // namespace

void PackedConvWeightsF32::Free::operator()(float* p) const { std::free(p); }

PackedConvWeightsF32 pack_conv_weights_f32(const float* w, const QConvShape& s) {
  PackedConvWeightsF32 p;
  p.out_channels = s.out_channels;
  p.in_channels = s.in_channels;
  p.kernel_h = s.kernel_h;
  p.kernel_w = s.kernel_w;
  p.group = s.group;
  const int64_t mg = s.out_channels / s.group, cg = s.in_channels / s.group;
  const int64_t taps = s.kernel_h * s.kernel_w, kg = cg * taps;
  // One input channel per group (depthwise, or a single-channel image): block 1,
  // [out_channels][taps], for the kernel that puts pixels rather than channels in the vector
  // lanes; with one multiply-add per tap, channels in the lanes would reload the weights for
  // every few pixels. A single-channel image read at a stride wider than 2 keeps its channels in
  // the lanes: the phase copies the pixel-lane kernel needs then cost more than they save.
  const bool pixel_lanes = cg == 1 && (s.group > 1 || s.stride_w <= 2);
  p.block = pixel_lanes ? 1 : f32_panel_width(mg);
  p.blocks_per_group = (mg + p.block - 1) / p.block;
  const size_t floats = static_cast<size_t>(s.group * p.blocks_per_group * kg * p.block);
  const size_t bytes = std::max<size_t>(64, (floats * sizeof(float) + 63) / 64 * 64);
  p.data.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
  if (!p.data) throw std::bad_alloc();
  std::memset(p.data.get(), 0, bytes);
  for (int64_t g = 0; g < s.group; ++g) {
    for (int64_t b = 0; b < p.blocks_per_group; ++b) {
      float* dst = p.data.get() + (g * p.blocks_per_group + b) * kg * p.block;
      for (int64_t j = 0; j < p.block && b * p.block + j < mg; ++j) {
        const float* src = w + (g * mg + b * p.block + j) * kg;  // [cg][kh][kw]
        for (int64_t c = 0; c < cg; ++c) {
          for (int64_t t = 0; t < taps; ++t) dst[(t * cg + c) * p.block + j] = src[c * taps + t];
        }
      }
    }
  }
  return p;
}

void conv2d_f32(const QConvShape& s, const float* x, const PackedConvWeightsF32& w,
                const ConvF32Epilogue& e, float* y) {
  const bool pixel_lanes = w.block == 1 && cpu_features().avx512f && !depthwise_blocked(s, w);
  if (e.max_pool_2x2 && !pixel_lanes) {
    // Only the pixel-lane kernel pools as it stores; the others write the whole output first.
    const int64_t oh = s.out_h(), ow = s.out_w(), planes = s.batch * s.out_channels;
    // Not zeroed: the convolution writes every element.
    std::unique_ptr<float[]> full(new float[static_cast<size_t>(planes * oh * ow)]);
    ConvF32Epilogue inner = e;
    inner.max_pool_2x2 = false;
    conv2d_f32(s, x, w, inner, full.get());
    maxpool2x2_f32_planes(planes, oh, ow, full.get(), y);
    return;
  }
  if (w.block == 1 && cpu_features().avx512f) {
    if (depthwise_blocked(s, w)) {
      f32_conv2d_depthwise_blocked__avx512(s, x, w, e, y);
    } else {
      f32_conv2d_pixel_lanes__avx512(s, x, w, e, y);
    }
    return;
  }
  choice().fn(s, x, w, e, y);
}

const char* conv2d_f32_kernel_name(const QConvShape& s, const PackedConvWeightsF32& w) {
  if (w.block == 1 && cpu_features().avx512f) {
    return depthwise_blocked(s, w) ? "f32_conv2d_depthwise_blocked__avx512"
                                   : "f32_conv2d_pixel_lanes__avx512";
  }
  if (cpu_features().avx512f && conv2d_f32_image_lanes_pays(s, w)) {
    return "f32_conv2d_image_lanes__avx512";
  }
  return choice().name;
}

void f32_conv2d__scalar(const QConvShape& s, const float* x, const PackedConvWeightsF32& w,
                        const ConvF32Epilogue& e, float* y) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), ohw = oh_n * ow_n, hw = s.in_h * s.in_w;
  const int64_t cg = s.in_channels / s.group, mg = s.out_channels / s.group;
  const int64_t block = w.block;
  tbb::parallel_for(int64_t{0}, s.batch * s.group * oh_n, [&](int64_t task) {
    const int64_t oh = task % oh_n, g = task / oh_n % s.group, n = task / oh_n / s.group;
    const float* xg = x + (n * s.in_channels + g * cg) * hw;
    std::vector<float> acc(static_cast<size_t>(block));
    for (int64_t ow = 0; ow < ow_n; ++ow) {
      for (int64_t b = 0; b < w.blocks_per_group; ++b) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        const float* wb = w.block_data(g, b);
        for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
          const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
          if (ih < 0 || ih >= s.in_h) continue;
          for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
            const int64_t iw = ow * s.stride_w - s.pad_left + kw * s.dilation_w;
            if (iw < 0 || iw >= s.in_w) continue;
            const float* wt = wb + (kh * s.kernel_w + kw) * cg * block;
            for (int64_t c = 0; c < cg; ++c) {
              const float xv = xg[c * hw + ih * s.in_w + iw];
              for (int64_t j = 0; j < block; ++j) acc[j] += xv * wt[c * block + j];
            }
          }
        }
        for (int64_t j = 0; j < block && b * block + j < mg; ++j) {
          const int64_t oc = g * mg + b * block + j;
          const int64_t idx = (n * s.out_channels + oc) * ohw + oh * ow_n + ow;
          y[idx] = apply_epilogue(e, acc[j], oc, idx);
        }
      }
    }
  });
}

void f32_conv2d__ref(const QConvShape& s, const float* x, const float* w,
                     const ConvF32Epilogue& e, float* y) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), hw = s.in_h * s.in_w;
  const int64_t cg = s.in_channels / s.group, mg = s.out_channels / s.group;
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oc = 0; oc < s.out_channels; ++oc) {
      const int64_t g = oc / mg;
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          double acc = 0.0;
          for (int64_t c = 0; c < cg; ++c) {
            for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
              const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
              if (ih < 0 || ih >= s.in_h) continue;
              for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
                const int64_t iw = ow * s.stride_w - s.pad_left + kw * s.dilation_w;
                if (iw < 0 || iw >= s.in_w) continue;
                acc += static_cast<double>(x[(n * s.in_channels + g * cg + c) * hw + ih * s.in_w + iw]) *
                       w[((oc * cg + c) * s.kernel_h + kh) * s.kernel_w + kw];
              }
            }
          }
          const int64_t idx = ((n * s.out_channels + oc) * oh_n + oh) * ow_n + ow;
          y[idx] = apply_epilogue(e, static_cast<float>(acc), oc, idx);
        }
      }
    }
  }
}

}  // namespace qtune
