#include "adaptors/quantize/qdq_builder.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adaptors/quantize/op_roles.h"
#include "runtime/onnx_inference.h"
#include "kernels/quantize_ref.h"

namespace qtune {
namespace {

// What the builder does with each input of one quantized op.
struct OpPlan {
  size_t node = 0;
  std::vector<size_t> activations;  // input indices getting an activation Q/DQ pair
  std::vector<std::pair<size_t, int64_t>> weights;  // constant weight inputs, channel axis
  int bias = -1;                    // input index of the constant bias, or -1
};

// Names whose values are fixed at build time as `sg` sees them: initializers and Constant
// outputs of the graph and of the graphs around it.
std::set<std::string> constant_values(const ScopedGraph& sg) {
  std::set<std::string> c;
  std::vector<const Graph*> scope = sg.enclosing;
  scope.push_back(sg.graph);
  for (const Graph* g : scope) {
    for (const auto& [name, t] : g->initializers) c.insert(name);
    for (const auto& n : g->nodes) {
      if (n.op_type == "Constant" && n.domain.empty()) {
        for (const auto& o : n.outputs) c.insert(o);
      }
    }
  }
  return c;
}

// Element types of the model's values, subgraphs' included, as far as they are known (inference
// may give up on ops the runtime lacks; unknown types are assumed float by the caller).
std::map<std::string, DType> value_types(const Graph& g) {
  return infer_value_types(g);
}

const Tensor* f32_initializer(const ScopedGraph& sg, const std::string& name) {
  const Tensor* t = name.empty() ? nullptr : sg.initializer(name);
  return t && t->dtype() == DType::kF32 ? t : nullptr;
}

OpPlan plan_op(const ScopedGraph& sg, size_t node_i, const QuantOpRole& role,
               const std::set<std::string>& constants, const std::map<std::string, DType>& types) {
  const Graph& g = *sg.graph;
  const Node& n = g.nodes[node_i];
  OpPlan p;
  p.node = node_i;
  auto is_float_activation = [&](const std::string& name) {
    if (name.empty() || constants.count(name)) return false;
    auto it = types.find(name);
    return it == types.end() || it->second == DType::kUndefined || it->second == DType::kF32;
  };
  if (role.weights.empty()) {
    const size_t last = role.all_activations ? n.inputs.size() : std::min<size_t>(1, n.inputs.size());
    for (size_t i = 0; i < last; ++i) {
      if (is_float_activation(n.inputs[i])) p.activations.push_back(i);
    }
    return p;
  }
  if (!n.inputs.empty() && is_float_activation(n.inputs[0])) p.activations.push_back(0);
  for (size_t wi : role.weights) {
    if (wi >= n.inputs.size()) continue;
    const Tensor* w = f32_initializer(sg, n.inputs[wi]);
    // A Conv/ConvTranspose weight has a channel and a spatial axis; Gemm's is a matrix.
    const int64_t min_rank = n.op_type == "Conv" || n.op_type == "ConvTranspose" ? 3
                             : n.op_type == "MatMul"                              ? 1
                                                                                  : 2;
    if (w && w->rank() >= min_rank && (n.op_type != "Gemm" || w->rank() == 2)) {
      p.weights.emplace_back(wi, weight_channel_axis(n, *w));
    } else if (wi == 1 && role.activation_pairs && is_float_activation(n.inputs[wi])) {
      p.activations.push_back(wi);
    }
  }
  // Bias: only a 1-D constant with one value per output channel folds into the int32 grid.
  if (role.bias >= 0 && !p.weights.empty() && p.weights[0].first == 1 &&
      n.inputs.size() > static_cast<size_t>(role.bias)) {
    const Tensor* w = sg.initializer(n.inputs[1]);
    const Tensor* b = f32_initializer(sg, n.inputs[static_cast<size_t>(role.bias)]);
    if (b && b->rank() == 1 && b->dim(0) == w->dim(p.weights[0].second)) p.bias = role.bias;
  }
  return p;
}

struct ActivationPair {
  DType dtype;
  float scale;
  int32_t zero_point;
  std::string dequantized;
  std::string base;  // of its initializer and node names
};

struct WeightEntry {
  bool per_channel;
  int64_t axis;
  std::vector<float> scales;
  std::string dequantized;
};

struct BiasEntry {
  std::vector<float> scales;
  bool per_channel;
  std::string dequantized;
};

Tensor scalar_of(DType dtype, double v) {
  Tensor t(dtype, Shape{});
  switch (dtype) {
    case DType::kF32: t.data<float>()[0] = static_cast<float>(v); break;
    case DType::kU8: t.data<uint8_t>()[0] = static_cast<uint8_t>(v); break;
    case DType::kS8: t.data<int8_t>()[0] = static_cast<int8_t>(v); break;
    case DType::kS32: t.data<int32_t>()[0] = static_cast<int32_t>(v); break;
    default: break;
  }
  return t;
}

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}

// Symmetric s8 scale of one channel: max|w| / 127; an all-zero (or non-finite) channel gets 1.
float weight_scale(float absmax) {
  const float s = absmax / 127.0f;
  return std::isnormal(s) ? s : 1.0f;
}

// What the builders of all the model's graphs share: new names must be unique model-wide.
struct SharedNames {
  std::set<std::string> taken;
  std::set<std::string> used_stats;

  explicit SharedNames(const Graph& model) {
    for (const ScopedGraph& sg : graph_tree(model)) {
      const Graph& g = *sg.graph;
      for (const auto& [name, t] : g.initializers) taken.insert(name);
      for (const auto& v : g.inputs) taken.insert(v.name);
      for (const auto& v : g.outputs) taken.insert(v.name);
      for (const auto& [name, v] : g.value_info) taken.insert(name);
      for (const auto& n : g.nodes) {
        taken.insert(n.name);
        for (const auto& s : n.inputs) taken.insert(s);
        for (const auto& s : n.outputs) taken.insert(s);
      }
    }
  }
};

// Builds the Q/DQ nodes of one graph; what it adds lives in that graph, weights of enclosing
// graphs included (so each graph's quantized units are complete for lowering).
class Builder {
 public:
  Builder(const ScopedGraph& scope, const CalibrationStats& stats, SharedNames& shared)
      : g_(*scope.graph), scope_(scope), stats_(stats), taken_(shared.taken),
        used_stats_(shared.used_stats) {}

  Graph& graph() { return g_; }

  // The dequantized name of activation x under the op's params; creates the Q/DQ pair once.
  Result<std::pair<std::string, float>> activation(const Node& consumer, const std::string& x,
                                                   const QuantizeConfig::OpWise& ow) {
    auto it = stats_.tensors.find(x);
    if (it == stats_.tensors.end()) {
      return Status::InvalidInput(consumer.describe() + ": no calibration statistics for tensor '" +
                                  x + "'");
    }
    used_stats_.insert(x);
    const DType dtype = ow.config.activation.dtype;
    const QuantScheme scheme = ow.is_asymmetric ? QuantScheme::kAsym : QuantScheme::kSym;
    const FloatRange r = derive_range(it->second, ow.algorithm, scheme, dtype);
    const ScaleZeroPoint qp = choose_qparams(r, dtype, scheme);
    auto& pairs = activations_[x];
    for (const auto& p : pairs) {
      if (p.dtype == dtype && p.scale == qp.scale && p.zero_point == qp.zero_point) {
        return std::make_pair(p.dequantized, p.scale);
      }
    }
    const std::string base = fresh_base(x, pairs.size(),
                                        {"_scale", "_zero_point", "_quantized", "_dequantized",
                                         "_QuantizeLinear", "_DequantizeLinear"});
    g_.initializers[base + "_scale"] = scalar_of(DType::kF32, qp.scale);
    g_.initializers[base + "_zero_point"] = scalar_of(dtype, qp.zero_point);
    Node qn;
    qn.name = base + "_QuantizeLinear";
    qn.op_type = "QuantizeLinear";
    qn.inputs = {x, base + "_scale", base + "_zero_point"};
    qn.outputs = {base + "_quantized"};
    Node dn;
    dn.name = base + "_DequantizeLinear";
    dn.op_type = "DequantizeLinear";
    dn.inputs = {base + "_quantized", base + "_scale", base + "_zero_point"};
    dn.outputs = {base + "_dequantized"};
    added_.push_back(std::move(qn));
    added_.push_back(std::move(dn));
    pairs.push_back({dtype, qp.scale, qp.zero_point, base + "_dequantized", base});
    return std::make_pair(base + "_dequantized", qp.scale);
  }

  // Quantizes output 0 of `n` (in g_) with the params of the pair that feeds it `dequantized`:
  // for ops that only move values this is an exact identity on the int8 grid.
  void requantize_output(Node& n, const std::string& x, const std::string& dequantized) {
    const ActivationPair* pair = nullptr;
    for (const auto& p : activations_[x]) {
      if (p.dequantized == dequantized) pair = &p;
    }
    if (!pair || n.outputs.empty()) return;
    const std::string y = n.outputs[0];
    const std::string base = fresh_base(y, 0, {"_before_quantize", "_quantized",
                                               "_QuantizeLinear", "_DequantizeLinear"});
    n.outputs[0] = base + "_before_quantize";
    Node qn;
    qn.name = base + "_QuantizeLinear";
    qn.op_type = "QuantizeLinear";
    qn.inputs = {n.outputs[0], pair->base + "_scale", pair->base + "_zero_point"};
    qn.outputs = {base + "_quantized"};
    Node dn;
    dn.name = base + "_DequantizeLinear";
    dn.op_type = "DequantizeLinear";
    dn.inputs = {base + "_quantized", pair->base + "_scale", pair->base + "_zero_point"};
    dn.outputs = {y};
    added_.push_back(std::move(qn));
    added_.push_back(std::move(dn));
  }

  // The dequantized name of constant weight w; per_channel quantizes along `axis`.
  const WeightEntry& weight(const std::string& w_name, bool per_channel, int64_t axis) {
    auto& entries = weights_[w_name];
    for (const auto& e : entries) {
      if (e.per_channel == per_channel && (!per_channel || e.axis == axis)) return e;
    }
    const Tensor& w = *scope_.initializer(w_name);
    // View w as [outer, channels, inner] around the channel axis.
    int64_t outer = 1, channels = 1, inner = 1;
    if (per_channel) {
      channels = w.dim(axis);
      for (int64_t i = 0; i < axis; ++i) outer *= w.dim(i);
      for (int64_t i = axis + 1; i < w.rank(); ++i) inner *= w.dim(i);
    } else {
      inner = w.numel();
    }
    const float* wd = w.data<float>();
    std::vector<float> absmax(static_cast<size_t>(channels), 0.0f);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c) {
        const float* row = wd + (o * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const float a = std::fabs(row[i]);
          if (a > absmax[c]) absmax[c] = a;  // NaN never wins
        }
      }
    }
    std::vector<float> scales(absmax.size());
    for (size_t c = 0; c < absmax.size(); ++c) scales[c] = weight_scale(absmax[c]);
    Tensor q(DType::kS8, w.shape());
    int8_t* qd = q.data<int8_t>();
    const QRange s8 = qrange(DType::kS8);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t off = (o * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) {
          qd[off + i] = static_cast<int8_t>(quantize_value(wd[off + i], scales[c], 0, s8));
        }
      }
    }
    const std::string base = fresh_base(
        w_name, entries.size(), {"_quantized", "_scale", "_zero_point", "_dequantized",
                                 "_DequantizeLinear"});
    add_constant_dq(base, std::move(q), scales, per_channel, DType::kS8, axis);
    entries.push_back({per_channel, axis, scales, base + "_dequantized"});
    return entries.back();
  }

  // The dequantized name of constant bias b on the grid x_scale * w_scale, or "" when that grid
  // is degenerate (the bias then stays f32).
  std::string bias(const std::string& b_name, float x_scale, const WeightEntry& w) {
    std::vector<float> scales(w.scales.size());
    for (size_t c = 0; c < scales.size(); ++c) {
      scales[c] = x_scale * w.scales[c];
      if (!std::isnormal(scales[c])) return "";
    }
    auto& entries = biases_[b_name];
    for (const auto& e : entries) {
      if (e.per_channel == w.per_channel && e.scales == scales) return e.dequantized;
    }
    const Tensor& b = *scope_.initializer(b_name);
    Tensor q(DType::kS32, b.shape());
    const QRange s32 = qrange(DType::kS32);
    for (int64_t c = 0; c < b.numel(); ++c) {
      const float s = scales[w.per_channel ? static_cast<size_t>(c) : 0];
      q.data<int32_t>()[c] = quantize_value(b.data<float>()[c], s, 0, s32);
    }
    const std::string base = fresh_base(
        b_name, entries.size(), {"_quantized", "_scale", "_zero_point", "_dequantized",
                                 "_DequantizeLinear"});
    add_constant_dq(base, std::move(q), scales, w.per_channel, DType::kS32, 0);
    entries.push_back({scales, w.per_channel, base + "_dequantized"});
    return base + "_dequantized";
  }

  std::vector<Node> take_added() { return std::move(added_); }

 private:
  // `base` + suffixes for the k-th variant of `name` (k = 0: `name` itself), bumped past any
  // name already in the graph.
  std::string fresh_base(const std::string& name, size_t k,
                         const std::vector<std::string>& suffixes) {
    for (;; ++k) {
      const std::string base = k == 0 ? name : name + "_" + std::to_string(k);
      bool free = true;
      for (const auto& s : suffixes) free = free && !taken_.count(base + s);
      if (!free) continue;
      for (const auto& s : suffixes) taken_.insert(base + s);
      return base;
    }
  }

  void add_constant_dq(const std::string& base, Tensor q, const std::vector<float>& scales,
                       bool per_channel, DType zp_type, int64_t axis) {
    Tensor scale_t = per_channel ? Tensor(DType::kF32, {static_cast<int64_t>(scales.size())})
                                 : Tensor(DType::kF32, Shape{});
    std::copy(scales.begin(), scales.begin() + scale_t.numel(), scale_t.data<float>());
    g_.initializers[base + "_quantized"] = std::move(q);
    g_.initializers[base + "_zero_point"] = Tensor(zp_type, scale_t.shape());  // zeros
    g_.initializers[base + "_scale"] = std::move(scale_t);
    Node dn;
    dn.name = base + "_DequantizeLinear";
    dn.op_type = "DequantizeLinear";
    dn.inputs = {base + "_quantized", base + "_scale", base + "_zero_point"};
    dn.outputs = {base + "_dequantized"};
    if (per_channel) dn.attrs["axis"] = int_attr(axis);
    added_.push_back(std::move(dn));
  }

  Graph g_;
  const ScopedGraph scope_;  // the graph as it was, for the original weights
  const CalibrationStats& stats_;
  std::set<std::string>& taken_;
  std::set<std::string>& used_stats_;
  std::map<std::string, std::vector<ActivationPair>> activations_;
  std::map<std::string, std::vector<WeightEntry>> weights_;
  std::map<std::string, std::vector<BiasEntry>> biases_;
  std::vector<Node> added_;
};

// The ops of q in graph `g`, in node order, with their roles, checked against the convention.
Result<std::vector<std::pair<size_t, const QuantOpRole*>>> quantized_ops(const Graph& g,
                                                                        const QuantizeConfig& q) {
  std::vector<std::pair<size_t, const QuantOpRole*>> ops;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!q.op_wise_config.count(n.name)) continue;
    const QuantOpRole* role = n.domain.empty() ? quant_op_role(n.op_type) : nullptr;
    if (!role) {
      return Status::Unsupported(n.describe() + ": QDQ quantization of this op type is not implemented");
    }
    ops.emplace_back(i, role);
  }
  return ops;
}

// A Relu/Clip whose only input comes straight from a statically quantized weight op that no one
// else reads: that op's int8 kernel computes it (lowering fuses op -> activation), so it gets no
// Q/DQ pair of its own, as in ONNX Runtime's quantizer.
bool fused_into_producer(const Graph& g, size_t node_i, const QuantOpRole& role,
                         const QuantizeConfig& q) {
  if (!role.fuses_into_producer) return false;
  const std::string& x = g.nodes[node_i].inputs.at(0);
  const Node* producer = nullptr;
  int readers = 0;
  for (const Node& n : g.nodes) {
    for (const auto& o : n.outputs) {
      if (o == x) producer = &n;
    }
    for (const auto& in : n.inputs) readers += in == x;
    for (const auto& in : n.implicit_inputs()) readers += in == x;
  }
  for (const auto& o : g.outputs) readers += o.name == x;
  if (!producer || readers != 1 || !producer->domain.empty()) return false;
  const QuantOpRole* pr = quant_op_role(producer->op_type);
  auto it = q.op_wise_config.find(producer->name);
  return pr && !pr->weights.empty() && it != q.op_wise_config.end() &&
         it->second.config.mode == QuantMode::kStatic;
}

// Ops whose outputs are some of their input's values, unchanged.
bool moves_values_only(const Node& n) {
  static const std::set<std::string> ops = {"Squeeze", "Unsqueeze", "Reshape", "Transpose",
                                            "Flatten"};
  return n.domain.empty() && ops.count(n.op_type) != 0;
}

bool read_by_subgraph(const Graph& g, const std::string& value) {
  for (const Node& n : g.nodes) {
    for (const auto& in : n.implicit_inputs()) {
      if (in == value) return true;
    }
  }
  return false;
}

struct BuildContext {
  const QuantizeConfig& q;
  const CalibrationStats& stats;
  const std::map<std::string, DType>& types;
  SharedNames& names;
  std::vector<std::string>& notes;
};

// The QDQ form of graph `scope.graph` and, recursively, of its subgraphs. Weight and bias
// initializers it replaced that belong to an enclosing graph are added to `outer_replaced`, for
// that graph to drop once nothing reads them.
Result<Graph> build_graph(const ScopedGraph& scope, BuildContext& ctx,
                          std::set<std::string>* outer_replaced) {
  const Graph& g = *scope.graph;
  const QuantizeConfig& q = ctx.q;
  QT_ASSIGN_OR_RETURN(auto ops, quantized_ops(g, q));
  const std::set<std::string> constants = constant_values(scope);
  Builder b(scope, ctx.stats, ctx.names);
  Graph& out = b.graph();
  std::set<std::string> replaced;  // original weight/bias initializers that may now be unused

  for (const auto& [node_i, role] : ops) {
    const Node& orig = g.nodes[node_i];
    const QuantizeConfig::OpWise& ow = q.op_wise_config.at(orig.name);
    // Dynamic quantization computes activation ranges per batch at run time; its QDQ form
    // (DynamicQuantizeLinear) is not built yet, so such ops stay fp32.
    if (ow.config.mode == QuantMode::kDynamic) {
      ctx.notes.push_back(orig.describe() +
                          ": dynamic quantization is not exported to QDQ yet; left fp32");
      continue;
    }
    if (ow.weight_bit != 8) {
      return Status::Unsupported(orig.describe() + ": weight_bit " +
                                 std::to_string(ow.weight_bit) + " (only 8 is implemented)");
    }
    if (!is_q8(ow.config.activation.dtype)) {
      return Status::Unsupported(orig.describe() + ": activation dtype " +
                                 std::string(dtype_name(ow.config.activation.dtype)) +
                                 " (u8 or s8 expected)");
    }
    if (fused_into_producer(g, node_i, *role, q)) continue;
    const OpPlan plan = plan_op(scope, node_i, *role, constants, ctx.types);
    if (!plan.weights.empty() && (ow.config.weight.dtype != DType::kS8 ||
                             ow.config.weight.scheme != QuantScheme::kSym)) {
      return Status::Unsupported(orig.describe() + ": weights are quantized s8 symmetric only, "
                                 "config asks for " + describe(ow.config));
    }
    Node& n = out.nodes[node_i];
    float x_scale = 0.0f;
    bool x_quantized = false;
    for (size_t a : plan.activations) {
      QT_ASSIGN_OR_RETURN(auto dq, b.activation(orig, orig.inputs[a], ow));
      n.inputs[a] = dq.first;
      if (a == 0) {
        x_scale = dq.second;
        x_quantized = true;
      }
    }
    // A value-moving op whose output is read inside a nested subgraph gets the output pair
    // ONNX Runtime's QDQ propagation would insert after it (and cannot insert across a subgraph
    // boundary): the same scale and zero point, an exact identity on the int8 grid.
    if (x_quantized && moves_values_only(orig) && read_by_subgraph(g, orig.outputs[0])) {
      b.requantize_output(n, orig.inputs[0], n.inputs[0]);
    }
    if (plan.weights.empty()) continue;
    // Per-axis DequantizeLinear needs opset 13; an older model keeps its opset (its ops' meaning
    // depends on it) and gets per-tensor weights.
    const bool axis_ok = g.opset >= 13;
    if (ow.is_perchannel && !axis_ok) {
      ctx.notes.push_back(orig.describe() + ": per-channel weights need opset 13, the model is " +
                          "opset " + std::to_string(g.opset) + "; quantized per tensor");
    }
    std::optional<WeightEntry> first;
    for (const auto& [wi, axis] : plan.weights) {
      const std::string& w_name = orig.inputs[wi];
      const bool per_channel = ow.is_perchannel && axis_ok && scope.initializer(w_name)->rank() >= 2;
      const WeightEntry& w = b.weight(w_name, per_channel, axis);
      if (!first) first = w;
      n.inputs[wi] = w.dequantized;
      replaced.insert(w_name);
    }
    if (plan.bias < 0) continue;
    const std::string& b_name = orig.inputs[plan.bias];
    const std::string dq = x_quantized ? b.bias(b_name, x_scale, *first) : "";
    if (dq.empty()) {
      ctx.notes.push_back(orig.describe() + ": bias '" + b_name +
                          "' left f32: no usable int32 grid (input not quantized, or a degenerate scale)");
      continue;
    }
    n.inputs[plan.bias] = dq;
    replaced.insert(b_name);
  }

  // Subgraphs next, seeing this graph as it was.
  std::vector<const Graph*> inner = scope.enclosing;
  inner.push_back(&g);
  QT_RETURN_IF_ERROR(rewrite_subgraphs(out, [&](Graph& sub) -> Status {
    const ScopedGraph sub_scope{&sub, inner, nullptr};
    QT_ASSIGN_OR_RETURN(Graph built, build_graph(sub_scope, ctx, &replaced));
    sub = std::move(built);
    return Status::Ok();
  }));

  for (Node& added : b.take_added()) out.nodes.push_back(std::move(added));
  // Originals still read by an fp32 op (here or in a subgraph) stay; the rest are replaced by
  // their quantized form. Those of enclosing graphs are theirs to drop.
  std::set<std::string> still_read;
  for (const auto& n : out.nodes) {
    still_read.insert(n.inputs.begin(), n.inputs.end());
    for (auto& in : n.implicit_inputs()) still_read.insert(std::move(in));
  }
  for (const auto& o : out.outputs) still_read.insert(o.name);
  for (const auto& name : replaced) {
    if (!g.initializer(name)) {
      if (outer_replaced) outer_replaced->insert(name);
    } else if (!still_read.count(name)) {
      out.initializers.erase(name);
    }
  }
  QT_RETURN_IF_ERROR(out.topological_sort(scope.outer_names()));
  return out;
}

}  // namespace

namespace {

// Calls fn(op name, tensor) for every activation input calibration must observe, in graph order.
void for_each_calibration_tensor(
    const Graph& g, const QuantizeConfig& q,
    const std::function<void(const std::string&, const std::string&)>& fn) {
  const std::map<std::string, DType> types = value_types(g);
  for (const ScopedGraph& sg : graph_tree(g)) {
    const std::set<std::string> constants = constant_values(sg);
    const std::set<std::string> defined = sg.graph->defined_names();
    for (size_t i = 0; i < sg.graph->nodes.size(); ++i) {
      const Node& n = sg.graph->nodes[i];
      auto it = q.op_wise_config.find(n.name);
      const QuantOpRole* role = n.domain.empty() ? quant_op_role(n.op_type) : nullptr;
      if (it == q.op_wise_config.end() || !role) continue;
      fn(n.name, "");
      if (it->second.config.mode == QuantMode::kDynamic) continue;
      // Inputs of a Relu/Clip fused into its producer are observed too: a config that leaves the
      // producer fp32 quantizes them, and statistics are gathered once for every config.
      const std::vector<size_t> activations = plan_op(sg, i, *role, constants, types).activations;
      bool local = false;
      for (size_t a : activations) {
        fn(n.name, n.inputs[a]);
        local = local || defined.count(n.inputs[a]);
      }
      // An op in a subgraph that reads only values from outside it: its f32 output shows
      // whether calibration ever ran it (an If branch not taken never does).
      if (sg.owner && !activations.empty() && !local && !n.outputs.empty()) {
        auto t = types.find(n.outputs[0]);
        if (t != types.end() && t->second == DType::kF32) fn(n.name, n.outputs[0]);
      }
    }
  }
}

}  // namespace

std::vector<std::string> calibration_tensors(const Graph& g, const QuantizeConfig& q) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for_each_calibration_tensor(g, q, [&](const std::string&, const std::string& t) {
    if (!t.empty() && seen.insert(t).second) out.push_back(t);
  });
  return out;
}

std::map<std::string, std::vector<std::string>> calibration_tensors_by_op(const Graph& g,
                                                                          const QuantizeConfig& q) {
  std::map<std::string, std::vector<std::string>> out;
  for_each_calibration_tensor(g, q, [&](const std::string& op, const std::string& t) {
    auto& list = out[op];
    if (!t.empty()) list.push_back(t);
  });
  return out;
}

Result<QuantizedModel> build_qdq_model(const Graph& g, const QuantizeConfig& q,
                                       const CalibrationStats& stats) {
  // Raising the opset would change what the model's own ops mean; QuantizeLinear needs 10.
  if (g.opset < 10) {
    return Status::Unsupported("QDQ quantization needs opset 10 or newer; the model is opset " +
                               std::to_string(g.opset));
  }
  std::set<std::string> nodes;
  for (const ScopedGraph& sg : graph_tree(g)) {
    for (const Node& n : sg.graph->nodes) nodes.insert(n.name);
  }
  for (const auto& [name, ow] : q.op_wise_config) {
    if (!nodes.count(name)) {
      return Status::InvalidInput("quantize_config names node '" + name +
                                  "', which the graph does not have");
    }
  }
  const std::map<std::string, DType> types = value_types(g);
  QuantizedModel model;
  model.bf16_ops = q.bf16_ops;
  SharedNames names(g);
  BuildContext ctx{q, stats, types, names, model.notes};
  QT_ASSIGN_OR_RETURN(Graph out, build_graph(ScopedGraph{&g, {}, nullptr}, ctx, nullptr));

  CalibrationStats used;
  used.samples = stats.samples;
  used.model_hash = stats.model_hash;
  for (const auto& name : names.used_stats) used.tensors[name] = stats.tensors.at(name);
  for (auto& w : calibration_warnings(used)) model.notes.push_back(std::move(w));
  model.graph = std::make_shared<const Graph>(std::move(out));
  return model;
}

}  // namespace qtune
