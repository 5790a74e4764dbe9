// A FileOps (common/file_writer.h) that fails on demand, for the tests of everything that
// writes files: a disk that fills up after N bytes (the write crossing the edge is short, the
// next one ENOSPC), writes that return a byte at a time, failing fsync, ftruncate and rename.
// Counts what it was asked to do. Install with ScopedFileOps; not thread-safe.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/file_writer.h"

namespace qtune::fault {

class FaultyFileOps : public FileOps {
 public:
  int64_t space = -1;        // bytes the disk still takes; -1: unlimited
  bool trickle = false;      // every write stores one byte (a legal short write)
  int fsync_failures = 0;    // the next this many fsyncs of a regular file fail with EIO
  bool fail_ftruncate = false;
  bool fail_rename = false;

  int writes = 0, fsyncs = 0, dir_fsyncs = 0, truncates = 0, renames = 0;
  std::vector<int> open_flags;  // of every open, in order

  int open(const char* path, int flags, mode_t mode) override {
    open_flags.push_back(flags);
    const int fd = FileOps::open(path, flags, mode);
    if (fd >= 0 && (flags & O_DIRECTORY)) dirs_.insert(fd);
    return fd;
  }
  ssize_t write(int fd, const void* data, size_t n) override {
    ++writes;
    const size_t allowed = limit(n);
    if (allowed == 0 && n > 0) {
      errno = ENOSPC;
      return -1;
    }
    const ssize_t w = FileOps::write(fd, data, allowed);
    if (w > 0 && space >= 0) space -= w;
    return w;
  }
  ssize_t pwrite(int fd, const void* data, size_t n, off_t offset) override {
    ++writes;
    const size_t allowed = limit(n);
    if (allowed == 0 && n > 0) {
      errno = ENOSPC;
      return -1;
    }
    const ssize_t w = FileOps::pwrite(fd, data, allowed, offset);
    if (w > 0 && space >= 0) space -= w;
    return w;
  }
  int fsync(int fd) override {
    if (dirs_.count(fd)) {
      ++dir_fsyncs;
      return FileOps::fsync(fd);
    }
    ++fsyncs;
    if (fsync_failures > 0) {
      --fsync_failures;
      errno = EIO;
      return -1;
    }
    return FileOps::fsync(fd);
  }
  int ftruncate(int fd, off_t length) override {
    ++truncates;
    if (fail_ftruncate) {
      errno = EIO;
      return -1;
    }
    return FileOps::ftruncate(fd, length);
  }
  int rename(const char* from, const char* to) override {
    ++renames;
    if (fail_rename) {
      errno = EXDEV;
      return -1;
    }
    return FileOps::rename(from, to);
  }
  int close(int fd) override {
    dirs_.erase(fd);
    return FileOps::close(fd);
  }

 private:
  size_t limit(size_t n) const {
    size_t allowed = trickle ? std::min<size_t>(n, 1) : n;
    if (space >= 0) allowed = std::min<size_t>(allowed, static_cast<size_t>(space));
    return allowed;
  }
  std::set<int> dirs_;
};

}  // namespace qtune::fault
