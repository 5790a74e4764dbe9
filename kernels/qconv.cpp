#include "kernels/qconv.h"

#include <tbb/parallel_for.h>

#include <cstring>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

// Rows are output pixels, columns (c, kh, kw) of one group: the A operand of the GEMM.
void im2col_u8(const QConvShape& s, const uint8_t* x_img, int64_t g, uint8_t pad_value,
               uint8_t* col) {
  const int64_t cg = s.in_channels / s.group, oh = s.out_h(), ow = s.out_w();
  const int64_t kdim = s.k_per_group();
  for (int64_t oy = 0; oy < oh; ++oy) {
    for (int64_t ox = 0; ox < ow; ++ox) {
      uint8_t* row = col + (oy * ow + ox) * kdim;
      int64_t k = 0;
      for (int64_t c = 0; c < cg; ++c) {
        const uint8_t* plane = x_img + (g * cg + c) * s.in_h * s.in_w;
        for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
          const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
          const bool row_in = iy >= 0 && iy < s.in_h;
          for (int64_t kx = 0; kx < s.kernel_w; ++kx, ++k) {
            const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
            row[k] = row_in && ix >= 0 && ix < s.in_w ? plane[iy * s.in_w + ix] : pad_value;
          }
        }
      }
    }
  }
}

size_t output_elem_size(QGemmOutput o) {
  return o == QGemmOutput::kS32 || o == QGemmOutput::kF32 ? 4 : 1;
}

}  // namespace

PackedConvWeightsS8 pack_conv_weights_s8(const int8_t* w, const QConvShape& s) {
  PackedConvWeightsS8 out;
  out.group = s.group;
  out.out_channels_per_group = s.out_channels / s.group;
  const int64_t kdim = s.k_per_group();
  for (int64_t g = 0; g < s.group; ++g) {
    // Rows of w are output channels with kdim contiguous taps: B[k][n] = w[n * kdim + k].
    out.per_group.push_back(pack_weights_s8(w + g * out.out_channels_per_group * kdim, kdim,
                                            out.out_channels_per_group, 1, kdim));
  }
  return out;
}

void QConvPath::run(const QConvShape& s, const QGemmParams& p, const void* x,
                    const PackedConvWeightsS8& w, void* y) const {
  if (fn) {
    fn(s, p, x, w, y);
  } else {
    qconv2d_im2col(s, p, x, w, y, *gemm);
  }
}

std::vector<QConvPath> qconv_available_paths() {
  // Stable storage for the GEMM kernels the paths point at.
  static const std::vector<QGemmKernel> gemms = qgemm_available_kernels();
  std::vector<QConvPath> out;
  const CpuFeatures& f = cpu_features();
  if (f.avx512vnni && f.avx512bw) {
    out.push_back({"qconv2d_nchw__avx512vnni", qconv2d_nchw__avx512vnni, nullptr});
  }
  for (const auto& k : gemms) out.push_back({std::string("im2col+") + k.name, nullptr, &k});
  return out;
}

const QConvPath& qconv_path() {
  static const QConvPath path = qconv_available_paths().front();
  return path;
}

void qconv2d(const QConvShape& s, const QGemmParams& p, const void* x,
             const PackedConvWeightsS8& w, void* y) {
  qconv_path().run(s, p, x, w, y);
}

void qconv2d_im2col(const QConvShape& s, const QGemmParams& p, const void* x,
                    const PackedConvWeightsS8& w, void* y, const QGemmKernel& kernel) {
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = oh * ow;
  const int64_t kdim = s.k_per_group();
  const int64_t ocg = w.out_channels_per_group;
  const size_t out_elem = output_elem_size(p.output);
  // The pad value is the zero point in the activation's own encoding.
  const uint8_t pad_value = static_cast<uint8_t>(p.a_zero_point);
  tbb::parallel_for(int64_t{0}, s.batch, [&](int64_t b) {
    std::vector<uint8_t> col(static_cast<size_t>(pixels * kdim));
    const uint8_t* x_img =
        static_cast<const uint8_t*>(x) + b * s.in_channels * s.in_h * s.in_w;
    for (int64_t g = 0; g < s.group; ++g) {
      im2col_u8(s, x_img, g, pad_value, col.data());
      QGemmParams gp = p;
      gp.M = pixels;
      gp.c_transposed = true;
      const int64_t oc0 = g * ocg;
      if (gp.bias_s32) gp.bias_s32 += oc0;
      if (gp.bias_f32) gp.bias_f32 += oc0;
      if (gp.scale && gp.per_channel_scale) gp.scale += oc0;
      uint8_t* y_grp = static_cast<uint8_t*>(y) +
                       ((b * s.out_channels + oc0) * pixels) * static_cast<int64_t>(out_elem);
      kernel.fn(gp, col.data(), kdim, w.per_group[static_cast<size_t>(g)], y_grp, pixels);
    }
  });
}

}  // namespace qtune
