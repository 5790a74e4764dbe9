// The tuning YAML: a full example parses to the right values; every kind of mistake is an
// error naming the file, line and column, and the key path.
#include "common/tuning_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace qtune {
namespace {

class TuningConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("qtune-tuning-config-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<TuningConfig> load(const std::string& text) {
    const std::string path = (dir_ / "tune.yaml").string();
    std::ofstream(path) << text;
    return load_tuning_config(path);
  }
  void expect_error(const std::string& text, const std::string& where, const std::string& what) {
    auto r = load(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(r.status().message().find("tune.yaml:" + where), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
  }

  std::filesystem::path dir_;
};

TEST_F(TuningConfigTest, FullExampleParses) {
  auto c = load(R"(model: m.onnx
adaptor: onednn
data: {calibration: calib.yaml, evaluation: /abs/test.yaml}
metric: {name: topk, k: 3}
tuning:
  strategy: basic
  accuracy_criterion: {absolute: 0.5}
  exit_policy: {timeout: 60, max_trials: 7}
  objective: accuracy
  seed: 42
quantization:
  approach: static
  calibration_sampling_size: 200
  op_type_dict:
    Conv: {weight: {granularity: per_tensor}, activation: {algorithm: [minmax, kl]}}
  op_name_dict:
    /fc2/Gemm: {precision: [fp32]}
output: out
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model, (dir_ / "m.onnx").string());
  EXPECT_EQ(c->calibration_data, (dir_ / "calib.yaml").string());
  EXPECT_EQ(c->evaluation_data, "/abs/test.yaml");
  EXPECT_EQ(c->output, (dir_ / "out").string());
  EXPECT_EQ(c->adaptor, "onednn");
  EXPECT_EQ(c->metric.name, "topk");
  EXPECT_EQ(c->metric.k, 3);
  EXPECT_EQ(c->strategy, "basic");
  EXPECT_FALSE(c->criterion.relative);
  EXPECT_DOUBLE_EQ(c->criterion.tolerable_loss, 0.5);
  EXPECT_TRUE(c->criterion.higher_is_better);
  EXPECT_DOUBLE_EQ(c->exit_policy.timeout_seconds, 60);
  EXPECT_EQ(c->exit_policy.max_trials, 7);
  EXPECT_EQ(c->objective, "accuracy");
  EXPECT_EQ(c->seed, 42u);
  EXPECT_EQ(c->calibration_sampling_size, 200);
  ASSERT_TRUE(c->op_type_dict.count("Conv"));
  EXPECT_EQ(c->op_type_dict["Conv"].weight.granularity, std::vector<std::string>{"per_tensor"});
  EXPECT_EQ(c->op_type_dict["Conv"].activation.algorithm,
            (std::vector<std::string>{"minmax", "kl"}));
  EXPECT_NE(c->op_type_dict["Conv"].where.find("tune.yaml:15:"), std::string::npos);
  EXPECT_EQ(c->op_name_dict["/fc2/Gemm"].precision, std::vector<std::string>{"fp32"});
}

TEST_F(TuningConfigTest, DefaultsAndMetricDirection) {
  auto c = load("model: m.onnx\ndata: {evaluation: t.yaml}\nmetric: {name: mse}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->calibration_data, c->evaluation_data);
  EXPECT_EQ(c->strategy, "bisect");
  EXPECT_TRUE(c->criterion.relative);
  EXPECT_DOUBLE_EQ(c->criterion.tolerable_loss, 0.01);
  EXPECT_FALSE(c->metric.higher_is_better);
  EXPECT_FALSE(c->criterion.higher_is_better);  // follows the metric
  EXPECT_EQ(c->objective, "performance");
  EXPECT_DOUBLE_EQ(c->exit_policy.timeout_seconds, 0);
}

TEST_F(TuningConfigTest, BinaryAgreementNamesAnOutputAndAThreshold) {
  auto c = load("model: m.onnx\ndata: {evaluation: t.yaml}\n"
                "metric: {name: binary_agreement, output: prob, threshold: 0.25}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->metric.name, "binary_agreement");
  EXPECT_EQ(c->metric.output, "prob");
  EXPECT_DOUBLE_EQ(c->metric.threshold, 0.25);
  EXPECT_TRUE(c->metric.compares_to_fp32());
  EXPECT_TRUE(c->criterion.higher_is_better);
  auto d = load("model: m.onnx\ndata: {evaluation: t.yaml}\nmetric: {name: binary_agreement}\n");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_TRUE(d->metric.output.empty());  // the first output
  EXPECT_DOUBLE_EQ(d->metric.threshold, 0.5);
}

// Which names exist is the strategy registry's business (coordinator/strategy.h); the config
// keeps the place, so an unknown name is reported at its line and column.
TEST_F(TuningConfigTest, StrategyKeepsItsPlace) {
  auto c = load("model: m.onnx\ndata: {evaluation: t.yaml}\ntuning: {strategy: annealing}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->strategy, "annealing");
  EXPECT_NE(c->place("tuning.strategy").find("tune.yaml:3:20: tuning.strategy"), std::string::npos)
      << c->place("tuning.strategy");
  EXPECT_NE(c->place("model").find("tune.yaml:1:8: model"), std::string::npos) << c->place("model");
  // data.calibration defaults to data.evaluation, and so does its place.
  EXPECT_EQ(c->place("data.calibration"), c->place("data.evaluation"));
  EXPECT_NE(c->place("data.evaluation").find("tune.yaml:2:20: data.evaluation"), std::string::npos);
  const Status annotated = c->at("model", Status::InvalidInput("m.onnx: cannot open"));
  EXPECT_NE(annotated.message().find("tune.yaml:1:8: model: m.onnx: cannot open"), std::string::npos)
      << annotated.message();
  auto d = load("model: m.onnx\ndata: {evaluation: t.yaml}\n");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->strategy, "bisect");
  EXPECT_EQ(d->place("tuning.strategy"), "");
  EXPECT_EQ(d->place("adaptor"), "");
}

TEST_F(TuningConfigTest, MistakesNameFileLineColumnAndKey) {
  const std::string head = "model: m.onnx\ndata: {evaluation: t.yaml}\n";
  expect_error(head + "tuning: {strategy: [bisect]}\n", "3:20", "tuning.strategy: expected a string");
  expect_error(head + "tunning: {}\n", "3:1", "tunning: unknown key");
  expect_error(head + "tuning:\n  accuracy_criterion: {relative: 1.5}\n", "4:34",
               "relative loss is a fraction");
  expect_error(head + "tuning:\n  accuracy_criterion: {relative: 0.01, absolute: 1}\n", "4:23",
               "exactly one of relative, absolute");
  expect_error(head + "tuning:\n  exit_policy: {max_trials: 0}\n", "4:29", "must be positive");
  expect_error(head + "tuning:\n  exit_policy: {timeout: soon}\n", "4:26", "expected a finite number");
  expect_error(head + "metric: {name: command}\n", "3:9", "needs a command");
  expect_error(head + "metric: {name: top1, k: 5}\n", "3:25", "only topk takes k");
  expect_error(head + "metric: {name: top1, output: y}\n", "3:30", "only metrics that compare with fp32");
  expect_error(head + "metric: {name: cosine, threshold: 0.5}\n", "3:35",
               "only binary_agreement takes a threshold");
  expect_error(head + "metric: {name: binary_agreement, threshold: .nan}\n", "3:45",
               "finite");
  expect_error(head + "quantization:\n  op_type_dict:\n    Conv: {precision: [int4]}\n", "5:24",
               "'int4' is not one of int8, bf16, fp32");
  expect_error(head + "quantization:\n  op_type_dict:\n    Conv: {activation: {algorithm: [minmax, entropy]}}\n",
               "5:45", "'entropy' is not one of");
  expect_error(head + "quantization:\n  op_name_dict:\n    a: {}\n    a: {}\n", "6:5", "duplicate key");
  expect_error(head + "quantization: {approach: qat}\n", "3:26", "'qat' is not one of static, dynamic");
  expect_error("data: {evaluation: t.yaml}\n", "1:1", "model: missing required key");
  expect_error("model: m.onnx\n", "1:1", "data: missing required key");
  expect_error("model: [unclosed\n", "", "");
}

// The command metric's program and arguments: a list as given, a string split at whitespace
// with nothing expanded; quotes (which no shell would interpret) are refused in the string form.
TEST_F(TuningConfigTest, CommandMetricIsAnArgumentList) {
  const std::string head = "model: m.onnx\ndata: {evaluation: t.yaml}\n";
  auto list = load(head + "metric: {name: command, command: [python3, eval.py, '--model={model}', 'a b'], "
                          "timeout_s: 30, higher_is_better: false}\n");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->metric.command, (std::vector<std::string>{"python3", "eval.py", "--model={model}", "a b"}));
  EXPECT_EQ(list->metric.timeout_s, 30);
  EXPECT_FALSE(list->metric.higher_is_better);
  auto words = load(head + "metric: {name: command, command: \"  ./score  $(id)  {model}\\t;x \"}\n");
  ASSERT_TRUE(words.ok()) << words.status().message();
  EXPECT_EQ(words->metric.command, (std::vector<std::string>{"./score", "$(id)", "{model}", ";x"}));
  EXPECT_EQ(words->metric.timeout_s, 600);
  expect_error(head + "metric: {name: command, command: \"sh -c 'echo 1'\"}\n", "3:34",
               "quotes and backslashes mean nothing; give the command as a list");
  expect_error(head + "metric: {name: command, command: []}\n", "3:34", "names no program");
  expect_error(head + "metric: {name: command, command: \"   \"}\n", "3:34", "names no program");
  expect_error(head + "metric: {name: command, command: [score, '']}\n", "3:42", "metric.command: must not be empty");
  expect_error(head + "metric: {name: command, command: score, timeout_s: 0}\n", "3:52", "positive number of seconds");
  expect_error(head + "metric: {name: top1, timeout_s: 5}\n", "3:33", "only the command metric takes a timeout");
  expect_error(head + "metric: {name: top1, command: [x]}\n", "3:9", "only the command metric takes a command");
}

TEST_F(TuningConfigTest, MissingFileAndDirectory) {
  auto r = load_tuning_config((dir_ / "nope.yaml").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nope.yaml: cannot open"), std::string::npos);
  auto d = load_tuning_config(dir_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("is a directory"), std::string::npos);
}

}  // namespace
}  // namespace qtune
