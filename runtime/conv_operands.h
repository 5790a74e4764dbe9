// Operand checks and layouts the convolution, pooling and matrix-product kernels share (reference
// Conv/ConvTranspose/pools/MatMul/Gemm, QLinearConv/ConvInteger/QLinearMatMul/MatMulInteger and
// the adaptors' fused QConv/Bf16Conv/F32Conv): conv operands and geometry, N-D im2col, numpy
// matmul broadcasting, and computing f16/bf16 operands through f32. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernel_registry.h"
#include "runtime/conv_geometry.h"
#include "common/tensor.h"
#include "kernels/im2col_f32.h"

namespace qtune {

struct QConvShape;  // kernels/qconv.h

struct ConvOperands {
  int64_t group = 1;
  Shape in_sp, k_sp;  // spatial input and kernel sizes
  ConvGeometry geo;
};

// x [N, C, D1, ...] and w [M, C/group, K1, ...]; errors are kInvalidInput naming the node.
Result<ConvOperands> check_conv_operands(const OpContext& ctx, const Tensor& x, const Tensor& w);

// A 1-D or 2-D convolution as the kernels' QConvShape (1-D: height 1), from checked operands.
void conv2d_shape(const Tensor& x, const Tensor& w, const ConvOperands& ops, QConvShape* s);

// The [D,H,W] form of a geometry with at most three spatial dims, unit dims in front.
ConvGeometry3d geometry_3d(const Shape& in_sp, const Shape& k_sp, const ConvGeometry& g,
                           int64_t channels);

// Unfolds `channels` planes of one image x [channels, in_sp...] into col [channels * prod(k_sp),
// prod(out)], row (c, k...) - any number of spatial dims. Positions in the padding read `pad`.
template <typename T>
void im2col_nd(const Shape& in_sp, const Shape& k_sp, const ConvGeometry& g, int64_t channels,
               const T* x, T pad, T* col) {
  const size_t r = in_sp.size();
  const int64_t in_pix = shape_numel(in_sp), k_pix = shape_numel(k_sp);
  const int64_t out_pix = shape_numel(g.out);
  std::vector<int64_t> kc(r), oc(r);
  for (int64_t row = 0; row < channels * k_pix; ++row) {
    int64_t rem = row % k_pix;
    for (size_t d = r; d-- > 0;) {
      kc[d] = rem % k_sp[d];
      rem /= k_sp[d];
    }
    const T* xc = x + (row / k_pix) * in_pix;
    T* out = col + row * out_pix;
    std::fill(oc.begin(), oc.end(), 0);
    for (int64_t o = 0; o < out_pix; ++o) {
      int64_t off = 0;
      bool inside = true;
      for (size_t d = 0; d < r && inside; ++d) {
        const int64_t pos = oc[d] * g.strides[d] - g.pads[d] + kc[d] * g.dilations[d];
        inside = pos >= 0 && pos < in_sp[d];
        off = off * in_sp[d] + pos;
      }
      out[o] = inside ? xc[off] : pad;
      for (size_t d = r; d-- > 0;) {
        if (++oc[d] < g.out[d]) break;
        oc[d] = 0;
      }
    }
  }
}

// numpy.matmul broadcasting of A [..., M, K] by B [..., K, N]; 1-D operands gain a unit dim
// that is dropped from the result.
struct MatMulPlan {
  int64_t m = 1, n = 1, k = 1;
  Shape out_shape;
  Shape a_batch, b_batch;        // each operand's own batch dims (after 1-D promotion)
  std::vector<int64_t> a_index;  // per output batch: index into A's batches
  std::vector<int64_t> b_index;
  int64_t batches() const { return static_cast<int64_t>(a_index.size()); }
};
Result<MatMulPlan> plan_matmul(const OpContext& ctx, const Shape& a, const Shape& b);

// Row-major index into `own` (right-aligned under `full`, size-1 dims broadcast) of the
// full-shape multi-index `idx`.
int64_t broadcast_offset(const Shape& own, const Shape& full, const std::vector<int64_t>& idx);

}  // namespace qtune
