// im2col / col2im for fp32 convolutions over up to 3 spatial dims (fewer dims use leading 1s).
// Called by the runtime's Conv and ConvTranspose ops around gemm_f32().
// Pure functions on caller-owned buffers; thread-safe.
#pragma once

#include <cstdint>

namespace qtune {

// One image's worth of a convolution's geometry, spatial dims ordered [D, H, W]. `in` is the
// image the kernel slides over, `out` the positions it visits:
// in_pos = out_pos * stride - pad_begin + k * dilation.
struct ConvGeometry3d {
  int64_t channels = 0;
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0};

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
};

// x: [channels, in...]; col: [channels * kernel_size, out_size], row (c, kd, kh, kw).
// Positions that fall into the padding read as 0. Dispatches once on cpu_features().
void im2col_f32(const ConvGeometry3d& g, const float* x, float* col);
// The variants behind it, for tests; the AVX-512 one only where cpu_features().avx512f.
void im2col_f32__ref(const ConvGeometry3d& g, const float* x, float* col);
void im2col_f32__avx512(const ConvGeometry3d& g, const float* x, float* col);

// The adjoint: adds every col entry into x at its input position (padding positions dropped).
// x must be initialised by the caller (zeros or a bias).
void col2im_add_f32(const ConvGeometry3d& g, const float* col, float* x);

}  // namespace qtune
