// The tuning YAML: which model, adaptor and data, the metric, the accuracy goal, the strategy and
// exit policy, quantization constraints, and where results go. INC's config, in qtune's words:
//
//   model: ../../models/fashion_mnist/lenet.onnx     # paths are relative to this file
//   adaptor: native                                   # native | onednn
//   data: {calibration: calib.yaml, evaluation: test.yaml}
//   metric: {name: top1}                              # top1 | topk (k) | mse | cosine |
//                                                     # binary_agreement | command
//   # command: [prog, arg, ..., "{model}"], run without a shell ("{model}" becomes the model's
//   # path, one argument); the last number it prints is the metric. A string is split at
//   # spaces, nothing expanded. timeout_s (default 600) kills it. Workers run it only with
//   # --allow-metric-command.
//   tuning:
//     strategy: bisect                                # a registered strategy (coordinator/strategy.h)
//     accuracy_criterion: {relative: 0.01, higher_is_better: true}   # or absolute: 0.5
//     exit_policy: {timeout: 0, max_trials: 100}      # timeout 0: stop at the first pass;
//                                                     # > 0: search on for the best objective
//     objective: performance                          # performance | modelsize | accuracy
//     seed: 1
//   quantization:
//     approach: static                                # static | dynamic
//     calibration_sampling_size: 1000
//     op_type_dict: {Conv: {activation: {algorithm: [minmax, kl]}}}
//     op_name_dict: {/fc2/Gemm: {precision: [fp32]}}
//   output: ../../out/lenet
//
// Parsed and validated once by `qtune tune`; errors name FILE:LINE:COL. Value types; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace qtune {

struct MetricSpec {
  // top1 | topk | mse | cosine | binary_agreement | command. mse, cosine and binary_agreement
  // compare with the fp32 model's outputs on the same samples; binary_agreement is the percent
  // of output values on the same side of `threshold` as fp32's (a detector's decisions).
  std::string name = "top1";
  int64_t k = 5;              // topk
  // command: the program and its arguments, run without a shell; "{model}" inside any argument
  // becomes the path of the model to measure. It prints the metric (the last number counts).
  std::vector<std::string> command;
  double timeout_s = 600;     // command: killed (with its process group) after this long
  std::string output;         // the model output compared with fp32's; empty: the first
  double threshold = 0.5;     // binary_agreement: value >= threshold is a positive decision
  bool higher_is_better = true;

  bool compares_to_fp32() const {
    return name == "mse" || name == "cosine" || name == "binary_agreement";
  }
};

struct AccuracyCriterion {
  bool relative = true;
  double tolerable_loss = 0.01;  // a fraction of the baseline when relative, else metric units
  bool higher_is_better = true;

  bool operator==(const AccuracyCriterion&) const = default;
};

struct ExitPolicy {
  double timeout_seconds = 0;  // 0: stop at the first config that meets the goal
  int64_t max_trials = 100;

  bool operator==(const ExitPolicy&) const = default;
};

// Narrowing of one op's (or op type's) choices; an empty list leaves that field free.
struct TensorConstraint {
  std::vector<std::string> dtype, scheme, granularity, algorithm;
};
struct OpConstraint {
  std::vector<std::string> precision;  // int8 | bf16 | fp32
  TensorConstraint weight, activation;
  std::string where;  // FILE:LINE:COL of the entry, for errors found against the model
};

struct TuningConfig {
  std::string source_path;
  std::string model;
  std::string adaptor = "native";
  std::string calibration_data;
  std::string evaluation_data;
  MetricSpec metric;
  std::string strategy = "bisect";
  AccuracyCriterion criterion;
  ExitPolicy exit_policy;
  std::string objective = "performance";  // performance | modelsize | accuracy
  uint64_t seed = 1;
  std::string approach = "static";
  int64_t calibration_sampling_size = 1000;
  std::map<std::string, OpConstraint> op_type_dict;
  std::map<std::string, OpConstraint> op_name_dict;
  std::string output;  // may be empty: the CLI's --out then decides
  // "FILE:LINE:COL: key" of the values that name things checked later, elsewhere: "model",
  // "adaptor", "data.calibration", "data.evaluation", "tuning.strategy" (absent when defaulted;
  // a defaulted data.calibration has data.evaluation's). A missing model file or an unknown
  // strategy is then reported at its place in the YAML.
  std::map<std::string, std::string> where;

  // s prefixed with where[key] when the YAML gave that key.
  Status at(const std::string& key, const Status& s) const {
    auto it = where.find(key);
    return it == where.end() ? s : s.Annotate(it->second);
  }
  std::string place(const std::string& key) const {
    auto it = where.find(key);
    return it == where.end() ? "" : it->second;
  }
};

// `as_path`, when given, is where the file's content really belongs (a worker's cached copy of
// the coordinator's file): relative paths resolve against it and source_path names it.
Result<TuningConfig> load_tuning_config(const std::string& file, const std::string& as_path = "");

}  // namespace qtune
