// The worker's file cache: only content hashes become file names, what comes in must hash to
// its name, and the quota evicts the least recently used files but never the run's own.
#include "worker/file_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/content_hash.h"
#include "common/protocol.h"
#include "tests/common/faulty_file_ops.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;

class FileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qtune-file-cache-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Downloads `bytes` under their hash in two chunks; the hash.
  static std::string put(const FileCache& cache, const std::string& bytes, const std::vector<std::string>& keep = {}) {
    const std::string hash = content_hash(bytes);
    auto d = cache.start(hash, static_cast<int64_t>(bytes.size()), keep);
    EXPECT_TRUE(d.ok()) << d.status().message();
    if (!d.ok()) return hash;
    const size_t half = bytes.size() / 2;
    EXPECT_TRUE((*d)->write(static_cast<int64_t>(half), bytes.substr(half)).ok());
    EXPECT_TRUE((*d)->write(0, bytes.substr(0, half)).ok());
    const Status s = (*d)->finish(cache);
    EXPECT_TRUE(s.ok()) << s.message();
    return hash;
  }
  void age(const FileCache& cache, const std::string& hash, int minutes) {
    fs::last_write_time(cache.path_of(hash).value(), fs::file_time_type::clock::now() - std::chrono::minutes(minutes));
  }
  size_t tmp_files() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_ / "tmp"), fs::directory_iterator()));
  }
  fs::path dir_;
};

TEST_F(FileCacheTest, OnlyContentHashesBecomeFileNames) {
  FileCache cache(dir_.string());
  ASSERT_TRUE(cache.init().ok());
  const std::vector<std::string> bad_names = {"../../x", "../../../etc/passwd", std::string(64, 'A'),
                                              std::string(63, 'a'), std::string(64, 'a') + "/", "",
                                              "0123456789abcdef"};
  for (const std::string& bad : bad_names) {
    EXPECT_FALSE(cache.path_of(bad).ok()) << bad;
    EXPECT_FALSE(cache.has(bad, 0)) << bad;
    auto d = cache.start(bad, 10);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().exit_code(), 2);
  }
  const std::string good = content_hash("x");
  EXPECT_EQ(cache.path_of(good).value(), dir_.string() + "/objects/" + good);
  // A CONFIG naming such a file never reaches the worker's loop.
  ConfigMsg c;
  c.config_hash = good;
  c.path = "/run/tune.yaml";
  c.files = {{"model", "/run/m.onnx", "../../x", 10}};
  Result<Message> m = decode_message(encode_message(c).data(), encode_message(c).size());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("hash '../../x' is not 64 lowercase hex digits"), std::string::npos)
      << m.status().message();
  c.files[0].hash = good;
  EXPECT_TRUE(decode_message(encode_message(c).data(), encode_message(c).size()).ok());
}

TEST_F(FileCacheTest, AFileThatDoesNotHashToItsNameIsRefused) {
  FileCache cache(dir_.string());
  ASSERT_TRUE(cache.init().ok());
  const std::string claimed = content_hash("the model");
  auto d = cache.start(claimed, 9);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE((*d)->write(0, "the modem").ok());
  const Status s = (*d)->finish(cache);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "received file hashes to " + content_hash("the modem") + ", expected " + claimed + "; discarded");
  EXPECT_FALSE(cache.has(claimed, 9));
  EXPECT_FALSE(fs::exists(cache.path_of(claimed).value()));
  EXPECT_EQ(tmp_files(), 0u);
  auto past = cache.start(claimed, 9);
  ASSERT_TRUE(past.ok());
  EXPECT_FALSE((*past)->write(5, "12345").ok());  // runs past the announced size
  EXPECT_FALSE((*past)->write(-1, "1").ok());
}

TEST_F(FileCacheTest, TheQuotaEvictsTheLeastRecentlyUsedButNotTheRunsFiles) {
  FileCache cache(dir_.string(), 3000);
  ASSERT_TRUE(cache.init().ok());
  const std::string a = put(cache, std::string(1000, 'a'));
  const std::string b = put(cache, std::string(1000, 'b'));
  const std::string c = put(cache, std::string(1000, 'c'));
  EXPECT_EQ(cache.used_bytes(), 3000);
  age(cache, a, 30);
  age(cache, b, 20);
  age(cache, c, 10);
  EXPECT_TRUE(cache.has(a, 1000));  // a hit: a is now the most recently used
  // d needs room for 1000 bytes: b is the least recently used.
  const std::string d = put(cache, std::string(1000, 'd'));
  EXPECT_TRUE(cache.has(a, 1000));
  EXPECT_FALSE(cache.has(b, 1000));
  EXPECT_TRUE(cache.has(c, 1000));
  EXPECT_TRUE(cache.has(d, 1000));
  EXPECT_EQ(cache.used_bytes(), 3000);
  // The run being served keeps its files even when they are the oldest.
  age(cache, c, 60);
  age(cache, a, 50);
  const std::string e = put(cache, std::string(1000, 'e'), {c, a});
  EXPECT_TRUE(cache.has(c, 1000));
  EXPECT_TRUE(cache.has(a, 1000));
  EXPECT_FALSE(cache.has(d, 1000));
  EXPECT_TRUE(cache.has(e, 1000));
  // A file that cannot fit beside the kept ones is refused before anything is written.
  auto big = cache.start(content_hash("big"), 1500, {a, c, e});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("does not fit the cache quota of 3000 bytes (--cache-max-bytes)"),
            std::string::npos)
      << big.status().message();
  EXPECT_FALSE(cache.start(content_hash("huge"), 3001).ok());
  EXPECT_EQ(cache.used_bytes(), 3000);  // nothing was evicted for it
  EXPECT_EQ(tmp_files(), 0u);
}

TEST_F(FileCacheTest, ADiskFullDownloadIsRefusedAndLeavesNothing) {
  FileCache cache(dir_.string());
  ASSERT_TRUE(cache.init().ok());
  fault::FaultyFileOps ops;
  ops.space = 100;
  ScopedFileOps use(&ops);
  const std::string bytes(4096, 'z');
  auto d = cache.start(content_hash(bytes), 4096);
  ASSERT_TRUE(d.ok());
  const Status s = (*d)->write(0, bytes);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("No space left on device"), std::string::npos) << s.message();
  d->reset();  // the download is abandoned with its temporary file
  EXPECT_EQ(tmp_files(), 0u);
}

}  // namespace
}  // namespace qtune
