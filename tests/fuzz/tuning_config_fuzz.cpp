// The tuning YAML (model, data, metric, tuning: ...), as `qtune tune CONFIG.yaml` reads it.
#include "common/tuning_config.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)qtune::load_tuning_config(qtune::fuzz::write_input(data, size, ".yaml"));
  return 0;
}
