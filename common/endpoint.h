// Whether a ZeroMQ endpoint keeps its traffic on this host, which decides if the CLI demands
// CURVE (or --insecure) for it. Pure function; thread-safe.
#pragma once

#include <string>

namespace qtune {

// ipc://, inproc://, and tcp:// to localhost, the interface lo, or an address that parses as
// IPv4 127.0.0.0/8, IPv6 ::1 or ::ffff:127.x.y.z (a source address before ';' is skipped).
// Names are not resolved: "tcp://127.example.com:1" leaves the host.
bool is_loopback_endpoint(const std::string& endpoint);

}  // namespace qtune
