#include "worker/trial_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include <time.h>

#include "runtime/executor.h"
#include "common/data_config.h"
#include "common/latency.h"
#include "common/onnx_io.h"
#include "worker/evaluator.h"
#include "worker/metric_command.h"

namespace qtune {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The latency of one batch as a measurement: kLatencyWarmup untimed runs (caches, packed
// weights, lazy setup), then timed runs, at least kLatencyMinRuns and until kLatencySeconds or
// kLatencyMaxRuns; their median and its standard error. A single fastest run would let one lucky
// sample decide; the median with its error lets the coordinator tell speed from noise, and the
// ratio to the fp32 model timed alongside cancels the load that drifts between trials.
constexpr int kLatencyWarmup = 2;
constexpr int kLatencyMinRuns = 7;
constexpr int kLatencyMaxRuns = 50;
constexpr double kLatencySeconds = 0.3;

struct Latency {
  LatencyStats model;
  LatencyStats ratio;  // model / fp32 per pair of runs (plain ratios in the *_ms fields); zeros
                       // without an fp32 model
};

// CPU time of this process, all threads, in ms: what a run computed, without the time other
// processes held the cores.
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return 1e3 * static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_nsec);
}

struct RunTime {
  double wall_ms = 0, cpu_ms = 0;
};

Result<RunTime> timed_run(const PreparedModel& model, const std::vector<Tensor>& batch) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = process_cpu_ms();
  QT_RETURN_IF_ERROR(model.run(batch).status());
  return RunTime{1000.0 * seconds_since(t0), process_cpu_ms() - c0};
}

// With `fp32`, the runs alternate with its runs (the order flipping every pair), and each pair
// gives one ratio of CPU times: the two halves of a pair see the same load, and a run that
// another process preempts takes longer on the wall but not on the CPU, so on a shared
// machine the ratio still measures the kernels.
Result<Latency> batch_latency(const PreparedModel& model, const PreparedModel* fp32,
                              const std::vector<Tensor>& batch) {
  for (int i = 0; i < kLatencyWarmup; ++i) {
    QT_RETURN_IF_ERROR(model.run(batch).status());
    if (fp32) QT_RETURN_IF_ERROR(fp32->run(batch).status());
  }
  std::vector<double> ms, ratios;
  const auto start = std::chrono::steady_clock::now();
  while (static_cast<int>(ms.size()) < kLatencyMinRuns ||
         (seconds_since(start) < kLatencySeconds && static_cast<int>(ms.size()) < kLatencyMaxRuns)) {
    const bool fp32_first = fp32 && ms.size() % 2 == 1;
    RunTime base;
    if (fp32_first) {
      QT_ASSIGN_OR_RETURN(base, timed_run(*fp32, batch));
    }
    QT_ASSIGN_OR_RETURN(const RunTime t, timed_run(model, batch));
    if (fp32 && !fp32_first) {
      QT_ASSIGN_OR_RETURN(base, timed_run(*fp32, batch));
    }
    ms.push_back(t.wall_ms);
    if (fp32 && base.cpu_ms > 0) ratios.push_back(t.cpu_ms / base.cpu_ms);
  }
  return Latency{summarize_latency(std::move(ms)), summarize_latency(std::move(ratios))};
}

// err += sum((q - f)^2), norm += sum(f^2) over two f32 tensors of equal size.
void add_squared_error(const Tensor& q, const Tensor& f, double* err, double* norm) {
  const float* qd = q.data<float>();
  const float* fd = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) {
    const double d = static_cast<double>(qd[i]) - fd[i];
    *err += d * d;
    *norm += static_cast<double>(fd[i]) * fd[i];
  }
}

// The k-th best class of a row is at most `k` away: count rows whose label is among the top k.
bool label_in_top_k(const Tensor& scores, int64_t rows, int64_t row, int64_t label, int64_t k) {
  const int64_t width = scores.numel() / rows;
  const float* s = scores.data<float>() + row * width;
  if (label < 0 || label >= width) return false;
  int64_t above = 0;
  for (int64_t j = 0; j < width; ++j) {
    // Ties rank the earlier class first, as argmax does.
    if (s[j] > s[label] || (s[j] == s[label] && j < label)) ++above;
  }
  return above < k;
}

}  // namespace

int64_t initializer_bytes(const Graph& g) {
  int64_t bytes = 0;
  for (const auto& [name, t] : g.initializers) bytes += static_cast<int64_t>(t.nbytes());
  return bytes;
}

Result<std::unique_ptr<TrialRunner>> TrialRunner::create(const TuningConfig& cfg,
                                                         const RunnerSources& sources,
                                                         ProgressFn progress) {
  auto local = [&](const std::string& p) { return sources.local && !p.empty() ? sources.local(p) : p; };
  auto data_config = [&](const std::string& yaml) -> Result<DataConfig> {
    QT_ASSIGN_OR_RETURN(DataConfig d, load_data_config(local(yaml), yaml));
    for (DataInput& in : d.dataset.inputs) in.path = local(in.path);
    d.dataset.labels = local(d.dataset.labels);
    return d;
  };
  if (cfg.metric.name == "command" && !sources.allow_metric_command) {
    return Status::InvalidInput("metric 'command' runs a program the coordinator's config names (" +
                                cfg.metric.command[0] + "); this worker runs it only when started with "
                                "--allow-metric-command (QTUNE_ALLOW_METRIC_COMMAND=1)");
  }
  std::unique_ptr<TrialRunner> r(new TrialRunner);
  r->cfg_ = cfg;
  r->progress_ = std::move(progress);
  // Errors name the place in the tuning YAML that led to the file at fault.
  Result<std::unique_ptr<Adaptor>> adaptor = make_adaptor(cfg.adaptor);
  if (!adaptor.ok()) return cfg.at("adaptor", adaptor.status());
  r->adaptor_ = std::move(adaptor).value();
  Result<Graph> graph = load_onnx_model(local(cfg.model));
  if (!graph.ok()) return cfg.at("model", graph.status());
  Result<DataConfig> calib_cfg = data_config(cfg.calibration_data);
  if (!calib_cfg.ok()) return cfg.at("data.calibration", calib_cfg.status());
  Result<DataConfig> eval_cfg = data_config(cfg.evaluation_data);
  if (!eval_cfg.ok()) return cfg.at("data.evaluation", eval_cfg.status());
  if (!sources.stats) {
    Result<Dataset> calib = load_dataset(*calib_cfg);
    if (!calib.ok()) return cfg.at("data.calibration", calib.status());
    r->calib_ = std::move(calib).value();
  }
  Result<Dataset> eval = load_dataset(*eval_cfg);
  if (!eval.ok()) return cfg.at("data.evaluation", eval.status());
  r->eval_ = std::move(eval).value();
  r->batch_size_ = eval_cfg->batch_size;
  const bool labels_needed = cfg.metric.name == "top1" || cfg.metric.name == "topk";
  if (labels_needed && r->eval_.labels.empty()) {
    return Status::InvalidInput(cfg.evaluation_data + ": metric " + cfg.metric.name +
                                " needs labels, and the evaluation set has none");
  }
  auto fp32 = std::make_shared<const Graph>(std::move(graph).value());
  Result<ModelFeed> eval_feed = ModelFeed::bind(*fp32, r->eval_);
  if (!eval_feed.ok()) return cfg.at("data.evaluation", eval_feed.status());
  r->eval_feed_ = std::move(eval_feed).value();
  if (sources.stats) {
    QT_ASSIGN_OR_RETURN(r->session_, start_quantization_session(r->adaptor_, fp32, *sources.stats));
    return r;
  }
  Result<ModelFeed> calib_feed = ModelFeed::bind(*fp32, r->calib_);
  if (!calib_feed.ok()) return cfg.at("data.calibration", calib_feed.status());
  r->calib_feed_ = std::move(calib_feed).value();
  const auto t0 = std::chrono::steady_clock::now();
  QT_ASSIGN_OR_RETURN(r->session_, start_quantization_session(r->adaptor_, fp32, r->calib_,
                                                              cfg.calibration_sampling_size,
                                                              calib_cfg->batch_size, r->progress_));
  r->calibration_seconds_ = seconds_since(t0);
  return r;
}

Result<TrialMetrics> TrialRunner::measure(const Graph& model, const PreparedModel& prepared,
                                          const PreparedModel* fp32, const std::string& what) {
  const int64_t n = eval_.size();
  if (n == 0) return Status::InvalidInput(cfg_.evaluation_data + ": the evaluation set is empty");
  const std::string& name = cfg_.metric.name;
  const bool vs_fp32 = compares_to_fp32();
  const bool record_fp32 = vs_fp32 && fp32_outputs_.empty();
  size_t out_i = 0;  // the output the metric reads
  if (!cfg_.metric.output.empty()) {
    out_i = model.outputs.size();
    for (size_t k = 0; k < model.outputs.size(); ++k) {
      if (model.outputs[k].name == cfg_.metric.output) out_i = k;
    }
    if (out_i == model.outputs.size()) {
      return Status::InvalidInput(cfg_.source_path + ": metric.output '" + cfg_.metric.output +
                                  "' is not an output of " + cfg_.model);
    }
  }
  const std::string out_name = "output '" + model.outputs.at(out_i).name + "'";
  int64_t hits = 0, agree = 0;
  double sq = 0, cos_sum = 0;
  int64_t values = 0;
  size_t b = 0;
  const int64_t batch_size = eval_feed_.batch_size(batch_size_);
  // A command metric evaluates the written model itself: no pass over the evaluation set here.
  for (int64_t start = 0; name != "command" && start < n; start += batch_size, ++b) {
    const int64_t count = std::min(batch_size, n - start);
    QT_ASSIGN_OR_RETURN(std::vector<Tensor> outs, prepared.run(eval_feed_.batch(start, count)));
    ModelFeed::drop_padding(&outs, eval_feed_.rows_for(count), count);
    // Elementwise comparisons (mse, binary_agreement) take any layout, e.g. a recurrent state
    // with the batch on axis 1; per-sample ones need the batch first.
    const bool per_sample = !vs_fp32 || name == "cosine";
    if (outs.size() <= out_i || outs[out_i].dtype() != DType::kF32 || outs[out_i].rank() < 1 ||
        (per_sample && outs[out_i].dim(0) != count)) {
      return Status::InvalidInput(cfg_.model + ": " + out_name + " must be f32 " +
                                  (per_sample ? "[batch, ...]" : "with one value or more"));
    }
    if (progress_) progress_(what, start + count, n);
    const Tensor& y = outs[out_i];
    if (!vs_fp32) {
      for (int64_t i = 0; i < count; ++i) {
        const int64_t label = eval_.labels[static_cast<size_t>(start + i)];
        hits += name == "top1" ? argmax_row(y, count, i) == label
                               : label_in_top_k(y, count, i, label, cfg_.metric.k);
      }
      continue;
    }
    if (record_fp32) fp32_outputs_.push_back(y.clone());
    const Tensor& ref = fp32_outputs_.at(b);
    if (ref.numel() != y.numel()) {
      return Status::Internal(out_name + " has " + std::to_string(y.numel()) +
                              " values, fp32's had " + std::to_string(ref.numel()));
    }
    const float* yd = y.data<float>();
    const float* rd = ref.data<float>();
    if (name == "binary_agreement") {
      const double t = cfg_.metric.threshold;
      for (int64_t j = 0; j < y.numel(); ++j) agree += (yd[j] >= t) == (rd[j] >= t);
      values += y.numel();
      continue;
    }
    const int64_t width = y.numel() / count;
    for (int64_t i = 0; i < count; ++i) {
      double dot = 0, na = 0, nb = 0;
      for (int64_t j = 0; j < width; ++j) {
        const double a = yd[i * width + j], r = rd[i * width + j];
        sq += (a - r) * (a - r);
        dot += a * r;
        na += a * a;
        nb += r * r;
      }
      cos_sum += na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : (na == nb ? 1.0 : 0.0);
      values += width;
    }
  }
  TrialMetrics m;
  if (name == "top1" || name == "topk") {
    m.metric = 100.0 * static_cast<double>(hits) / static_cast<double>(n);
  } else if (name == "mse") {
    m.metric = sq / static_cast<double>(std::max<int64_t>(values, 1));
  } else if (name == "cosine") {
    m.metric = cos_sum / static_cast<double>(n);
  } else if (name == "binary_agreement") {
    m.metric = 100.0 * static_cast<double>(agree) / static_cast<double>(std::max<int64_t>(values, 1));
  } else {
    QT_ASSIGN_OR_RETURN(const std::string bytes, serialize_onnx_model(model));
    QT_ASSIGN_OR_RETURN(m.metric, run_metric_command(cfg_.metric.command, bytes, cfg_.metric.timeout_s));
  }
  QT_ASSIGN_OR_RETURN(const Latency latency,
                      batch_latency(prepared, fp32, eval_feed_.batch(0, batch_size)));
  m.latency_ms = latency.model.median_ms;
  m.latency_error_ms = latency.model.median_error_ms();
  m.fp32_ratio = latency.ratio.median_ms;
  m.fp32_ratio_error = latency.ratio.median_error_ms();
  m.model_bytes = initializer_bytes(model);
  QT_RETURN_IF_ERROR(check_trial_metrics(name, m));
  return m;
}

Result<const PreparedModel*> TrialRunner::fp32_model() {
  if (!fp32_model_) {
    QT_ASSIGN_OR_RETURN(fp32_model_, adaptor_->prepare(session_.prepared, {}));
  }
  return fp32_model_.get();
}

Result<TrialMetrics> TrialRunner::baseline() {
  fp32_outputs_.clear();
  QT_ASSIGN_OR_RETURN(const PreparedModel* fp32, fp32_model());
  return measure(*session_.prepared, *fp32, nullptr, "fp32 baseline");
}

Result<TrialMetrics> TrialRunner::evaluate(const TuneConfig& cfg) {
  if (compares_to_fp32() && fp32_outputs_.empty()) QT_RETURN_IF_ERROR(baseline().status());
  QT_ASSIGN_OR_RETURN(QuantizedModel q, session_.quantize(cfg));
  QT_ASSIGN_OR_RETURN(std::unique_ptr<PreparedModel> prepared, adaptor_->prepare(q.graph, q.bf16_ops));
  QT_ASSIGN_OR_RETURN(const PreparedModel* fp32, fp32_model());
  return measure(*q.graph, *prepared, fp32, "evaluation");
}

Result<std::map<std::string, OpOutputError>> TrialRunner::op_output_errors(const TuneConfig& cfg,
                                                                            int64_t samples) const {
  QT_ASSIGN_OR_RETURN(QuantizedModel q, session_.quantize(cfg));
  // Per int8 op: its output and its activation input.
  struct Probe {
    std::string op, input, output;
  };
  std::vector<Probe> probes;
  std::set<std::string> watched;
  for (const ScopedGraph& sg : graph_tree(*session_.prepared)) {  // subgraphs' ops included
    for (const Node& n : sg.graph->nodes) {
      auto it = cfg.ops.find(n.name);
      if (it == cfg.ops.end() || it->second.precision != OpPrecision::kInt8 ||
          n.outputs.empty() || n.inputs.empty()) {
        continue;
      }
      probes.push_back({n.name, n.inputs[0], n.outputs[0]});
      watched.insert(n.inputs[0]);
      watched.insert(n.outputs[0]);
    }
  }
  QT_ASSIGN_OR_RETURN(Executor fp32, Executor::create(session_.prepared));
  QT_ASSIGN_OR_RETURN(Executor fake, Executor::create(q.graph));
  struct Sums {
    double err = 0, ref = 0, quant = 0, dot = 0, max_abs = 0;
  };
  std::map<std::string, Sums> acc;
  const int64_t n = std::min(samples, calib_.size());
  const int64_t batch_size = calib_feed_.batch_size(batch_size_);
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t count = std::min(batch_size, n - start);
    const std::vector<Tensor> batch = calib_feed_.batch(start, count);
    std::map<std::string, Tensor> ref;
    auto keep = [&](const std::string& v, const Tensor& t) {
      if (watched.count(v) && t.dtype() == DType::kF32) ref[v] = t.clone();
    };
    QT_RETURN_IF_ERROR(fp32.run(batch, keep).status());
    auto compare = [&](const std::string& v, const Tensor& t) {
      auto r = ref.find(v);
      if (r == ref.end() || t.dtype() != DType::kF32 || t.numel() != r->second.numel()) return;
      Sums& s = acc[v];
      const float* qd = t.data<float>();
      const float* fd = r->second.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        const double qv = qd[i], fv = fd[i], d = qv - fv;
        s.err += d * d;
        s.ref += fv * fv;
        s.quant += qv * qv;
        s.dot += qv * fv;
        s.max_abs = std::max(s.max_abs, std::fabs(d));
      }
    };
    QT_RETURN_IF_ERROR(fake.run(batch, compare).status());
    if (progress_) progress_("op output comparison", start + count, n);
  }
  auto relative = [&](const std::string& v) {
    auto it = acc.find(v);  // graph inputs are never produced, so never in error
    return it == acc.end() ? 0.0 : it->second.err / std::max(it->second.ref, 1e-30);
  };
  std::map<std::string, OpOutputError> out;
  for (const Probe& p : probes) {
    auto it = acc.find(p.output);
    if (it == acc.end()) continue;
    const Sums& s = it->second;
    OpOutputError e;
    e.sqnr_db = s.err == 0 ? std::numeric_limits<double>::infinity()
                : s.ref == 0 ? -std::numeric_limits<double>::infinity()
                             : 10.0 * std::log10(s.ref / s.err);
    e.cosine = s.ref > 0 && s.quant > 0 ? s.dot / std::sqrt(s.ref * s.quant) : (s.ref == s.quant ? 1.0 : 0.0);
    e.max_abs_error = s.max_abs;
    e.relative_error = relative(p.output);
    e.input_relative_error = relative(p.input);
    out[p.op] = e;
  }
  return out;
}

Result<std::map<std::string, double>> TrialRunner::sensitivity(const TuneConfig& cfg,
                                                               int64_t samples) const {
  QT_ASSIGN_OR_RETURN(const auto errors, op_output_errors(cfg, samples));
  std::map<std::string, double> out;
  for (const auto& [op, e] : errors) out[op] = std::max(0.0, e.relative_error - e.input_relative_error);
  return out;
}

int64_t fallback_gain_samples(int64_t requested, int64_t available, int64_t int8_ops,
                              double values_per_sample) {
  const int64_t most = std::min(requested, available);
  const double per_sample = std::max(1.0, static_cast<double>(int8_ops) * values_per_sample);
  const double fits = kFallbackGainValueBudget / per_sample;
  const int64_t n = fits >= static_cast<double>(most) ? most : static_cast<int64_t>(fits);
  return std::min(most, std::max(n, kFallbackGainMinSamples));
}

Result<std::map<std::string, double>> TrialRunner::fallback_gain(const TuneConfig& cfg,
                                                                 int64_t samples,
                                                                 int64_t* used_samples) const {
  int64_t int8_ops = 0;
  for (const auto& [name, op] : cfg.ops) int8_ops += op.precision == OpPrecision::kInt8;
  QT_ASSIGN_OR_RETURN(Executor fp32, Executor::create(session_.prepared));
  const int64_t batch_size = calib_feed_.batch_size(batch_size_);
  // How many values one sample computes (the fp32 model's, on the first batch) sizes the
  // per-op passes to the budget.
  const int64_t first = std::min({batch_size, samples, calib_.size()});
  double values = 0;
  if (first > 0) {
    auto count = [&](const std::string&, const Tensor& t) { values += static_cast<double>(t.numel()); };
    QT_RETURN_IF_ERROR(fp32.run(calib_feed_.batch(0, first), count).status());
    values /= static_cast<double>(first);
  }
  const int64_t n = fallback_gain_samples(samples, calib_.size(), int8_ops, values);
  if (used_samples) *used_samples = n;
  std::vector<std::vector<Tensor>> batches;
  std::vector<Tensor> reference;
  for (int64_t start = 0; start < n; start += batch_size) {
    batches.push_back(calib_feed_.batch(start, std::min(batch_size, n - start)));
    QT_ASSIGN_OR_RETURN(std::vector<Tensor> out, fp32.run(batches.back()));
    if (out.empty() || out[0].dtype() != DType::kF32) {
      return Status::Unsupported("fallback gain compares the model's first output, which is not f32");
    }
    reference.push_back(std::move(out[0]));
  }
  auto output_error = [&](const TuneConfig& c) -> Result<double> {
    QT_ASSIGN_OR_RETURN(QuantizedModel q, session_.quantize(c));
    QT_ASSIGN_OR_RETURN(Executor fake, Executor::create(q.graph));
    double err = 0, norm = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      QT_ASSIGN_OR_RETURN(std::vector<Tensor> out, fake.run(batches[b]));
      const Tensor& r = reference[b];
      if (out.empty() || out[0].numel() != r.numel() || out[0].dtype() != DType::kF32) {
        return Status::Internal("the quantized model's first output differs in shape from fp32's");
      }
      add_squared_error(out[0], r, &err, &norm);
    }
    return err / std::max(norm, 1e-30);
  };
  QT_ASSIGN_OR_RETURN(const double all, output_error(cfg));
  std::map<std::string, double> gain;
  int64_t done = 0;
  for (const auto& [name, op] : cfg.ops) {
    if (op.precision != OpPrecision::kInt8) continue;
    TuneConfig without = cfg;
    without.ops[name] = OpQuantConfig::fp32();
    QT_ASSIGN_OR_RETURN(const double e, output_error(without));
    gain[name] = all - e;
    if (progress_) progress_("fallback gain", ++done, int8_ops);
  }
  return gain;
}

}  // namespace qtune
