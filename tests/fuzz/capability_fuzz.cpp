// The adaptor capability YAML (capabilities/*.yaml): versions, ops, precisions, schemes.
#include "adaptors/capability.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)qtune::load_capability_spec(qtune::fuzz::write_input(data, size, ".yaml"), "0.1.0");
  return 0;
}
