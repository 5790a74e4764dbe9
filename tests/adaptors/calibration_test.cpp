#include "adaptors/calibration.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "kernels/quantize_ref.h"

namespace qtune {
namespace {

// Stats straight from a |x| histogram; count is the histogram total.
TensorStats from_hist(std::vector<uint64_t> hist, float hist_max, float min, float max) {
  TensorStats s;
  s.histogram = std::move(hist);
  s.hist_max = hist_max;
  s.min = min;
  s.max = max;
  s.count = static_cast<int64_t>(
      std::accumulate(s.histogram.begin(), s.histogram.end(), uint64_t{0}));
  return s;
}

TensorStats uniform_stats() {  // |x| uniform over [0, 1]
  return from_hist(std::vector<uint64_t>(kCalibHistogramBins, 1000), 1.0f, -1.0f, 1.0f);
}

// 1e6 values spread over |x| in [0, 0.98) (the negative ones down to -0.5) plus three outliers
// at +100.
TensorStats outlier_stats() {
  std::vector<uint64_t> h(kCalibHistogramBins, 0);
  for (int b = 0; b < 20; ++b) h[b] = 50000;
  h[kCalibHistogramBins - 1] = 3;
  return from_hist(std::move(h), 100.0f, -0.5f, 100.0f);
}

// A peaked (Laplacian-like) body over the first 400 bins plus three outliers at |x| = 100.
TensorStats laplace_outlier_stats() {
  std::vector<uint64_t> h(kCalibHistogramBins, 0);
  for (int b = 0; b < 400; ++b) {
    h[b] = static_cast<uint64_t>(std::llround(1e6 * std::exp(-b / 40.0)));
  }
  h[kCalibHistogramBins - 1] = 3;
  return from_hist(std::move(h), 100.0f, -100.0f, 20.0f);
}

FloatRange sym_range(const TensorStats& s, CalibAlgorithm a) {
  return derive_range(s, a, QuantScheme::kSym, DType::kS8);
}

// ---------------------------------------------------------------------------------------------
// derive_range

TEST(CalibRangeTest, MinMaxSymAndAsym) {
  TensorStats s = from_hist({1, 1}, 3.0f, -3.0f, 2.0f);
  FloatRange sym = sym_range(s, CalibAlgorithm::kMinMax);
  EXPECT_FLOAT_EQ(sym.lo, -3.0f);
  EXPECT_FLOAT_EQ(sym.hi, 3.0f);
  FloatRange asym = derive_range(s, CalibAlgorithm::kMinMax, QuantScheme::kAsym, DType::kU8);
  EXPECT_FLOAT_EQ(asym.lo, -3.0f);
  EXPECT_FLOAT_EQ(asym.hi, 2.0f);

  // Asym always includes 0, even when the data does not.
  TensorStats pos = from_hist({0, 2}, 5.0f, 2.0f, 5.0f);
  asym = derive_range(pos, CalibAlgorithm::kMinMax, QuantScheme::kAsym, DType::kU8);
  EXPECT_FLOAT_EQ(asym.lo, 0.0f);
  EXPECT_FLOAT_EQ(asym.hi, 5.0f);
  TensorStats neg = from_hist({0, 2}, 5.0f, -5.0f, -2.0f);
  asym = derive_range(neg, CalibAlgorithm::kMinMax, QuantScheme::kAsym, DType::kS8);
  EXPECT_FLOAT_EQ(asym.lo, -5.0f);
  EXPECT_FLOAT_EQ(asym.hi, 0.0f);
}

TEST(CalibRangeTest, PercentileHandValues) {
  // 4 bins over [0, 4]: 99.999% of 100000 values is 99999 of them.
  TensorStats one_out = from_hist({99999, 0, 0, 1}, 4.0f, 0.0f, 4.0f);
  EXPECT_FLOAT_EQ(sym_range(one_out, CalibAlgorithm::kPercentile).hi, 1.0f);
  TensorStats two_out = from_hist({99998, 0, 0, 2}, 4.0f, 0.0f, 4.0f);
  EXPECT_FLOAT_EQ(sym_range(two_out, CalibAlgorithm::kPercentile).hi, 4.0f);
  TensorStats middle = from_hist({50000, 49999, 1, 0}, 4.0f, 0.0f, 3.5f);
  EXPECT_FLOAT_EQ(sym_range(middle, CalibAlgorithm::kPercentile).hi, 2.0f);
}

TEST(CalibRangeTest, UniformDataKeepsNearlyTheFullRange) {
  const TensorStats s = uniform_stats();
  EXPECT_FLOAT_EQ(sym_range(s, CalibAlgorithm::kMinMax).hi, 1.0f);
  EXPECT_FLOAT_EQ(sym_range(s, CalibAlgorithm::kPercentile).hi, 1.0f);
  // Every 16-bin group of a flat histogram is flat: Q equals P exactly only at the full range.
  EXPECT_FLOAT_EQ(sym_range(s, CalibAlgorithm::kKl).hi, 1.0f);
  // MSE trades a sliver of clipping for a finer step: d/dt [t^2/(12*127^2) + (1-t)^3/3] = 0
  // gives 1 - t ~= 0.0032.
  const float mse = sym_range(s, CalibAlgorithm::kMse).hi;
  EXPECT_GT(mse, 0.995f);
  EXPECT_LT(mse, 0.998f);
}

TEST(CalibRangeTest, OutliersAreClippedExceptByMinMax) {
  const TensorStats s = outlier_stats();
  const float w = 100.0f / kCalibHistogramBins;
  EXPECT_FLOAT_EQ(sym_range(s, CalibAlgorithm::kMinMax).hi, 100.0f);
  // 3 outliers of 1000003 values are under the 0.001% percentile allowance: the body's top edge.
  EXPECT_FLOAT_EQ(sym_range(s, CalibAlgorithm::kPercentile).hi, 20 * w);
  // MSE: minimise N t^2/(12*127^2) + 3 (c - t)^2, c the outlier bin's centre.
  const double n = 1e6, c = 100.0 - w / 2;
  const double t_opt = 3 * c / (n / (12.0 * 127 * 127) + 3);  // ~36.7
  EXPECT_NEAR(sym_range(s, CalibAlgorithm::kMse).hi, t_opt, w);

  const TensorStats l = laplace_outlier_stats();
  EXPECT_FLOAT_EQ(sym_range(l, CalibAlgorithm::kMinMax).hi, 100.0f);
  const float kl = sym_range(l, CalibAlgorithm::kKl).hi;
  EXPECT_GE(kl, 128 * w);  // never fewer bins than quantized levels
  EXPECT_LT(kl, 25.0f);
  EXPECT_LT(sym_range(l, CalibAlgorithm::kPercentile).hi, 25.0f);
  EXPECT_LT(sym_range(l, CalibAlgorithm::kMse).hi, 25.0f);
}

TEST(CalibRangeTest, KlPicksTheFirstThresholdWhereQEqualsP) {
  // 256 bins over [0, 2], data in the lower half only. At i = 128 each level is one bin, so Q = P
  // and KL = 0; every larger i up to 255 ties (the extra bins are empty), and at 256 merging pairs
  // of unequal bins costs something. The first minimum is the half edge, 1.0.
  std::vector<uint64_t> h(256, 0);
  for (int b = 0; b < 128; ++b) h[b] = b % 2 ? 1 : 2;
  TensorStats s = from_hist(h, 2.0f, -2.0f, 2.0f);
  EXPECT_FLOAT_EQ(sym_range(s, CalibAlgorithm::kKl).hi, 1.0f);

  // A flat histogram: clipping anywhere folds mass into a last bin that Q does not have, while
  // merging equal pairs at the full range loses nothing, so kl keeps everything.
  std::vector<uint64_t> flat(256, 3);
  EXPECT_FLOAT_EQ(sym_range(from_hist(flat, 2.0f, 0.0f, 2.0f), CalibAlgorithm::kKl).hi, 2.0f);

  // Fewer bins than quantized levels: nothing to choose, kl falls back to minmax.
  EXPECT_FLOAT_EQ(sym_range(from_hist({5, 0, 1}, 3.0f, 0.0f, 3.0f), CalibAlgorithm::kKl).hi,
                  3.0f);
}

TEST(CalibRangeTest, KlOnNonNegativeAsymDataUsesTheWholeGrid) {
  // A post-ReLU shape: never negative, a peaked body and a long tail.
  std::vector<uint64_t> h(kCalibHistogramBins, 0);
  for (int b = 0; b < kCalibHistogramBins; ++b) {
    h[b] = static_cast<uint64_t>(std::llround(1e6 * std::exp(-b / 150.0))) + 1;
  }
  const TensorStats s = from_hist(h, 10.0f, 0.0f, 10.0f);
  const FloatRange u8 = derive_range(s, CalibAlgorithm::kKl, QuantScheme::kAsym, DType::kU8);
  const FloatRange s8 = sym_range(s, CalibAlgorithm::kKl);
  EXPECT_FLOAT_EQ(u8.lo, 0.0f);
  // 256 levels on one side may keep a wider range than 128 levels; never a narrower one here.
  EXPECT_GT(u8.hi, s8.hi);
  EXPECT_LE(u8.hi, 10.0f);
}

TEST(CalibRangeTest, MseHandValuesDependOnTheGrid) {
  // 4 bins of width 1; errors for t = 1..4 with N = 100000 in bin 0 and one value in bin 3:
  //   sym s8 (step t/127):  t^2 N/193548 + clip  -> 6.85, 4.40, 4.98, 8.27: t = 2
  //   asym u8 on [0, t] (step t/255): t^2 N/780300 + clip -> 6.46, 2.85, 1.49, 2.05: t = 3
  // where clip = k^2 + k + 1/3 for the outlier k bins beyond t.
  TensorStats s = from_hist({100000, 0, 0, 1}, 4.0f, 0.0f, 4.0f);
  FloatRange sym = derive_range(s, CalibAlgorithm::kMse, QuantScheme::kSym, DType::kS8);
  EXPECT_FLOAT_EQ(sym.lo, -2.0f);
  EXPECT_FLOAT_EQ(sym.hi, 2.0f);
  FloatRange asym = derive_range(s, CalibAlgorithm::kMse, QuantScheme::kAsym, DType::kU8);
  EXPECT_FLOAT_EQ(asym.lo, 0.0f);
  EXPECT_FLOAT_EQ(asym.hi, 3.0f);
}

TEST(CalibRangeTest, RepeatedKlAndMseRangesAreRememberedPerHistogram) {
  // Ranges are memoized by histogram content: asking again gives the same answer, and a tensor
  // whose histogram differs in one bin (or the same one under the other scheme) gets its own.
  const TensorStats a = laplace_outlier_stats();
  TensorStats b = a;
  for (int bin = 200; bin < 400; ++bin) b.histogram[bin] *= 1000;  // a much heavier tail
  b.count = static_cast<int64_t>(std::accumulate(b.histogram.begin(), b.histogram.end(), uint64_t{0}));
  for (CalibAlgorithm alg : {CalibAlgorithm::kKl, CalibAlgorithm::kMse}) {
    const FloatRange first = sym_range(a, alg);
    const FloatRange other = sym_range(b, alg);
    EXPECT_GT(other.hi, first.hi) << to_string(alg);
    EXPECT_FLOAT_EQ(sym_range(a, alg).hi, first.hi) << to_string(alg);
    EXPECT_FLOAT_EQ(sym_range(b, alg).hi, other.hi) << to_string(alg);
  }
  TensorStats c = from_hist({100000, 0, 0, 1}, 4.0f, 0.0f, 4.0f);  // MseHandValues' tensor
  EXPECT_FLOAT_EQ(derive_range(c, CalibAlgorithm::kMse, QuantScheme::kSym, DType::kS8).hi, 2.0f);
  EXPECT_FLOAT_EQ(derive_range(c, CalibAlgorithm::kMse, QuantScheme::kAsym, DType::kU8).hi, 3.0f);
  EXPECT_FLOAT_EQ(derive_range(c, CalibAlgorithm::kMse, QuantScheme::kSym, DType::kS8).hi, 2.0f);
}

TEST(CalibRangeTest, AsymClipsEachSideToTheThreshold) {
  TensorStats s = outlier_stats();  // min -0.5, max 100
  const float w = 100.0f / kCalibHistogramBins;
  FloatRange p = derive_range(s, CalibAlgorithm::kPercentile, QuantScheme::kAsym, DType::kU8);
  EXPECT_FLOAT_EQ(p.lo, -0.5f);
  EXPECT_FLOAT_EQ(p.hi, 20 * w);
  TensorStats l = laplace_outlier_stats();  // min -100, max 20
  const float t = sym_range(l, CalibAlgorithm::kKl).hi;
  FloatRange k = derive_range(l, CalibAlgorithm::kKl, QuantScheme::kAsym, DType::kS8);
  EXPECT_FLOAT_EQ(k.lo, -t);
  EXPECT_FLOAT_EQ(k.hi, std::min(t, 20.0f));
}

TEST(CalibRangeTest, SymmetricU8OnPostReluDataIsValid) {
  TensorStats relu = from_hist({10, 0, 0, 10}, 4.0f, 0.0f, 4.0f);
  FloatRange r = derive_range(relu, CalibAlgorithm::kMinMax, QuantScheme::kSym, DType::kU8);
  EXPECT_FLOAT_EQ(r.lo, -4.0f);
  EXPECT_FLOAT_EQ(r.hi, 4.0f);
  ScaleZeroPoint q = choose_qparams(r, DType::kU8, QuantScheme::kSym);
  EXPECT_EQ(q.zero_point, 128);
  EXPECT_FLOAT_EQ(q.scale, 4.0f / 127.0f);
  EXPECT_EQ(quantize_value(0.0f, q.scale, q.zero_point, qrange(DType::kU8)), 128);
  EXPECT_EQ(quantize_value(4.0f, q.scale, q.zero_point, qrange(DType::kU8)), 255);
}

TEST(CalibRangeTest, ZeroRangeAndEmptyStats) {
  TensorStats zeros = from_hist(std::vector<uint64_t>(kCalibHistogramBins, 0), 0.0f, 0.0f, 0.0f);
  zeros.histogram[0] = 7;
  zeros.count = 7;
  for (CalibAlgorithm a : {CalibAlgorithm::kMinMax, CalibAlgorithm::kKl,
                           CalibAlgorithm::kPercentile, CalibAlgorithm::kMse}) {
    for (QuantScheme sc : {QuantScheme::kSym, QuantScheme::kAsym}) {
      FloatRange r = derive_range(zeros, a, sc, DType::kU8);
      EXPECT_EQ(r.lo, 0.0f) << to_string(a);
      EXPECT_EQ(r.hi, 0.0f) << to_string(a);
    }
  }
  FloatRange none = derive_range(TensorStats{}, CalibAlgorithm::kKl, QuantScheme::kSym, DType::kS8);
  EXPECT_EQ(none.lo, 0.0f);
  EXPECT_EQ(none.hi, 0.0f);
  // A constant non-zero tensor: asym keeps [0, c], sym [-c, c].
  TensorStats c = from_hist({0, 0, 0, 9}, 2.5f, 2.5f, 2.5f);
  FloatRange a = derive_range(c, CalibAlgorithm::kKl, QuantScheme::kAsym, DType::kU8);
  EXPECT_FLOAT_EQ(a.lo, 0.0f);
  EXPECT_FLOAT_EQ(a.hi, 2.5f);
}

// ---------------------------------------------------------------------------------------------
// choose_qparams

TEST(CalibQParamsTest, ExactValues) {
  ScaleZeroPoint q = choose_qparams({-1.0f, 2.54f}, DType::kS8, QuantScheme::kSym);
  EXPECT_EQ(q.scale, 2.54f / 127.0f);
  EXPECT_EQ(q.zero_point, 0);
  q = choose_qparams({-2.54f, 1.0f}, DType::kU8, QuantScheme::kSym);
  EXPECT_EQ(q.scale, 2.54f / 127.0f);
  EXPECT_EQ(q.zero_point, 128);
  // (hi - lo) / 255 = 0.5 exactly; -lo / scale = 2.5 rounds half to even: 2, not 3.
  q = choose_qparams({-1.25f, 126.25f}, DType::kU8, QuantScheme::kAsym);
  EXPECT_EQ(q.scale, 0.5f);
  EXPECT_EQ(q.zero_point, 2);
  // s8 asym: -128 - (-1.25 / 0.5) = -125.5 -> -126 (even).
  q = choose_qparams({-1.25f, 126.25f}, DType::kS8, QuantScheme::kAsym);
  EXPECT_EQ(q.scale, 0.5f);
  EXPECT_EQ(q.zero_point, -126);
  q = choose_qparams({-1.0f, 1.55f}, DType::kU8, QuantScheme::kAsym);
  EXPECT_EQ(q.scale, (1.55f + 1.0f) / 255.0f);
  EXPECT_EQ(q.zero_point, 100);
  q = choose_qparams({-1.0f, 1.55f}, DType::kS8, QuantScheme::kAsym);
  EXPECT_EQ(q.zero_point, -28);
  // All-positive and all-negative ranges are widened to contain 0 first.
  q = choose_qparams({2.0f, 5.1f}, DType::kU8, QuantScheme::kAsym);
  EXPECT_EQ(q.scale, 5.1f / 255.0f);
  EXPECT_EQ(q.zero_point, 0);
  q = choose_qparams({-5.1f, -2.0f}, DType::kU8, QuantScheme::kAsym);
  EXPECT_EQ(q.zero_point, 255);
  q = choose_qparams({-5.1f, -2.0f}, DType::kS8, QuantScheme::kAsym);
  EXPECT_EQ(q.zero_point, 127);
}

TEST(CalibQParamsTest, ZeroAndDegenerateRangesGetScaleOne) {
  struct Case {
    DType dtype;
    QuantScheme scheme;
    int32_t zp;
  };
  for (Case c : {Case{DType::kS8, QuantScheme::kSym, 0}, Case{DType::kU8, QuantScheme::kSym, 128},
                 Case{DType::kU8, QuantScheme::kAsym, 0},
                 Case{DType::kS8, QuantScheme::kAsym, -128}}) {
    for (FloatRange r : {FloatRange{0.0f, 0.0f}, FloatRange{-1e-45f, 1e-45f},
                         FloatRange{NAN, NAN}, FloatRange{-INFINITY, INFINITY}}) {
      ScaleZeroPoint q = choose_qparams(r, c.dtype, c.scheme);
      EXPECT_EQ(q.scale, 1.0f) << r.lo;
      EXPECT_EQ(q.zero_point, c.zp) << r.lo;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Warnings

bool has_line(const std::vector<std::string>& lines, const std::string& a, const std::string& b) {
  for (const auto& l : lines) {
    if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return true;
  }
  return false;
}

TEST(CalibWarningsTest, NamesTensorsAndFindings) {
  CalibrationStats stats;
  TensorStats flat = from_hist(std::vector<uint64_t>(kCalibHistogramBins, 0), 0.5f, 0.5f, 0.5f);
  flat.histogram.back() = 10;
  flat.count = 10;
  stats.tensors["flat"] = flat;
  stats.tensors["uniform"] = uniform_stats();
  // 97% of the mass in a peaked body over 8 bins, 3% spread thinly to the end: the coarse full
  // range costs kl far more than folding the thin tail, so kl clips about 3% of the values.
  std::vector<uint64_t> h(kCalibHistogramBins, 15);
  const uint64_t body[8] = {400000, 250000, 150000, 80000, 40000, 20000, 10000, 5000};
  for (int b = 0; b < 8; ++b) h[b] = body[b];
  stats.tensors["clipped"] = from_hist(h, 10.0f, -10.0f, 10.0f);
  TensorStats nan = uniform_stats();
  nan.nonfinite = 4;
  stats.tensors["with_nan"] = nan;
  stats.tensors["never"] = TensorStats{};
  stats.tensors["tiny"] = from_hist({5, 5}, 2.0f, -2.0f, 1.0f);  // too few bins for kl to choose

  const auto lines = calibration_warnings(stats);
  EXPECT_TRUE(has_line(lines, "tensor 'flat'", "zero range (min = max = 0.5)"));
  EXPECT_TRUE(has_line(lines, "tensor 'uniform'", "kl threshold equals the minmax range"));
  EXPECT_TRUE(has_line(lines, "tensor 'clipped'", "saturation: the kl range"));
  EXPECT_TRUE(has_line(lines, "tensor 'with_nan'", "4 NaN/Inf values were ignored"));
  EXPECT_TRUE(has_line(lines, "tensor 'never'", "no finite values observed"));
  EXPECT_FALSE(has_line(lines, "tensor 'flat'", "kl"));
  EXPECT_FALSE(has_line(lines, "tensor 'uniform'", "saturation"));
  EXPECT_FALSE(has_line(lines, "tensor 'clipped'", "kl threshold equals"));
  EXPECT_FALSE(has_line(lines, "tensor 'tiny'", ""));
  EXPECT_EQ(lines.size(), 6u);  // with_nan also gets its kl line

  // Clipping only the 3 outliers of a million values is no saturation.
  CalibrationStats quiet;
  quiet.tensors["out"] = outlier_stats();
  for (const auto& l : calibration_warnings(quiet)) {
    EXPECT_EQ(l.find("saturation"), std::string::npos) << l;
  }
}

// ---------------------------------------------------------------------------------------------
// Save / load

class CalibFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("qtune_calib_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::vector<char> read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void write(const std::string& p, const std::vector<char>& bytes, size_t n) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(n));
  }

  static CalibrationStats small_stats() {
    CalibrationStats s;
    s.samples = 3;
    s.model_hash = "abc";
    s.tensors["a"] = from_hist({1, 2, 3}, 1.5f, -1.5f, 0.25f);
    s.tensors["b"] = from_hist({}, 0.0f, 0.0f, 0.0f);
    return s;
  }

  std::filesystem::path dir_;
};

TEST_F(CalibFileTest, RoundTripIsExact) {
  CalibrationStats s;
  s.samples = 1000;
  s.model_hash = "0123456789abcdef";
  std::mt19937_64 rng(7);
  TensorStats big;
  big.histogram.resize(kCalibHistogramBins);
  for (auto& c : big.histogram) c = rng() % 100000;
  big.count = static_cast<int64_t>(
      std::accumulate(big.histogram.begin(), big.histogram.end(), uint64_t{0}));
  big.min = -0.1f * 3;  // not exactly representable in decimal
  big.max = 1e-40f;     // denormal
  big.hist_max = 0.3f + 1e-7f;
  big.nonfinite = 5;
  s.tensors["conv1/out"] = big;
  TensorStats negzero = from_hist({4}, 0.0f, -0.0f, 0.0f);
  s.tensors["zero \xe2\x9c\x93"] = negzero;

  const std::string p = path("stats.qcal");
  ASSERT_TRUE(save_calibration_stats(s, p).ok());
  auto loaded = load_calibration_stats(p);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_TRUE(*loaded == s);
  const TensorStats& z = loaded->tensors.at("zero \xe2\x9c\x93");
  EXPECT_TRUE(std::signbit(z.min));  // bit patterns survive, -0 included
  const TensorStats& b = loaded->tensors.at("conv1/out");
  EXPECT_EQ(std::memcmp(&b.max, &big.max, 4), 0);

  ASSERT_TRUE(save_calibration_stats(CalibrationStats{}, p).ok());
  auto empty = load_calibration_stats(p);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(*empty == CalibrationStats{});
  EXPECT_FALSE(std::filesystem::exists(p + ".tmp." + std::to_string(::getpid())));
}

TEST_F(CalibFileTest, EveryTruncationIsInvalidInputNamingFileAndOffset) {
  const std::string good = path("good.qcal");
  ASSERT_TRUE(save_calibration_stats(small_stats(), good).ok());
  const std::vector<char> bytes = read(good);
  ASSERT_GT(bytes.size(), 60u);
  const std::string bad = path("bad.qcal");
  for (size_t n = 0; n < bytes.size(); ++n) {
    write(bad, bytes, n);
    auto r = load_calibration_stats(bad);
    ASSERT_FALSE(r.ok()) << "truncated to " << n;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(r.status().message().find(bad + ": byte "), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("truncated reading"), std::string::npos)
        << r.status().message();
  }
  // Header (8 magic + 4 version + 8 samples) then the hash's length field.
  write(bad, bytes, 22);
  EXPECT_NE(load_calibration_stats(bad).status().message().find(
                "byte 20: truncated reading model hash length"),
            std::string::npos);
  write(bad, bytes, bytes.size() - 3);
  EXPECT_NE(load_calibration_stats(bad).status().message().find("reading checksum"),
            std::string::npos);
}

TEST_F(CalibFileTest, EveryFlippedByteIsDetected) {
  const std::string good = path("good.qcal");
  ASSERT_TRUE(save_calibration_stats(small_stats(), good).ok());
  const std::vector<char> bytes = read(good);
  const std::string bad = path("bad.qcal");
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      std::vector<char> b = bytes;
      b[i] = static_cast<char>(b[i] ^ mask);
      write(bad, b, b.size());
      auto r = load_calibration_stats(bad);
      ASSERT_FALSE(r.ok()) << "byte " << i << " mask " << int(mask);
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
      EXPECT_NE(r.status().message().find(bad), std::string::npos);
    }
  }
  std::vector<char> b = bytes;
  b[0] = 'X';
  write(bad, b, b.size());
  EXPECT_NE(load_calibration_stats(bad).status().message().find("byte 0: not a qtune calibration"),
            std::string::npos);
  b = bytes;
  b[8] = 9;
  write(bad, b, b.size());
  EXPECT_NE(load_calibration_stats(bad).status().message().find("byte 8: unsupported version 9"),
            std::string::npos);
  b = bytes;
  b[b.size() - 20] ^= 0x10;  // inside the last histogram
  write(bad, b, b.size());
  const std::string msg = load_calibration_stats(bad).status().message();
  EXPECT_TRUE(msg.find("checksum mismatch") != std::string::npos ||
              msg.find("histogram total") != std::string::npos)
      << msg;
  b = bytes;
  b.push_back(0);
  write(bad, b, b.size());
  EXPECT_NE(load_calibration_stats(bad).status().message().find("unexpected bytes"),
            std::string::npos);
}

TEST_F(CalibFileTest, IoAndContentErrors) {
  auto missing = load_calibration_stats(path("nope.qcal"));
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(missing.status().message().find("nope.qcal: cannot open"), std::string::npos);

  Status s = save_calibration_stats(small_stats(), path("no/such/dir/x.qcal"));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("x.qcal"), std::string::npos);

  CalibrationStats wrong = small_stats();
  wrong.tensors["a"].count = 99;  // histogram says 6
  s = save_calibration_stats(wrong, path("wrong.qcal"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
  EXPECT_NE(s.message().find("tensor 'a'"), std::string::npos) << s.message();
}

// ---------------------------------------------------------------------------------------------
// Collection on a hand-built graph

std::shared_ptr<const Graph> relu_graph(int64_t width) {
  auto g = std::make_shared<Graph>();
  g->name = "tiny";
  g->inputs.push_back({"x", DType::kF32, Shape{-1, width}});
  g->outputs.push_back({"y", DType::kF32, Shape{-1, width}});
  Node n;
  n.name = "act";
  n.op_type = "Relu";
  n.inputs = {"x"};
  n.outputs = {"y"};
  g->nodes.push_back(n);
  return g;
}

size_t expected_bin(float v, float hist_max) {
  const double b = std::fabs(static_cast<double>(v)) * kCalibHistogramBins / hist_max;
  return std::min<size_t>(static_cast<size_t>(b), kCalibHistogramBins - 1);
}

TEST(CalibCollectTest, MinMaxCountAndHistogramOnRelu) {
  auto exec = Executor::create(relu_graph(2));
  ASSERT_TRUE(exec.ok());
  // NCHW images [5,2,1,1]; the model takes [N,2], so batches are reshaped as eval does.
  const std::vector<float> v = {-1, 2, 3, -4, 0.5f, 0, -2, 1, 7, -8};
  const Dataset data = Dataset::of(Tensor::from_f32({5, 2, 1, 1}, v));

  // 4 of 5 samples, in batches of 3 and 1; the fifth (7, -8) must not count.
  auto r = collect_calibration_stats(*exec, data, 4, 3, {"y", "x"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 4);
  EXPECT_EQ(r->model_hash, graph_content_hash(exec->graph()));
  ASSERT_EQ(r->tensors.size(), 2u);

  const TensorStats& x = r->tensors.at("x");
  EXPECT_EQ(x.min, -4.0f);
  EXPECT_EQ(x.max, 3.0f);
  EXPECT_EQ(x.count, 8);
  EXPECT_EQ(x.hist_max, 4.0f);
  ASSERT_EQ(x.histogram.size(), static_cast<size_t>(kCalibHistogramBins));
  EXPECT_EQ(std::accumulate(x.histogram.begin(), x.histogram.end(), uint64_t{0}), 8u);
  EXPECT_EQ(x.histogram[kCalibHistogramBins - 1], 1u);  // |-4|, the top edge
  EXPECT_EQ(x.histogram[1536], 1u);                     // 3 * 2048 / 4
  EXPECT_EQ(x.histogram[1024], 2u);                     // 2 and -2
  EXPECT_EQ(x.histogram[512], 2u);                      // -1 and 1
  EXPECT_EQ(x.histogram[256], 1u);                      // 0.5
  EXPECT_EQ(x.histogram[0], 1u);                        // 0

  const TensorStats& y = r->tensors.at("y");  // relu: 0 2 3 0 0.5 0 0 1
  EXPECT_EQ(y.min, 0.0f);
  EXPECT_EQ(y.max, 3.0f);
  EXPECT_EQ(y.count, 8);
  EXPECT_EQ(y.hist_max, 3.0f);
  EXPECT_EQ(y.histogram[0], 4u);
  EXPECT_EQ(y.histogram[expected_bin(0.5f, 3.0f)], 1u);  // 341
  EXPECT_EQ(y.histogram[expected_bin(1.0f, 3.0f)], 1u);  // 682
  EXPECT_EQ(y.histogram[expected_bin(2.0f, 3.0f)], 1u);  // 1365
  EXPECT_EQ(y.histogram[kCalibHistogramBins - 1], 1u);
  EXPECT_EQ(std::accumulate(y.histogram.begin(), y.histogram.end(), uint64_t{0}), 8u);

  // More samples than the set holds: all 5 are used.
  auto all = collect_calibration_stats(*exec, data, 100, 2, {"y"});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->samples, 5);
  EXPECT_EQ(all->tensors.at("y").max, 7.0f);
  EXPECT_EQ(all->tensors.at("y").count, 10);
}

TEST(CalibCollectTest, LargeTensorsAreBinnedExactly) {
  const int64_t width = 300000;  // above the parallel threshold
  auto exec = Executor::create(relu_graph(width));
  ASSERT_TRUE(exec.ok());
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> v(2 * width);
  for (auto& f : v) f = dist(rng);
  v[17] = NAN;
  v[99] = INFINITY;
  const Dataset data = Dataset::of(Tensor::from_f32({2, width, 1, 1}, v));
  auto r = collect_calibration_stats(*exec, data, 2, 1, {"x"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const TensorStats& s = r->tensors.at("x");

  float mn = INFINITY, mx = -INFINITY;
  for (float f : v) {
    if (std::isfinite(f)) {
      mn = std::min(mn, f);
      mx = std::max(mx, f);
    }
  }
  EXPECT_EQ(s.min, mn);
  EXPECT_EQ(s.max, mx);
  EXPECT_EQ(s.count, 2 * width - 2);
  EXPECT_EQ(s.nonfinite, 2);
  std::vector<uint64_t> want(kCalibHistogramBins, 0);
  for (float f : v) {
    if (std::isfinite(f)) ++want[expected_bin(f, s.hist_max)];
  }
  EXPECT_EQ(s.histogram, want);
}

TEST(CalibCollectTest, BadRequestsAreErrorsNamingTheProblem) {
  auto exec = Executor::create(relu_graph(2));
  ASSERT_TRUE(exec.ok());
  const Dataset data = Dataset::of(Tensor::from_f32({2, 2, 1, 1}, {1, 2, 3, 4}));

  auto unknown = collect_calibration_stats(*exec, data, 2, 1, {"y", "conv9_out"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(unknown.status().message().find("'conv9_out'"), std::string::npos);

  EXPECT_EQ(collect_calibration_stats(*exec, data, 0, 1, {"y"}).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(collect_calibration_stats(*exec, data, 2, 0, {"y"}).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(collect_calibration_stats(*exec, Dataset{}, 2, 1, {"y"}).status().code(),
            StatusCode::kInvalidInput);

  // Images of the wrong size reach the executor, whose error names the batch.
  const Dataset wide = Dataset::of(Tensor::from_f32({1, 3, 1, 1}, {1, 2, 3}));
  auto bad = collect_calibration_stats(*exec, wide, 1, 1, {"y"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("calibration batch at sample 0"), std::string::npos);
}

TEST(CalibCollectTest, StatsFeedRangesEndToEnd) {
  auto exec = Executor::create(relu_graph(4));
  ASSERT_TRUE(exec.ok());
  const Dataset data = Dataset::of(Tensor::from_f32({2, 4, 1, 1}, {-3, 0, 1, 2, 0.5f, -1, 2.5f, 1.5f}));
  auto r = collect_calibration_stats(*exec, data, 2, 2, {"y"});
  ASSERT_TRUE(r.ok());
  const TensorStats& y = r->tensors.at("y");
  FloatRange asym = derive_range(y, CalibAlgorithm::kMinMax, QuantScheme::kAsym, DType::kU8);
  EXPECT_EQ(asym.lo, 0.0f);
  EXPECT_EQ(asym.hi, 2.5f);
  ScaleZeroPoint q = choose_qparams(asym, DType::kU8, QuantScheme::kAsym);
  EXPECT_EQ(q.scale, 2.5f / 255.0f);
  EXPECT_EQ(q.zero_point, 0);

  const std::string hash = graph_content_hash(exec->graph());
  Graph other = exec->graph();
  other.nodes[0].name = "act2";
  EXPECT_NE(graph_content_hash(other), hash);
  EXPECT_EQ(hash.size(), 16u);
}

}  // namespace
}  // namespace qtune
