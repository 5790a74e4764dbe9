// The data YAML (dataset files, layout, preprocessing).
#include "common/data_config.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)qtune::load_data_config(qtune::fuzz::write_input(data, size, ".yaml"));
  return 0;
}
