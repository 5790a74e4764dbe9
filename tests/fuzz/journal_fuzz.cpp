// The tuning journal reader (header, length-prefixed checksummed records, torn tails).
#include "coordinator/journal.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)qtune::read_journal(qtune::fuzz::write_input(data, size, ".journal"));
  return 0;
}
