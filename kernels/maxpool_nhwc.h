// 2-D max pooling of 8-bit channels-last tensors: x [N, H, W, C] -> y [N, OH, OW, C], ONNX
// MaxPool's windows (strides, dilations, pads, ceil_mode resolved by the caller into the shape).
// Padding never wins; a window wholly outside the input gives the type's lowest value, as the
// reference MaxPool does. The channel loop vectorises; TBB-parallel over output rows.
// Thread-safe.
#pragma once

#include <cstdint>

namespace qtune {

struct MaxPoolNhwcShape {
  int64_t batch = 1, channels = 1, in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, dilation_h = 1, dilation_w = 1;
};

// is_signed: s8 elements, else u8.
void maxpool_nhwc_q8(const MaxPoolNhwcShape& s, bool is_signed, const void* x, void* y);

}  // namespace qtune
