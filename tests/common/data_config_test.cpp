#include "common/data_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace qtune {
namespace {

namespace fs = std::filesystem;

class DataConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("qtune_data_config_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  // The error message of loading `text`, which must fail with kInvalidInput.
  std::string error_of(const std::string& text) {
    const std::string p = write("c.yaml", text);
    auto r = load_data_config(p);
    EXPECT_FALSE(r.ok()) << text;
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_EQ(r.status().message().rfind(p, 0), 0u) << r.status().message();
    return r.status().message().substr(p.size());
  }
  fs::path dir_;
};

TEST_F(DataConfigTest, ParsesTheDocumentedExample) {
  const std::string p = write("test.yaml", R"(dataset:
  format: idx                 # idx | npy | raw
  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  labels: sub/labels.gz
  limit: 10000
preprocess:
  scale: 0.00392156862745098  # 1/255
  mean: [0.2860]
  std: [0.3530]
  layout: NCHW
batch_size: 64
)");
  auto r = load_data_config(p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const DataConfig& c = r.value();
  EXPECT_EQ(c.source_path, p);
  EXPECT_EQ(c.dataset.format, "idx");
  EXPECT_EQ(c.dataset.inputs[0].path, "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(c.dataset.labels, (dir_ / "sub/labels.gz").string());  // relative to the YAML
  EXPECT_EQ(c.dataset.limit, 10000);
  EXPECT_EQ(c.preprocess.scale, 1.0f / 255.0f);
  ASSERT_EQ(c.preprocess.mean.size(), 1u);
  EXPECT_EQ(c.preprocess.mean[0], 0.2860f);
  ASSERT_EQ(c.preprocess.std.size(), 1u);
  EXPECT_EQ(c.preprocess.std[0], 0.3530f);
  EXPECT_EQ(c.preprocess.layout, "NCHW");
  EXPECT_EQ(c.batch_size, 64);
}

TEST_F(DataConfigTest, OptionalKeysDefault) {
  auto r = load_data_config(write("d.yaml", "dataset:\n  format: npy\n  images: x.npy\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->batch_size, 100);
  EXPECT_EQ(r->dataset.limit, -1);
  EXPECT_TRUE(r->dataset.labels.empty());
  EXPECT_EQ(r->preprocess.scale, 1.0f);
  EXPECT_TRUE(r->preprocess.mean.empty());
  EXPECT_EQ(r->preprocess.layout, "NCHW");
  EXPECT_EQ(r->dataset.inputs[0].path, (dir_ / "x.npy").string());
}

TEST_F(DataConfigTest, RawFormatKeys) {
  auto r = load_data_config(write("r.yaml", R"(dataset:
  format: raw
  images: imgs.bin
  labels: labels.bin
  shape: [-1, 3, 32, 32]
  dtype: f32
  labels_dtype: s64
  header_bytes: 16
preprocess:
  mean: [0.5, 0.4, 0.3]
  std: [0.2, 0.2, 0.2]
  layout: NHWC
)"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dataset.shape, (std::vector<int64_t>{-1, 3, 32, 32}));
  EXPECT_EQ(r->dataset.dtype, DType::kF32);
  EXPECT_EQ(r->dataset.labels_dtype, DType::kS64);
  EXPECT_EQ(r->dataset.header_bytes, 16);
  EXPECT_EQ(r->preprocess.layout, "NHWC");
  EXPECT_EQ(r->preprocess.mean.size(), 3u);
}

TEST_F(DataConfigTest, InputsNameOneFilePerModelInput) {
  auto r = load_data_config(write("m.yaml", R"(dataset:
  format: npy
  inputs:
    input: audio/x.npy
    state: {file: state.npy, shared: true}
    sr: {file: /abs/sr.npy}
    pixels: {file: photos, format: images}
    h: {file: h.npy, batch_axis: 1}
  labels: y.npy
preprocess:
  inputs: [input]
  scale: 2
)"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& in = r->dataset.inputs;
  ASSERT_EQ(in.size(), 5u);
  EXPECT_EQ(in[4].name, "h");
  EXPECT_EQ(in[4].batch_axis, 1);
  EXPECT_EQ(in[0].batch_axis, 0);
  EXPECT_EQ(in[0].name, "input");  // document order
  EXPECT_EQ(in[0].path, (dir_ / "audio/x.npy").string());
  EXPECT_EQ(in[0].format, "npy");
  EXPECT_FALSE(in[0].shared);
  EXPECT_EQ(in[1].name, "state");
  EXPECT_TRUE(in[1].shared);
  EXPECT_EQ(in[2].path, "/abs/sr.npy");
  EXPECT_EQ(in[3].format, "images");
  EXPECT_EQ(r->preprocess.inputs, (std::vector<std::string>{"input"}));
  // The named input and the image folder are preprocessed; state and sr reach the model as
  // stored.
  std::vector<bool> pre;
  for (const DataInput& i : in) pre.push_back(r->preprocessed(i));
  EXPECT_EQ(pre, (std::vector<bool>{true, false, false, true, false}));
  EXPECT_EQ(r->dataset.paths(),
            (std::vector<std::string>{in[0].path, in[1].path, in[2].path, in[3].path, in[4].path,
                                      (dir_ / "y.npy").string()}));

  // Without a preprocess section nothing but image folders is touched.
  auto plain = load_data_config(write("p.yaml", "dataset:\n  format: npy\n  inputs: {ids: t.npy}\n"));
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_FALSE(plain->preprocessed(plain->dataset.inputs[0]));
}

TEST_F(DataConfigTest, InputsErrors) {
  EXPECT_EQ(error_of("dataset: {format: npy, images: a, inputs: {x: b}}\n"),
            ":1:43: dataset.inputs: give either images (one input, the model's first) or inputs, "
            "not both");
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {}}\n"),
            ":1:32: dataset.inputs: must name at least one model input");
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {x: [a]}}\n"),
            ":1:36: dataset.inputs.x: expected a mapping, got a list");
  const std::string k = error_of("dataset: {format: npy, inputs: {x: {path: a}}}\n");
  EXPECT_EQ(k.rfind(":1:37: dataset.inputs.x.path: unknown key (expected one of batch_axis, file, "
                   "format, shared)", 0), 0u) << k;
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {x: {file: a, batch_axis: -1}}}\n"),
            ":1:58: dataset.inputs.x.batch_axis: must be 0 or more");
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {x: {file: a, shared: true, batch_axis: 1}}}\n"),
            ":1:72: dataset.inputs.x.batch_axis: a shared input is fed whole: it has no batch axis");
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {x: {shared: true}}}\n"),
            ":1:36: dataset.inputs.x.file: missing required key");
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {x: {file: a, shared: yes please}}}\n"),
            ":1:54: dataset.inputs.x.shared: expected true or false, got 'yes please'");
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {x: {file: a, format: jpg}}}\n"),
            ":1:54: dataset.inputs.x.format: 'jpg' is not one of idx, npy, raw, images");
  EXPECT_EQ(error_of("dataset: {format: raw, shape: [2, 2], inputs: {x: a, y: b}}\n"),
            ":1:47: dataset.inputs: format raw describes one file (dataset.shape, dtype): use npy "
            "for several inputs");
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {x: a, y: b}}\npreprocess: {scale: 2}\n"),
            ":2:13: preprocess: applies to no input: name the dataset.inputs it is for in "
            "preprocess.inputs");
  EXPECT_EQ(error_of("dataset: {format: npy, inputs: {x: a}}\npreprocess: {inputs: [x, z]}\n"),
            ":2:26: preprocess.inputs: 'z' is not one of dataset.inputs");
  EXPECT_EQ(error_of("dataset: {format: npy, images: a}\npreprocess: {inputs: x}\n"),
            ":2:22: preprocess.inputs: only used with dataset.inputs (dataset.images is always "
            "preprocessed)");
  EXPECT_EQ(error_of("dataset: {format: npy, images: a, recursive: true}\n"),
            ":1:46: dataset.recursive: only used with format images");
  EXPECT_EQ(error_of("dataset: {format: npy, images: a}\npreprocess: {resize: 256}\n"),
            ":2:22: preprocess.resize: only used with format images");
  EXPECT_EQ(error_of("dataset: {format: npy, images: a}\npreprocess: {source_layout: HWC}\n"),
            ":2:29: preprocess.source_layout: 'HWC' is not one of NCHW, NHWC");
}

TEST_F(DataConfigTest, BadEnumNamesFileLineAndColumn) {
  EXPECT_EQ(error_of("# data\ndataset:\n  images: a.gz\n  format: idxx\n"),
            ":4:11: dataset.format: 'idxx' is not one of idx, npy, raw, images");
}

TEST_F(DataConfigTest, UnknownKeys) {
  EXPECT_EQ(error_of("dataset:\n  format: idx\n  images: a\nbatchsize: 3\n"),
            ":4:1: batchsize: unknown key (expected one of batch_size, dataset, preprocess)");
  const std::string m = error_of("dataset:\n  format: idx\n  images: a\n  imgaes: b\n");
  EXPECT_EQ(m.rfind(":4:3: dataset.imgaes: unknown key", 0), 0u) << m;
  const std::string p = error_of("dataset: {format: idx, images: a}\npreprocess:\n  sclae: 2\n");
  EXPECT_EQ(p.rfind(":3:3: preprocess.sclae: unknown key", 0), 0u) << p;
}

TEST_F(DataConfigTest, WrongTypes) {
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\nbatch_size: abc\n"),
            ":2:13: batch_size: expected an integer, got 'abc'");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\nbatch_size: 2.5\n"),
            ":2:13: batch_size: expected an integer, got '2.5'");
  EXPECT_EQ(error_of("dataset: {format: idx, images: [a, b]}\n"),
            ":1:32: dataset.images: expected a string, got a list");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\npreprocess:\n  mean: [0.1, x]\n"),
            ":3:15: preprocess.mean[1]: expected a finite number, got 'x'");
  EXPECT_EQ(error_of("dataset: [1, 2]\n"), ":1:10: dataset: expected a mapping, got a list");
  EXPECT_EQ(error_of("- 1\n- 2\n"), ":1:1: expected a mapping, got a list");
  const std::string m = error_of("dataset: {format: raw, images: a, shape: [2, 2], dtype: u7}\n");
  EXPECT_EQ(m.rfind(":1:57: dataset.dtype: 'u7' is not one of u8,", 0), 0u) << m;
}

TEST_F(DataConfigTest, MissingRequiredKeys) {
  EXPECT_EQ(error_of("batch_size: 3\n"), ":1:1: dataset: missing required key");
  EXPECT_EQ(error_of("dataset:\n  format: idx\n"), ":2:3: dataset.images: missing required key (or dataset.inputs)");
  EXPECT_EQ(error_of("dataset:\n  images: a\n"), ":2:3: dataset.format: missing required key");
  EXPECT_EQ(error_of("dataset:\n  format: raw\n  images: a\n"),
            ":2:3: dataset.shape: missing required key for format raw");
  EXPECT_EQ(error_of("dataset:\n  format:\n  images: a\n"),
            ":2:3: dataset.format: has no value");
}

TEST_F(DataConfigTest, BadValues) {
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\nbatch_size: 0\n"),
            ":2:13: batch_size: must be positive, got 0");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\nbatch_size: -5\n"),
            ":2:13: batch_size: must be positive, got -5");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a, limit: 0}\n"),
            ":1:42: dataset.limit: must be positive, got 0");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\npreprocess:\n  layout: CHW\n"),
            ":3:11: preprocess.layout: 'CHW' is not one of NCHW, NHWC");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\npreprocess:\n  mean: [1, 2]\n  std: [1]\n"),
            ":4:8: preprocess.std: has 1 values but preprocess.mean has 2");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\npreprocess:\n  std: [0.5, 0]\n"),
            ":3:14: preprocess.std[1]: must not be 0 (it divides)");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\npreprocess:\n  std: 0.0\n"),
            ":3:8: preprocess.std: must not be 0 (it divides)");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a}\npreprocess:\n  scale: .nan\n"),
            ":3:10: preprocess.scale: expected a finite number, got '.nan'");
  EXPECT_EQ(error_of("dataset: {format: idx, images: a, shape: [2, 2]}\n"),
            ":1:42: dataset.shape: only used with format raw (format idx stores it in the file)");
  EXPECT_EQ(error_of("dataset: {format: raw, images: a, shape: [2, 0]}\n"),
            ":1:46: dataset.shape[1]: must be positive (only N, the first of 3 or 4, may be -1)");
  EXPECT_EQ(error_of("dataset: {format: raw, images: a, shape: [5]}\n"),
            ":1:42: dataset.shape: expected 2 to 4 dimensions ([H,W], [N,H,W] or [N,C,H,W]), got 1");
  EXPECT_EQ(error_of("dataset:\n  format: idx\n  images: a\n  format: npy\n"),
            ":4:3: dataset.format: duplicate key");
}

TEST_F(DataConfigTest, YamlSyntaxErrorsCarryTheirPosition) {
  const std::string m = error_of("dataset:\n  format: idx\n  images: [a, b\n");
  EXPECT_EQ(m.rfind(":", 0), 0u);
  EXPECT_NE(m.find(':', 1), std::string::npos) << m;
  EXPECT_NE(m.find("flow"), std::string::npos) << m;  // yaml-cpp: "end of sequence flow not found"
  const std::string t = error_of("dataset:\n\tformat: idx\n");
  EXPECT_EQ(t.rfind(":2:", 0), 0u) << t;
}

TEST_F(DataConfigTest, EmptyAndMissingFiles) {
  EXPECT_EQ(error_of(""), ": empty document: expected a mapping with a 'dataset' key");
  auto r = load_data_config((dir_ / "nope.yaml").string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(), (dir_ / "nope.yaml").string() + ": cannot open data config");
}

TEST(DataConfigDtypeTest, NamesMapToDtypes) {
  DType t;
  ASSERT_TRUE(dataset_dtype_from_name("s8", &t));
  EXPECT_EQ(t, DType::kS8);
  ASSERT_TRUE(dataset_dtype_from_name("f64", &t));
  EXPECT_EQ(t, DType::kF64);
  EXPECT_FALSE(dataset_dtype_from_name("float32", &t));
  EXPECT_FALSE(dataset_dtype_from_name("bool", &t));
}

}  // namespace
}  // namespace qtune
