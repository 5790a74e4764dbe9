// Throughput of the machine's int8 dot-product instruction: independent vpdpbusd chains so the
// loop is bound by issue rate, not latency.
#include <immintrin.h>

#include <cstdint>

namespace qtune::bench {

// Independent accumulator chains: enough to cover latency x issue width on cores with two
// 512-bit VNNI pipes. Named locals, not an array: GCC keeps an indexed vector array in memory
// and the loop would measure loads and stores.
#define QT_CHAINS(X) \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
constexpr int kPeakChains = 16;

// Runs `iterations` x kPeakChains vpdpbusd; returns a value derived from the accumulators so
// the work is not optimised away. Each instruction is 16 lanes x 4 multiply-adds = 128 int8 ops.
int64_t vpdpbusd_loop__avx512vnni(int64_t iterations) {
#define QT_DECL(j) __m512i a##j = _mm512_set1_epi32(j);
#define QT_STEP(j) a##j = _mm512_dpbusd_epi32(a##j, x, y);
#define QT_SUM(j) s = _mm512_add_epi32(s, a##j);
  QT_CHAINS(QT_DECL)
  __m512i x = _mm512_set1_epi32(0x01020304);
  const __m512i y = _mm512_set1_epi32(0x01010101);
  for (int64_t i = 0; i < iterations; ++i) {
    QT_CHAINS(QT_STEP)
    __asm__ volatile("" : "+v"(x));  // x might change: the loop cannot be folded
  }
  __m512i s = _mm512_setzero_si512();
  QT_CHAINS(QT_SUM)
#undef QT_SUM
#undef QT_STEP
#undef QT_DECL
  return _mm512_reduce_add_epi32(s);
}
#undef QT_CHAINS

int vpdpbusd_loop_chains__avx512vnni() { return kPeakChains; }

}  // namespace qtune::bench
