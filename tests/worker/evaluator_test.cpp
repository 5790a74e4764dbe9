#include "worker/evaluator.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common/data_config.h"
#include "common/onnx_io.h"

namespace qtune {
namespace {

// N samples of shape [1,1,K] whose largest value sits at position argmax[i].
Dataset one_hot_dataset(const std::vector<int64_t>& argmax, const std::vector<int64_t>& labels,
                        int64_t k) {
  const int64_t n = static_cast<int64_t>(argmax.size());
  Tensor x(DType::kF32, {n, 1, 1, k});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) x.data<float>()[i * k + j] = 0.1f * static_cast<float>(j % 3);
    x.data<float>()[i * k + argmax[static_cast<size_t>(i)]] = 5.0f;
  }
  return Dataset::of(x, labels);
}

TEST(EvalArgmaxTest, FirstIndexWinsTiesAndNanNeverWins) {
  Tensor t = Tensor::from_f32({2, 4}, {1, 3, 3, 0, NAN, -1, NAN, -1});
  EXPECT_EQ(argmax_row(t, 2, 0), 1);
  EXPECT_EQ(argmax_row(t, 2, 1), 1);
  Tensor all_nan = Tensor::from_f32({1, 2}, {NAN, NAN});
  EXPECT_EQ(argmax_row(all_nan, 1, 0), 0);
  Tensor i64 = Tensor::from_i64({1, 3}, {4, 9, 2});  // non-float scores work too
  EXPECT_EQ(argmax_row(i64, 1, 0), 1);
}

TEST(EvalTest, CountsCorrectOverPartialBatches) {
  // 7 samples, batch 3: batches of 3, 3 and 1. Samples 1 and 5 are wrong.
  Dataset d = one_hot_dataset({0, 1, 2, 3, 0, 1, 2}, {0, 2, 2, 3, 0, 0, 2}, 4);
  std::vector<int64_t> sizes;
  BatchScorer identity = [&](const std::vector<Tensor>& batch) -> Result<Tensor> {
    sizes.push_back(batch[0].dim(0));
    return batch[0].reshaped({batch[0].dim(0), 4});
  };
  auto r = evaluate_top1(identity, d, 3);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(sizes, (std::vector<int64_t>{3, 3, 1}));
  EXPECT_EQ(r->samples, 7);
  EXPECT_EQ(r->correct, 5);
  EXPECT_DOUBLE_EQ(r->top1, 100.0 * 5 / 7);
  EXPECT_GE(r->seconds, 0.0);
  EXPECT_GE(r->images_per_second, 0.0);
}

TEST(EvalTest, Errors) {
  Dataset d = one_hot_dataset({0, 1}, {0, 1}, 3);
  BatchScorer identity = [](const std::vector<Tensor>& b) -> Result<Tensor> { return b[0]; };
  EXPECT_EQ(evaluate_top1(identity, d, 0).status().code(), StatusCode::kInvalidInput);

  BatchScorer failing = [](const std::vector<Tensor>&) -> Result<Tensor> {
    return Status::Internal("node 'x' (Conv): boom");
  };
  auto f = evaluate_top1(failing, d, 1);
  EXPECT_EQ(f.status().code(), StatusCode::kInternal);
  EXPECT_EQ(f.status().message(), "batch at sample 0: node 'x' (Conv): boom");

  BatchScorer wrong_rows = [](const std::vector<Tensor>&) -> Result<Tensor> {
    return Tensor(DType::kF32, {1, 10});
  };
  auto w = evaluate_top1(wrong_rows, d, 2);
  EXPECT_EQ(w.status().message(),
            "model output 0 has shape [1,10] for a batch of 2; expected [2, classes]");

  Dataset unlabeled = d;
  unlabeled.labels.clear();
  EXPECT_EQ(evaluate_top1(identity, unlabeled, 2).status().message(),
            "the dataset has no labels; top-1 needs them");
  EXPECT_EQ(evaluate_top1(identity, Dataset{}, 2).status().message(), "the dataset is empty");
}

std::shared_ptr<const Graph> identity_graph(Shape input_shape) {
  auto g = std::make_shared<Graph>();
  g->name = "identity";
  g->inputs.push_back({"x", DType::kF32, input_shape});
  Node n;
  n.name = "id";
  n.op_type = "Identity";
  n.inputs = {"x"};
  n.outputs = {"y"};
  g->nodes.push_back(n);
  g->outputs.push_back({"y", DType::kF32, std::nullopt});
  return g;
}

TEST(EvalTest, RunsAnExecutorOnAnIdentityGraph) {
  auto exec = Executor::create(identity_graph({-1, 5}));  // flat input: the images get reshaped
  if (!exec.ok() && exec.status().code() == StatusCode::kUnsupported) {
    GTEST_SKIP() << "Identity is not implemented yet: " << exec.status().message();
  }
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  Dataset d = one_hot_dataset({4, 0, 2, 2, 1}, {4, 0, 1, 2, 1}, 5);
  auto r = evaluate_top1(exec.value(), d, 2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 5);
  EXPECT_EQ(r->correct, 4);
  EXPECT_DOUBLE_EQ(r->top1, 80.0);

  auto nchw = Executor::create(identity_graph({-1, 1, 1, 5}));
  ASSERT_TRUE(nchw.ok());
  auto r2 = evaluate_top1(nchw.value(), d, 100);
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_EQ(r2->correct, 4);
}

TEST(EvalTest, FixedBatchModelsGetPaddedBatches) {
  auto exec = Executor::create(identity_graph({2, 1, 1, 5}));
  if (!exec.ok()) GTEST_SKIP() << "Identity is not implemented yet";
  Dataset d = one_hot_dataset({4, 0, 2, 2, 1}, {4, 0, 1, 2, 1}, 5);
  auto r = evaluate_top1(exec.value(), d, 100);  // batches of 2, 2 and a padded 1
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 5);
  EXPECT_EQ(r->correct, 4);
}

TEST(EvalTest, RejectsModelsItCannotFeed) {
  auto g = std::make_shared<Graph>(*identity_graph({-1, 5}));
  g->inputs.push_back({"extra", DType::kF32, Shape{1}});
  auto exec = Executor::create(g);
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  Dataset d = one_hot_dataset({0}, {0}, 5);
  d.source = "data.yaml";
  auto r = evaluate_top1(exec.value(), d, 1);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(),
            "data.yaml: model input 'extra' (f32 [1]) has no data; dataset.images feeds only the "
            "first of the model's inputs ('x', 'extra'): name each under dataset.inputs");

  auto u8 = std::make_shared<Graph>(*identity_graph({-1, 5}));
  u8->inputs[0].dtype = DType::kU8;
  auto e8 = Executor::create(u8);
  ASSERT_TRUE(e8.ok());
  EXPECT_EQ(evaluate_top1(e8.value(), d, 1).status().message(),
            "data.yaml: the data holds f32 values, the model's input 'x' takes u8");

  Dataset named = d;
  named.inputs[0].name = "y";
  named.inputs[0].source = "y.npy";
  auto e = Executor::create(identity_graph({-1, 5}));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(evaluate_top1(e.value(), named, 1).status().message(),
            "data.yaml: model input 'x' (f32 [?,5]) has no data: add it under dataset.inputs");
  named.inputs.push_back(named.inputs[0]);
  named.inputs[0].name = "x";
  EXPECT_EQ(evaluate_top1(e.value(), named, 1).status().message(),
            "data.yaml: dataset input 'y' (y.npy) is not an input of the model (its inputs: 'x')");
}

// y = a + Cast<f32>(ids) * scale: three inputs of three element types, fed by name whatever
// the dataset's order; `scale` is one row shared by every sample.
std::shared_ptr<const Graph> three_input_graph() {
  auto g = std::make_shared<Graph>();
  g->name = "three";
  g->opset = 17;
  g->inputs.push_back({"a", DType::kF32, Shape{-1, 3}});
  g->inputs.push_back({"ids", DType::kS64, Shape{-1, 3}});
  g->inputs.push_back({"scale", DType::kF32, Shape{-1, 3}});
  Node cast;
  cast.name = "cast";
  cast.op_type = "Cast";
  cast.inputs = {"ids"};
  cast.outputs = {"idf"};
  Attribute to;
  to.kind = Attribute::Kind::kInt;
  to.i = 1;  // FLOAT
  cast.attrs["to"] = to;
  Node mul;
  mul.name = "mul";
  mul.op_type = "Mul";
  mul.inputs = {"idf", "scale"};
  mul.outputs = {"m"};
  Node add;
  add.name = "add";
  add.op_type = "Add";
  add.inputs = {"a", "m"};
  add.outputs = {"y"};
  g->nodes = {cast, mul, add};
  g->outputs.push_back({"y", DType::kF32, std::nullopt});
  return g;
}

TEST(EvalTest, FeedsSeveralInputsByNameKeepingTheirTypes) {
  auto exec = Executor::create(three_input_graph());
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  // Sample i: a is 0 except a[i % 3] = 0.5; ids puts 1 at the label's position, scaled by 2.
  const std::vector<int64_t> labels = {0, 0, 2, 1};
  std::vector<float> a(12, 0.0f);
  std::vector<int64_t> ids(12, 0);
  for (int i = 0; i < 4; ++i) {
    a[static_cast<size_t>(i * 3 + i % 3)] = 0.5f;
    ids[static_cast<size_t>(i * 3 + labels[static_cast<size_t>(i)])] = 1;
  }
  Dataset d;
  d.samples = 4;
  d.labels = labels;
  d.inputs.push_back({"scale", "s.npy", Tensor::from_f32({1, 3}, {2, 2, 2}), false});
  d.inputs.push_back({"ids", "ids.npy", Tensor::from_i64({4, 3}, ids), false});
  d.inputs.push_back({"a", "a.npy", Tensor::from_f32({4, 3}, a), false});
  auto r = evaluate_top1(exec.value(), d, 3);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 4);
  EXPECT_EQ(r->correct, 4);

  // Without the scale the ids weigh 0 and a decides: samples 1 and 3 miss.
  d.inputs[0].values = Tensor::from_f32({1, 3}, {0, 0, 0});
  auto r0 = evaluate_top1(exec.value(), d, 4);
  ASSERT_TRUE(r0.ok()) << r0.status().message();
  EXPECT_EQ(r0->correct, 2);

  d.inputs[1].values = Tensor::from_f32({4, 3}, std::vector<float>(12, 0.0f));
  EXPECT_EQ(evaluate_top1(exec.value(), d, 4).status().message(),
            "the dataset: input 'ids' (ids.npy) holds f32 values, the model's input 'ids' takes s64");
}

// The shipped LeNet on the first 1000 Fashion-MNIST test images, when the model, the data YAML
// and the ops it needs are all present.
TEST(EvalTest, FashionMnistLenetIfAvailable) {
  const std::string root = QTUNE_SOURCE_DIR;
  const std::string model = root + "/models/fashion_mnist/lenet.onnx";
  const std::string yaml = root + "/examples/fashion_mnist/test.yaml";
  if (!std::filesystem::exists(model) || !std::filesystem::exists(yaml)) {
    GTEST_SKIP() << "needs " << model << " and " << yaml;
  }
  auto cfg = load_data_config(yaml);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  if (!std::filesystem::exists(cfg->dataset.inputs[0].path)) GTEST_SKIP() << "no " << cfg->dataset.inputs[0].path;
  cfg.value().dataset.limit = 1000;
  auto graph = load_onnx_model(model);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto exec = Executor::create(std::make_shared<const Graph>(std::move(graph).value()));
  if (!exec.ok() && exec.status().code() == StatusCode::kUnsupported) {
    GTEST_SKIP() << exec.status().message();
  }
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  auto data = load_dataset(cfg.value());
  ASSERT_TRUE(data.ok()) << data.status().message();
  auto r = evaluate_top1(exec.value(), data.value(), cfg->batch_size);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 1000);
  EXPECT_GT(r->top1, 80.0);
}

struct CommandResult {
  int code = -1;
  std::string out;
};

// Runs a shell command, capturing stdout (and stderr when the command redirects it).
CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// `qtune eval` end to end: an Identity model saved to ONNX, a 4-sample IDX dataset and a YAML
// with relative paths.
TEST(EvalCliTest, JsonLineHumanLineAndErrors) {
  namespace fs = std::filesystem;
  if (!Executor::create(identity_graph({-1, 1, 1, 3})).ok()) GTEST_SKIP() << "no Identity op";
  const fs::path dir = fs::temp_directory_path() / ("qtune_eval_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& b) {
    std::ofstream((dir / name).string(), std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  // Images [4,1,3] u8 with argmax 2,0,1,1; labels 2,0,1,0 -> 3 of 4 correct.
  write("img.idx", {0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 3,
                    1, 2, 9, 9, 1, 2, 0, 7, 3, 4, 8, 0});
  write("lab.idx", {0, 0, 8, 1, 0, 0, 0, 4, 2, 0, 1, 0});
  std::ofstream((dir / "data.yaml").string())
      << "dataset:\n  format: idx\n  images: img.idx\n  labels: lab.idx\n"
         "preprocess:\n  scale: 0.5\n  mean: [1]\n  std: [2]\nbatch_size: 3\n";
  std::ofstream((dir / "bad.yaml").string()) << "dataset:\n  format: idxx\n  images: a\n";
  const std::string model = (dir / "id.onnx").string();
  ASSERT_TRUE(save_onnx_model(*identity_graph({-1, 1, 1, 3}), model).ok());

  const std::string base = std::string(QTUNE_BINARY) + " eval " + model + " --data " +
                           (dir / "data.yaml").string();
  CommandResult j = run_command(base + " --json --threads 1");
  EXPECT_EQ(j.code, 0) << j.out;
  EXPECT_EQ(j.out.rfind("{\"model\": \"" + model + "\"", 0), 0u) << j.out;
  EXPECT_NE(j.out.find("\"samples\": 4, \"correct\": 3, \"top1\": 75.0000,"), std::string::npos)
      << j.out;
  EXPECT_NE(j.out.find("\"images_per_second\": "), std::string::npos);
  EXPECT_NE(j.out.find("\"seconds\": "), std::string::npos);

  CommandResult h = run_command(base + " --limit 2");
  EXPECT_EQ(h.code, 0) << h.out;
  EXPECT_EQ(h.out.rfind("top-1 100.00% (2/2) \u00b7 ", 0), 0u) << h.out;

  CommandResult bad = run_command(std::string(QTUNE_BINARY) + " eval " + model + " --data " +
                        (dir / "bad.yaml").string() + " 2>&1");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.out, "qtune eval: " + (dir / "bad.yaml").string() +
                         ":2:11: dataset.format: 'idxx' is not one of idx, npy, raw, images\n");
  CommandResult limit = run_command(base + " --limit 0 2>&1");
  EXPECT_EQ(limit.code, 2);
  EXPECT_EQ(limit.out, "qtune eval: --limit expects a positive integer, got '0'\n");
  CommandResult usage = run_command(std::string(QTUNE_BINARY) + " eval " + model + " 2>&1");
  EXPECT_EQ(usage.code, 2);
  CommandResult missing = run_command(std::string(QTUNE_BINARY) + " eval " + (dir / "none.onnx").string() +
                            " --data " + (dir / "data.yaml").string() + " 2>&1");
  EXPECT_EQ(missing.code, 2) << missing.out;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// `qtune eval` on a folder of JPEG/PNG files: y = mean over pixels per channel, so the class is
// the brightest channel; a corrupt file fails with exit code 2 naming it.
TEST(EvalCliTest, ImageFolderAndCorruptImage) {
  namespace fs = std::filesystem;
  auto g = std::make_shared<Graph>();
  g->name = "mean_colour";
  g->opset = 17;
  g->inputs.push_back({"pixels", DType::kF32, Shape{-1, 3, 12, 12}});
  Node pool;
  pool.name = "pool";
  pool.op_type = "GlobalAveragePool";
  pool.inputs = {"pixels"};
  pool.outputs = {"pooled"};
  Node flat;
  flat.name = "flat";
  flat.op_type = "Flatten";
  flat.inputs = {"pooled"};
  flat.outputs = {"y"};
  g->nodes = {pool, flat};
  g->outputs.push_back({"y", DType::kF32, std::nullopt});
  const fs::path dir = fs::temp_directory_path() / ("qtune_eval_images_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string model = (dir / "mean.onnx").string();
  ASSERT_TRUE(save_onnx_model(*g, model).ok());
  const std::string images = std::string(QTUNE_SOURCE_DIR) + "/tests/data/images";
  std::ofstream((dir / "data.yaml").string())
      << "dataset:\n  format: images\n  images: " << images << "/photos\n  labels: " << images
      << "/labels.txt\npreprocess:\n  resize: 16\n  center_crop: 12\n  scale: 0.00392156862745098\n"
         "batch_size: 2\n";
  CommandResult r = run_command(std::string(QTUNE_BINARY) + " eval " + model + " --data " +
                                (dir / "data.yaml").string() + " --json");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"samples\": 5, "), std::string::npos) << r.out;

  std::ofstream((dir / "corrupt.yaml").string())
      << "dataset:\n  format: images\n  images: " << images << "/corrupt\n";
  CommandResult bad = run_command(std::string(QTUNE_BINARY) + " eval " + model + " --data " +
                                  (dir / "corrupt.yaml").string() + " 2>&1");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_EQ(bad.out.rfind("qtune eval: " + images + "/corrupt/truncated.jpg: corrupt JPEG: ", 0), 0u)
      << bad.out;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace qtune
