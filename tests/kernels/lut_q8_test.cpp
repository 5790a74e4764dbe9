#include "kernels/lut_q8.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu_features.h"

namespace qtune {
namespace {

TEST(LutQ8Test, EveryPathMatchesTheReference) {
  std::mt19937 rng(4);
  std::vector<uint8_t> table(256);
  for (auto& v : table) v = static_cast<uint8_t>(rng());
  for (int64_t n : {0, 1, 63, 64, 65, 200, 1000}) {
    std::vector<uint8_t> x(static_cast<size_t>(n)), want(x.size(), 0xcd), got(x.size() + 1, 0xab);
    for (auto& v : x) v = static_cast<uint8_t>(rng());
    for (int i = 0; i < n && i < 256; ++i) x[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
    lut_q8__ref(x.data(), n, table.data(), want.data());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(want[i], table[x[i]]);
    lut_q8(x.data(), n, table.data(), got.data());
    EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + n), want) << n;
    EXPECT_EQ(got[static_cast<size_t>(n)], 0xab) << "wrote past the end, n = " << n;
    if (!cpu_features().avx512vbmi) continue;
    std::fill(got.begin(), got.end(), 0xab);
    lut_q8__avx512vbmi(x.data(), n, table.data(), got.data());
    EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + n), want) << n;
    EXPECT_EQ(got[static_cast<size_t>(n)], 0xab) << "wrote past the end, n = " << n;
  }
}

}  // namespace
}  // namespace qtune
