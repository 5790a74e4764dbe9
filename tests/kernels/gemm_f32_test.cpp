#include "kernels/gemm_f32.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

// Each kernel rounds every one of its K partial sums (2^-24 relative each), in its own order, so
// two correct kernels can differ by about 2 * K * 2^-24 of the sum of |products|.
constexpr double kRelTolPerTerm = 2.0 * 5.97e-8;

struct Case {
  bool ta, tb;
  int64_t m, n, k;
  int64_t pad;  // extra elements per row on top of the tight stride
  float alpha, beta;
};

std::string describe(const Case& c) {
  return "ta=" + std::to_string(c.ta) + " tb=" + std::to_string(c.tb) +
         " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
         " pad=" + std::to_string(c.pad) + " alpha=" + std::to_string(c.alpha) +
         " beta=" + std::to_string(c.beta);
}

// Runs `fn` and the reference on the same random operands; checks every element of C.
void check_against_ref(GemmF32Fn fn, const Case& c, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
  const int64_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
  std::vector<float> a(a_rows * lda), b(b_rows * ldb), c0(c.m * ldc);
  for (auto& v : a) v = dist(rng);
  for (auto& v : b) v = dist(rng);
  for (auto& v : c0) v = dist(rng);
  std::vector<float> got = c0, want = c0;
  fn(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a.data(), lda, b.data(), ldb, c.beta, got.data(), ldc);
  f32_gemm__ref(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a.data(), lda, b.data(), ldb, c.beta,
                want.data(), ldc);
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const int64_t at = i * ldc + j;
      if (j >= c.n) {
        ASSERT_EQ(got[at], c0[at]) << describe(c) << ": wrote past column n at " << i << "," << j;
        continue;
      }
      double magnitude = std::fabs(c.beta * c0[at]);
      for (int64_t p = 0; p < c.k; ++p) {
        const float av = c.ta ? a[p * lda + i] : a[i * lda + p];
        const float bv = c.tb ? b[j * ldb + p] : b[p * ldb + j];
        magnitude += std::fabs(c.alpha * av * bv);
      }
      const double tol = kRelTolPerTerm * static_cast<double>(c.k + 2) * magnitude + 1e-30;
      ASSERT_NEAR(got[at], want[at], tol) << describe(c) << " at " << i << "," << j;
    }
  }
}

std::vector<Case> odd_shapes() {
  const int64_t sizes[] = {1, 3, 7, 16, 17, 63, 64, 65, 257};
  const float alphas[] = {1.0f, -0.5f, 2.0f};
  const float betas[] = {0.0f, 1.0f, 0.75f};
  std::vector<Case> cases;
  int i = 0;
  for (int64_t m : sizes) {
    for (int64_t n : sizes) {
      for (int64_t k : sizes) {
        for (int t = 0; t < 4; ++t, ++i) {
          cases.push_back({(t & 1) != 0, (t & 2) != 0, m, n, k, (i % 3 == 0) ? int64_t{5} : 0,
                           alphas[i % 3], betas[(i / 3) % 3]});
        }
      }
    }
  }
  return cases;
}

TEST(GemmF32Test, Avx512MatchesReferenceOnOddShapes) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "CPU lacks AVX-512";
  std::mt19937 rng(42);
  for (const Case& c : odd_shapes()) {
    check_against_ref(f32_gemm_8x32__avx512, c, rng);
    if (testing::Test::HasFatalFailure()) return;
  }
}

TEST(GemmF32Test, DispatchedKernelMatchesReference) {
  std::mt19937 rng(7);
  for (const Case& c : {Case{false, false, 300, 700, 300, 0, 1.0f, 0.0f},
                        Case{true, true, 129, 31, 513, 3, 0.5f, 1.0f},
                        Case{false, true, 57600 / 16, 32, 16, 0, 1.0f, 0.0f}}) {
    check_against_ref(gemm_f32, c, rng);
    if (testing::Test::HasFatalFailure()) return;
  }
  const std::string name = gemm_f32_kernel_name();
  EXPECT_EQ(name, cpu_features().avx512f ? "f32_gemm_8x32__avx512" : "f32_gemm__ref");
}

// B given by row pointers (overlapping, out of order, as Conv's implicit im2col makes them) must
// give the same result as the same rows laid out densely.
TEST(GemmF32Test, RowPointerBMatchesDenseB) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> pool(4096);
  for (auto& v : pool) v = dist(rng);
  for (const bool ta : {false, true}) {
    for (const int64_t m : {1, 8, 17, 40, 150}) {
      for (const int64_t n : {5, 33, 300}) {
        for (const int64_t k : {3, 27, 300}) {
          std::vector<const float*> rows(static_cast<size_t>(k));
          std::vector<float> dense(static_cast<size_t>(k * n));
          for (int64_t p = 0; p < k; ++p) {
            rows[p] = pool.data() + (p * 37) % (pool.size() - n);
            std::copy(rows[p], rows[p] + n, dense.begin() + p * n);
          }
          std::vector<float> a(static_cast<size_t>(m * k));
          for (auto& v : a) v = dist(rng);
          const int64_t lda = ta ? m : k;
          std::vector<float> want(static_cast<size_t>(m * n), 0.5f), got_ref = want, got = want;
          f32_gemm__ref(ta, false, m, n, k, 1.5f, a.data(), lda, dense.data(), n, 1.0f,
                        want.data(), n);
          f32_gemm_rows__ref(ta, m, n, k, 1.5f, a.data(), lda, rows.data(), 1.0f,
                             got_ref.data(), n);
          ASSERT_EQ(got_ref, want);
          if (!cpu_features().avx512f) continue;
          f32_gemm_rows_8x32__avx512(ta, m, n, k, 1.5f, a.data(), lda, rows.data(), 1.0f,
                                     got.data(), n);
          for (size_t i = 0; i < want.size(); ++i) {
            // |a|,|b| <= 1: the sum of |products| is at most k.
            ASSERT_NEAR(got[i], want[i], kRelTolPerTerm * (k + 2) * (1.5 * k + 0.5))
                << "ta=" << ta << " m=" << m << " n=" << n << " k=" << k << " at " << i;
          }
        }
      }
    }
  }
}

TEST(GemmF32Test, BetaZeroIgnoresNaNInC) {
  for (GemmF32Fn fn : {f32_gemm__ref, f32_gemm_8x32__avx512}) {
    if (fn == f32_gemm_8x32__avx512 && !cpu_features().avx512f) continue;
    std::vector<float> a = {1, 2, 3, 4}, b = {1, 0, 0, 1};
    std::vector<float> c(4, std::numeric_limits<float>::quiet_NaN());
    fn(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
    EXPECT_EQ(c, a);
  }
}

TEST(GemmF32Test, EmptyKScalesC) {
  for (GemmF32Fn fn : {f32_gemm__ref, f32_gemm_8x32__avx512}) {
    if (fn == f32_gemm_8x32__avx512 && !cpu_features().avx512f) continue;
    std::vector<float> c = {1, 2, 3};
    fn(false, false, 1, 3, 0, 1.0f, nullptr, 0, nullptr, 3, 2.0f, c.data(), 3);
    EXPECT_EQ(c, (std::vector<float>{2, 4, 6}));
    fn(false, false, 1, 3, 0, 1.0f, nullptr, 0, nullptr, 3, 0.0f, c.data(), 3);
    EXPECT_EQ(c, (std::vector<float>{0, 0, 0}));
  }
}

using PackedFn = void (*)(int64_t, const float*, int64_t, const PackedGemmBF32&,
                         const GemmF32Epilogue&, float*, int64_t);

// B packed once; bias and clamp in the epilogue. Compared with the reference GEMM plus the
// epilogue applied to its result, over odd M, N, K and padded strides.
void check_packed(PackedFn fn, bool tb, int64_t m, int64_t n, int64_t k, int64_t pad, bool bias,
                  bool clamp, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t lda = k + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  std::vector<float> a(static_cast<size_t>(m * lda)), b(static_cast<size_t>((tb ? n : k) * ldb));
  std::vector<float> bv(static_cast<size_t>(n));
  for (auto* v : {&a, &b, &bv}) {
    for (auto& e : *v) e = dist(rng);
  }
  std::vector<float> want(static_cast<size_t>(m * ldc), 0.0f), got(want.size(), 7.0f);
  f32_gemm__ref(false, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, want.data(), ldc);
  GemmF32Epilogue e;
  if (bias) e.bias = bv.data();
  if (clamp) {
    e.clamp_min = -0.5f;
    e.clamp_max = 1.0f;
  }
  const PackedGemmBF32 packed = pack_gemm_b_f32(tb, k, n, b.data(), ldb);
  fn(m, a.data(), lda, packed, e, got.data(), ldc);
  const std::string what = "tb=" + std::to_string(tb) + " m=" + std::to_string(m) +
                           " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                           " pad=" + std::to_string(pad);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= n) {
        ASSERT_EQ(got[at], 7.0f) << what << ": wrote past column n at " << i << "," << j;
        continue;
      }
      float w = want[at] + (bias ? bv[j] : 0.0f);
      w = std::min(std::max(w, e.clamp_min), e.clamp_max);
      // |a|, |b| <= 1: the sum of |products| is at most k.
      ASSERT_NEAR(got[at], w, kRelTolPerTerm * (k + 2) * (k + 1.0)) << what << " at " << i << "," << j;
    }
  }
}

TEST(GemmF32Test, PackedMatchesReferenceOnOddShapes) {
  std::vector<PackedFn> fns = {f32_gemm_packed__scalar, gemm_f32_packed};
  if (cpu_features().avx512f) fns.push_back(f32_gemm_packed__avx512);
  std::mt19937 rng(5);
  const int64_t sizes[] = {1, 3, 7, 16, 17, 63, 64, 65, 257};
  int i = 0;
  for (PackedFn fn : fns) {
    for (int64_t m : sizes) {
      for (int64_t n : {1, 5, 16, 17, 33, 48, 64, 69, 80, 130, 257}) {
        for (int64_t k : sizes) {
          ++i;
          check_packed(fn, i % 2 == 0, m, n, k, i % 3 == 0 ? 3 : 0, i % 4 != 0, i % 5 == 0, rng);
          if (testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
  // K long enough to be cut into chunks, M and N large enough for parallel tasks.
  for (PackedFn fn : fns) {
    check_packed(fn, false, 300, 200, 1100, 1, true, true, rng);
    check_packed(fn, true, 97, 64, 2049, 0, true, false, rng);
  }
}

TEST(GemmF32Test, PanelWidthPadsAtMostOneVector) {
  for (int64_t n = 1; n <= 1000; ++n) {
    const int64_t block = f32_panel_width(n);
    ASSERT_TRUE(block == 16 || block == 32 || block == 48 || block == 64) << n;
    const int64_t vectors = (n + 15) / 16, padded = (n + block - 1) / block * block / 16;
    EXPECT_LE(padded - vectors, 1) << "n=" << n << " block=" << block;
  }
}

}  // namespace
}  // namespace qtune
