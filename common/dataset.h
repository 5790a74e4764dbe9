// Datasets in memory: one tensor per model input, read from IDX (plain or gzip), NumPy .npy,
// raw binary files or folders of JPEG/PNG images, plus the preprocessing (resize, crop, colour,
// scale, per-channel mean/std, layout) the data YAML describes for image inputs.
// Called by `qtune eval`, calibration and the tuner. Loading is stateless and thread-safe; a
// loaded Dataset is read-only, so many threads may take batches from it concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/data_config.h"
#include "common/tensor.h"

namespace qtune {

// The data of one model input.
struct DatasetInput {
  std::string name;    // the model input it feeds; empty: the model's first input
  std::string source;  // the file or folder it came from, for messages
  // Per-sample inputs: [N, ...], one row per sample, or [1, ...]: the same row for every sample.
  // Shared inputs (0-d arrays, `shared: true`): fed as stored.
  Tensor values;
  bool shared = false;
  int64_t batch_axis = 0;  // where the model wants the sample axis (DataInput::batch_axis)

  // The rows of samples [start, start+count) (the caller keeps them in range); a [1, ...]
  // input repeats its row, a shared input is returned as stored.
  Tensor rows(int64_t start, int64_t count) const;
};

struct Dataset {
  std::vector<DatasetInput> inputs;
  std::vector<int64_t> labels;  // `samples` entries, or empty for an unlabeled dataset
  int64_t samples = 0;
  std::string source;  // the data YAML, for messages

  int64_t size() const { return samples; }
  // Each input's rows of samples [start, start+count), clipped to the dataset, in `inputs` order.
  std::vector<Tensor> batch(int64_t start, int64_t count) const;

  // A dataset of one unnamed per-sample input: [N, ...] rows.
  static Dataset of(Tensor values, std::vector<int64_t> labels = {});
};

// Errors are kInvalidInput naming the file and the byte offset or header field at fault.
Result<Dataset> load_dataset(const DataConfig& cfg);

// The raw element values of one file, before preprocessing, as `shape` in file order; exposed so
// tests and tools can read IDX/npy files directly.
struct RawArray {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // the whole (decompressed) file; the data starts at `offset`
  size_t offset = 0;           // in native byte order, shape_numel(shape) * dtype_size(dtype)
  const uint8_t* data() const { return bytes.data() + offset; }
};
Result<RawArray> read_idx_file(const std::string& path);
Result<RawArray> read_npy_file(const std::string& path);

// A tensor as a NumPy .npy file (format 1.0, little-endian); bf16 is widened to f32 (NumPy has
// no bf16). Bool tensors come back from read_npy_file as u8.
Status write_npy_file(const Tensor& t, const std::string& path);

}  // namespace qtune
