#include "adaptors/runtime/executor.h"

#include <exception>
#include <set>
#include <unordered_map>

namespace qtune {

namespace {
const OpFn* find_op(const Node& n, const OpRegistry* extra_ops) {
  if (extra_ops) {
    if (const OpFn* fn = extra_ops->find(n.domain, n.op_type)) return fn;
  }
  return OpRegistry::instance().find(n.domain, n.op_type);
}
}  // namespace

std::vector<std::string> unsupported_nodes(const Graph& graph, const OpRegistry* extra_ops) {
  std::vector<std::string> out;
  for (const auto& n : graph.nodes) {
    if (!find_op(n, extra_ops)) {
      out.push_back(n.describe() + (n.domain.empty() ? "" : " in domain '" + n.domain + "'"));
    }
  }
  return out;
}

Result<Executor> Executor::create(std::shared_ptr<const Graph> graph,
                                  const OpRegistry* extra_ops) {
  Executor e;
  for (size_t i = 0; i < graph->nodes.size(); ++i) {
    const Node& n = graph->nodes[i];
    const OpFn* fn = find_op(n, extra_ops);
    if (!fn) {
      return Status::Unsupported(n.describe() + ": op type '" + n.op_type + "'" +
                                 (n.domain.empty() ? "" : " of domain '" + n.domain + "'") +
                                 " is not supported");
    }
    e.ops_.push_back(fn);
    e.caches_.push_back(std::make_unique<NodeCache>());
    for (const auto& in : n.inputs) if (!in.empty()) e.last_use_[in] = i;
  }
  for (const auto& o : graph->outputs) e.last_use_[o.name] = graph->nodes.size();
  e.graph_ = std::move(graph);
  return e;
}

Status Executor::check_input(const ValueInfo& info, const Tensor& t) const {
  if (info.dtype != DType::kUndefined && info.dtype != t.dtype()) {
    return Status::InvalidInput("input '" + info.name + "': expected " +
                                std::string(dtype_name(info.dtype)) + ", got " +
                                std::string(dtype_name(t.dtype())));
  }
  if (info.shape) {
    const Shape& want = *info.shape;
    bool match = want.size() == t.shape().size();
    for (size_t i = 0; match && i < want.size(); ++i) {
      match = want[i] < 0 || want[i] == t.shape()[i];
    }
    if (!match) {
      return Status::InvalidInput("input '" + info.name + "': expected shape " + shape_str(want) +
                                  ", got " + shape_str(t.shape()));
    }
  }
  return Status::Ok();
}

Result<std::vector<Tensor>> Executor::run(const std::vector<Tensor>& inputs,
                                          const Observer& observer) const {
  const Graph& g = *graph_;
  if (inputs.size() != g.inputs.size()) {
    return Status::InvalidInput("model expects " + std::to_string(g.inputs.size()) +
                                " inputs, got " + std::to_string(inputs.size()));
  }
  std::unordered_map<std::string, Tensor> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    QT_RETURN_IF_ERROR(check_input(g.inputs[i], inputs[i]));
    values[g.inputs[i].name] = inputs[i];
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    OpContext ctx{n, g.opset, {}, {}};
    ctx.cache = caches_[i].get();
    ctx.inputs.reserve(n.inputs.size());
    ctx.constant_inputs.assign(n.inputs.size(), false);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const std::string& name = n.inputs[k];
      if (name.empty()) {
        ctx.inputs.push_back(nullptr);
        continue;
      }
      auto it = values.find(name);
      if (it != values.end()) {
        ctx.inputs.push_back(&it->second);
      } else if (const Tensor* init = g.initializer(name)) {
        ctx.inputs.push_back(init);
        ctx.constant_inputs[k] = true;
      } else {
        return Status::InvalidInput(n.describe() + ": input '" + name + "' has no value");
      }
    }
    ctx.outputs.resize(n.outputs.size());
    Status s;
    try {
      s = (*ops_[i])(ctx);
    } catch (const std::exception& e) {
      s = Status::Internal(n.describe() + ": " + e.what());
    }
    if (!s.ok()) return s;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k].empty()) continue;
      if (ctx.outputs[k].empty()) {
        return Status::Internal(n.describe() + ": produced no value for output '" +
                                n.outputs[k] + "'");
      }
      if (observer) observer(n.outputs[k], ctx.outputs[k]);
      values[n.outputs[k]] = std::move(ctx.outputs[k]);
    }
    // Free intermediates as soon as their last reader has run.
    for (const auto& name : n.inputs) {
      auto lu = last_use_.find(name);
      if (!name.empty() && lu != last_use_.end() && lu->second == i) values.erase(name);
    }
  }
  std::vector<Tensor> out;
  for (const auto& o : g.outputs) {
    auto it = values.find(o.name);
    if (it != values.end()) {
      out.push_back(it->second);
    } else if (const Tensor* init = g.initializer(o.name)) {
      out.push_back(*init);
    } else {
      return Status::InvalidInput("graph output '" + o.name + "' is never produced");
    }
  }
  return out;
}

}  // namespace qtune
