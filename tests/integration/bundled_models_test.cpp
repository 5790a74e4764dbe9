// The bundled models, run by qtune's fp32 executor on the real Fashion-MNIST test set, must
// reproduce PyTorch's own accuracy recorded in reference.json.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "runtime/executor.h"
#include "common/data_config.h"
#include "common/dataset.h"
#include "common/onnx_io.h"
#include "worker/evaluator.h"

namespace qtune {
namespace {

constexpr double kAccuracyTolerancePoints = 0.05;  // the foundation's promise, in % points
const std::string kSource = QTUNE_SOURCE_DIR;

class BundledModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BundledModelTest, Fp32AccuracyMatchesPyTorchReference) {
  const std::string data_yaml = kSource + "/examples/fashion_mnist/test.yaml";
  auto cfg = load_data_config(data_yaml);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  if (!std::filesystem::exists(cfg->dataset.inputs[0].path)) {
    GTEST_SKIP() << cfg->dataset.inputs[0].path << " missing (Debian package dataset-fashion-mnist)";
  }
  const YAML::Node ref = YAML::LoadFile(kSource + "/models/fashion_mnist/reference.json");
  const double want = ref["models"][GetParam()]["accuracy"].as<double>();

  auto graph = load_onnx_model(kSource + "/models/fashion_mnist/" + GetParam() + ".onnx");
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto exec = Executor::create(std::make_shared<const Graph>(std::move(graph).value()));
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  auto data = load_dataset(*cfg);
  ASSERT_TRUE(data.ok()) << data.status().message();
  ASSERT_EQ(data->size(), 10000);
  auto result = evaluate_top1(*exec, *data, cfg->batch_size);
  ASSERT_TRUE(result.ok()) << result.status().message();
  std::printf("%s: qtune %.2f%%, PyTorch %.2f%%\n", GetParam().c_str(), result->top1, want);
  EXPECT_NEAR(result->top1, want, kAccuracyTolerancePoints);
}

INSTANTIATE_TEST_SUITE_P(FashionMnist, BundledModelTest,
                         ::testing::Values("lenet", "resnet", "vit"));

}  // namespace
}  // namespace qtune
