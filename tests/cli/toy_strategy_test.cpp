// A strategy defined here, in the test binary, drives `qtune tune` end to end with no edit to
// cli/cmd_tune.cpp: the run measures the sensitivity the strategy asks for through its own
// measure_sensitivity, the strategy ranks by it, and its report notes and measure reach
// report.json; a resume takes the recorded sensitivity instead of measuring again.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "cli/commands.h"
#include "coordinator/strategy.h"

namespace qtune {
namespace {

const std::string kSource = QTUNE_SOURCE_DIR;
std::atomic<int> toy_measurements{0};

// All int8, then the op its measure ranks first in fp32; nothing more.
class ToyStrategy : public Strategy {
 public:
  std::string name() const override { return "toy"; }
  bool stops_at_first_pass() const override { return false; }
  bool needs_sensitivity() const override { return true; }
  Result<std::map<std::string, double>> measure_sensitivity(OpProbe& probe,
                                                            const TuneConfig& all_int8) const override {
    ++toy_measurements;
    return probe.added_error(all_int8);
  }
  std::string sensitivity_measure() const override { return "the toy's measure: added error"; }

  std::vector<TrialProposal> next(const StrategyContext& ctx, const TuningHistory& h) const override {
    const TuneConfig all_int8 = ctx.space.default_config(ctx.calib_sampling_size);
    if (!h.find(all_int8.hash())) return {{all_int8, "toy-int8"}};
    TuneConfig fallback = all_int8;
    fallback.ops[worst(ctx)] = OpQuantConfig::fp32();
    if (!h.find(fallback.hash())) return {{fallback, "toy-fallback"}};
    return {};
  }

 protected:
  std::vector<std::string> report_notes(const StrategyContext& ctx, const TuningHistory&) const override {
    return {"the toy fell back " + worst(ctx)};
  }

 private:
  static std::string worst(const StrategyContext& ctx) {
    std::string name;
    double most = -1;
    for (const auto& [op, s] : ctx.op_sensitivity()) {
      if (s > most) most = s, name = op;
    }
    return name;
  }
};

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

int run_qtune(std::vector<std::string> args) {
  args.insert(args.begin(), {"qtune", "tune"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_tune(static_cast<int>(argv.size()), argv.data());
}

TEST(ToyStrategy, RunsThroughQtuneTuneWithItsOwnSensitivityAndReport) {
  const std::string images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(images)) GTEST_SKIP() << images << " missing (dataset-fashion-mnist)";
  static const bool registered = register_strategy("toy", [] { return std::make_unique<ToyStrategy>(); }).ok();
  ASSERT_TRUE(registered);

  const auto dir = std::filesystem::temp_directory_path() / ("qtune_toy_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  write(dir / "data.yaml",
        "dataset: {format: idx, images: " + images +
            ", labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz, limit: 200}\n"
            "preprocess: {scale: 0.00392156862745098, mean: [0.2860], std: [0.3530], layout: NCHW}\n"
            "batch_size: 100\n");
  write(dir / "tune.yaml", "model: " + kSource + "/models/fashion_mnist/lenet.onnx\n"
                           "data: {calibration: data.yaml, evaluation: data.yaml}\n"
                           "tuning:\n  strategy: toy\n  accuracy_criterion: {relative: 0.5}\n"
                           "  exit_policy: {timeout: 0, max_trials: 10}\n  objective: accuracy\n"
                           "quantization: {calibration_sampling_size: 200}\n");
  const std::string out = (dir / "out").string();
  ASSERT_EQ(run_qtune({(dir / "tune.yaml").string(), "--out", out, "--json"}), 0);
  EXPECT_EQ(toy_measurements.load(), 1);

  const YAML::Node report = YAML::LoadFile(out + "/report.json");
  EXPECT_EQ(report["strategy"].as<std::string>(), "toy");
  ASSERT_EQ(report["trials"].size(), 2u);
  EXPECT_EQ(report["trials"][0]["stage"].as<std::string>(), "toy-int8");
  EXPECT_EQ(report["trials"][1]["stage"].as<std::string>(), "toy-fallback");
  EXPECT_EQ(report["trials"][1]["fp32_ops"].as<int>(), 1);
  EXPECT_EQ(report["strategy_report"]["sensitivity_measure"].as<std::string>(),
            "the toy's measure: added error");
  // The note names the op with the highest measured sensitivity, which report.json lists.
  std::string worst;
  double most = -1;
  for (const auto& op : report["ops"]) {
    ASSERT_TRUE(op["sensitivity"]) << op["name"].as<std::string>() << " has no sensitivity";
    if (op["sensitivity"].as<double>() > most) {
      most = op["sensitivity"].as<double>();
      worst = op["name"].as<std::string>();
    }
  }
  ASSERT_EQ(report["strategy_report"]["notes"].size(), 1u);
  EXPECT_EQ(report["strategy_report"]["notes"][0].as<std::string>(), "the toy fell back " + worst);

  // The journal kept the sensitivity: a resume ranks by it without measuring again.
  ASSERT_EQ(run_qtune({(dir / "tune.yaml").string(), "--out", out, "--json", "--resume"}), 0);
  EXPECT_EQ(toy_measurements.load(), 1);
  EXPECT_EQ(YAML::LoadFile(out + "/report.json")["strategy_report"]["notes"][0].as<std::string>(),
            "the toy fell back " + worst);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qtune
