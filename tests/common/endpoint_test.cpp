// Loopback is decided by parsing the address, not by its first characters.
#include "common/endpoint.h"

#include <gtest/gtest.h>

namespace qtune {
namespace {

TEST(EndpointTest, LoopbackAddressesAndNames) {
  for (const char* e : {"tcp://127.0.0.1:5555", "tcp://127.255.3.9:1", "tcp://localhost:5555", "tcp://lo:5555",
                        "tcp://[::1]:5555", "tcp://[::ffff:127.0.0.1]:9", "tcp://10.0.0.1;127.0.0.1:5555",
                        "ipc:///tmp/q", "inproc://x"}) {
    EXPECT_TRUE(is_loopback_endpoint(e)) << e;
  }
}

TEST(EndpointTest, AnythingElseLeavesTheHost) {
  for (const char* e : {"tcp://127.example.com:5555", "tcp://127.0.0.1.nip.io:5555",
                        "tcp://128.0.0.1:5555", "tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://[::]:5555",
                        "tcp://[::2]:5555", "tcp://[::ffff:10.0.0.1]:9", "tcp://127.0.0.1;10.0.0.1:5555",
                        "tcp://localhost.evil.org:1", "tcp://127.0.0.1", "udp://127.0.0.1:5555", "pgm://lo;239.0.0.1:1"}) {
    EXPECT_FALSE(is_loopback_endpoint(e)) << e;
  }
}

}  // namespace
}  // namespace qtune
