// CURVE keys for authenticated, encrypted coordinator <-> worker links: generating a keypair
// (`qtune keygen`), reading Z85 key files and deriving a public key from a secret one. Key files
// hold one 40-character Z85 key on one line. Stateless functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace qtune {

constexpr size_t kZ85KeyChars = 40;

struct CurveKeypair {
  std::string public_z85, secret_z85;
};

Result<CurveKeypair> generate_curve_keypair();
// Writes PREFIX.pub (mode 0644) and PREFIX.key (the secret, mode 0600, created so: the secret is
// never readable by others, not even for a moment). Refuses to overwrite either.
Status write_curve_keypair(const CurveKeypair& k, const std::string& prefix);
// One Z85 key from a file; kInvalidInput naming the file when it is not exactly one valid key.
Result<std::string> read_curve_key(const std::string& path);
// The public key that belongs to a Z85 secret key.
Result<std::string> curve_public_key(const std::string& secret_z85);
// 32 raw bytes of a Z85 key (what a ZAP request carries), or "" when malformed.
std::string curve_key_bytes(const std::string& z85);
std::string curve_key_z85(const std::string& bytes);
// Public keys from a comma-separated list of key files and directories (every *.pub in them).
Result<std::vector<std::string>> read_curve_allow_list(const std::string& spec);

}  // namespace qtune
