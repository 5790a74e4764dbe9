// int8 2-D convolution on channels-last tensors: x [N, H, W, C] (u8 or s8), y [N, OH, OW, OC],
// s8 weights packed once into the vpdpbusd operand layout with their per-channel sums (the
// activation zero point's compensation), and the whole QDQ tail in the epilogue: s32 bias,
// per-channel scales, Relu/Clip, requantization and an optional residual Add (QConvSum).
// Paths: qconv_nhwc_u8s8__ref (always) and qconv_nhwc_u8s8__avx512vnni, an implicit GEMM over
// row pointers into the image (kernel taps in the padding skipped, not multiplied) with a
// separate depthwise kernel; chosen once at start-up.
// All functions are thread-safe; the convolution runs TBB-parallel over images, pixel tiles and
// output-channel panels.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/qconv.h"  // QConvShape
#include "kernels/qgemm.h"  // QGemmParams

namespace qtune {

// How the packed weights run, fixed at packing time by the shape alone.
enum class QConvNhwcLayout {
  // K = taps x cg rounded up to 4 per tap: each tap reads a run of channels of one pixel, in place
  // or from a copy of the image (s8 shifted to u8, each group's channels padded to 4).
  kTaps,
  // K = kernel rows x (kernel_w x cg rounded up to 4): few input channels (RGB, grey) without
  // groups or column dilation, where a kernel row is one run of the image, read in place or
  // from a copy carrying the column padding. Rounding a row wastes less than rounding each tap
  // (RGB 7x7: 21 -> 24 bytes a row, 3 -> 4 a tap) and needs no gather.
  kRowTaps,
  // K = taps x cg rounded up to 4 once: few input channels in groups or dilated, gathered per
  // pixel tile so no lane multiplies padding.
  kDense,
  // One input and one output channel per group: channels in vector lanes, taps accumulated.
  kDepthwise,
};

// Output channels of a group are split into panels of up to kQConvMaxPanelBlocks x 16 lanes;
// the SIMD path computes a panel for qconv_nhwc_tile_rows(blocks) pixels at a time (up to 24
// accumulators: 32 vector registers less the operands; and at most 12 rows, whose input pointers
// must stay in general registers).
constexpr int kQConvMaxPanelBlocks = 4;
constexpr int qconv_nhwc_tile_rows(int blocks) {
  return blocks <= 2 ? 12 : blocks == 3 ? 8 : 6;
}

// Panels of at most kQConvLaneChannels real channels run tiles of 16 pixels in the lanes, one
// accumulator an output channel (the channels rounded up to 4), where a tap has 16 bytes or more
// (a tile transposes 16-byte chunks of each tap); 0: the panel runs the tiles above.
constexpr int kQConvLanePixels = 16;
constexpr int kQConvLaneChannels = 24;
constexpr int qconv_nhwc_lane_channels(int64_t real, int blocks, int64_t k_tap) {
  const int64_t nc = ((real < blocks * 16 ? real : blocks * 16) + 3) / 4 * 4;
  return k_tap >= 16 && nc <= kQConvLaneChannels && (nc + 15) / 16 == blocks ? static_cast<int>(nc)
                                                                              : 0;
}

// Where channel c of a whole 64-channel block sits in the depthwise kernel's operands: the
// unpacks that interleave four input rows leave vector v's 128-bit lane l holding channels
// 16l + 4v .. 16l + 4v + 3, so slot 16v + 4l + j holds channel 16l + 4v + j.
constexpr int64_t dw_lane_transposed(int64_t c) {
  const int64_t base = c / 64 * 64, i = c % 64;
  return base + (i / 4 % 4) * 16 + (i / 16) * 4 + i % 4;
}

struct PackedConvNhwcS8 {
  QConvNhwcLayout layout = QConvNhwcLayout::kTaps;
  int64_t group = 1, cg = 0, ocg = 0, kernel_h = 0, kernel_w = 0;
  int64_t k_tap = 0;     // K per tap (kTaps: cg rounded up to 4) or per kernel row (kRowTaps)
  int64_t k_padded = 0;  // K of one group, a multiple of 4
  struct Panel {
    int64_t oc0 = 0;     // first output channel within the group
    int blocks = 0;      // 16-lane blocks (1..kQConvMaxPanelBlocks)
    int64_t offset = 0;  // bytes from the group's first panel
  };
  std::vector<Panel> panels;  // the same for every group
  int64_t group_bytes = 0;
  // kTaps/kDense: per panel [k_padded/4][blocks*16][4] s8. kDepthwise: [taps][channels rounded up
  // to 16] s32 (the vpdpwssd operand). Zero wherever padding. 64-byte aligned.
  std::shared_ptr<int8_t> data;
  // kDepthwise also: [ceil(kernel_h / 4)][kernel_w][channels rounded up to 16][4] s8, four
  // kernel rows of one column side by side (the vpdpbusd operand; zero past the last row);
  // channels of whole 64-channel blocks in dw_lane_transposed order.
  std::shared_ptr<int8_t> dw_rows;
  std::vector<int32_t> col_sum;  // per output channel: the sum of its weights
  // [taps][out_channels]: the sum over input channels of each tap's weights (all but kDense):
  // the compensation of pixels whose windows leave the image, where padded taps are skipped.
  std::vector<int32_t> tap_sum;

  int64_t taps() const { return kernel_h * kernel_w; }
  // Where input channel c of tap t sits in K.
  int64_t k_index(int64_t t, int64_t c) const {
    if (layout == QConvNhwcLayout::kRowTaps) return (t / kernel_w) * k_tap + (t % kernel_w) * cg + c;
    return t * k_tap + c;
  }
  const int8_t* panel_data(int64_t g, const Panel& p) const {
    return data.get() + g * group_bytes + p.offset;
  }
  // Weight of output channel oc (over all groups) at tap (ky*kernel_w + kx), input channel c of
  // its group; reads the packed layout (the reference path and tests).
  int8_t at(int64_t oc, int64_t tap, int64_t c) const;
};

// w is [out_channels, in_channels/group, kernel_h, kernel_w] s8 (ONNX's Conv weight).
PackedConvNhwcS8 pack_conv_nhwc_s8(const int8_t* w, const QConvShape& s);

// The residual Add of a QDQ graph fused after the convolution's own requantization:
//   y = Q(clamp(DQ(q_conv) + DQ(r)))  with DQ/Q as DequantizeLinear/QuantizeLinear compute them,
// where q_conv is what the convolution alone would store (QGemmParams::output kU8 or kS8).
struct QConvSum {
  const void* r = nullptr;  // same shape and layout as y, u8 or s8
  DType r_type = DType::kU8;
  float r_scale = 1.0f;
  int32_t r_zero_point = 0;
  float clamp_min = -std::numeric_limits<float>::infinity();
  float clamp_max = std::numeric_limits<float>::infinity();
  QGemmOutput output = QGemmOutput::kU8;  // kU8, kS8 or kF32
  float out_scale = 1.0f;
  int32_t out_zero_point = 0;
};

// x: [batch, in_h, in_w, in_channels] of p.a_type; y: [batch, out_h, out_w, out_channels] of
// p.output's type (sum->output's with a sum). p's per-channel arrays are indexed by output
// channel; p.M and p.c_transposed are ignored. Padding reads as the activation zero point.
using QConvNhwcFn = void (*)(const QConvShape& s, const QGemmParams& p, const QConvSum* sum,
                             const void* x, const PackedConvNhwcS8& w, void* y);
struct QConvNhwcKernel {
  const char* name;
  QConvNhwcFn fn;
};

// The kernel every call uses, chosen once from cpu_features().
const QConvNhwcKernel& qconv_nhwc_kernel();
// Every kernel this CPU can run, fastest first, ending with the reference.
std::vector<QConvNhwcKernel> qconv_nhwc_available_kernels();

inline void qconv2d_nhwc(const QConvShape& s, const QGemmParams& p, const QConvSum* sum,
                         const void* x, const PackedConvNhwcS8& w, void* y) {
  qconv_nhwc_kernel().fn(s, p, sum, x, w, y);
}

// What qconv2d_nhwc runs for these weights on shape s, for benchmarks:
// "qconv_nhwc_taps_6x64__avx512vnni".
std::string qconv_nhwc_path_name(const PackedConvNhwcS8& w, const QConvShape& s);

void qconv_nhwc_u8s8__ref(const QConvShape& s, const QGemmParams& p, const QConvSum* sum,
                          const void* x, const PackedConvNhwcS8& w, void* y);
void qconv_nhwc_u8s8__avx512vnni(const QConvShape& s, const QGemmParams& p, const QConvSum* sum,
                                 const void* x, const PackedConvNhwcS8& w, void* y);

}  // namespace qtune
