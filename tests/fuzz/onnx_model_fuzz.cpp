// The ONNX loader: protobuf bytes -> Graph (tensor data, attributes, subgraphs, value infos).
#include "common/onnx_io.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)qtune::load_onnx_model(qtune::fuzz::write_input(data, size, ".onnx"));
  return 0;
}
