// The wire protocol decoder: every frame a peer can send. A frame that decodes must encode
// and decode again to the same message.
#include <cstdlib>

#include "common/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qtune::Result<qtune::Message> m = qtune::decode_message(data, size);
  if (!m.ok()) return 0;
  const std::string again = qtune::encode_message(*m);
  qtune::Result<qtune::Message> back = qtune::decode_message(again.data(), again.size());
  if (!back.ok() || qtune::encode_message(*back) != again) std::abort();
  return 0;
}
