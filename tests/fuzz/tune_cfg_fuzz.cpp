// A tune_cfg (per-op precision and quantization choices) as a TRIAL carries it to a worker.
#include <string>

#include "common/tune_config_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qtune::Result<qtune::TuneConfig> cfg = qtune::parse_tune_config(text, "fuzz");
  if (cfg.ok()) (void)qtune::tune_config_to_yaml(*cfg);
  return 0;
}
