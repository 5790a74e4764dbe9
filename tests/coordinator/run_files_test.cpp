#include "coordinator/run_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/data_config.h"
#include "common/dataset.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;

const std::string kImages = std::string(QTUNE_SOURCE_DIR) + "/tests/data/images";

class RunFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qtune_run_files_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    cfg_.source_path = write("tune.yaml", "model: m.onnx\n");
    cfg_.model = write("m.onnx", "not really a model, only hashed here");
    cfg_.calibration_data = write("calib.yaml", "dataset: {format: npy, images: never_sent.npy}\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  // What a worker loads: the data YAML with every path replaced by the file served for it.
  Result<Dataset> as_worker_loads(const std::vector<RunFile>& files) {
    std::map<std::string, std::string> served;
    for (const RunFile& f : files) served[f.path] = f.source.empty() ? f.path : f.source;
    QT_ASSIGN_OR_RETURN(DataConfig d, load_data_config(cfg_.evaluation_data));
    for (DataInput& in : d.dataset.inputs) in.path = served.at(run_file_key(in.path));
    if (!d.dataset.labels.empty()) d.dataset.labels = served.at(run_file_key(d.dataset.labels));
    return load_dataset(d);
  }
  fs::path dir_;
  TuningConfig cfg_;
};

TEST_F(RunFilesTest, ListsEveryEvaluationInputFile) {
  write("x.npy", "");
  Tensor ids = Tensor::from_i64({2, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_TRUE(write_npy_file(ids, (dir_ / "ids.npy").string()).ok());
  ASSERT_TRUE(write_npy_file(Tensor::from_i64({}, {8000}), (dir_ / "sr.npy").string()).ok());
  cfg_.evaluation_data = write("eval.yaml", "dataset:\n  format: npy\n  inputs: {ids: ids.npy, sr: sr.npy}\n");
  auto files = run_files(cfg_, "", (dir_ / "packed").string());
  ASSERT_TRUE(files.ok()) << files.status().message();
  std::vector<std::string> roles;
  for (const RunFile& f : *files) {
    roles.push_back(f.role);
    EXPECT_TRUE(f.source.empty());
  }
  EXPECT_EQ(roles, (std::vector<std::string>{"config", "model", "calib_data", "eval_data",
                                             "eval_input", "eval_input"}));
  EXPECT_EQ((*files)[5].path, (dir_ / "sr.npy").string());
  EXPECT_FALSE(fs::exists(dir_ / "packed"));  // nothing to pack
}

// An image folder cannot travel as one file: it is packed, and what a worker loads from the
// packed pixels and labels equals what the coordinator loads from the folder, bit for bit.
TEST_F(RunFilesTest, ImageFoldersGoOutPackedAndLoadIdentically) {
  for (const std::string& labels : {std::string("labels.txt"), std::string("")}) {
    cfg_.evaluation_data = write(
        "eval.yaml", "dataset:\n  format: images\n  images: " + kImages + "/photos\n" +
                         (labels.empty() ? "" : "  labels: " + kImages + "/" + labels + "\n") +
                         "preprocess:\n  color: BGR\n  resize: 16\n  center_crop: [12, 10]\n"
                         "  scale: 0.00392156862745098\n  mean: [0.4, 0.5, 0.6]\n  layout: NHWC\n");
    auto files = run_files(cfg_, "", (dir_ / "packed").string());
    ASSERT_TRUE(files.ok()) << files.status().message();
    const RunFile& input = (*files)[4];
    EXPECT_EQ(input.role, "eval_input");
    EXPECT_EQ(input.path, kImages + "/photos");
    EXPECT_EQ(input.source, (dir_ / "packed" / "eval_input_0.npy").string());
    if (!labels.empty()) {
      EXPECT_EQ((*files)[5].role, "eval_labels");
      EXPECT_EQ((*files)[5].source, (dir_ / "packed" / "eval_labels.npy").string());
    }

    auto cfg = load_data_config(cfg_.evaluation_data);
    ASSERT_TRUE(cfg.ok());
    auto here = load_dataset(*cfg);
    ASSERT_TRUE(here.ok()) << here.status().message();
    auto there = as_worker_loads(*files);
    ASSERT_TRUE(there.ok()) << there.status().message();
    const Tensor& a = here->inputs[0].values;
    const Tensor& b = there->inputs[0].values;
    ASSERT_EQ(a.shape(), (Shape{5, 12, 10, 3}));
    ASSERT_EQ(b.shape(), a.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
    EXPECT_EQ(here->labels, there->labels);
    EXPECT_EQ(there->labels.empty(), labels.empty());
  }
}

}  // namespace
}  // namespace qtune
