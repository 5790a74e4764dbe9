#include "common/model_feed.h"

#include <algorithm>

namespace qtune {

namespace {

std::string input_list(const Graph& g) {
  std::string out;
  for (const ValueInfo& v : g.inputs) out += (out.empty() ? "'" : ", '") + v.name + "'";
  return out.empty() ? "none" : out;
}

std::string describe(const DatasetInput& in) {
  if (in.name.empty()) return in.source.empty() ? std::string("the data") : in.source;
  return "input '" + in.name + "'" + (in.source.empty() ? "" : " (" + in.source + ")");
}

// [n, d1, ..., dk] -> [d1, ..., d_axis, n, ...]: axis 0 moved to position `axis`.
Tensor move_batch_axis(const Tensor& x, int64_t axis) {
  const Shape& in = x.shape();
  Shape shape(in.begin() + 1, in.begin() + 1 + axis);
  shape.push_back(in[0]);
  shape.insert(shape.end(), in.begin() + 1 + axis, in.end());
  Tensor out(x.dtype(), shape);
  const int64_t n = in[0];
  int64_t outer = 1;
  for (int64_t d = 1; d <= axis; ++d) outer *= in[static_cast<size_t>(d)];
  const int64_t inner = n == 0 || outer == 0 ? 0 : x.numel() / (n * outer);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t o = 0; o < outer; ++o) {
      out.copy_elements(x, (i * outer + o) * inner, (o * n + i) * inner, inner);
    }
  }
  return out;
}

}  // namespace

Result<ModelFeed> ModelFeed::bind(const Graph& g, const Dataset& data) {
  const std::string where = data.source.empty() ? std::string("the dataset") : data.source;
  ModelFeed f;
  f.data_ = &data;
  std::vector<bool> used(data.inputs.size(), false);
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const ValueInfo& gi = g.inputs[k];
    size_t found = data.inputs.size();
    for (size_t i = 0; i < data.inputs.size(); ++i) {
      const std::string& name = data.inputs[i].name;
      if (name == gi.name || (name.empty() && k == 0)) found = i;
    }
    if (found == data.inputs.size()) {
      const bool single = data.inputs.size() == 1 && data.inputs[0].name.empty();
      return Status::InvalidInput(
          where + ": model input '" + gi.name + "' (" + std::string(dtype_name(gi.dtype)) +
          (gi.shape ? " " + shape_str(*gi.shape) : std::string()) + ") has no data" +
          (single ? "; dataset.images feeds only the first of the model's inputs (" +
                        input_list(g) + "): name each under dataset.inputs"
                  : ": add it under dataset.inputs"));
    }
    used[found] = true;
    const DatasetInput& in = data.inputs[found];
    Slot slot;
    slot.input = found;
    const DType have = in.values.dtype();
    if (gi.dtype != DType::kUndefined && gi.dtype != have) {
      if (gi.dtype == DType::kBool && have == DType::kU8) {
        slot.as_bool = true;
      } else {
        return Status::InvalidInput(where + ": " + describe(in) + " holds " +
                                    std::string(dtype_name(have)) + " values, the model's input '" +
                                    gi.name + "' takes " + std::string(dtype_name(gi.dtype)));
      }
    }
    slot.batch_axis = in.batch_axis;
    if (in.batch_axis > 0 && (!gi.shape || in.batch_axis >= static_cast<int64_t>(gi.shape->size()))) {
      return Status::InvalidInput(where + ": " + describe(in) + ": batch_axis " +
                                  std::to_string(in.batch_axis) + " is not an axis of the model's "
                                  "input '" + gi.name + "' (" +
                                  (gi.shape ? shape_str(*gi.shape) : std::string("rank unknown")) +
                                  ")");
    }
    if (!in.shared && gi.shape && !gi.shape->empty() && in.values.rank() >= 1) {
      const auto axis = gi.shape->begin() + in.batch_axis;
      Shape want(gi.shape->begin(), axis);  // the model's shape of one sample
      want.insert(want.end(), axis + 1, gi.shape->end());
      const Shape stored(in.values.shape().begin() + 1, in.values.shape().end());
      const bool known = std::all_of(want.begin(), want.end(), [](int64_t d) { return d >= 0; });
      if (known && want != stored && shape_numel(want) == shape_numel(stored)) {
        slot.sample_shape = want;
      }
      const int64_t sample_rank =
          static_cast<int64_t>(slot.sample_shape ? want.size() : stored.size());
      if (in.batch_axis > sample_rank) {
        return Status::InvalidInput(where + ": " + describe(in) + ": batch_axis " +
                                    std::to_string(in.batch_axis) + " does not fit its samples (" +
                                    shape_str(stored) + " each) and the model's input '" +
                                    gi.name + "' (" + shape_str(*gi.shape) + ")");
      }
      const int64_t fixed = *axis;
      if (fixed > 0) {
        if (f.fixed_batch_ > 0 && f.fixed_batch_ != fixed) {
          return Status::InvalidInput(where + ": the model fixes the batch of input '" + gi.name +
                                      "' to " + std::to_string(fixed) + " and of another to " +
                                      std::to_string(f.fixed_batch_));
        }
        f.fixed_batch_ = fixed;
      }
    }
    f.slots_.push_back(std::move(slot));
  }
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    if (!used[i]) {
      return Status::InvalidInput(where + ": dataset " + describe(data.inputs[i]) +
                                  " is not an input of the model (its inputs: " + input_list(g) +
                                  ")");
    }
  }
  return f;
}

std::vector<Tensor> ModelFeed::batch(int64_t start, int64_t count) const {
  start = std::clamp<int64_t>(start, 0, data_->size());
  count = std::clamp<int64_t>(count, 0, data_->size() - start);
  const std::vector<Tensor> rows = data_->batch(start, count);
  const int64_t padded = rows_for(count);
  std::vector<Tensor> out;
  out.reserve(slots_.size());
  for (const Slot& s : slots_) {
    const DatasetInput& in = data_->inputs[s.input];
    Tensor x = rows[s.input];
    if (!in.shared && padded > count && count > 0) {
      Shape shape = x.shape();
      shape[0] = padded;
      Tensor full(x.dtype(), shape);
      const int64_t row = x.numel() / count;
      for (int64_t i = 0; i < padded; ++i) full.copy_elements(x, (i % count) * row, i * row, row);
      x = std::move(full);
    }
    if (s.sample_shape && !in.shared) {
      Shape shape{x.dim(0)};
      shape.insert(shape.end(), s.sample_shape->begin(), s.sample_shape->end());
      x = x.reshaped(std::move(shape));
    }
    if (s.batch_axis > 0 && !in.shared && s.batch_axis < x.rank()) {
      x = move_batch_axis(x, s.batch_axis);
    }
    if (s.as_bool) x = x.bitcast(DType::kBool);
    out.push_back(std::move(x));
  }
  return out;
}

void ModelFeed::drop_padding(std::vector<Tensor>* outputs, int64_t rows, int64_t count) {
  if (rows == count) return;
  for (Tensor& y : *outputs) {
    if (!y.is_tensor() || y.empty() || y.rank() < 1 || y.dim(0) != rows) continue;
    Shape shape = y.shape();
    shape[0] = count;
    Tensor head(y.dtype(), shape);
    head.copy_elements(y, 0, 0, head.numel());
    y = std::move(head);
  }
}

}  // namespace qtune
