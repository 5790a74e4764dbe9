// Every file qtune writes goes through here: the system calls behind one FileOps object, which
// tests replace to inject faults (disk full, short writes, fsync and rename errors), and the
// write patterns built on them: files created under unique names, whole files replaced
// atomically (written aside, fsync'd, renamed, directory fsync'd) and append-only files whose
// failed append is cut back to the last good record.
// The FileOps in use is process-wide; tests swap it (ScopedFileOps) while no other thread writes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace qtune {

// The POSIX calls, one virtual each; the base class makes them.
class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual int open(const char* path, int flags, mode_t mode);
  virtual ssize_t write(int fd, const void* data, size_t n);
  virtual ssize_t pwrite(int fd, const void* data, size_t n, off_t offset);
  virtual int fsync(int fd);
  virtual int ftruncate(int fd, off_t length);
  virtual int rename(const char* from, const char* to);
  virtual int close(int fd);
};

FileOps& file_ops();

// Installs `ops` for its lifetime, then restores the previous one.
class ScopedFileOps {
 public:
  explicit ScopedFileOps(FileOps* ops);
  ~ScopedFileOps();
  ScopedFileOps(const ScopedFileOps&) = delete;
  ScopedFileOps& operator=(const ScopedFileOps&) = delete;

 private:
  FileOps* previous_;
};

// Errors below are kInvalidInput "PATH: what: strerror" (a full disk or a read-only directory is
// the user's to fix, exit 2).

// All `n` bytes at the file position, or at `offset` for pwrite_fully; retries EINTR and short
// writes, and counts a write of 0 bytes as a full disk.
Status write_fully(int fd, const void* data, size_t n, const std::string& path);
Status pwrite_fully(int fd, const void* data, size_t n, int64_t offset, const std::string& path);
// fsync of the directory holding `path`, so a create or rename there survives a crash.
Status sync_parent_dir(const std::string& path);

// A new file `dir/PREFIX<random>SUFFIX` opened for writing with O_EXCL (mkstemp's guarantee:
// nobody else's file, no name to predict); mode 0600.
struct UniqueFile {
  int fd = -1;
  std::string path;
};
Result<UniqueFile> create_unique_file(const std::string& dir, const std::string& prefix,
                                      const std::string& suffix);

// `bytes` becomes the content of `path`: written to a unique file beside it, fsync'd, renamed
// over `path`, and the directory fsync'd. On any failure `path` is left as it was and the
// temporary file is removed.
Status replace_file(const std::string& path, std::string_view bytes, mode_t mode = 0644);

// An append-only file of records, e.g. the tuning journal. Not thread-safe.
class AppendFile {
 public:
  AppendFile() = default;
  AppendFile(AppendFile&& other) noexcept;
  AppendFile& operator=(AppendFile&& other) noexcept;
  ~AppendFile();

  // A new, empty file (replacing any at `path`), opened O_APPEND; the directory is fsync'd.
  static Result<AppendFile> create(const std::string& path);
  // An existing file, first cut to its first `valid_bytes` bytes (a torn tail) and fsync'd.
  static Result<AppendFile> open_existing(const std::string& path, uint64_t valid_bytes);

  // Writes and fsyncs `bytes`, all or nothing: a failed or short write or a failed fsync cuts
  // the file back to the size it had. When even that fails, every later append is refused.
  Status append(std::string_view bytes);
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  AppendFile(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  int fd_ = -1;
  std::string path_;
  uint64_t size_ = 0;  // the bytes of whole records
  bool broken_ = false;
};

}  // namespace qtune
