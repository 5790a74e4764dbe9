#include "worker/evaluator.h"

#include <chrono>
#include <cmath>
#include <algorithm>
#include <exception>
#include <optional>

#include "common/model_feed.h"
#include "common/size_check.h"

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

namespace {

// Scores of samples [start, start+count): [count, classes].
using RangeScorer = std::function<Result<Tensor>(int64_t start, int64_t count)>;

Result<EvalResult> top1_loop(const RangeScorer& run, const Dataset& data, int64_t batch_size,
                             const ProgressFn& progress) {
  if (batch_size <= 0) {
    return Status::InvalidInput("batch size must be positive, got " + std::to_string(batch_size));
  }
  const int64_t n = data.size();
  if (n == 0) return Status::InvalidInput("the dataset is empty");
  if (static_cast<int64_t>(data.labels.size()) != n) {
    return Status::InvalidInput(data.labels.empty()
                                    ? std::string("the dataset has no labels; top-1 needs them")
                                    : "the dataset has " + std::to_string(n) + " samples but " +
                                          std::to_string(data.labels.size()) + " labels");
  }
  EvalResult r;
  std::chrono::steady_clock::duration spent{};
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t count = std::min(batch_size, n - start);
    const auto t0 = std::chrono::steady_clock::now();
    Result<Tensor> out = run(start, count);
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
    if (progress) progress("evaluation", start + count, n);
  }
  r.seconds = std::chrono::duration<double>(spent).count();
  r.top1 = 100.0 * static_cast<double>(r.correct) / static_cast<double>(r.samples);
  r.images_per_second = r.seconds > 0 ? static_cast<double>(r.samples) / r.seconds : 0.0;
  return r;
}

}  // namespace

Result<EvalResult> evaluate_top1(const BatchScorer& run, const Dataset& data, int64_t batch_size,
                                 const ProgressFn& progress) {
  return top1_loop([&](int64_t start, int64_t count) { return run(data.batch(start, count)); },
                   data, batch_size, progress);
}

Result<EvalResult> evaluate_top1(const ModelRunner& run, const Graph& model, const Dataset& data,
                                 int64_t batch_size, const ProgressFn& progress) {
  if (model.inputs.empty()) return Status::InvalidInput("the model has no inputs to feed data to");
  if (model.outputs.empty()) return Status::InvalidInput("the model has no outputs");
  QT_ASSIGN_OR_RETURN(ModelFeed feed, ModelFeed::bind(model, data));
  auto scores = [&](int64_t start, int64_t count) -> Result<Tensor> {
    QT_ASSIGN_OR_RETURN(std::vector<Tensor> outs, run(feed.batch(start, count)));
    if (outs.empty()) return Status::InvalidInput("the model produced no outputs");
    ModelFeed::drop_padding(&outs, feed.rows_for(count), count);
    return std::move(outs[0]);
  };
  try {
    return top1_loop(scores, data, feed.batch_size(batch_size), progress);
  } catch (const SizeError& e) {
    return Status::InvalidInput(std::string("evaluation: ") + e.what());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("evaluation failed: ") + e.what());
  }
}

Result<EvalResult> evaluate_top1(const Executor& exec, const Dataset& data, int64_t batch_size,
                                 const ProgressFn& progress) {
  return evaluate_top1([&](const std::vector<Tensor>& x) { return exec.run(x); }, exec.graph(),
                       data, batch_size, progress);
}

}  // namespace qtune
