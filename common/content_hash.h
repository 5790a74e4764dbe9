// SHA-256 content hashes (libsodium's crypto_hash_sha256), in 64 lowercase hex digits: what names
// a file in a worker's cache and what coordinator and worker compare to prove they read the same
// bytes. Collision resistant, unlike the FNV-1a used for checksums and config keys.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace qtune {

constexpr size_t kContentHashChars = 64;

std::string content_hash(std::string_view bytes);
// Streams the file; kInvalidInput naming it when it cannot be read.
Result<std::string> file_content_hash(const std::string& path);
// Exactly kContentHashChars lowercase hex digits: safe to use as a file name.
bool is_content_hash(std::string_view s);

}  // namespace qtune
