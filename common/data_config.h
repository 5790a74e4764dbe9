// The data YAML: which dataset to read (one file or image folder per model input), how to
// preprocess its image inputs and the batch size. Parsed once by `qtune eval`, `qtune quantize`
// and the tuner before load_dataset (common/dataset.h); docs/data.md describes every key.
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
  std::string layout = "NCHW";  // of the 4-D tensor the model gets: NCHW | NHWC
  std::string source_layout;    // of 4-D arrays in npy/idx/raw files; empty: the same as layout
  // The dataset inputs (by model input name) these steps apply to. Empty: the `images` input, or
  // every input of format images. The other inputs reach the model exactly as stored.
  std::vector<std::string> inputs;
  // Format images only, in this order after decoding: resize (one value: the shorter side,
  // keeping the aspect ratio; two: [height, width]), bilinear with antialiasing as PIL and
  // torchvision do; then center_crop (one value: square; two: [height, width]; zero-padded when
  // larger than the image); empty means no such step.
  std::vector<int64_t> resize;
  std::vector<int64_t> center_crop;
  std::string color = "RGB";  // images only: RGB | BGR | gray (ITU-R 601 luma, as PIL's "L")
};

// One model input's data.
struct DataInput {
  std::string name;    // the model input it feeds; empty: the model's first input (`images`)
  std::string path;    // a file (idx, npy, raw) or a folder (images)
  std::string format;  // idx | npy | raw | images; empty: the dataset's format
  // Fed to the model exactly as stored, for every batch, instead of being split into samples
  // along axis 0 (a recurrent state, a sample rate). 0-d arrays are always shared.
  bool shared = false;
  // The axis along which the model's input stacks samples (a recurrent state [layers, batch,
  // hidden] has 1). Files always hold one sample per row of axis 0; the batch is moved there.
  int64_t batch_axis = 0;
};

struct DatasetSpec {
  std::string format;            // the default format of the inputs
  std::vector<DataInput> inputs;  // `images: PATH` is one unnamed input
  std::string labels;            // empty when the dataset is unlabeled
  // raw only. Full [N,H,W] or [N,C,H,W] (N may be -1: inferred from the file size), or a
  // per-sample [H,W].
  std::vector<int64_t> shape;
  DType dtype = DType::kU8;
  DType labels_dtype = DType::kU8;
  int64_t header_bytes = 0;  // raw only: bytes skipped at the start of the images file
  bool recursive = false;    // images only: also read the folder's subfolders
  int64_t limit = -1;        // use the first `limit` samples; -1 means all

  // Every file or folder the dataset reads, inputs first, then the labels.
  std::vector<std::string> paths() const;
  const std::string& format_of(const DataInput& in) const {
    return in.format.empty() ? format : in.format;
  }
};

struct DataConfig {
  DatasetSpec dataset;
  PreprocessSpec preprocess;
  int64_t batch_size = 100;
  std::string source_path;  // the YAML file, for error messages

  // Whether `in` goes through preprocess (see PreprocessSpec::inputs).
  bool preprocessed(const DataInput& in) const;
};

// Errors are kInvalidInput shaped "FILE:LINE:COL: key.path: what is wrong" (1-based).
// `as_path`, when given, is where the YAML really belongs (a cached copy): relative dataset
// paths resolve against it.
Result<DataConfig> load_data_config(const std::string& yaml_path, const std::string& as_path = "");

// "u8" -> kU8 and so on for the element types datasets may hold; false for anything else.
bool dataset_dtype_from_name(const std::string& name, DType* out);

}  // namespace qtune
