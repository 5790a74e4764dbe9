// Writes under injected faults: a full disk, short writes, failing fsync, ftruncate and rename.
// A replaced file is the old one or the new one, never a mix; an append is all or nothing.
#include "common/file_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/common/faulty_file_ops.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;
using fault::FaultyFileOps;

class FileWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qtune-file-writer-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  size_t entries() const { return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator())); }
  fs::path dir_;
};

TEST_F(FileWriterTest, ReplaceFileWritesSyncsRenamesAndSyncsTheDirectory) {
  FaultyFileOps ops;
  ScopedFileOps use(&ops);
  const fs::path p = dir_ / "report.json";
  ASSERT_TRUE(replace_file(p.string(), "new content").ok());
  EXPECT_EQ(read(p), "new content");
  EXPECT_EQ(ops.fsyncs, 1);
  EXPECT_EQ(ops.renames, 1);
  EXPECT_EQ(ops.dir_fsyncs, 1);
  EXPECT_EQ(entries(), 1u);  // no temporary file left
  EXPECT_EQ(fs::status(p).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

// Each fault leaves the old content in place and no temporary file behind.
TEST_F(FileWriterTest, ReplaceFileUnderFaultsKeepsTheOldFile) {
  const fs::path p = dir_ / "calibration.stats";
  ASSERT_TRUE(replace_file(p.string(), "old").ok());
  const std::string big(1 << 16, 'x');
  for (int fault = 0; fault < 3; ++fault) {
    FaultyFileOps ops;
    if (fault == 0) ops.space = 100;  // disk full after 100 bytes
    if (fault == 1) ops.fsync_failures = 1;
    if (fault == 2) ops.fail_rename = true;
    ScopedFileOps use(&ops);
    Status s = replace_file(p.string(), big);
    ASSERT_FALSE(s.ok()) << fault;
    EXPECT_EQ(s.exit_code(), 2);
    EXPECT_NE(s.message().find(fault == 0 ? "No space left on device" : fault == 1 ? "fsync failed" : "cannot replace"),
              std::string::npos)
        << s.message();
    EXPECT_EQ(read(p), "old") << fault;
    EXPECT_EQ(entries(), 1u) << fault;
  }
}

TEST_F(FileWriterTest, ShortWritesAreContinued) {
  FaultyFileOps ops;
  ops.trickle = true;
  ScopedFileOps use(&ops);
  const fs::path p = dir_ / "f";
  ASSERT_TRUE(replace_file(p.string(), "twelve bytes").ok());
  EXPECT_EQ(read(p), "twelve bytes");
  EXPECT_EQ(ops.writes, 12);
}

TEST_F(FileWriterTest, UniqueFilesAreExclusiveAndPrivate) {
  Result<UniqueFile> a = create_unique_file(dir_.string(), "m-", ".onnx");
  Result<UniqueFile> b = create_unique_file(dir_.string(), "m-", ".onnx");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->path, b->path);
  EXPECT_EQ(fs::path(a->path).parent_path(), dir_);
  EXPECT_EQ(fs::path(a->path).filename().string().rfind("m-", 0), 0u);
  EXPECT_EQ(fs::status(a->path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  ::close(a->fd);
  ::close(b->fd);
  Result<UniqueFile> nowhere = create_unique_file((dir_ / "missing").string(), "m-", "");
  EXPECT_FALSE(nowhere.ok());
}

TEST_F(FileWriterTest, AppendOpensWithOAppendAndSyncsTheDirectory) {
  FaultyFileOps ops;
  ScopedFileOps use(&ops);
  Result<AppendFile> f = AppendFile::create((dir_ / "log").string());
  ASSERT_TRUE(f.ok());
  ASSERT_FALSE(ops.open_flags.empty());
  EXPECT_TRUE(ops.open_flags[0] & O_APPEND);
  EXPECT_EQ(ops.dir_fsyncs, 1);
  ASSERT_TRUE(f->append("abc").ok());
  EXPECT_EQ(ops.fsyncs, 1);
  EXPECT_EQ(f->size(), 3u);
}

// A disk that fills mid-record: the record's first bytes are cut off again, so the file ends at
// the last whole record and the next append (once there is room) follows it directly.
TEST_F(FileWriterTest, AFailedAppendIsCutBackToTheLastRecord) {
  const fs::path p = dir_ / "log";
  FaultyFileOps ops;
  ScopedFileOps use(&ops);
  Result<AppendFile> f = AppendFile::create(p.string());
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->append("first;").ok());
  ops.space = 4;
  Status full = f->append("second;");
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.message().find("No space left on device"), std::string::npos) << full.message();
  EXPECT_EQ(read(p), "first;");
  EXPECT_EQ(f->size(), 6u);
  ops.space = -1;
  ops.fsync_failures = 1;  // written, but not known to be on disk: cut too
  EXPECT_FALSE(f->append("second;").ok());
  EXPECT_EQ(read(p), "first;");
  ASSERT_TRUE(f->append("third;").ok());
  EXPECT_EQ(read(p), "first;third;");
}

TEST_F(FileWriterTest, AnAppendThatCannotBeUndoneStopsTheFile) {
  const fs::path p = dir_ / "log";
  FaultyFileOps ops;
  ScopedFileOps use(&ops);
  Result<AppendFile> f = AppendFile::create(p.string());
  ASSERT_TRUE(f.ok());
  ops.space = 2;
  ops.fail_ftruncate = true;
  Status s = f->append("record");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cutting the partial record back off failed too"), std::string::npos) << s.message();
  ops.space = -1;
  ops.fail_ftruncate = false;
  Status later = f->append("more");
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.message().find("nothing more is written"), std::string::npos);
  EXPECT_EQ(read(p), "re");  // what the failed write left; never followed by more records
}

TEST_F(FileWriterTest, OpenExistingCutsATornTail) {
  const fs::path p = dir_ / "log";
  std::ofstream(p, std::ios::binary) << "whole;tor";
  Result<AppendFile> f = AppendFile::open_existing(p.string(), 6);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->append("next;").ok());
  EXPECT_EQ(read(p), "whole;next;");
}

}  // namespace
}  // namespace qtune
