// The documented example data YAMLs (examples/imagenet, examples/multi_input) load as
// docs/data.md says, against the committed test images in tests/data/images.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/data_config.h"
#include "common/dataset.h"
#include "common/image_folder.h"
#include "common/model_feed.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;

const std::string kRoot = QTUNE_SOURCE_DIR;
const std::string kImages = kRoot + "/tests/data/images";

struct ImageExample {
  std::string yaml;
  std::string labels;
  Shape shape;
};

// Loads an example with its folder and labels pointed at the test images, and checks every
// value against the composition the YAML describes: the PIL-exact pixels (checked against PIL
// in image_folder_test), then (v * scale - mean) / std per channel, in the YAML's layout.
void check_image_example(const ImageExample& ex) {
  auto cfg = load_data_config(kRoot + "/examples/" + ex.yaml);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_EQ(cfg->dataset.inputs.size(), 1u);
  cfg->dataset.inputs[0].path = kImages + "/photos";
  cfg->dataset.labels = kImages + "/" + ex.labels;
  auto data = load_dataset(*cfg);
  ASSERT_TRUE(data.ok()) << ex.yaml << ": " << data.status().message();
  const Tensor& x = data->inputs[0].values;
  ASSERT_EQ(x.dtype(), DType::kF32);
  ASSERT_EQ(x.shape(), ex.shape) << ex.yaml;
  EXPECT_EQ(data->labels.size(), static_cast<size_t>(ex.shape[0]));

  std::vector<std::string> files;
  auto pixels = read_image_folder(kImages + "/photos", cfg->dataset.recursive, cfg->preprocess, &files);
  ASSERT_TRUE(pixels.ok()) << pixels.status().message();
  const PreprocessSpec& p = cfg->preprocess;
  const int64_t n = pixels->shape[0], h = pixels->shape[1], w = pixels->shape[2], c = pixels->shape[3];
  const bool nhwc = p.layout == "NHWC";
  const bool divide = p.scale != 1.0f;  // the examples' scale is 1/255 or 1
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx)
        for (int64_t ch = 0; ch < c; ++ch) {
          const float v = pixels->data()[((i * h + y) * w + xx) * c + ch];
          const float m = p.mean.empty() ? 0.0f : p.mean.size() == 1 ? p.mean[0] : p.mean[static_cast<size_t>(ch)];
          const float s = p.std.empty() ? 1.0f : p.std.size() == 1 ? p.std[0] : p.std[static_cast<size_t>(ch)];
          const float want = ((divide ? v / 255.0f : v) - m) / s;
          const int64_t at = nhwc ? ((i * h + y) * w + xx) * c + ch : ((i * c + ch) * h + y) * w + xx;
          wrong += x.data<float>()[at] != want;
        }
  EXPECT_EQ(wrong, 0) << ex.yaml;
}

TEST(DataExamplesTest, TorchvisionNchwRgb) {
  check_image_example({"imagenet/torchvision_nchw_rgb.yaml", "labels.txt", {5, 3, 224, 224}});
  auto cfg = load_data_config(kRoot + "/examples/imagenet/torchvision_nchw_rgb.yaml");
  ASSERT_TRUE(cfg.ok());
  cfg->dataset.inputs[0].path = kImages + "/photos";
  cfg->dataset.labels = kImages + "/labels.txt";
  auto data = load_dataset(*cfg);
  ASSERT_TRUE(data.ok());
  // labels.txt lists the files out of order; they come back in the sorted order of the files.
  EXPECT_EQ(data->labels, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(DataExamplesTest, CaffeNhwcBgr) {
  check_image_example({"imagenet/caffe_nhwc_bgr.yaml", "labels.txt", {5, 224, 224, 3}});
  // BGR: the first channel of the caffe tensor is the blue of the RGB one's pixels.
  auto rgb_cfg = load_data_config(kRoot + "/examples/imagenet/torchvision_nchw_rgb.yaml");
  auto bgr_cfg = load_data_config(kRoot + "/examples/imagenet/caffe_nhwc_bgr.yaml");
  ASSERT_TRUE(rgb_cfg.ok() && bgr_cfg.ok());
  std::vector<std::string> files;
  auto rgb = read_image_folder(kImages + "/photos", false, rgb_cfg->preprocess, &files);
  auto bgr = read_image_folder(kImages + "/photos", false, bgr_cfg->preprocess, &files);
  ASSERT_TRUE(rgb.ok() && bgr.ok());
  EXPECT_EQ(rgb->data()[2], bgr->data()[0]);
  EXPECT_EQ(rgb->data()[0], bgr->data()[2]);
}

TEST(DataExamplesTest, Grayscale) {
  check_image_example({"imagenet/grayscale.yaml", "labels_recursive.txt", {6, 1, 28, 28}});
}

TEST(DataExamplesTest, MultiInputWithState) {
  const fs::path dir = fs::temp_directory_path() / ("qtune_examples_" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::copy_file(kRoot + "/examples/multi_input/vad_with_state.yaml", dir / "vad.yaml",
                fs::copy_options::overwrite_existing);
  std::vector<float> chunks(3 * 512);
  for (size_t i = 0; i < chunks.size(); ++i) chunks[i] = static_cast<float>(i % 7) - 3.0f;
  ASSERT_TRUE(write_npy_file(Tensor::from_f32({3, 512}, chunks), (dir / "chunks.npy").string()).ok());
  ASSERT_TRUE(write_npy_file(Tensor(DType::kF32, {2, 1, 128}), (dir / "state.npy").string()).ok());
  ASSERT_TRUE(write_npy_file(Tensor::from_i64({}, {16000}), (dir / "sr.npy").string()).ok());
  ASSERT_TRUE(write_npy_file(Tensor::from_i64({3}, {0, 1, 1}), (dir / "labels.npy").string()).ok());
  auto cfg = load_data_config((dir / "vad.yaml").string());
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(cfg->batch_size, 1);
  auto data = load_dataset(*cfg);
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->size(), 3);
  EXPECT_EQ(data->labels, (std::vector<int64_t>{0, 1, 1}));

  Graph g;
  g.inputs = {{"input", DType::kF32, Shape{-1, 512}},
              {"state", DType::kF32, Shape{2, -1, 128}},
              {"sr", DType::kS64, Shape{}}};
  auto feed = ModelFeed::bind(g, *data);
  ASSERT_TRUE(feed.ok()) << feed.status().message();
  EXPECT_EQ(feed->fixed_batch(), 0);  // state is shared: its leading 2 is no batch size
  const std::vector<Tensor> x = feed->batch(2, 1);
  EXPECT_EQ(x[0].shape(), (Shape{1, 512}));
  EXPECT_EQ(x[0].data<float>()[0], static_cast<float>(1024 % 7) - 3.0f);
  EXPECT_EQ(x[1].shape(), (Shape{2, 1, 128}));
  EXPECT_EQ(x[2].dtype(), DType::kS64);
  EXPECT_EQ(x[2].data<int64_t>()[0], 16000);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace qtune
