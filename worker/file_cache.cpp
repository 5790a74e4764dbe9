#include "worker/file_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "common/content_hash.h"
#include "common/file_writer.h"

namespace qtune {
namespace fs = std::filesystem;

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/qtune";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/qtune";
  return ".qtune-cache";
}

Status FileCache::init() const {
  std::error_code ec;
  fs::create_directories(dir_ + "/objects", ec);
  if (!ec) fs::create_directories(dir_ + "/tmp", ec);
  if (ec) return Status::InvalidInput(dir_ + ": cannot create the file cache: " + ec.message());
  return Status::Ok();
}

Result<std::string> FileCache::path_of(const std::string& hash) const {
  if (!is_content_hash(hash)) {
    return Status::InvalidInput("file hash '" + hash.substr(0, 80) + "' is not " +
                                std::to_string(kContentHashChars) + " lowercase hex digits");
  }
  return dir_ + "/objects/" + hash;
}

bool FileCache::has(const std::string& hash, int64_t size) const {
  Result<std::string> path = path_of(hash);
  if (!path.ok()) return false;
  std::error_code ec;
  const auto n = fs::file_size(*path, ec);
  if (ec || static_cast<int64_t>(n) != size) return false;
  ::utimensat(AT_FDCWD, path->c_str(), nullptr, 0);  // most recently used now
  return true;
}

namespace {

struct Object {
  std::string hash, path;
  int64_t bytes = 0;
  fs::file_time_type used;
};

std::vector<Object> list_objects(const std::string& dir) {
  std::vector<Object> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir + "/objects", ec)) {
    std::error_code e1, e2;
    if (!e.is_regular_file(e1) || !is_content_hash(e.path().filename().string())) continue;
    const auto bytes = e.file_size(e1);
    const auto used = e.last_write_time(e2);
    if (e1 || e2) continue;
    out.push_back({e.path().filename().string(), e.path().string(), static_cast<int64_t>(bytes), used});
  }
  return out;
}

}  // namespace

int64_t FileCache::used_bytes() const {
  int64_t total = 0;
  for (const Object& o : list_objects(dir_)) total += o.bytes;
  return total;
}

Status FileCache::make_room(int64_t incoming, const std::vector<std::string>& keep) const {
  std::vector<Object> objects = list_objects(dir_);
  auto kept_file = [&](const Object& o) { return std::find(keep.begin(), keep.end(), o.hash) != keep.end(); };
  int64_t total = 0, kept = 0;
  for (const Object& o : objects) {
    total += o.bytes;
    if (kept_file(o)) kept += o.bytes;
  }
  // Nothing is evicted for a file that would not fit even then.
  if (kept + incoming <= quota_) {
    std::sort(objects.begin(), objects.end(), [](const Object& a, const Object& b) { return a.used < b.used; });
    for (const Object& o : objects) {
      if (total + incoming <= quota_) break;
      std::error_code ec;
      if (!kept_file(o) && fs::remove(o.path, ec)) total -= o.bytes;
    }
  }
  if (total + incoming > quota_) {
    return Status::InvalidInput(dir_ + ": a file of " + std::to_string(incoming) + " bytes does not fit the cache quota of " +
                                std::to_string(quota_) + " bytes (--cache-max-bytes) beside the " +
                                std::to_string(kept) + " bytes of this run's other files");
  }
  return Status::Ok();
}

Result<std::unique_ptr<FileCache::Download>> FileCache::start(const std::string& hash, int64_t size,
                                                              const std::vector<std::string>& keep) const {
  QT_RETURN_IF_ERROR(path_of(hash).status());
  if (size < 0) return Status::InvalidInput("file " + hash + ": negative size " + std::to_string(size));
  QT_RETURN_IF_ERROR(make_room(size, keep));
  QT_ASSIGN_OR_RETURN(UniqueFile tmp, create_unique_file(dir_ + "/tmp", hash + ".", ".part"));
  auto d = std::make_unique<Download>();
  d->hash_ = hash;
  d->size_ = size;
  d->tmp_path_ = tmp.path;
  d->fd_ = tmp.fd;
  return d;
}

FileCache::Download::~Download() { abandon(); }

Status FileCache::Download::write(int64_t offset, const std::string& data) {
  if (offset < 0 || offset > size_ || static_cast<int64_t>(data.size()) > size_ - offset) {
    return Status::InvalidInput("chunk of " + hash_ + " at " + std::to_string(offset) + " runs past its size");
  }
  return pwrite_fully(fd_, data.data(), data.size(), offset, tmp_path_);
}

Status FileCache::Download::finish(const FileCache& cache) {
  auto fail = [&](Status why) {
    abandon();
    return why;
  };
  if (file_ops().fsync(fd_) != 0) return fail(Status::InvalidInput(tmp_path_ + ": fsync failed"));
  const int fd = std::exchange(fd_, -1);
  if (file_ops().close(fd) != 0) return fail(Status::InvalidInput(tmp_path_ + ": write failed"));
  Result<std::string> got = file_content_hash(tmp_path_);
  if (!got.ok()) return fail(got.status());
  if (*got != hash_) {
    return fail(Status::InvalidInput("received file hashes to " + *got + ", expected " + hash_ + "; discarded"));
  }
  QT_ASSIGN_OR_RETURN(const std::string dest, cache.path_of(hash_));
  if (file_ops().rename(tmp_path_.c_str(), dest.c_str()) != 0) {
    return fail(Status::InvalidInput(dest + ": cannot store: " + std::strerror(errno)));
  }
  hash_.clear();
  return sync_parent_dir(dest);
}

void FileCache::Download::abandon() {
  if (fd_ >= 0) file_ops().close(std::exchange(fd_, -1));
  if (hash_.empty()) return;
  ::unlink(tmp_path_.c_str());
  hash_.clear();
}

}  // namespace qtune
