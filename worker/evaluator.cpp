#include "worker/evaluator.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <exception>
#include <optional>

namespace qtune {

int64_t argmax_row(const Tensor& scores, int64_t rows, int64_t row) {
  const int64_t width = scores.numel() / rows;
  const int64_t base = row * width;
  int64_t best = 0;
  double best_v = -INFINITY;
  bool found = false;
  const bool f32 = scores.dtype() == DType::kF32;
  for (int64_t j = 0; j < width; ++j) {
    const double v = f32 ? scores.data<float>()[base + j] : scores.get_f64(base + j);
    if (std::isnan(v)) continue;
    if (!found || v > best_v) {  // strict '>' keeps the first of equal maxima
      best = j;
      best_v = v;
      found = true;
    }
  }
  return best;
}

Result<EvalResult> evaluate_top1(const BatchScorer& run, const Dataset& data, int64_t batch_size) {
  if (batch_size <= 0) {
    return Status::InvalidInput("batch size must be positive, got " + std::to_string(batch_size));
  }
  const int64_t n = data.size();
  if (n == 0) return Status::InvalidInput("the dataset is empty");
  if (static_cast<int64_t>(data.labels.size()) != n) {
    return Status::InvalidInput(data.labels.empty()
                                    ? std::string("the dataset has no labels; top-1 needs them")
                                    : "the dataset has " + std::to_string(n) + " images but " +
                                          std::to_string(data.labels.size()) + " labels");
  }
  EvalResult r;
  std::chrono::steady_clock::duration spent{};
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t count = std::min(batch_size, n - start);
    const Tensor batch = data.batch(start, count);
    const auto t0 = std::chrono::steady_clock::now();
    Result<Tensor> out = run(batch);
    spent += std::chrono::steady_clock::now() - t0;
    if (!out.ok()) {
      return out.status().Annotate("batch at sample " + std::to_string(start));
    }
    const Tensor& scores = out.value();
    if (scores.empty() || scores.rank() < 1 || scores.dim(0) != count || scores.numel() < count ||
        scores.numel() == 0) {
      return Status::InvalidInput("model output 0 has shape " + shape_str(scores.shape()) +
                                  " for a batch of " + std::to_string(count) +
                                  "; expected [" + std::to_string(count) + ", classes]");
    }
    for (int64_t i = 0; i < count; ++i) {
      if (argmax_row(scores, count, i) == data.labels[static_cast<size_t>(start + i)]) ++r.correct;
    }
    r.samples += count;
  }
  r.seconds = std::chrono::duration<double>(spent).count();
  r.top1 = 100.0 * static_cast<double>(r.correct) / static_cast<double>(r.samples);
  r.images_per_second = r.seconds > 0 ? static_cast<double>(r.samples) / r.seconds : 0.0;
  return r;
}

Result<EvalResult> evaluate_top1(const Executor& exec, const Dataset& data, int64_t batch_size) {
  const Graph& g = exec.graph();
  if (g.inputs.empty()) return Status::InvalidInput("the model has no inputs to feed images to");
  if (g.inputs.size() > 1) {
    return Status::Unsupported("the model has " + std::to_string(g.inputs.size()) +
                               " inputs; eval feeds images to the first and cannot fill '" +
                               g.inputs[1].name + "'");
  }
  if (g.outputs.empty()) return Status::InvalidInput("the model has no outputs");
  const ValueInfo& in = g.inputs[0];
  if (in.dtype != DType::kUndefined && in.dtype != DType::kF32) {
    return Status::Unsupported("model input '" + in.name + "' is " +
                               std::string(dtype_name(in.dtype)) + "; eval feeds f32 images");
  }
  // A model taking [N,784] (or any other per-sample shape with the same element count) gets the
  // images reshaped; anything else is left for the executor to reject with the shapes it saw.
  std::optional<Shape> sample_shape;
  if (in.shape && !in.shape->empty() && data.size() > 0) {
    Shape want(in.shape->begin() + 1, in.shape->end());
    const int64_t per_sample = data.images.numel() / data.size();
    bool known = true;
    for (int64_t d : want) known = known && d >= 0;
    const Shape have(data.images.shape().begin() + 1, data.images.shape().end());
    if (known && want != have && shape_numel(want) == per_sample) sample_shape = want;
  }
  // A model exported with a fixed batch (often 1) is fed batches of exactly that size; the last
  // one is zero-padded and the padding rows' scores dropped.
  const int64_t fixed_batch = in.shape && !in.shape->empty() && (*in.shape)[0] > 0 ? (*in.shape)[0] : 0;
  BatchScorer scorer = [&](const Tensor& batch) -> Result<Tensor> {
    const int64_t count = batch.dim(0);
    Tensor x = batch;
    if (fixed_batch > count) {
      Shape padded = batch.shape();
      padded[0] = fixed_batch;
      x = Tensor(DType::kF32, padded);
      std::memcpy(x.raw(), batch.raw(), batch.nbytes());
    }
    if (sample_shape) {
      Shape s{x.dim(0)};
      s.insert(s.end(), sample_shape->begin(), sample_shape->end());
      x = x.reshaped(std::move(s));
    }
    QT_ASSIGN_OR_RETURN(std::vector<Tensor> outs, exec.run({x}));
    if (outs.empty()) return Status::InvalidInput("the model produced no outputs");
    Tensor y = std::move(outs[0]);
    if (x.dim(0) != count && !y.empty() && y.rank() >= 1 && y.dim(0) == x.dim(0)) {
      Shape rows = y.shape();
      rows[0] = count;
      Tensor head(y.dtype(), rows);
      std::memcpy(head.raw(), y.raw(), head.nbytes());
      y = head;
    }
    return y;
  };
  try {
    return evaluate_top1(scorer, data, fixed_batch > 0 ? fixed_batch : batch_size);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("evaluation failed: ") + e.what());
  }
}

}  // namespace qtune
