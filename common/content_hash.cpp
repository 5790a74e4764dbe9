#include "common/content_hash.h"

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace qtune {
namespace {

void ensure_sodium() {
  // Picks the fastest implementation once; safe to call from many threads.
  static const bool ready = sodium_init() >= 0;
  (void)ready;
}

std::string hex(const unsigned char (&digest)[crypto_hash_sha256_BYTES]) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * crypto_hash_sha256_BYTES, '0');
  for (size_t i = 0; i < crypto_hash_sha256_BYTES; ++i) {
    out[2 * i] = kDigits[digest[i] >> 4];
    out[2 * i + 1] = kDigits[digest[i] & 15];
  }
  return out;
}

}  // namespace

std::string content_hash(std::string_view bytes) {
  ensure_sodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return hex(digest);
}

Result<std::string> file_content_hash(const std::string& path) {
  ensure_sodium();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return Status::InvalidInput(path + ": cannot read: " + std::strerror(errno));
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::unique_ptr<unsigned char[]> buf(new unsigned char[1 << 16]);
  size_t n;
  while ((n = std::fread(buf.get(), 1, 1 << 16, f.get())) > 0) crypto_hash_sha256_update(&state, buf.get(), n);
  if (std::ferror(f.get())) return Status::InvalidInput(path + ": read error");
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  return hex(digest);
}

bool is_content_hash(std::string_view s) {
  if (s.size() != kContentHashChars) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace qtune
