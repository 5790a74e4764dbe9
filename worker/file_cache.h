// A worker's on-disk cache of run files (models, data, calibration statistics) keyed by content
// hash: DIR/objects/<hash>. Files arrive in chunks into DIR/tmp and enter objects/ only after
// their hash checks out, so a torn or forged transfer is never used, and a later run finds them
// again. One process writes a given temporary file; concurrent workers may share a cache (the
// final rename is atomic).
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "common/status.h"

namespace qtune {

// $XDG_CACHE_HOME/qtune, else $HOME/.cache/qtune, else ./.qtune-cache.
std::string default_cache_dir();

class FileCache {
 public:
  explicit FileCache(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  Status init() const;  // creates the folders; kInvalidInput naming the directory

  std::string path_of(const std::string& hash) const { return dir_ + "/objects/" + hash; }
  // Present with the expected size (the hash was checked when it came in).
  bool has(const std::string& hash, int64_t size) const;

  // One file coming in: chunks written at their offsets, then verified and published.
  class Download {
   public:
    Download() = default;
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
    std::ofstream out_;
  };
  Result<std::unique_ptr<Download>> start(const std::string& hash, int64_t size) const;

 private:
  std::string dir_;
};

}  // namespace qtune
