// Top-1 accuracy and throughput of a model on a labeled dataset: the measurement every tuning
// decision is judged by. Called by `qtune eval` and the tuner's workers.
// Stateless; safe to call from many threads on the same Executor and Dataset.
#pragma once

#include <cstdint>
#include <functional>

#include "runtime/executor.h"
#include "common/dataset.h"
#include "common/progress.h"

namespace qtune {

struct EvalResult {
  int64_t samples = 0;
  int64_t correct = 0;
  double top1 = 0;     // percent
  double seconds = 0;  // inside the model runs only
  double images_per_second = 0;
};

// Runs the model batch by batch over `data` (its inputs fed through a ModelFeed: by name, the
// last batch may be short, a model whose inputs fix the batch size gets batches of that size)
// and counts argmax(output 0 row) == label, ties going to the first index. `progress` hears
// ("evaluation", samples done, samples) after each batch.
Result<EvalResult> evaluate_top1(const Executor& exec, const Dataset& data, int64_t batch_size,
                                 const ProgressFn& progress = {});

// The same over any runner of `model` (an adaptor's prepared model): graph inputs in, graph
// outputs out; the timing covers `run` calls only.
using ModelRunner = std::function<Result<std::vector<Tensor>>(const std::vector<Tensor>& inputs)>;
Result<EvalResult> evaluate_top1(const ModelRunner& run, const Graph& model, const Dataset& data,
                                 int64_t batch_size, const ProgressFn& progress = {});

// The loop itself over any scorer of a dataset batch (Dataset::batch: one tensor per dataset
// input) -> scores [batch, classes].
using BatchScorer = std::function<Result<Tensor>(const std::vector<Tensor>& batch)>;
Result<EvalResult> evaluate_top1(const BatchScorer& run, const Dataset& data, int64_t batch_size,
                                 const ProgressFn& progress = {});

// Index of the largest of row `row` of `scores` viewed as [rows, numel/rows]; first on ties,
// NaNs never win.
int64_t argmax_row(const Tensor& scores, int64_t rows, int64_t row);

}  // namespace qtune
