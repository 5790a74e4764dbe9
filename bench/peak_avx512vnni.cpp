// Throughput of the machine's int8 dot-product instruction: independent vpdpbusd chains so the
// loop is bound by issue rate, not latency.
#include <immintrin.h>

#include <cstdint>

namespace qtune::bench {

// Runs `iterations` x 12 vpdpbusd; returns a value derived from the accumulators so the work is
// not optimised away. Each instruction is 16 lanes x 4 multiply-adds = 128 int8 ops.
int64_t vpdpbusd_loop__avx512vnni(int64_t iterations) {
  __m512i acc[12];
  for (auto& a : acc) a = _mm512_setzero_si512();
  const __m512i x = _mm512_set1_epi32(0x01020304);
  const __m512i y = _mm512_set1_epi32(0x01010101);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], x, y);
    __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]), "+v"(acc[4]),
                     "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7]), "+v"(acc[8]), "+v"(acc[9]),
                     "+v"(acc[10]), "+v"(acc[11]));
  }
  __m512i s = acc[0];
  for (int j = 1; j < 12; ++j) s = _mm512_add_epi32(s, acc[j]);
  return _mm512_reduce_add_epi32(s);
}

}  // namespace qtune::bench
