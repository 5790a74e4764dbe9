#include "coordinator/tuning_space.h"

#include <algorithm>
#include <set>

namespace qtune {

bool TunableOp::allows(OpPrecision p) const {
  return std::any_of(options.begin(), options.end(),
                     [&](const OpQuantConfig& c) { return c.precision == p; });
}

const OpQuantConfig& TunableOp::default_option() const {
  for (const auto& c : options) {
    if (c.precision == OpPrecision::kInt8 && c.activation.algorithm == CalibAlgorithm::kMinMax) {
      return c;
    }
  }
  for (const auto& c : options) {
    if (c.precision == OpPrecision::kInt8) return c;
  }
  return options.front();
}

const TunableOp* TuningSpace::find(const std::string& name) const {
  for (const auto& op : ops) {
    if (op.key.name == name) return &op;
  }
  return nullptr;
}

TuneConfig TuningSpace::default_config(int64_t calib_sampling_size) const {
  TuneConfig cfg;
  cfg.calib_sampling_size = calib_sampling_size;
  for (const auto& op : ops) cfg.ops[op.key.name] = op.default_option();
  return cfg;
}

std::vector<const TunableOp*> TuningSpace::int8_ops(const TuneConfig& cfg) const {
  std::vector<const TunableOp*> out;
  for (const auto& op : ops) {
    auto it = cfg.ops.find(op.key.name);
    if (it != cfg.ops.end() && it->second.precision == OpPrecision::kInt8) out.push_back(&op);
  }
  return out;
}

namespace {

bool listed(const std::vector<std::string>& allowed, const std::string& v) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

bool tensor_passes(const TensorConstraint& t, const TensorQuantSpec& s) {
  const std::string dtype = s.dtype == DType::kU8 ? "uint8" : "int8";
  return listed(t.dtype, dtype) && listed(t.scheme, to_string(s.scheme)) &&
         listed(t.granularity, to_string(s.granularity)) &&
         listed(t.algorithm, to_string(s.algorithm));
}

bool passes(const OpConstraint& c, const OpQuantConfig& o) {
  if (!listed(c.precision, to_string(o.precision))) return false;
  if (o.precision != OpPrecision::kInt8) return true;
  if (o.has_weight && !tensor_passes(c.weight, o.weight)) return false;
  return tensor_passes(c.activation, o.activation);
}

// A value the constraint lists that none of the op's configs has: outside the capability.
std::optional<std::string> unknown_value(const OpConstraint& c,
                                         const std::vector<OpQuantConfig>& options) {
  for (const auto& p : c.precision) {
    if (std::none_of(options.begin(), options.end(),
                     [&](const OpQuantConfig& o) { return to_string(o.precision) == p; })) {
      return "precision " + p;
    }
  }
  auto check = [&](const TensorConstraint& t, bool weight) -> std::optional<std::string> {
    const char* side = weight ? "weight" : "activation";
    auto values = [&](auto get) {
      std::set<std::string> s;
      for (const auto& o : options) {
        if (o.precision != OpPrecision::kInt8 || (weight && !o.has_weight)) continue;
        s.insert(get(weight ? o.weight : o.activation));
      }
      return s;
    };
    const std::pair<const std::vector<std::string>*, std::set<std::string>> fields[] = {
        {&t.dtype, values([](const TensorQuantSpec& s) {
           return std::string(s.dtype == DType::kU8 ? "uint8" : "int8");
         })},
        {&t.scheme, values([](const TensorQuantSpec& s) { return to_string(s.scheme); })},
        {&t.granularity, values([](const TensorQuantSpec& s) { return to_string(s.granularity); })},
        {&t.algorithm, values([](const TensorQuantSpec& s) { return to_string(s.algorithm); })},
    };
    for (const auto& [list, have] : fields) {
      for (const auto& v : *list) {
        if (!have.count(v)) return std::string(side) + " " + v;
      }
    }
    return std::nullopt;
  };
  if (auto w = check(c.weight, true)) return w;
  return check(c.activation, false);
}

}  // namespace

Result<TuningSpace> build_tuning_space(const Capability& cap, const Graph& graph,
                                       const TuningConfig& cfg) {
  const QuantMode mode = cfg.approach == "dynamic" ? QuantMode::kDynamic : QuantMode::kStatic;
  for (const auto& [type, c] : cfg.op_type_dict) {
    if (!cap.optypewise.count(type)) {
      return Status::InvalidInput(c.where + ": quantization.op_type_dict." + type +
                                  ": the model has no quantizable op of type '" + type + "'");
    }
  }
  std::set<std::string> names;
  for (const auto& [key, list] : cap.opwise) names.insert(key.name);
  for (const auto& [name, c] : cfg.op_name_dict) {
    if (!names.count(name)) {
      return Status::InvalidInput(c.where + ": quantization.op_name_dict." + name +
                                  ": not a quantizable op of the model (see qtune caps)");
    }
  }

  TuningSpace space;
  bool any_mode_option = false;
  std::vector<const Node*> nodes;  // graph order, each subgraph after the graph holding it
  for (const ScopedGraph& sg : graph_tree(graph)) {
    for (const Node& node : sg.graph->nodes) nodes.push_back(&node);
  }
  for (const Node* n : nodes) {
    const Node& node = *n;
    auto it = cap.opwise.find(OpKey{node.name, node.op_type});
    if (it == cap.opwise.end()) continue;
    TunableOp op;
    op.key = it->first;
    for (const auto& o : it->second) {
      if (o.precision == OpPrecision::kInt8 && o.mode != mode) continue;
      op.options.push_back(o);
    }
    any_mode_option = any_mode_option || op.allows(OpPrecision::kInt8);
    // op_name_dict replaces op_type_dict for the ops it names, as in INC.
    const OpConstraint* c = nullptr;
    std::string place;
    if (auto n = cfg.op_name_dict.find(op.key.name); n != cfg.op_name_dict.end()) {
      c = &n->second;
      place = "quantization.op_name_dict." + op.key.name;
    } else if (auto t = cfg.op_type_dict.find(op.key.op_type); t != cfg.op_type_dict.end()) {
      c = &t->second;
      place = "quantization.op_type_dict." + op.key.op_type;
    }
    if (c) {
      if (auto bad = unknown_value(*c, op.options)) {
        return Status::InvalidInput(c->where + ": " + place + ": " + *bad +
                                    " is outside the capability of op '" + op.key.name + "' (" +
                                    op.key.op_type + ", " + cfg.approach + ")");
      }
      std::vector<OpQuantConfig> kept;
      for (const auto& o : op.options) {
        if (passes(*c, o)) kept.push_back(o);
      }
      if (kept.empty()) {
        return Status::InvalidInput(c->where + ": " + place + ": leaves op '" + op.key.name +
                                    "' no config within the capability");
      }
      op.options = std::move(kept);
    }
    space.ops.push_back(std::move(op));
  }
  if (!space.ops.empty() && !any_mode_option) {
    return Status::InvalidInput(cfg.source_path + ": quantization.approach: no op of the model has " +
                                cfg.approach + " int8 quantization in this adaptor's capability");
  }
  return space;
}

}  // namespace qtune
