#include "worker/file_cache.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "common/protocol.h"

namespace qtune {

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/qtune";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/qtune";
  return ".qtune-cache";
}

Status FileCache::init() const {
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/objects", ec);
  if (!ec) std::filesystem::create_directories(dir_ + "/tmp", ec);
  if (ec) return Status::InvalidInput(dir_ + ": cannot create the file cache: " + ec.message());
  return Status::Ok();
}

bool FileCache::has(const std::string& hash, int64_t size) const {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path_of(hash), ec);
  return !ec && static_cast<int64_t>(n) == size;
}

Result<std::unique_ptr<FileCache::Download>> FileCache::start(const std::string& hash, int64_t size) const {
  // The hash becomes a file name: only what a 64-bit hex digest can be.
  if (hash.size() != 16 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::InvalidInput("file hash '" + hash.substr(0, 40) + "' is not 16 hex digits");
  }
  auto d = std::make_unique<Download>();
  d->hash_ = hash;
  d->size_ = size;
  d->tmp_path_ = dir_ + "/tmp/" + hash + "." + std::to_string(getpid());
  d->out_.open(d->tmp_path_, std::ios::binary | std::ios::trunc);
  if (!d->out_) return Status::InvalidInput(d->tmp_path_ + ": cannot write");
  return d;
}

Status FileCache::Download::write(int64_t offset, const std::string& data) {
  if (offset < 0 || offset + static_cast<int64_t>(data.size()) > size_) {
    return Status::InvalidInput("chunk of " + hash_ + " at " + std::to_string(offset) + " runs past its size");
  }
  out_.seekp(offset);
  out_.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out_) return Status::InvalidInput(tmp_path_ + ": write failed");
  return Status::Ok();
}

Status FileCache::Download::finish(const FileCache& cache) {
  out_.close();
  auto fail = [&](const std::string& why) {
    std::filesystem::remove(tmp_path_);
    hash_.clear();
    return Status::InvalidInput(why);
  };
  if (!out_) return fail(tmp_path_ + ": write failed");
  QT_ASSIGN_OR_RETURN(std::string got, file_hash(tmp_path_));
  if (got != hash_) return fail("received file hashes to " + got + ", expected " + hash_ + "; discarded");
  std::error_code ec;
  std::filesystem::rename(tmp_path_, cache.path_of(hash_), ec);
  if (ec) return fail(cache.path_of(hash_) + ": cannot store: " + ec.message());
  hash_.clear();
  return Status::Ok();
}

void FileCache::Download::abandon() {
  if (hash_.empty()) return;
  out_.close();
  std::error_code ec;
  std::filesystem::remove(tmp_path_, ec);
  hash_.clear();
}

}  // namespace qtune
