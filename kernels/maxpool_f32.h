// 2x2, stride-2 max pooling of one f32 plane (the common unpadded MaxPool of CNNs):
// y[oh][ow] = max of x[2oh + {0,1}][2ow + {0,1}] for oh < out_h, ow < out_w (2*out_h <= in_h,
// 2*out_w <= in_w). NaN never wins unless the whole window is NaN, as the runtime's MaxPool
// does; which of +0 and -0 a window of both gives is unspecified. Thread-safe.
#pragma once

#include <cstdint>

namespace qtune {

// The fastest variant this CPU runs.
void maxpool2x2_f32(int64_t in_w, int64_t out_h, int64_t out_w, const float* x, float* y);
// The same over `planes` consecutive in_h x in_w planes into (in_h / 2) x (in_w / 2) ones (an
// NCHW tensor's N x C), TBB-parallel over planes.
void maxpool2x2_f32_planes(int64_t planes, int64_t in_h, int64_t in_w, const float* x, float* y);

// The variants, for tests; the AVX-512 one only where cpu_features().avx512f.
void maxpool2x2_f32__scalar(int64_t in_w, int64_t out_h, int64_t out_w, const float* x,
                            float* y);
void maxpool2x2_f32__avx512(int64_t in_w, int64_t out_h, int64_t out_w, const float* x,
                            float* y);

}  // namespace qtune
