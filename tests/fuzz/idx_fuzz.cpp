// IDX files (MNIST format: magic, dtype, rank, dims, data).
#include "common/dataset.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)qtune::read_idx_file(qtune::fuzz::write_input(data, size, ".idx"));
  return 0;
}
