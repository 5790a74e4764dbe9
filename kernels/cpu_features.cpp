#include "kernels/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace qtune {
namespace {

constexpr int kArchReqXcompPerm = 0x1023;  // arch_prctl: request permission for an xstate
constexpr int kXfeatureXtiledata = 18;     // AMX tile data

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  if (!osxsave) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;
  f.fma = os_avx && ((c >> 12) & 1);
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = os_avx && ((b >> 5) & 1);
  f.avx512f = os_avx512 && ((b >> 16) & 1);
  f.avx512bw = f.avx512f && ((b >> 30) & 1);
  f.avx512vl = f.avx512f && ((b >> 31) & 1);
  f.avx512vnni = f.avx512f && ((c >> 11) & 1);
  f.avx512vbmi = f.avx512f && ((c >> 1) & 1);
  f.amx_bf16 = os_amx && ((d >> 22) & 1);
  f.amx_tile = os_amx && ((d >> 24) & 1);
  f.amx_int8 = os_amx && ((d >> 25) & 1);
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512bf16 = f.avx512f && ((a >> 5) & 1);
  if (f.amx_tile && syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    f.amx_tile = f.amx_int8 = f.amx_bf16 = false;  // the kernel refused tile state
  }
  return f;
}

CpuFeatures cap(CpuFeatures f, std::string_view isa) {
  if (isa.empty() || isa == "amx") return f;
  f.amx_tile = f.amx_int8 = f.amx_bf16 = false;
  if (isa == "vnni") return f;
  f.avx512vnni = f.avx512bf16 = f.avx512vbmi = false;
  if (isa == "avx512") return f;
  return CpuFeatures{};  // "ref" and anything unknown: scalar reference only
}

}  // namespace

std::string CpuFeatures::summary() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(avx512vbmi, "avx512vbmi");
  add(amx_tile, "amx-tile");
  add(amx_int8, "amx-int8");
  add(amx_bf16, "amx-bf16");
  return s.empty() ? "scalar" : s;
}

const CpuFeatures& cpu_features_detected() {
  static const CpuFeatures f = detect();
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    const char* env = std::getenv("QTUNE_ISA");
    return cap(cpu_features_detected(), env ? env : "");
  }();
  return f;
}

}  // namespace qtune
