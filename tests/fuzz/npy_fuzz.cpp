// NumPy .npy files (header dict, dtype, shape, data size).
#include "common/dataset.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)qtune::read_npy_file(qtune::fuzz::write_input(data, size, ".npy"));
  return 0;
}
