// A worker's on-disk cache of run files (models, data, calibration statistics) keyed by content
// hash: DIR/objects/<sha256>. Files arrive in chunks into DIR/tmp and enter objects/ only after
// their hash checks out, so a torn or forged transfer is never used, and a later run finds them
// again. Only a content hash (64 lowercase hex digits) ever becomes a file name. The objects
// stay within a byte quota: the least recently used ones (by mtime, which a hit refreshes) are
// removed to make room, never the files of the run being served.
// One process writes a given temporary file; concurrent workers may share a cache (the final
// rename is atomic).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace qtune {

// $XDG_CACHE_HOME/qtune, else $HOME/.cache/qtune, else ./.qtune-cache.
std::string default_cache_dir();

class FileCache {
 public:
  static constexpr int64_t kDefaultQuotaBytes = int64_t{10} << 30;

  explicit FileCache(std::string dir, int64_t quota_bytes = kDefaultQuotaBytes)
      : dir_(std::move(dir)), quota_(quota_bytes) {}
  const std::string& dir() const { return dir_; }
  int64_t quota_bytes() const { return quota_; }
  Status init() const;  // creates the folders; kInvalidInput naming the directory

  // DIR/objects/HASH; kInvalidInput when `hash` is not a content hash.
  Result<std::string> path_of(const std::string& hash) const;
  // Present with the expected size (the hash was checked when it came in); a hit counts as a use.
  bool has(const std::string& hash, int64_t size) const;
  // Bytes the objects hold now.
  int64_t used_bytes() const;

  // One file coming in: chunks written at their offsets, then verified and published.
  class Download {
   public:
    Download() = default;
    ~Download();
    Download(const Download&) = delete;
    Download& operator=(const Download&) = delete;
    const std::string& hash() const { return hash_; }
    int64_t size() const { return size_; }
    bool active() const { return !hash_.empty(); }
    Status write(int64_t offset, const std::string& data);
    // Checks the content hash and moves the file into objects/; the download ends either way.
    Status finish(const FileCache& cache);
    void abandon();

   private:
    friend class FileCache;
    std::string hash_, tmp_path_;
    int64_t size_ = 0;
    int fd_ = -1;
  };
  // Makes room for `size` bytes within the quota (never removing the hashes in `keep`, the
  // run's other files) and opens a uniquely named temporary file. kInvalidInput for a hash that
  // is not a content hash, or a file the quota cannot hold.
  Result<std::unique_ptr<Download>> start(const std::string& hash, int64_t size,
                                          const std::vector<std::string>& keep = {}) const;

 private:
  Status make_room(int64_t incoming, const std::vector<std::string>& keep) const;
  std::string dir_;
  int64_t quota_;
};

}  // namespace qtune
