// Byte table lookup over 8-bit tensors, y[i] = table[x[i]] (the QLut op: a DequantizeLinear ->
// elementwise op -> QuantizeLinear chain precomputed for all 256 inputs). Paths: lut_q8__ref and
// lut_q8__avx512vbmi (two vpermi2b and a blend per 64 bytes), chosen once from cpu_features().
// Single-threaded over caller-owned buffers (callers split large tensors); thread-safe.
#pragma once

#include <cstdint>

namespace qtune {

void lut_q8(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);

void lut_q8__ref(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);
void lut_q8__avx512vbmi(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y);

}  // namespace qtune
