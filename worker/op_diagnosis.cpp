#include "worker/op_diagnosis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/model_feed.h"
#include "runtime/executor.h"

namespace qtune {
namespace {

// Sums over every compared element; TensorError from them.
struct ErrorSums {
  double ff = 0, qq = 0, qf = 0, noise = 0, max_abs = 0;
  int64_t values = 0;

  void add(const Tensor& q, const Tensor& f) {
    const float* qd = q.data<float>();
    const float* fd = f.data<float>();
    for (int64_t i = 0; i < f.numel(); ++i) {
      const double a = qd[i], b = fd[i], d = a - b;
      ff += b * b;
      qq += a * a;
      qf += a * b;
      noise += d * d;
      max_abs = std::max(max_abs, std::abs(d));
    }
    values += f.numel();
  }

  TensorError error() const {
    TensorError e;
    e.values = values;
    e.max_abs_error = max_abs;
    if (noise == 0) {
      e.sqnr_db = kF32SqnrDb;
    } else if (ff == 0) {
      e.sqnr_db = -kF32SqnrDb;
    } else {
      e.sqnr_db = std::clamp(10.0 * std::log10(ff / noise), -kF32SqnrDb, kF32SqnrDb);
    }
    e.cosine = ff == 0 && qq == 0 ? 1.0 : ff == 0 || qq == 0 ? 0.0 : qf / std::sqrt(ff * qq);
    return e;
  }
};

bool comparable(const Tensor& q, const Tensor& f) {
  return q.is_tensor() && f.is_tensor() && q.dtype() == DType::kF32 && f.dtype() == DType::kF32 &&
         q.numel() == f.numel();
}

// What one int8 op is compared on: names in the quantized graph and in the fp32 graph.
struct Probe {
  size_t op;                          // index into Diagnosis::ops
  std::string weight_q, weight_f;     // W_dequantized and W, when the op has a constant input
  std::string input_q, input_f;       // x_dequantized and x, when an activation is quantized
  ErrorSums accumulated, isolated, weight, input;
};

std::map<std::string, const Node*> producers(const Graph& g) {
  std::map<std::string, const Node*> out;
  for (const Node& n : g.nodes) {
    for (const std::string& o : n.outputs) {
      if (!o.empty()) out[o] = &n;
    }
  }
  return out;
}

}  // namespace

Result<Diagnosis> diagnose_ops(const QuantizationSession& session, const TuneConfig& cfg,
                               const Dataset& data, int64_t samples, int64_t batch_size) {
  if (batch_size <= 0) return Status::InvalidInput("batch size must be positive");
  const int64_t n = std::min(samples, data.size());
  if (n <= 0) return Status::InvalidInput("no samples to compare on");
  QT_ASSIGN_OR_RETURN(QuantizedModel q, session.quantize(cfg));
  const Graph& fp32_graph = *session.prepared;
  const Graph& q_graph = *q.graph;
  const auto q_producers = producers(q_graph);
  const auto f_producers = producers(fp32_graph);

  Diagnosis d;
  std::vector<Probe> probes;
  std::map<std::string, size_t> probe_of_output;  // op output -> index into probes
  std::set<std::string> keep;                     // fp32 values the passes compare with
  for (const Node& node : fp32_graph.nodes) {
    auto c = cfg.ops.find(node.name);
    if (c == cfg.ops.end() || c->second.precision != OpPrecision::kInt8 || node.outputs.empty()) continue;
    const std::string& out = node.outputs[0];
    auto qp = q_producers.find(out);
    if (qp == q_producers.end()) {
      d.skipped.push_back(node.name + ": its output '" + out + "' is not in the quantized graph");
      continue;
    }
    const Node& qn = *qp->second;
    Probe p{d.ops.size(), "", "", "", "", {}, {}, {}, {}};
    for (size_t k = 0; k < qn.inputs.size() && k < node.inputs.size(); ++k) {
      auto dq = q_producers.find(qn.inputs[k]);
      if (dq == q_producers.end() || dq->second->op_type != "DequantizeLinear" ||
          dq->second->inputs.empty()) {
        continue;
      }
      const bool constant = q_graph.initializers.count(dq->second->inputs[0]) != 0;
      std::string& q_name = constant ? p.weight_q : p.input_q;
      std::string& f_name = constant ? p.weight_f : p.input_f;
      if (!q_name.empty()) continue;
      q_name = qn.inputs[k];
      f_name = node.inputs[k];
      keep.insert(f_name);
    }
    keep.insert(out);
    probe_of_output[out] = probes.size();
    probes.push_back(std::move(p));
    d.ops.push_back({node.name, node.op_type, out, {}, {}, std::nullopt, std::nullopt});
  }
  std::map<std::string, std::vector<size_t>> probes_of_q_value;  // W/x_dequantized -> probes
  for (size_t i = 0; i < probes.size(); ++i) {
    if (!probes[i].weight_q.empty()) probes_of_q_value[probes[i].weight_q].push_back(i);
    if (!probes[i].input_q.empty()) probes_of_q_value[probes[i].input_q].push_back(i);
  }
  // The isolated pass replaces every value both graphs compute by the fp32 one.
  std::set<std::string> shared;
  for (const auto& [name, node] : q_producers) {
    if (f_producers.count(name)) shared.insert(name);
  }
  keep.insert(shared.begin(), shared.end());

  QT_ASSIGN_OR_RETURN(Executor fp32, Executor::create(session.prepared));
  QT_ASSIGN_OR_RETURN(Executor fake, Executor::create(q.graph));
  QT_ASSIGN_OR_RETURN(ModelFeed feed, ModelFeed::bind(fp32_graph, data));
  // A model with a fixed batch gets short batches padded with repeated samples: they weigh a
  // little more in the sums, which only matters for the last batch.
  const int64_t step = feed.batch_size(batch_size);
  bool first_batch = true;
  for (int64_t start = 0; start < n; start += step) {
    const std::vector<Tensor> batch = feed.batch(start, std::min(step, n - start));
    std::map<std::string, Tensor> ref;
    for (size_t i = 0; i < fp32_graph.inputs.size() && i < batch.size(); ++i) {
      ref[fp32_graph.inputs[i].name] = batch[i];
    }
    for (const auto& [name, t] : fp32_graph.initializers) {
      if (keep.count(name)) ref[name] = t;
    }
    QT_RETURN_IF_ERROR(fp32.run(batch, [&](const std::string& v, const Tensor& t) {
                         if (keep.count(v) && t.is_tensor()) ref[v] = t.clone();
                       }).status());
    auto compare_input_or_weight = [&](const std::string& v, const Tensor& t, bool isolated) {
      auto it = probes_of_q_value.find(v);
      if (it == probes_of_q_value.end()) return;
      for (size_t i : it->second) {
        Probe& p = probes[i];
        const bool weight = v == p.weight_q;
        // A weight is the same in every batch and both passes; an activation input differs
        // from fp32 by its own quantization only in the isolated pass.
        if (weight ? isolated || !first_batch : !isolated) continue;
        auto r = ref.find(weight ? p.weight_f : p.input_f);
        if (r != ref.end() && comparable(t, r->second)) (weight ? p.weight : p.input).add(t, r->second);
      }
    };
    QT_RETURN_IF_ERROR(fake.run(batch, [&](const std::string& v, const Tensor& t) {
                         compare_input_or_weight(v, t, false);
                         auto it = probe_of_output.find(v);
                         auto r = ref.find(v);
                         if (it != probe_of_output.end() && r != ref.end() && comparable(t, r->second)) {
                           probes[it->second].accumulated.add(t, r->second);
                         }
                       }).status());
    QT_RETURN_IF_ERROR(fake.run_intercepted(batch, [&](const std::string& v, Tensor& t) {
                         compare_input_or_weight(v, t, true);
                         if (!shared.count(v)) return;
                         auto r = ref.find(v);
                         if (r == ref.end()) return;
                         auto it = probe_of_output.find(v);
                         if (it != probe_of_output.end() && comparable(t, r->second)) {
                           probes[it->second].isolated.add(t, r->second);
                         }
                         t = r->second;
                       }).status());
    first_batch = false;
  }
  for (Probe& p : probes) {
    OpDiagnosis& o = d.ops[p.op];
    o.accumulated = p.accumulated.error();
    o.isolated = p.isolated.error();
    if (p.weight.values > 0) o.weight = p.weight.error();
    if (p.input.values > 0) o.input = p.input.error();
  }
  // An op whose output never compared (not f32, or shaped differently) has nothing to rank by.
  std::vector<OpDiagnosis> compared;
  for (size_t i = 0; i < d.ops.size(); ++i) {
    if (probes[i].accumulated.values > 0 && probes[i].isolated.values > 0) {
      compared.push_back(std::move(d.ops[i]));
    } else {
      d.skipped.push_back(d.ops[i].name + ": its output '" + d.ops[i].output +
                          "' is not an f32 tensor of the fp32 output's size");
    }
  }
  d.ops = std::move(compared);
  d.samples = n;
  return d;
}

std::vector<OpDiagnosis> ranked(const Diagnosis& d, DiagnosisRank by) {
  std::vector<OpDiagnosis> out = d.ops;
  auto key = [by](const OpDiagnosis& o) {
    return by == DiagnosisRank::kIsolated ? o.isolated.sqnr_db : o.accumulated.sqnr_db;
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const OpDiagnosis& a, const OpDiagnosis& b) { return key(a) < key(b); });
  return out;
}

}  // namespace qtune
