#include "kernels/maxpool_f32.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

using PoolFn = void (*)(int64_t, int64_t, int64_t, const float*, float*);

// Every width from 1 to 40 outputs (tails of a vector, one vector, several), odd input widths
// and heights with a column and a row no window reads, NaN and infinity lanes.
void check(PoolFn fn) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t out_w = 1; out_w <= 40; ++out_w) {
    for (int64_t extra_w : {0, 1}) {
      const int64_t out_h = 3, in_h = 2 * out_h + 1, in_w = 2 * out_w + extra_w;
      std::vector<float> x(static_cast<size_t>(in_h * in_w));
      for (auto& v : x) v = dist(rng);
      // Window 0 all NaN; window 1 one NaN beside numbers; an infinity and a -infinity.
      x[0] = x[1] = x[in_w] = x[in_w + 1] = nan;
      if (out_w > 1) x[3] = nan;
      x[static_cast<size_t>(2 * in_w)] = -inf;
      x[static_cast<size_t>(in_w * 2 + 1)] = inf;
      std::vector<float> got(static_cast<size_t>(out_h * out_w) + 1, 7.0f);
      fn(in_w, out_h, out_w, x.data(), got.data());
      for (int64_t oh = 0; oh < out_h; ++oh) {
        for (int64_t ow = 0; ow < out_w; ++ow) {
          float want = nan;
          for (int64_t kh = 0; kh < 2; ++kh) {
            for (int64_t kw = 0; kw < 2; ++kw) {
              const float v = x[static_cast<size_t>((2 * oh + kh) * in_w + 2 * ow + kw)];
              if (std::isnan(want) || v > want) want = v;
            }
          }
          const float g = got[static_cast<size_t>(oh * out_w + ow)];
          if (std::isnan(want)) {
            EXPECT_TRUE(std::isnan(g)) << "out_w " << out_w << " at " << oh << "," << ow;
          } else {
            EXPECT_EQ(g, want) << "out_w " << out_w << " at " << oh << "," << ow;
          }
        }
      }
      EXPECT_EQ(got.back(), 7.0f) << "wrote past the output, out_w " << out_w;
    }
  }
}

TEST(MaxPool2x2F32, ScalarMatchesDefinition) { check(maxpool2x2_f32__scalar); }

TEST(MaxPool2x2F32, Avx512MatchesDefinition) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "no AVX-512F on this CPU: the kernel cannot run";
  check(maxpool2x2_f32__avx512);
}

}  // namespace
}  // namespace qtune
