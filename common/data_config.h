// The data YAML: which dataset to read, how to preprocess it and the batch size.
// Parsed once by `qtune eval` and the tuner before load_dataset (common/dataset.h).
// Stateless functions over value types; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "common/status.h"

namespace qtune {

struct PreprocessSpec {
  float scale = 1.0f;  // x = v * scale; a scale that is the float nearest 1/k is applied as v / k
  std::vector<float> mean;  // one per channel, or one for all; empty means 0
  std::vector<float> std;   // same length as mean when both are given; empty means 1
  std::string layout = "NCHW";  // source layout of multi-channel images; output is always NCHW
};

struct DatasetSpec {
  std::string format;  // "idx" | "npy" | "raw"
  std::string images;  // absolute, or relative to the working directory after loading
  std::string labels;  // empty when the dataset is unlabeled
  // raw only. Full [N,H,W] or [N,C,H,W] (N may be -1: inferred from the file size), or a
  // per-sample [H,W].
  std::vector<int64_t> shape;
  DType dtype = DType::kU8;
  DType labels_dtype = DType::kU8;
  int64_t header_bytes = 0;  // raw only: bytes skipped at the start of the images file
  int64_t limit = -1;        // use the first `limit` samples; -1 means all
};

struct DataConfig {
  DatasetSpec dataset;
  PreprocessSpec preprocess;
  int64_t batch_size = 100;
  std::string source_path;  // the YAML file, for error messages
};

// Errors are kInvalidInput shaped "FILE:LINE:COL: key.path: what is wrong" (1-based).
// `as_path`, when given, is where the YAML really belongs (a cached copy): relative dataset
// paths resolve against it.
Result<DataConfig> load_data_config(const std::string& yaml_path, const std::string& as_path = "");

// "u8" -> kU8 and so on for the element types datasets may hold; false for anything else.
bool dataset_dtype_from_name(const std::string& name, DType* out);

}  // namespace qtune
