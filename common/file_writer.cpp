#include "common/file_writer.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

namespace qtune {
namespace {

FileOps*& current_ops() {
  static FileOps system_ops;
  static FileOps* ops = &system_ops;
  return ops;
}

Status io_error(const std::string& path, const std::string& what, int err) {
  return Status::InvalidInput(path + ": " + what + ": " + std::strerror(err));
}

std::string random_suffix() {
  uint64_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    // Not expected on Linux; the name still differs per process and call.
    static uint64_t counter = 0;
    r = (static_cast<uint64_t>(::getpid()) << 32) ^ ++counter;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(r));
  return buf;
}

}  // namespace

int FileOps::open(const char* path, int flags, mode_t mode) { return ::open(path, flags, mode); }
ssize_t FileOps::write(int fd, const void* data, size_t n) { return ::write(fd, data, n); }
ssize_t FileOps::pwrite(int fd, const void* data, size_t n, off_t offset) {
  return ::pwrite(fd, data, n, offset);
}
int FileOps::fsync(int fd) { return ::fsync(fd); }
int FileOps::ftruncate(int fd, off_t length) { return ::ftruncate(fd, length); }
int FileOps::rename(const char* from, const char* to) { return ::rename(from, to); }
int FileOps::close(int fd) { return ::close(fd); }

FileOps& file_ops() { return *current_ops(); }

ScopedFileOps::ScopedFileOps(FileOps* ops) : previous_(current_ops()) { current_ops() = ops; }
ScopedFileOps::~ScopedFileOps() { current_ops() = previous_; }

Status write_fully(int fd, const void* data, size_t n, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < n) {
    const ssize_t w = file_ops().write(fd, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return io_error(path, "write failed", errno);
    if (w == 0) return io_error(path, "write failed", ENOSPC);
    done += static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status pwrite_fully(int fd, const void* data, size_t n, int64_t offset, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < n) {
    const ssize_t w = file_ops().pwrite(fd, p + done, n - done, static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return io_error(path, "write failed", errno);
    if (w == 0) return io_error(path, "write failed", ENOSPC);
    done += static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status sync_parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = file_ops().open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return io_error(dir, "cannot open the directory to fsync it", errno);
  const int rc = file_ops().fsync(fd);
  const int err = errno;
  file_ops().close(fd);
  if (rc != 0) return io_error(dir, "fsync of the directory failed", err);
  return Status::Ok();
}

Result<UniqueFile> create_unique_file(const std::string& dir, const std::string& prefix,
                                      const std::string& suffix) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    UniqueFile f;
    f.path = (std::filesystem::path(dir) / (prefix + random_suffix() + suffix)).string();
    f.fd = file_ops().open(f.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f.fd >= 0) return f;
    if (errno != EEXIST) return io_error(f.path, "cannot create", errno);
  }
  return Status::Internal(dir + ": no unused temporary file name after 100 tries");
}

Status replace_file(const std::string& path, std::string_view bytes, mode_t mode) {
  const std::filesystem::path p(path);
  const std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
  QT_ASSIGN_OR_RETURN(UniqueFile tmp, create_unique_file(dir, "." + p.filename().string() + ".", ".tmp"));
  auto fail = [&](Status s) {
    if (tmp.fd >= 0) file_ops().close(tmp.fd);
    ::unlink(tmp.path.c_str());
    return s;
  };
  if (::fchmod(tmp.fd, mode) != 0) return fail(io_error(tmp.path, "cannot set the file mode", errno));
  if (Status s = write_fully(tmp.fd, bytes.data(), bytes.size(), tmp.path); !s.ok()) return fail(s);
  if (file_ops().fsync(tmp.fd) != 0) return fail(io_error(tmp.path, "fsync failed", errno));
  const int fd = std::exchange(tmp.fd, -1);
  if (file_ops().close(fd) != 0) return fail(io_error(tmp.path, "close failed", errno));
  if (file_ops().rename(tmp.path.c_str(), path.c_str()) != 0) {
    return fail(io_error(path, "cannot replace the file", errno));
  }
  return sync_parent_dir(path);
}

AppendFile::AppendFile(AppendFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), size_(o.size_), broken_(o.broken_) {}

AppendFile& AppendFile::operator=(AppendFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) file_ops().close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    size_ = o.size_;
    broken_ = o.broken_;
  }
  return *this;
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) file_ops().close(fd_);
}

Result<AppendFile> AppendFile::create(const std::string& path) {
  const int fd = file_ops().open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(path, "cannot create", errno);
  AppendFile f(fd, path, 0);
  QT_RETURN_IF_ERROR(sync_parent_dir(path));
  return f;
}

Result<AppendFile> AppendFile::open_existing(const std::string& path, uint64_t valid_bytes) {
  const int fd = file_ops().open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC, 0);
  if (fd < 0) return io_error(path, "cannot open", errno);
  AppendFile f(fd, path, valid_bytes);
  if (file_ops().ftruncate(fd, static_cast<off_t>(valid_bytes)) != 0 || file_ops().fsync(fd) != 0) {
    return io_error(path, "cannot cut the file to its last whole record", errno);
  }
  return f;
}

Status AppendFile::append(std::string_view bytes) {
  if (fd_ < 0 || broken_) {
    return Status::InvalidInput(path_ + ": an earlier append failed and could not be undone; nothing more is written");
  }
  Status s = write_fully(fd_, bytes.data(), bytes.size(), path_);
  if (s.ok() && file_ops().fsync(fd_) != 0) s = io_error(path_, "fsync failed", errno);
  if (s.ok()) {
    size_ += bytes.size();
    return s;
  }
  // Part of the record may be on disk: cut it, so the file still ends at a whole record.
  if (file_ops().ftruncate(fd_, static_cast<off_t>(size_)) != 0 || file_ops().fsync(fd_) != 0) {
    broken_ = true;
    return Status(s.code(), s.message() + "; cutting the partial record back off failed too: " +
                                std::strerror(errno));
  }
  return s;
}

}  // namespace qtune
