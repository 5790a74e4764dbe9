// The trial runner's metrics against fp32 on a small two-output detector: binary_agreement on a
// named output equals the agreement of the adaptor's int8 model with fp32 computed here.
#include "worker/trial_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "adaptors/adaptor.h"
#include "adaptors/capability.h"
#include "common/dataset.h"
#include "common/onnx_io.h"
#include "common/tuning_config.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;

Tensor random_f32(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  Tensor t(DType::kF32, std::move(shape));
  for (auto& v : t.span<float>()) v = d(rng);
  return t;
}

// x [N,8] -> Gemm "fc" (W [8,4], B) -> Relu -> Gemm "head" ([4,1]) = logits [N,1];
// Sigmoid -> prob [N,1]. Outputs: logits, prob.
Graph detector() {
  Graph g;
  g.name = "detector";
  g.inputs.push_back({"x", DType::kF32, Shape{-1, 8}});
  g.outputs.push_back({"logits", DType::kF32, Shape{-1, 1}});
  g.outputs.push_back({"prob", DType::kF32, Shape{-1, 1}});
  g.initializers["W"] = random_f32({8, 4}, 1);
  g.initializers["B"] = random_f32({4}, 2);
  g.initializers["H"] = random_f32({4, 1}, 3);
  auto node = [](const std::string& name, const std::string& op, std::vector<std::string> in,
                 std::vector<std::string> out) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
  };
  g.nodes.push_back(node("fc", "Gemm", {"x", "W", "B"}, {"h"}));
  g.nodes.push_back(node("relu", "Relu", {"h"}, {"r"}));
  g.nodes.push_back(node("head", "Gemm", {"r", "H"}, {"logits"}));
  g.nodes.push_back(node("sigmoid", "Sigmoid", {"logits"}, {"prob"}));
  return g;
}

class TrialRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qtune_trial_runner_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(save_onnx_model(detector(), (dir_ / "m.onnx").string()).ok());
    ASSERT_TRUE(write_npy_file(random_f32({61, 8}, 4), (dir_ / "x.npy").string()).ok());
    std::ofstream(dir_ / "d.yaml") << "dataset: {format: npy, inputs: {x: x.npy}}\nbatch_size: 7\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<TuningConfig> config(const std::string& metric) {
    const fs::path p = dir_ / "t.yaml";
    std::ofstream(p) << "model: m.onnx\ndata: {calibration: d.yaml, evaluation: d.yaml}\n"
                     << "metric: " << metric << "\n";
    return load_tuning_config(p.string());
  }

  fs::path dir_;
};

TEST_F(TrialRunnerTest, BinaryAgreementCountsDecisionsOnTheNamedOutputAgainstFp32) {
  auto cfg = config("{name: binary_agreement, output: prob, threshold: 0.5}");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  auto runner = TrialRunner::create(*cfg);
  ASSERT_TRUE(runner.ok()) << runner.status().message();
  auto base = (*runner)->baseline();
  ASSERT_TRUE(base.ok()) << base.status().message();
  EXPECT_EQ(base->metric, 100.0);

  auto int8 = default_int8_config((*runner)->session().capability);
  ASSERT_TRUE(int8.ok());
  auto m = (*runner)->evaluate(*int8);
  ASSERT_TRUE(m.ok()) << m.status().message();

  // The same count by hand: the adaptor's int8 model and fp32 on every sample at once.
  auto q = (*runner)->quantize(*int8);
  ASSERT_TRUE(q.ok());
  auto made = make_adaptor("native");
  ASSERT_TRUE(made.ok());
  auto int8_model = (*made)->prepare(q->graph, q->bf16_ops);
  auto fp32_model = (*made)->prepare((*runner)->session().prepared, {});
  ASSERT_TRUE(int8_model.ok() && fp32_model.ok());
  auto x = read_npy_file((dir_ / "x.npy").string());
  ASSERT_TRUE(x.ok());
  Tensor all(DType::kF32, Shape{61, 8});
  std::copy(x->data(), x->data() + all.nbytes(), static_cast<uint8_t*>(all.raw()));
  auto yq = (*int8_model)->run({all});
  auto yf = (*fp32_model)->run({all});
  ASSERT_TRUE(yq.ok() && yf.ok());
  int agree = 0;
  for (int i = 0; i < 61; ++i) {
    agree += ((*yq)[1].data<float>()[i] >= 0.5f) == ((*yf)[1].data<float>()[i] >= 0.5f);
  }
  EXPECT_DOUBLE_EQ(m->metric, 100.0 * agree / 61);

  // A threshold no output reaches: every decision is "no", so they all agree.
  auto never = config("{name: binary_agreement, output: prob, threshold: 2}");
  ASSERT_TRUE(never.ok());
  auto r2 = TrialRunner::create(*never);
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE((*r2)->baseline().ok());
  auto m2 = (*r2)->evaluate(*int8);
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(m2->metric, 100.0);
}

TEST_F(TrialRunnerTest, UnknownMetricOutputIsInvalidInputNamingIt) {
  auto cfg = config("{name: mse, output: nowhere}");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  auto runner = TrialRunner::create(*cfg);
  ASSERT_TRUE(runner.ok()) << runner.status().message();
  auto base = (*runner)->baseline();
  ASSERT_FALSE(base.ok());
  EXPECT_EQ(base.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(base.status().message().find("metric.output 'nowhere'"), std::string::npos);
}

TEST(FallbackGainSamplesTest, SmallModelsKeepEveryRequestedSample) {
  // lenet-sized: a dozen ops, ~10^4 values per 28x28 sample.
  EXPECT_EQ(fallback_gain_samples(500, 1000, 12, 1.2e4), 500);
  EXPECT_EQ(fallback_gain_samples(500, 300, 12, 1.2e4), 300);  // only what the set has
}

TEST(FallbackGainSamplesTest, BigModelsRankOnFewerSamples) {
  // 141 ops of a CNN computing 10^6 values per sample: the budget's share per op.
  const int64_t n = fallback_gain_samples(500, 1000, 141, 1e6);
  EXPECT_EQ(n, static_cast<int64_t>(kFallbackGainValueBudget / (141 * 1e6)));
  EXPECT_LT(n, 500);
  // Never below the minimum, nor above what the set has.
  EXPECT_EQ(fallback_gain_samples(500, 1000, 1000, 1e9), kFallbackGainMinSamples);
  EXPECT_EQ(fallback_gain_samples(500, 3, 1000, 1e9), 3);
  EXPECT_EQ(fallback_gain_samples(500, 1000, 0, 0), 500);
}

}  // namespace
}  // namespace qtune
