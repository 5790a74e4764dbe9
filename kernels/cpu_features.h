// CPU features, detected once at start-up and read-only afterwards (thread-safe).
// Kernel dispatch tables consult this; QTUNE_ISA=ref|avx512|vnni|amx caps what is used so tests
// and benchmarks can force a path.
#pragma once

#include <string>

namespace qtune {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avx512vbmi = false;  // byte permutes (vpermb, vpermi2b)
  bool amx_tile = false;   // also requires the kernel's permission for tile data (arch_prctl)
  bool amx_int8 = false;
  bool amx_bf16 = false;

  std::string summary() const;  // "avx512f avx512vnni avx512bf16 amx-int8 ..."
};

// Hardware features capped by QTUNE_ISA; computed on first call.
const CpuFeatures& cpu_features();
// What the hardware and OS offer, ignoring QTUNE_ISA.
const CpuFeatures& cpu_features_detected();

}  // namespace qtune
