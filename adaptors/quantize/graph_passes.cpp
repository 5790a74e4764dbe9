#include "adaptors/quantize/graph_passes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/executor.h"

namespace qtune {
namespace {

bool is_graph_output(const Graph& g, const std::string& name) {
  for (const auto& v : g.outputs) if (v.name == name) return true;
  return false;
}

bool is_graph_input(const Graph& g, const std::string& name) {
  for (const auto& v : g.inputs) if (v.name == name) return true;
  return false;
}

// Reads of `name` by live nodes (an input listed twice counts twice), including reads from
// inside their subgraphs (If/Loop/Scan bodies), which these passes never rewrite.
int count_uses(const Graph& g, const std::vector<bool>& removed, const std::string& name) {
  int n = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (removed[i]) continue;
    for (const auto& in : g.nodes[i].inputs) n += in == name;
    for (const auto& in : g.nodes[i].implicit_inputs()) n += in == name;
  }
  return n;
}

// Whether a subgraph of a live node reads `name`: such a value cannot be renamed.
bool read_by_subgraph(const Graph& g, const std::vector<bool>& removed, const std::string& name) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (removed[i]) continue;
    for (const auto& in : g.nodes[i].implicit_inputs()) {
      if (in == name) return true;
    }
  }
  return false;
}

bool name_taken(const Graph& g, const std::string& name) {
  if (g.initializers.count(name) || g.value_info.count(name)) return true;
  if (is_graph_input(g, name) || is_graph_output(g, name)) return true;
  for (const auto& n : g.nodes) {
    for (const auto& o : n.outputs) if (o == name) return true;
    for (const auto& i : n.inputs) if (i == name) return true;
    for (const auto& i : n.implicit_inputs()) if (i == name) return true;
  }
  return false;
}

std::string unique_name(const Graph& g, const std::string& base) {
  if (!name_taken(g, base)) return base;
  for (int k = 1;; ++k) {
    std::string n = base + "_" + std::to_string(k);
    if (!name_taken(g, n)) return n;
  }
}

// An f32 1-D initializer, or null.
const Tensor* f32_vector(const Graph& g, const std::string& name) {
  const Tensor* t = name.empty() ? nullptr : g.initializer(name);
  return t && t->dtype() == DType::kF32 && t->rank() == 1 ? t : nullptr;
}

// Folds BN node `bn_i` into its producer when possible; false (and Ok) when it does not fit.
Result<bool> try_fold(Graph& g, std::vector<bool>& removed, size_t bn_i) {
  const Node bn = g.nodes[bn_i];
  if (bn.inputs.size() != 5 || bn.outputs.empty() || bn.outputs[0].empty()) return false;
  if (bn.attr_int("training_mode", 0) != 0) return false;
  for (size_t k = 1; k < bn.outputs.size(); ++k) if (!bn.outputs[k].empty()) return false;

  const std::string& x = bn.inputs[0];
  size_t conv_i = g.nodes.size();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (removed[i]) continue;
    for (const auto& o : g.nodes[i].outputs) if (o == x) conv_i = i;
  }
  if (conv_i == g.nodes.size()) return false;
  Node& conv = g.nodes[conv_i];
  if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1) return false;
  // Another reader of the Conv output would see the folded (BN-applied) values.
  if (count_uses(g, removed, x) != 1 || is_graph_output(g, x)) return false;
  if (conv.inputs.size() < 2) return false;
  const Tensor* w = g.initializer(conv.inputs[1]);
  if (!w || w->dtype() != DType::kF32 || w->rank() < 3) return false;
  const std::string b_name = conv.inputs.size() > 2 ? conv.inputs[2] : "";
  const Tensor* b = f32_vector(g, b_name);
  if (!b_name.empty() && !b) return false;
  const Tensor* gamma = f32_vector(g, bn.inputs[1]);
  const Tensor* beta = f32_vector(g, bn.inputs[2]);
  const Tensor* mean = f32_vector(g, bn.inputs[3]);
  const Tensor* var = f32_vector(g, bn.inputs[4]);
  if (!gamma || !beta || !mean || !var) return false;

  const int64_t oc = w->dim(0);
  for (const Tensor* t : {gamma, beta, mean, var}) {
    if (t->dim(0) != oc) {
      return Status::InvalidInput(bn.describe() + ": parameter of shape " + shape_str(t->shape()) +
                                  " does not match the " + std::to_string(oc) +
                                  " output channels of " + conv.describe());
    }
  }
  if (b && b->dim(0) != oc) {
    return Status::InvalidInput(conv.describe() + ": bias of shape " + shape_str(b->shape()) +
                                " does not match " + std::to_string(oc) + " output channels");
  }

  // Scale and shift in double: the folded model should match the unfolded one to f32 rounding.
  const double eps = bn.attr_float("epsilon", 1e-5f);
  const int64_t per_oc = oc == 0 ? 0 : w->numel() / oc;
  Tensor w_new(DType::kF32, w->shape());
  Tensor b_new(DType::kF32, {oc});
  const float* wd = w->data<float>();
  float* wn = w_new.data<float>();
  for (int64_t c = 0; c < oc; ++c) {
    const double s = static_cast<double>(gamma->data<float>()[c]) /
                     std::sqrt(static_cast<double>(var->data<float>()[c]) + eps);
    for (int64_t k = 0; k < per_oc; ++k) {
      wn[c * per_oc + k] = static_cast<float>(static_cast<double>(wd[c * per_oc + k]) * s);
    }
    const double bias = b ? b->data<float>()[c] : 0.0;
    b_new.data<float>()[c] = static_cast<float>((bias - mean->data<float>()[c]) * s +
                                                beta->data<float>()[c]);
  }

  // Reuse the parameter names when nothing else reads them, so names stay stable.
  const std::string w_name = conv.inputs[1];
  const std::string w_out =
      count_uses(g, removed, w_name) == 1 ? w_name : unique_name(g, w_name + "_folded");
  std::string b_out;
  if (b) {
    b_out = count_uses(g, removed, b_name) == 1 ? b_name : unique_name(g, b_name + "_folded");
  } else {
    const std::string& beta_name = bn.inputs[2];
    b_out = count_uses(g, removed, beta_name) == 1 ? beta_name : unique_name(g, conv.name + ".bias");
  }
  g.initializers[w_out] = std::move(w_new);
  g.initializers[b_out] = std::move(b_new);
  conv.inputs.resize(3);
  conv.inputs[1] = w_out;
  conv.inputs[2] = b_out;
  conv.outputs[0] = bn.outputs[0];
  removed[bn_i] = true;
  g.value_info.erase(x);

  // Drop the parameters nobody reads any more.
  std::set<std::string> params(bn.inputs.begin() + 1, bn.inputs.end());
  params.insert(w_name);
  if (!b_name.empty()) params.insert(b_name);
  for (const auto& p : params) {
    if (count_uses(g, removed, p) == 0 && !is_graph_output(g, p)) g.initializers.erase(p);
  }
  return true;
}

void rename_uses(Graph& g, const std::vector<bool>& removed, const std::string& from,
                 const std::string& to) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (removed[i]) continue;
    for (auto& in : g.nodes[i].inputs) if (in == from) in = to;
  }
}

void erase_removed(Graph& g, const std::vector<bool>& removed) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
}

// Initializers no node (nor a subgraph, through implicit inputs) reads and that are not graph
// inputs or outputs.
void drop_unread_initializers(Graph& g) {
  std::set<std::string> used;
  for (const Node& n : g.nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    for (auto& in : n.implicit_inputs()) used.insert(std::move(in));
  }
  for (const ValueInfo& v : g.outputs) used.insert(v.name);
  for (const ValueInfo& v : g.inputs) used.insert(v.name);
  for (auto it = g.initializers.begin(); it != g.initializers.end();) {
    it = used.count(it->first) ? std::next(it) : g.initializers.erase(it);
  }
}

}  // namespace

Status fold_batch_norm(Graph& g) {
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op_type != "BatchNormalization" || !n.domain.empty()) continue;
    auto folded = try_fold(g, removed, i);
    if (!folded.ok()) return folded.status();
  }
  erase_removed(g, removed);
  return Status::Ok();
}

Status remove_identity(Graph& g) {
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op_type != "Identity" || !n.domain.empty()) continue;
    if (n.inputs.size() != 1 || n.outputs.size() != 1 || n.inputs[0].empty()) {
      return Status::InvalidInput(n.describe() + ": expects one input and one output");
    }
    const std::string in = n.inputs[0];
    const std::string out = n.outputs[0];
    if (read_by_subgraph(g, removed, in) || read_by_subgraph(g, removed, out)) continue;
    if (!is_graph_output(g, out)) {
      removed[i] = true;
      rename_uses(g, removed, out, in);
      g.value_info.erase(out);
      continue;
    }
    // The graph output name must survive: rename the input instead, if it is an intermediate.
    if (is_graph_output(g, in) || is_graph_input(g, in) || g.initializers.count(in)) continue;
    size_t producer = g.nodes.size();
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      if (removed[k] || k == i) continue;
      for (const auto& o : g.nodes[k].outputs) if (o == in) producer = k;
    }
    if (producer == g.nodes.size()) continue;
    removed[i] = true;
    for (auto& o : g.nodes[producer].outputs) if (o == in) o = out;
    rename_uses(g, removed, in, out);
    g.value_info.erase(in);
  }
  erase_removed(g, removed);
  return Status::Ok();
}

Status fold_constant_transposes(Graph& g) {
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op_type != "Transpose" || !n.domain.empty() || n.inputs.size() != 1 ||
        n.outputs.size() != 1 || is_graph_output(g, n.outputs[0])) {
      continue;
    }
    auto it = g.initializers.find(n.inputs[0]);
    if (it == g.initializers.end()) continue;
    const Tensor& x = it->second;
    const int64_t rank = x.rank();
    std::vector<int64_t> perm = n.attr_ints("perm");
    if (perm.empty()) {
      for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
    }
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    bool valid = static_cast<int64_t>(perm.size()) == rank;
    for (int64_t p : perm) {
      valid = valid && p >= 0 && p < rank && !seen[static_cast<size_t>(p)];
      if (valid) seen[static_cast<size_t>(p)] = true;
    }
    if (!valid) return Status::InvalidInput(n.describe() + ": perm is not a permutation of the input's axes");

    Shape out_shape(static_cast<size_t>(rank));
    std::vector<int64_t> in_strides(static_cast<size_t>(rank), 1);
    for (int64_t d = rank - 2; d >= 0; --d) {
      in_strides[static_cast<size_t>(d)] = in_strides[static_cast<size_t>(d + 1)] * x.dim(d + 1);
    }
    for (int64_t d = 0; d < rank; ++d) out_shape[static_cast<size_t>(d)] = x.dim(perm[static_cast<size_t>(d)]);
    Tensor y(x.dtype(), out_shape);
    const size_t esize = dtype_size(x.dtype());
    const auto* src = static_cast<const uint8_t*>(x.raw());
    auto* dst = static_cast<uint8_t*>(y.raw());
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);  // output coordinates, odometer order
    for (int64_t o = 0; o < y.numel(); ++o) {
      int64_t off = 0;
      for (int64_t d = 0; d < rank; ++d) {
        off += idx[static_cast<size_t>(d)] * in_strides[static_cast<size_t>(perm[static_cast<size_t>(d)])];
      }
      std::memcpy(dst + static_cast<size_t>(o) * esize, src + static_cast<size_t>(off) * esize, esize);
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++idx[static_cast<size_t>(d)] < out_shape[static_cast<size_t>(d)]) break;
        idx[static_cast<size_t>(d)] = 0;
      }
    }
    g.initializers[n.outputs[0]] = std::move(y);
    removed[i] = true;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
  // Initializers only the folded Transposes read are dropped.
  drop_unread_initializers(g);
  return Status::Ok();
}

Status constants_to_initializers(Graph& g) {
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    const bool constant = n.op_type == "Constant" && n.domain.empty() && n.outputs.size() == 1 &&
                          !n.outputs[0].empty() && !is_graph_output(g, n.outputs[0]) &&
                          n.attrs.size() == 1;
    std::optional<Tensor> value;
    if (constant) {
      const auto& [key, a] = *n.attrs.begin();
      const int64_t count = static_cast<int64_t>(a.kind == Attribute::Kind::kInts ? a.ints.size()
                                                                                  : a.floats.size());
      if (key == "value" && a.kind == Attribute::Kind::kTensor && a.t.is_tensor() &&
          a.t.dtype() != DType::kString) {
        value = a.t;
      } else if (key == "value_float" && a.kind == Attribute::Kind::kFloat) {
        value = Tensor::from_f32({}, {a.f});
      } else if (key == "value_floats" && a.kind == Attribute::Kind::kFloats) {
        value = Tensor::from_f32({count}, a.floats);
      } else if (key == "value_int" && a.kind == Attribute::Kind::kInt) {
        value = Tensor::from_i64({}, {a.i});
      } else if (key == "value_ints" && a.kind == Attribute::Kind::kInts) {
        value = Tensor::from_i64({count}, a.ints);
      }
    }
    if (!value) {
      kept.push_back(std::move(n));
      continue;
    }
    g.initializers[n.outputs[0]] = std::move(*value);
  }
  g.nodes = std::move(kept);
  return Status::Ok();
}

namespace {

// fold_constants, reading initializers of the enclosing graphs too.
Status fold_constants_in_scope(Graph& g, const std::vector<const Graph*>& enclosing) {
  const ScopedGraph scope{&g, enclosing, nullptr};
  // Results may grow this much beyond their inputs (Expand, Tile, ConstantOfShape stay otherwise).
  constexpr size_t kGrowthBytes = size_t{1} << 20;
  static const std::set<std::string> kRandom = {"RandomNormal", "RandomUniform",
                                                "RandomNormalLike", "RandomUniformLike",
                                                "Multinomial", "Bernoulli"};
  std::set<std::string> folded_inputs;
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    bool foldable = n.domain.empty() && !kRandom.count(n.op_type) && n.subgraphs().empty() &&
                    !n.inputs.empty() && n.op_type != "Constant";
    size_t in_bytes = 0;
    for (const auto& in : n.inputs) {
      const Tensor* t = in.empty() ? nullptr : scope.initializer(in);
      foldable = foldable && (in.empty() || (t && t->is_tensor()));
      if (t) in_bytes += t->nbytes();
    }
    for (const auto& o : n.outputs) foldable = foldable && !o.empty() && !is_graph_output(g, o);
    std::vector<Tensor> values;
    if (foldable) {
      auto one = std::make_shared<Graph>();
      one->opset = g.opset;
      one->opset_imports = g.opset_imports;
      one->nodes.push_back(n);
      for (const auto& in : n.inputs) {
        if (!in.empty()) one->initializers[in] = *scope.initializer(in);
      }
      for (const auto& o : n.outputs) one->outputs.push_back(ValueInfo{o});
      auto exec = Executor::create(one);
      auto out = exec.ok() ? exec->run({}) : Result<std::vector<Tensor>>(exec.status());
      size_t out_bytes = 0;
      if (out.ok()) {
        for (const Tensor& t : *out) out_bytes += t.is_tensor() ? t.nbytes() : 0;
      }
      foldable = out.ok() && out_bytes <= in_bytes + kGrowthBytes &&
                 std::all_of(out->begin(), out->end(), [](const Tensor& t) { return t.is_tensor(); });
      if (foldable) values = std::move(out).value();
    }
    if (!foldable) {
      kept.push_back(std::move(n));
      continue;
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      g.initializers[n.outputs[k]] = std::move(values[k]);
      g.value_info.erase(n.outputs[k]);
    }
    folded_inputs.insert(n.inputs.begin(), n.inputs.end());
  }
  g.nodes = std::move(kept);
  std::set<std::string> used;
  for (const Node& n : g.nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    for (auto& in : n.implicit_inputs()) used.insert(std::move(in));
  }
  for (const ValueInfo& v : g.outputs) used.insert(v.name);
  for (const auto& name : folded_inputs) {
    if (!used.count(name)) g.initializers.erase(name);
  }
  return Status::Ok();
}

}  // namespace

Status fold_constants(Graph& g) { return fold_constants_in_scope(g, {}); }

namespace {

void rename_nodes(Graph& g, std::set<std::string>& taken) {
  for (Node& n : g.nodes) {
    if (n.name.empty() || taken.count(n.name)) {
      const std::string base = n.name.empty() ? n.op_type : n.name;
      std::string name = base;
      for (int k = 1; taken.count(name); ++k) name = base + "_" + std::to_string(k);
      n.name = name;
    }
    taken.insert(n.name);
  }
  Status s = rewrite_subgraphs(g, [&](Graph& sub) {
    rename_nodes(sub, taken);
    return Status::Ok();
  });
  (void)s;  // the callback never fails
}

Status prepare_graph(Graph& g, const std::vector<const Graph*>& enclosing) {
  QT_RETURN_IF_ERROR(constants_to_initializers(g));
  QT_RETURN_IF_ERROR(fold_constants_in_scope(g, enclosing));
  QT_RETURN_IF_ERROR(fold_constant_transposes(g));
  QT_RETURN_IF_ERROR(fold_batch_norm(g));
  QT_RETURN_IF_ERROR(remove_identity(g));
  std::vector<const Graph*> inner = enclosing;
  inner.push_back(&g);
  QT_RETURN_IF_ERROR(rewrite_subgraphs(g, [&](Graph& sub) { return prepare_graph(sub, inner); }));
  // Constants that only folded nodes of subgraphs read are gone with them.
  drop_unread_initializers(g);
  return g.topological_sort(ScopedGraph{&g, enclosing, nullptr}.outer_names());
}

}  // namespace

Status unique_node_names(Graph& g) {
  // Names already unique keep theirs; of a repeated name the first holder (a graph before its
  // subgraphs) keeps it.
  std::set<std::string> taken;
  rename_nodes(g, taken);
  return Status::Ok();
}

Result<Graph> prepare_fp32_for_quantization(const Graph& g) {
  Graph out = g;
  QT_RETURN_IF_ERROR(unique_node_names(out));
  QT_RETURN_IF_ERROR(prepare_graph(out, std::vector<const Graph*>{}));
  return out;
}

namespace {

bool has_qdq(const Graph& g) {
  for (const Node& n : g.nodes) {
    if ((n.domain.empty() || n.domain == "ai.onnx") &&
        (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear")) {
      return true;
    }
    for (const auto& [name, a] : n.attrs) {
      if (a.kind == Attribute::Kind::kGraph && a.g && has_qdq(*a.g)) return true;
      if (a.kind == Attribute::Kind::kGraphs) {
        for (const auto& sub : a.graphs) {
          if (sub && has_qdq(*sub)) return true;
        }
      }
    }
  }
  return false;
}

}  // namespace

Result<Graph> prepare_for_running(const Graph& g) {
  if (has_qdq(g)) return g;
  return prepare_fp32_for_quantization(g);
}

}  // namespace qtune
