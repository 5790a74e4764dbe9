// fp32 2-D convolution with its epilogue fused: y = clamp(conv(x, w) + bias + sum), NCHW in and
// out, any group, stride, dilation and padding. Weights are packed once per model
// (pack_conv_weights_f32): blocks of output channels, [tap][input channel][channel in block].
// The AVX-512 path copies each image once into zero-padded stride phases (so every kernel tap
// reads a contiguous run of a phase image, whatever the stride), then computes tiles of up to
// 24 consecutive output pixels of one row by one block of output channels: pixels are register
// rows read by broadcast at fixed offsets, channels are vector lanes, so no lanes are wasted on
// narrow images and no im2col matrix is written. A finished tile is transposed into NCHW with
// the bias, the residual sum and the clamp applied on the way. Small maps at batch 4 and up take
// one output pixel of several images per tile instead (f32_conv2d_image_lanes__avx512), reading
// x in place and skipping the taps in the padding. Called by the runtime's Conv and
// the native adaptor's F32Conv. Thread-safe; runs TBB-parallel over images and rows.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "kernels/qconv.h"  // QConvShape: the geometry of a 2-D convolution

namespace qtune {

// What is applied to each output element after the sum over the window, in this order.
struct ConvF32Epilogue {
  const float* bias = nullptr;  // [out_channels], or none
  const float* sum = nullptr;   // same shape and layout as y (a residual Add), or none
  float clamp_min = -std::numeric_limits<float>::infinity();
  float clamp_max = std::numeric_limits<float>::infinity();
  // Then a 2x2, stride-2 max pool (MaxPool's floor mode, NaN never winning): y is
  // [batch, out_channels, out_h / 2, out_w / 2]; sum keeps the convolution's own shape and must
  // not alias y. Only conv2d_f32 and f32_conv2d_pixel_lanes__avx512 take it.
  bool max_pool_2x2 = false;
};

// Weights as the kernels read them: per group, blocks of `block` output channels (zero-padded
// past the group's last channel), each [kernel_h * kernel_w][in_channels / group][block].
// With one input channel per group (depthwise, or a single-channel image) block is 1, so the
// data is [out_channels][taps] for the kernel that puts output pixels in the lanes.
struct PackedConvWeightsF32 {
  int64_t out_channels = 0, in_channels = 0, kernel_h = 0, kernel_w = 0, group = 1;
  int64_t block = 16;  // 1 (pixel lanes) or a multiple of 16 (one AVX-512 vector)
  int64_t blocks_per_group = 0;
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> data;

  int64_t k_per_group() const { return in_channels / group * kernel_h * kernel_w; }
  const float* block_data(int64_t g, int64_t b) const {
    return data.get() + (g * blocks_per_group + b) * k_per_group() * block;
  }
};

// w is [out_channels, in_channels/group, kernel_h, kernel_w] as in ONNX.
PackedConvWeightsF32 pack_conv_weights_f32(const float* w, const QConvShape& s);

// x: [batch, in_channels, in_h, in_w], y: [batch, out_channels, out_h, out_w] (halved by
// e.max_pool_2x2); w packed for a shape with the same channels, kernel and group (batch and
// image size may differ). y must not alias x; it may alias e.sum (without the pool).
void conv2d_f32(const QConvShape& s, const float* x, const PackedConvWeightsF32& w,
                const ConvF32Epilogue& e, float* y);
// The kernel conv2d_f32 uses for these weights ("f32_conv2d_direct__avx512",
// "f32_conv2d_depthwise_blocked__avx512", "f32_conv2d_pixel_lanes__avx512", "f32_conv2d__scalar").
const char* conv2d_f32_kernel_name(const QConvShape& s, const PackedConvWeightsF32& w);

// The variants, for tests and benchmarks; the AVX-512 one only where cpu_features().avx512f.
void f32_conv2d__scalar(const QConvShape& s, const float* x, const PackedConvWeightsF32& w,
                        const ConvF32Epilogue& e, float* y);
// Blocks of 16 output channels (weights packed with block 1 go to the pixel-lane kernel).
void f32_conv2d_direct__avx512(const QConvShape& s, const float* x, const PackedConvWeightsF32& w,
                              const ConvF32Epilogue& e, float* y);
// Small maps at larger batches: one output pixel of several images per tile, only the taps
// inside the image multiplied. Any shape with w.block a multiple of 16; f32_conv2d_direct__avx512
// hands it the shapes where conv2d_f32_image_lanes_pays.
void f32_conv2d_image_lanes__avx512(const QConvShape& s, const float* x,
                                    const PackedConvWeightsF32& w, const ConvF32Epilogue& e,
                                    float* y);
bool conv2d_f32_image_lanes_pays(const QConvShape& s, const PackedConvWeightsF32& w);
// One input channel per group: w.block == 1. The depthwise blocked kernel (16 channels in the
// lanes) needs one output channel per group too; the pixel-lane kernel takes any multiplier.
void f32_conv2d_depthwise_blocked__avx512(const QConvShape& s, const float* x,
                                          const PackedConvWeightsF32& w, const ConvF32Epilogue& e,
                                          float* y);
void f32_conv2d_pixel_lanes__avx512(const QConvShape& s, const float* x,
                                    const PackedConvWeightsF32& w, const ConvF32Epilogue& e,
                                    float* y);
// The reference twin: plain loops over the unpacked ONNX weights, accumulating in double.
void f32_conv2d__ref(const QConvShape& s, const float* x, const float* w,
                     const ConvF32Epilogue& e, float* y);

}  // namespace qtune
