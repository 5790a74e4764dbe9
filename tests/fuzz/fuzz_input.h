// Shared by the libFuzzer targets in this folder: the loaders under test read files, so each
// input is written to one scratch file per process (in $TMPDIR, tmpfs when it is) and the
// loader is pointed at it. A loader may return any Status; only a crash, a sanitizer report, a
// leak or a runaway allocation is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace qtune::fuzz {

// The path of this process's scratch file (suffix chosen by the caller, e.g. ".onnx.gz"),
// rewritten with `data` on every call.
inline const std::string& write_input(const uint8_t* data, size_t size, const char* suffix) {
  // Never destroyed, so the exit handler that removes the file can still read it.
  static const std::string& path = *[&] {
    const char* tmp = std::getenv("TMPDIR");
    auto* p = new std::string(std::string(tmp && *tmp ? tmp : "/tmp") + "/qtune-fuzz-" +
                              std::to_string(getpid()) + suffix);
    std::atexit([] { std::remove(path.c_str()); });
    return p;
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace qtune::fuzz
