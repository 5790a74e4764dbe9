#include "kernels/conv2d_f32.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

// Each path rounds every partial sum (2^-24 relative each) in its own order; the reference
// accumulates in double. So a path may differ by about K * 2^-24 of the sum of |products|
// (K = the window's taps), plus one rounding of the bias and the sum.
constexpr double kRelTolPerTerm = 2.0 * 5.97e-8;

struct Case {
  int64_t n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
  bool bias, sum, clamp;
};

std::string describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "n%ld c%ld %ldx%ld m%ld k%ldx%ld s%ldx%ld d%ldx%ld pads %ld,%ld,%ld,%ld g%ld "
                "bias%d sum%d clamp%d",
                c.n, c.c, c.h, c.w, c.m, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.pb,
                c.pr, c.group, c.bias, c.sum, c.clamp);
  return buf;
}

QConvShape shape_of(const Case& c) {
  QConvShape s;
  s.batch = c.n;
  s.in_channels = c.c;
  s.in_h = c.h;
  s.in_w = c.w;
  s.out_channels = c.m;
  s.kernel_h = c.kh;
  s.kernel_w = c.kw;
  s.stride_h = c.sh;
  s.stride_w = c.sw;
  s.dilation_h = c.dh;
  s.dilation_w = c.dw;
  s.pad_top = c.pt;
  s.pad_left = c.pl;
  s.pad_bottom = c.pb;
  s.pad_right = c.pr;
  s.group = c.group;
  return s;
}

using ConvFn = void (*)(const QConvShape&, const float*, const PackedConvWeightsF32&,
                        const ConvF32Epilogue&, float*);

// A case's random operands and epilogue, what the reference gives, and per element the sum of
// |x * w| over its window (the reference on absolute values), which bounds the rounding error
// together with the bias and the sum.
struct Expected {
  std::vector<float> x, w, bias, sum, want, magnitude;
  ConvF32Epilogue e;
  double taps = 0;  // products per output element
};

Expected expected(const Case& c, std::mt19937& rng) {
  const QConvShape s = shape_of(c);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t cg = c.c / c.group;
  Expected r;
  r.x.resize(static_cast<size_t>(c.n * c.c * c.h * c.w));
  r.w.resize(static_cast<size_t>(c.m * cg * c.kh * c.kw));
  r.bias.resize(static_cast<size_t>(c.m));
  r.sum.resize(static_cast<size_t>(c.n * c.m * s.out_h() * s.out_w()));
  for (auto* v : {&r.x, &r.w, &r.bias, &r.sum}) {
    for (auto& e : *v) e = dist(rng);
  }
  if (c.bias) r.e.bias = r.bias.data();
  if (c.sum) r.e.sum = r.sum.data();
  if (c.clamp) {
    r.e.clamp_min = -0.25f;
    r.e.clamp_max = 0.5f;
  }
  r.want.resize(r.sum.size());
  f32_conv2d__ref(s, r.x.data(), r.w.data(), r.e, r.want.data());
  std::vector<float> abs_x(r.x.size()), abs_w(r.w.size());
  for (size_t i = 0; i < r.x.size(); ++i) abs_x[i] = std::fabs(r.x[i]);
  for (size_t i = 0; i < r.w.size(); ++i) abs_w[i] = std::fabs(r.w[i]);
  r.magnitude.resize(r.sum.size());
  f32_conv2d__ref(s, abs_x.data(), abs_w.data(), ConvF32Epilogue{}, r.magnitude.data());
  r.taps = static_cast<double>(cg * c.kh * c.kw);
  return r;
}

double tolerance(const Expected& r, float magnitude) {
  return kRelTolPerTerm * (r.taps + 2) * (magnitude + 2.0) + 1e-30;
}

void check(ConvFn fn, const Case& c, std::mt19937& rng) {
  const QConvShape s = shape_of(c);
  const Expected r = expected(c, rng);
  std::vector<float> got(r.want.size(), NAN);
  fn(s, r.x.data(), pack_conv_weights_f32(r.w.data(), s), r.e, got.data());
  for (size_t i = 0; i < r.want.size(); ++i) {
    ASSERT_NEAR(got[i], r.want[i], tolerance(r, r.magnitude[i])) << describe(c) << " at element " << i;
  }
}

std::vector<Case> cases() {
  std::vector<Case> out = {
      // The bundled models' layers.
      {2, 1, 28, 28, 16, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, true},    // lenet conv1
      {2, 16, 12, 12, 32, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, true},   // lenet conv2
      {2, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, false, true},    // resnet stem
      {3, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true, true},    // layer1 + add
      {2, 16, 14, 14, 32, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, true, false, false},  // downsample
      {2, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, false, true},
      {2, 64, 4, 4, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true, true},
      {2, 1, 28, 28, 64, 7, 7, 7, 7, 1, 1, 0, 0, 0, 0, 1, true, false, false},   // vit patches
      // Channel counts around the vector and block widths.
      {1, 3, 9, 9, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false, false, false},
      {2, 5, 8, 7, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, false, false},
      {1, 7, 6, 6, 33, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, true, false},
      {1, 4, 6, 5, 47, 2, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, false, true, true},
      {1, 4, 6, 5, 65, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, false, false},
      {1, 2, 5, 5, 80, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, false},
      {1, 2, 5, 5, 130, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true, true},
      // Rows longer than a tile, 1-wide rows, 1x1 outputs, windows mostly padding.
      {1, 3, 5, 53, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, false, false},
      {2, 3, 40, 1, 32, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, true, true, false},
      {3, 6, 3, 3, 20, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, true},
      {1, 2, 2, 2, 16, 5, 5, 1, 1, 1, 1, 4, 4, 4, 4, 1, true, false, false},
      {1, 2, 3, 4, 16, 3, 3, 2, 2, 1, 1, 3, 2, 0, 3, 1, false, true, false},
      // Strides 2 and 3, unequal strides, dilation, asymmetric padding.
      {2, 3, 11, 11, 20, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, false, true},
      {2, 8, 13, 13, 40, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 1, true, true, false},
      {1, 4, 12, 15, 24, 3, 5, 1, 2, 1, 1, 1, 2, 0, 1, 1, true, false, false},
      {1, 4, 12, 15, 24, 3, 3, 2, 3, 2, 2, 2, 1, 1, 2, 1, false, false, true},
      {2, 6, 10, 10, 16, 3, 3, 1, 1, 2, 3, 2, 3, 2, 3, 1, true, false, false},
      {1, 5, 17, 19, 32, 4, 3, 3, 4, 1, 2, 0, 1, 2, 0, 1, true, true, true},
      // Kernel rows at once (stride 1, 3- and 5-wide): weight chunks rounded down to whole
      // kernel rows (40 and 24 channels), padding rows skipped within a chunk.
      {1, 40, 6, 9, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true, true},
      {1, 24, 7, 11, 20, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1, true, false, true},
      {2, 6, 9, 30, 32, 5, 5, 1, 1, 1, 1, 0, 2, 1, 2, 1, false, true, false},
      // Groups and depthwise.
      {2, 8, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, true, false, true},
      {1, 12, 9, 9, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4, true, true, false},
      {1, 32, 6, 6, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, false, false, false},
  };
  return out;
}

TEST(Conv2dF32, ScalarMatchesReference) {
  std::mt19937 rng(7);
  for (const Case& c : cases()) check(f32_conv2d__scalar, c, rng);
}

TEST(Conv2dF32, Avx512MatchesReference) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "no AVX-512F on this CPU: the kernel cannot run";
  std::mt19937 rng(7);
  for (const Case& c : cases()) check(f32_conv2d_direct__avx512, c, rng);
}

// Small maps at batches that fill tiles of several images (and leave a shorter last tile):
// resnet's 7x7 and 4x4 layers and their stride-2 entries, 1-3 blocks, more weights than one
// chunk of taps, a window wholly in the padding, dilation, groups, the epilogue's parts.
std::vector<Case> image_lane_cases() {
  return {
      {13, 32, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true, true},
      {14, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, false, true},
      {8, 64, 4, 4, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true, true},
      {9, 32, 7, 7, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, false, false},
      {7, 32, 7, 7, 64, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, true, false, false},
      {25, 5, 6, 5, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false, false, true},
      {12, 7, 5, 5, 130, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true, false},
      {13, 3, 3, 4, 48, 3, 3, 2, 2, 1, 1, 3, 2, 0, 3, 1, false, true, false},
      {12, 6, 6, 6, 32, 3, 3, 1, 1, 2, 2, 2, 1, 2, 1, 2, true, false, true},
      {6, 96, 3, 3, 80, 2, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, true, true, true},
  };
}

TEST(Conv2dF32, ImageLanesMatchesReference) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "no AVX-512F on this CPU: the kernel cannot run";
  std::mt19937 rng(17);
  for (const Case& c : image_lane_cases()) {
    check(f32_conv2d_image_lanes__avx512, c, rng);
    check(conv2d_f32, c, rng);
  }
  // Any shape with channels in the lanes, whatever the batch.
  for (const Case& c : cases()) {
    if (c.c / c.group == 1) continue;  // packed for pixel lanes
    check(f32_conv2d_image_lanes__avx512, c, rng);
  }
}

TEST(Conv2dF32, ImageLanesTakeSmallMapsAtLargerBatches) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "no AVX-512F on this CPU: the kernel cannot run";
  const Case small{100, 64, 4, 4, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, false, false};
  const std::vector<float> w(64 * 64 * 9, 0.5f);
  EXPECT_STREQ(conv2d_f32_kernel_name(shape_of(small), pack_conv_weights_f32(w.data(), shape_of(small))),
               "f32_conv2d_image_lanes__avx512");
  Case one = small;
  one.n = 1;
  EXPECT_STREQ(conv2d_f32_kernel_name(shape_of(one), pack_conv_weights_f32(w.data(), shape_of(one))),
               "f32_conv2d_direct__avx512");
}

// Depthwise layers as the zoo's models have them (3x3/5x5/7x7, stride 1 and 2, channel
// multiplier 2, dilation, rows wider than one chunk of outputs, maps narrower than a vector).
std::vector<Case> depthwise_cases() {
  return {
      {2, 32, 56, 56, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, true, false, true},
      {1, 16, 112, 112, 16, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 16, true, false, false},
      {1, 24, 15, 15, 24, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 24, true, true, true},
      {2, 8, 7, 7, 8, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 8, true, true, false},
      {1, 6, 9, 70, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, false, false, false},
      {1, 4, 13, 13, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 4, true, false, true},
      {1, 5, 10, 11, 5, 3, 5, 2, 3, 1, 1, 1, 2, 0, 1, 5, false, true, false},
      {3, 3, 1, 1, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 3, true, false, false},
      {2, 40, 14, 14, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 40, true, true, true},
      {1, 33, 20, 37, 33, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 33, true, false, false},
      // Channel multipliers 3, 4 and 6, and single-channel images (one group) with several
      // outputs: 2 or 4 output channels computed together, or one.
      {1, 3, 7, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, false, true, true},
      {1, 2, 10, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, true, false, true},
      {1, 1, 9, 11, 6, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, true, true, false},
      {2, 1, 28, 28, 16, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, true},
      {1, 1, 40, 40, 12, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 1, true, false, false},
      {1, 1, 23, 17, 20, 3, 3, 3, 1, 2, 1, 2, 1, 0, 1, 1, false, true, true},
      // Stride 2 across: the phase rows built by the vector even-column fill, odd and even
      // widths, padding on either side, a row wider than two vectors.
      {2, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, false, true},
      {1, 1, 9, 45, 8, 3, 5, 2, 2, 1, 1, 0, 2, 1, 1, 1, false, true, false},
      {1, 1, 12, 71, 4, 5, 3, 1, 2, 1, 2, 2, 0, 2, 3, 1, true, false, true},
  };
}

TEST(Conv2dF32, DepthwiseMatchesReference) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "no AVX-512F on this CPU: the kernel cannot run";
  std::mt19937 rng(13);
  for (const Case& c : depthwise_cases()) {
    ASSERT_EQ(pack_conv_weights_f32(std::vector<float>(static_cast<size_t>(c.m * c.kh * c.kw)).data(),
                                    shape_of(c)).block, 1) << describe(c);
    check(f32_conv2d_pixel_lanes__avx512, c, rng);
    if (c.m == c.group) check(f32_conv2d_depthwise_blocked__avx512, c, rng);
    check(conv2d_f32, c, rng);
  }
}

TEST(Conv2dF32, DepthwisePackingOnTheScalarPath) {
  std::mt19937 rng(15);
  for (const Case& c : depthwise_cases()) check(f32_conv2d__scalar, c, rng);
}

TEST(Conv2dF32, DispatchMatchesReference) {
  std::mt19937 rng(9);
  for (const Case& c : cases()) check(conv2d_f32, c, rng);
}

// With max_pool_2x2 the output is the 2x2, stride-2 max pool of what the convolution gives:
// the pixel-lane kernel pools as it stores, the others through the dispatcher's fallback.
void check_pooled(ConvFn fn, const Case& c, std::mt19937& rng) {
  const QConvShape s = shape_of(c);
  const int64_t oh = s.out_h(), ow = s.out_w(), ph = oh / 2, pw = ow / 2;
  Expected r = expected(c, rng);
  r.e.max_pool_2x2 = true;
  const size_t pooled = static_cast<size_t>(c.n * c.m * ph * pw);
  std::vector<float> got(pooled + 1, 7.0f);
  fn(s, r.x.data(), pack_conv_weights_f32(r.w.data(), s), r.e, got.data());
  for (int64_t p = 0; p < c.n * c.m; ++p) {
    for (int64_t i = 0; i < ph; ++i) {
      for (int64_t j = 0; j < pw; ++j) {
        float want = -INFINITY, mag = 0.0f;
        for (int64_t a = 0; a < 2; ++a) {
          for (int64_t b = 0; b < 2; ++b) {
            const size_t at = static_cast<size_t>((p * oh + 2 * i + a) * ow + 2 * j + b);
            want = std::max(want, r.want[at]);
            mag = std::max(mag, r.magnitude[at]);
          }
        }
        ASSERT_NEAR(got[static_cast<size_t>((p * ph + i) * pw + j)], want, tolerance(r, mag))
            << describe(c) << " pooled at plane " << p << " row " << i << " column " << j;
      }
    }
  }
  ASSERT_EQ(got[pooled], 7.0f) << describe(c) << ": wrote past the pooled output";
}

TEST(Conv2dF32, MaxPool2x2InTheEpilogue) {
  const std::vector<Case> pooled_cases = {
      // Pixel lanes: lenet's conv1, odd output sizes, 2/4 output channels per input plane,
      // padding, a residual sum, outputs wider than 32 columns.
      {3, 1, 28, 28, 16, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, true},
      {1, 1, 11, 13, 6, 3, 3, 1, 1, 1, 1, 0, 1, 1, 0, 1, true, true, false},
      {2, 1, 40, 70, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false, true, true},
      {1, 4, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, true, false, true},
      // Other kernels, through the fallback: channels in the lanes, depthwise blocked, strided.
      {2, 16, 12, 12, 32, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, true},
      {1, 8, 9, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8, true, true, false},
      {1, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, false, true},
      // A 1-row output: nothing to pool.
      {1, 1, 3, 9, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, false},
  };
  std::mt19937 rng(21);
  for (const Case& c : pooled_cases) {
    check_pooled(conv2d_f32, c, rng);
    if (cpu_features().avx512f && c.c == c.group && c.m != c.group && c.sw == 1) {
      check_pooled(f32_conv2d_pixel_lanes__avx512, c, rng);
    }
  }
}

// The output may overwrite the residual sum in place (Conv + Add fused into the Add's buffer).
TEST(Conv2dF32, SumMayAliasOutput) {
  const Case c{2, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true, true};
  const QConvShape s = shape_of(c);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(2 * 16 * 14 * 14)), w(16 * 16 * 9), y(x.size());
  for (auto* v : {&x, &w, &y}) {
    for (auto& e : *v) e = dist(rng);
  }
  std::vector<float> want(y.size());
  ConvF32Epilogue e;
  e.sum = y.data();
  f32_conv2d__ref(s, x.data(), w.data(), e, want.data());
  conv2d_f32(s, x.data(), pack_conv_weights_f32(w.data(), s), e, y.data());
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want[i], 1e-4) << i;
}

// Batch and image size may differ from the shape the weights were packed for.
TEST(Conv2dF32, WeightsPackedOnceServeOtherBatchesAndSizes) {
  Case c{1, 8, 9, 9, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, false, false};
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> w(24 * 8 * 9), bias(24);
  for (auto* v : {&w, &bias}) {
    for (auto& e : *v) e = dist(rng);
  }
  const PackedConvWeightsF32 packed = pack_conv_weights_f32(w.data(), shape_of(c));
  for (auto [n, h] : {std::pair<int64_t, int64_t>{1, 9}, {5, 9}, {2, 17}, {3, 4}}) {
    c.n = n;
    c.h = c.w = h;
    const QConvShape s = shape_of(c);
    std::vector<float> x(static_cast<size_t>(n * 8 * h * h));
    for (auto& e : x) e = dist(rng);
    const size_t out = static_cast<size_t>(n * 24 * s.out_h() * s.out_w());
    std::vector<float> want(out), got(out);
    ConvF32Epilogue e;
    e.bias = bias.data();
    f32_conv2d__ref(s, x.data(), w.data(), e, want.data());
    conv2d_f32(s, x.data(), packed, e, got.data());
    for (size_t i = 0; i < out; ++i) ASSERT_NEAR(got[i], want[i], 1e-4) << "n" << n << " h" << h;
  }
}

}  // namespace
}  // namespace qtune
