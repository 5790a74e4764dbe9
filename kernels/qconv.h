// int8 2-D convolution, NCHW in and out, with grouped/depthwise, strides, padding and dilation.
// Weights are packed once per model (the GEMM's packed layout). Padding reads as the activation
// zero point, so padded taps contribute exactly zero. Paths: im2col + the packed int8 GEMM
// (kernels/qgemm.h, any GEMM kernel, the reference included) and, with AVX-512 VNNI, a direct
// NCHW kernel (pixels in vector lanes, channels in rows) that wastes no lanes on few channels.
// All paths are thread-safe and run TBB-parallel over images and pixel blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/qgemm.h"

namespace qtune {

// What to convolve; output sizes follow from the rest.
struct QConvShape {
  int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  int64_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t group = 1;

  int64_t out_h() const {
    return (in_h + pad_top + pad_bottom - (dilation_h * (kernel_h - 1) + 1)) / stride_h + 1;
  }
  int64_t out_w() const {
    return (in_w + pad_left + pad_right - (dilation_w * (kernel_w - 1) + 1)) / stride_w + 1;
  }
  int64_t k_per_group() const { return in_channels / group * kernel_h * kernel_w; }
};

// One packed GEMM operand per group.
struct PackedConvWeightsS8 {
  int64_t group = 1;
  int64_t out_channels_per_group = 0;
  std::vector<PackedWeightsS8> per_group;
};

// w is [out_channels, in_channels/group, kernel_h, kernel_w] s8.
PackedConvWeightsS8 pack_conv_weights_s8(const int8_t* w, const QConvShape& s);

// x: [batch, in_channels, in_h, in_w] (p.a_type), y: [batch, out_channels, out_h, out_w] of
// p.output's type. p's per-channel arrays (bias, scale) are indexed by output channel; p.M and
// p.c_transposed are ignored (set per group internally). Uses the best path (qconv_path).
void qconv2d(const QConvShape& s, const QGemmParams& p, const void* x,
             const PackedConvWeightsS8& w, void* y);

using QConvFn = void (*)(const QConvShape&, const QGemmParams&, const void*,
                         const PackedConvWeightsS8&, void*);
struct QConvPath {
  std::string name;
  QConvFn fn = nullptr;              // a direct kernel, or
  const QGemmKernel* gemm = nullptr;  // im2col + this GEMM kernel
  void run(const QConvShape& s, const QGemmParams& p, const void* x, const PackedConvWeightsS8& w,
           void* y) const;
};
// The path qconv2d uses, chosen once from cpu_features().
const QConvPath& qconv_path();
// Every path this CPU can run, fastest first, ending with im2col + the reference GEMM.
std::vector<QConvPath> qconv_available_paths();

void qconv2d_im2col(const QConvShape& s, const QGemmParams& p, const void* x,
                    const PackedConvWeightsS8& w, void* y, const QGemmKernel& kernel);
void qconv2d_nchw__avx512vnni(const QConvShape& s, const QGemmParams& p, const void* x,
                              const PackedConvWeightsS8& w, void* y);

}  // namespace qtune
