#include "kernels/im2col_f32.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

// Copies only, so the AVX-512 variant must match the reference bit for bit.
TEST(Im2colF32Test, Avx512MatchesReference) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "CPU lacks AVX-512";
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  int cases = 0;
  for (int64_t w : {1, 5, 16, 17, 28, 40}) {
    for (int64_t k : {1, 3, 5}) {
      for (int64_t s : {1, 2, 3}) {
        for (int64_t d : {1, 2}) {
          for (int64_t pad : {0, 1, 2}) {
            ConvGeometry3d g;
            g.channels = 2;
            g.in[1] = 7;
            g.in[2] = w;
            g.kernel[1] = 3;
            g.kernel[2] = k;
            g.stride[1] = 1;
            g.stride[2] = s;
            g.dilation[2] = d;
            g.pad_begin[1] = 1;
            g.pad_begin[2] = pad;
            const int64_t span = w + 2 * pad - ((k - 1) * d + 1);
            if (span < 0) continue;
            g.out[1] = 7;
            g.out[2] = span / s + 1;
            std::vector<float> x(static_cast<size_t>(g.channels * g.in_size()));
            for (auto& v : x) v = dist(rng);
            const size_t n = static_cast<size_t>(g.channels * g.kernel_size() * g.out_size());
            std::vector<float> want(n, -7.0f), got(n, -9.0f);
            im2col_f32__ref(g, x.data(), want.data());
            im2col_f32__avx512(g, x.data(), got.data());
            ASSERT_EQ(got, want) << "w=" << w << " k=" << k << " s=" << s << " d=" << d
                                 << " pad=" << pad;
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 100);
}

TEST(Im2colF32Test, Col2imAddsIntoPositions) {
  // 1-D, kernel 2, stride 1, pad 1 over 3 inputs: 4 outputs; every input is hit twice.
  ConvGeometry3d g;
  g.channels = 1;
  g.in[2] = 3;
  g.out[2] = 4;
  g.kernel[2] = 2;
  g.pad_begin[2] = 1;
  std::vector<float> col(8, 1.0f), x(3, 0.5f);
  col2im_add_f32(g, col.data(), x.data());
  EXPECT_EQ(x, (std::vector<float>{2.5f, 2.5f, 2.5f}));
}

}  // namespace
}  // namespace qtune
