// Datasets in memory: IDX (plain or gzip), NumPy .npy and raw binary readers, plus the
// preprocessing (scale, per-channel mean/std, NHWC->NCHW) the data YAML describes.
// Called by `qtune eval`, calibration and the tuner. Loading is stateless and thread-safe; a
// loaded Dataset is read-only, so many threads may take batches from it concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/data_config.h"
#include "common/tensor.h"

namespace qtune {

struct Dataset {
  Tensor images;                // f32 NCHW [N,C,H,W], preprocessed
  std::vector<int64_t> labels;  // N entries, or empty for an unlabeled dataset

  int64_t size() const { return images.empty() ? 0 : images.dim(0); }
  // A copy of rows [start, start+count), clipped to the dataset; [0,C,H,W] when out of range.
  Tensor batch(int64_t start, int64_t count) const;
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
