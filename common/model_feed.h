// How a dataset feeds a model: which dataset input goes to which graph input (by name; the
// unnamed `images` input feeds the first), each reshaped to the model's per-sample shape when
// only the layout differs ([N,784] models on [N,1,28,28] images), its samples moved to the axis
// the model batches along (a recurrent state [layers, batch, hidden]) and padded to a batch size
// the model fixes. Evaluation, calibration and the tuner's trials all feed models through it.
// A ModelFeed refers to the Dataset it was bound to, which must outlive it; it is read-only
// afterwards, so many threads may take batches from it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/dataset.h"
#include "common/graph.h"

namespace qtune {

class ModelFeed {
 public:
  ModelFeed() = default;

  // kInvalidInput naming the data YAML and the input when a graph input has no data, a dataset
  // input names no graph input, or an element type differs from the model's.
  static Result<ModelFeed> bind(const Graph& model, const Dataset& data);

  // The batch size the model's per-sample inputs fix (their first dimension), 0 when free.
  int64_t fixed_batch() const { return fixed_batch_; }
  // The samples per batch to ask for when `wanted` would be the caller's choice.
  int64_t batch_size(int64_t wanted) const { return fixed_batch_ > 0 ? fixed_batch_ : wanted; }
  // Rows a batch of `count` samples has once padded.
  int64_t rows_for(int64_t count) const { return std::max(fixed_batch_, count); }

  // The graph inputs, in graph order, for samples [start, start+count) of the dataset (clipped
  // to it). A model with a fixed batch larger than `count` gets the batch's samples repeated
  // to fill it; drop_padding cuts the outputs back.
  std::vector<Tensor> batch(int64_t start, int64_t count) const;

  // Whether graph input `i` gets rows of samples (false: a shared input, fed whole).
  bool per_sample(size_t i) const { return !data_->inputs[slots_[i].input].shared; }

  // Outputs whose first dimension is `rows` (the padded batch) keep their first `count` rows.
  static void drop_padding(std::vector<Tensor>* outputs, int64_t rows, int64_t count);

 private:
  struct Slot {
    size_t input = 0;                   // index into Dataset::inputs
    std::optional<Shape> sample_shape;  // reshape each sample to this
    int64_t batch_axis = 0;             // move the sample axis here
    bool as_bool = false;               // u8 data (NumPy's bool) for a bool input
  };
  const Dataset* data_ = nullptr;
  std::vector<Slot> slots_;  // one per graph input
  int64_t fixed_batch_ = 0;
};

}  // namespace qtune
