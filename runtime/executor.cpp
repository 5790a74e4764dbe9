#include "runtime/executor.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <unordered_map>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <onnx/defs/schema.h>

#include "common/size_check.h"

namespace qtune {

namespace {
// Every run allocates and frees the same activation buffers. glibc would hand large ones back to
// the OS (mmap, or trimming the heap top) and fault their pages in again on the next batch, which
// cost lenet a third of its fp32 throughput; keep them in the heap instead. Process-wide, once.
void keep_activation_memory() {
#if defined(__GLIBC__)
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);   // glibc's maximum
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    return true;
  }();
  (void)done;
#endif
}

// CPU time of the whole process (all threads) so far, in ns: a node's share of it is what its
// kernels computed, whatever else ran on the machine meanwhile.
int64_t process_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

constexpr int32_t kMissing = -2;  // an input no node, graph input or initializer provides

// The opset the model imports for the node's domain (0 when it imports none).
int64_t domain_opset(const Graph& g, const Node& n) {
  if (n.domain.empty() || n.domain == "ai.onnx") return g.opset;
  auto it = g.opset_imports.find(n.domain);
  return it == g.opset_imports.end() ? 0 : it->second;
}

const Kernel* find_op(const Graph& g, const Node& n, const KernelRegistry* extra_ops) {
  const int64_t opset = domain_opset(g, n);
  if (extra_ops) {
    if (const Kernel* k = extra_ops->find(n.domain, n.op_type, opset)) return k;
  }
  return KernelRegistry::instance().find(n.domain, n.op_type, opset);
}

bool is_value_type(const std::string* type) {
  return type && (type->rfind("seq(", 0) == 0 || type->rfind("optional(", 0) == 0);
}

// Which of the node's inputs may be sequences or optionals, from its ONNX schema at the model's
// opset (the rest must be tensors: tensor kernels never see other values). Implicit inputs
// (outer values a subgraph reads) may be anything. Empty when no input may be.
std::vector<bool> value_inputs(const Graph& g, const Node& n, size_t n_inputs) {
  std::vector<bool> out;
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(
      n.op_type, static_cast<int>(domain_opset(g, n)), n.domain);
  const size_t explicit_inputs = n.inputs.size();
  for (size_t k = 0; k < n_inputs; ++k) {
    bool ok = k >= explicit_inputs;
    if (!ok && schema && !schema->inputs().empty()) {
      const auto& formals = schema->inputs();
      const auto& formal = formals[std::min(k, formals.size() - 1)];
      if (k < formals.size() || formal.GetOption() == onnx::OpSchema::Variadic) {
        for (const auto* type : formal.GetTypes()) ok = ok || is_value_type(type);
      }
    }
    if (ok) {
      out.resize(n_inputs, false);
      out[k] = true;
    }
  }
  return out;
}
}  // namespace

std::vector<std::string> unsupported_nodes(const Graph& graph, const KernelRegistry* extra_ops) {
  std::vector<std::string> out;
  for (const auto& n : graph.nodes) {
    if (!find_op(graph, n, extra_ops)) {
      out.push_back(n.describe() + (n.domain.empty() ? "" : " in domain '" + n.domain + "'"));
    }
    for (const Graph* sub : n.subgraphs()) {  // subgraph nodes run with the same kernels
      for (auto& inner : unsupported_nodes(*sub, extra_ops)) {
        out.push_back(inner + " in a subgraph of " + n.describe());
      }
    }
  }
  return out;
}

Result<Executor> Executor::create(std::shared_ptr<const Graph> graph,
                                  const KernelRegistry* extra_ops) {
  keep_activation_memory();
  Executor e;
  const Graph& g = *graph;
  std::unordered_map<std::string, int32_t> slot_of;
  auto new_slot = [&](const std::string& name) {
    auto [it, fresh] = slot_of.emplace(name, static_cast<int32_t>(e.slot_names_.size()));
    if (fresh) e.slot_names_.push_back(name);
    return it->second;
  };
  for (const auto& in : g.inputs) e.input_slots_.push_back(new_slot(in.name));
  e.outer_scope_ = g.outer_scope_names();
  for (const auto& name : e.outer_scope_) e.outer_slots_.push_back(new_slot(name));
  // Values come from earlier nodes or graph inputs before initializers, as run() always did.
  auto resolve = [&](const std::string& name) {
    InputRef r;
    if (name.empty()) return r;
    if (auto it = slot_of.find(name); it != slot_of.end()) {
      r.slot = it->second;
    } else if (const Tensor* init = g.initializer(name)) {
      r.init = init;
    } else {
      r.slot = kMissing;
    }
    return r;
  };
  std::vector<size_t> last_use;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const Kernel* kernel = find_op(g, n, extra_ops);
    if (!kernel) {
      return Status::Unsupported(n.describe() + ": op type '" + n.op_type + "'" +
                                 (n.domain.empty() ? "" : " of domain '" + n.domain + "'") +
                                 " is not supported at opset " +
                                 std::to_string(domain_opset(g, n)));
    }
    for (const Graph* sub : n.subgraphs()) {
      if (auto missing = unsupported_nodes(*sub, extra_ops); !missing.empty()) {
        return Status::Unsupported(missing.front() + " in a subgraph of " + n.describe() +
                                   " is not supported at opset " + std::to_string(sub->opset));
      }
    }
    e.ops_.push_back(kernel);
    e.caches_.push_back(std::make_unique<NodeCache>());
    Step s;
    for (const auto& in : n.inputs) s.inputs.push_back(resolve(in));
    for (const auto& in : n.implicit_inputs()) s.inputs.push_back(resolve(in));
    s.takes_values = value_inputs(g, n, s.inputs.size());
    for (const auto& out : n.outputs) s.outputs.push_back(out.empty() ? -1 : new_slot(out));
    e.steps_.push_back(std::move(s));
  }
  last_use.assign(e.slot_names_.size(), 0);
  std::vector<bool> read(e.slot_names_.size(), false);
  for (size_t i = 0; i < e.steps_.size(); ++i) {
    for (const InputRef& r : e.steps_[i].inputs) {
      if (r.slot >= 0) {
        last_use[static_cast<size_t>(r.slot)] = i;
        read[static_cast<size_t>(r.slot)] = true;
      }
    }
  }
  for (const auto& o : g.outputs) {
    InputRef r = resolve(o.name);
    if (r.slot >= 0) {
      last_use[static_cast<size_t>(r.slot)] = g.nodes.size();
      read[static_cast<size_t>(r.slot)] = true;
    }
    e.output_refs_.push_back(r);
  }
  for (const auto& in : g.inputs) read[static_cast<size_t>(slot_of.at(in.name))] = true;
  for (int32_t slot : e.outer_slots_) read[static_cast<size_t>(slot)] = true;
  // Free intermediates as soon as their last reader has run; values nobody reads right away.
  for (size_t slot = 0; slot < e.slot_names_.size(); ++slot) {
    if (last_use[slot] < g.nodes.size() && read[slot]) {
      e.steps_[last_use[slot]].release.push_back(static_cast<int32_t>(slot));
    }
  }
  for (Step& s : e.steps_) {
    for (int32_t o : s.outputs) {
      if (o >= 0 && !read[static_cast<size_t>(o)]) s.release.push_back(o);
    }
  }
  e.graph_ = std::move(graph);
  e.extra_ops_ = extra_ops;
  return e;
}

Status Executor::check_input(const ValueInfo& info, const Tensor& t) const {
  // An optional input takes a plain value of what it holds (run_impl wraps it).
  const bool wrappable = info.kind == ValueKind::kOptional && !t.is_optional() &&
                         t.kind() == info.optional_of;
  if (info.kind != t.kind() && !wrappable) {
    static constexpr const char* kKinds[] = {"a tensor", "a sequence", "an optional"};
    return Status::InvalidInput("input '" + info.name + "': expected " +
                                kKinds[static_cast<int>(info.kind)] + ", got " +
                                kKinds[static_cast<int>(t.kind())]);
  }
  if (!t.is_tensor()) return Status::Ok();
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

void Executor::enable_profiling() {
  if (!times_) times_ = std::make_unique<NodeTimes[]>(steps_.size());
}

std::vector<OpTypeTime> Executor::profile(bool by_node) const {
  std::vector<OpTypeTime> out;
  if (!times_) return out;
  std::map<std::string, OpTypeTime> by_type;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Node& n = graph_->nodes[i];
    const bool onnx = n.domain.empty() || n.domain == "ai.onnx";
    std::string type = onnx ? n.op_type : n.domain + "::" + n.op_type;
    if (by_node) type = n.name + " (" + type + ")";
    OpTypeTime& t = by_type[type];
    t.op_type = type;
    t.ms += static_cast<double>(times_[i].ns.load(std::memory_order_relaxed)) * 1e-6;
    t.cpu_ms += static_cast<double>(times_[i].cpu_ns.load(std::memory_order_relaxed)) * 1e-6;
    t.calls += times_[i].calls.load(std::memory_order_relaxed);
  }
  for (auto& [type, t] : by_type) out.push_back(std::move(t));
  std::stable_sort(out.begin(), out.end(),
                   [](const OpTypeTime& a, const OpTypeTime& b) { return a.ms > b.ms; });
  return out;
}

Result<std::vector<Tensor>> Executor::run(const std::vector<Tensor>& inputs,
                                          const Observer& observer) const {
  return run_impl(inputs, {}, observer, nullptr);
}

Result<std::vector<Tensor>> Executor::run_intercepted(const std::vector<Tensor>& inputs,
                                                      const Interceptor& intercept) const {
  return run_impl(inputs, {}, nullptr, intercept);
}

Result<std::vector<Tensor>> Executor::run_subgraph(const std::vector<Tensor>& inputs,
                                                   const std::vector<const Tensor*>& outer,
                                                   const Observer& observer) const {
  if (outer.size() != outer_slots_.size()) {
    return Status::Internal("subgraph '" + graph_->name + "' reads " +
                            std::to_string(outer_slots_.size()) + " outer values, got " +
                            std::to_string(outer.size()));
  }
  return run_impl(inputs, outer, observer, nullptr);
}

Result<std::vector<Tensor>> Executor::run_impl(const std::vector<Tensor>& inputs,
                                               const std::vector<const Tensor*>& outer,
                                               const Observer& observer,
                                               const Interceptor& intercept) const {
  const Graph& g = *graph_;
  if (inputs.size() != g.inputs.size()) {
    return Status::InvalidInput("model expects " + std::to_string(g.inputs.size()) +
                                " inputs, got " + std::to_string(inputs.size()));
  }
  std::vector<Tensor> values(slot_names_.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    QT_RETURN_IF_ERROR(check_input(g.inputs[i], inputs[i]));
    const bool wrap = g.inputs[i].kind == ValueKind::kOptional && !inputs[i].is_optional();
    values[static_cast<size_t>(input_slots_[i])] = wrap ? Tensor::optional(inputs[i]) : inputs[i];
  }
  for (size_t i = 0; i < outer.size(); ++i) {
    if (outer[i]) values[static_cast<size_t>(outer_slots_[i])] = *outer[i];
  }
  NodeTimes* times = times_.get();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const Step& step = steps_[i];
    OpContext ctx{n, g.opset, {}, {}};
    ctx.cache = caches_[i].get();
    ctx.extra_ops = extra_ops_;
    ctx.observer = observer ? &observer : nullptr;
    ctx.inputs.resize(step.inputs.size(), nullptr);
    ctx.constant_inputs.assign(step.inputs.size(), false);
    // Error path only: implicit inputs follow the node's own.
    auto input_name = [&n](size_t k) {
      return k < n.inputs.size() ? n.inputs[k] : n.implicit_inputs()[k - n.inputs.size()];
    };
    for (size_t k = 0; k < step.inputs.size(); ++k) {
      const InputRef& r = step.inputs[k];
      if (r.init) {
        ctx.inputs[k] = r.init;
        ctx.constant_inputs[k] = true;
      } else if (r.slot >= 0 && !values[static_cast<size_t>(r.slot)].empty()) {
        const Tensor& v = values[static_cast<size_t>(r.slot)];
        if (!v.is_tensor() && !(k < step.takes_values.size() && step.takes_values[k])) {
          return Status::InvalidInput(n.describe() + ": input '" + input_name(k) +
                                      "' must be a tensor at opset " +
                                      std::to_string(domain_opset(g, n)) + ", got a " +
                                      (v.is_sequence() ? "sequence" : "optional"));
        }
        ctx.inputs[k] = &v;
      } else if (r.slot != -1) {
        return Status::InvalidInput(n.describe() + ": input '" + input_name(k) + "' has no value");
      }
    }
    ctx.outputs.resize(n.outputs.size());
    const auto start = times ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    const int64_t cpu_start = times ? process_cpu_ns() : 0;
    Status s = check_kernel_types(*ops_[i], ctx);
    try {
      if (s.ok()) s = ops_[i]->fn(ctx);
    } catch (const SizeError& e) {
      s = Status::InvalidInput(n.describe() + ": " + e.what());
    } catch (const std::exception& e) {
      s = Status::Internal(n.describe() + ": " + e.what());
    }
    if (times) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now() - start);
      times[i].ns.fetch_add(ns.count(), std::memory_order_relaxed);
      times[i].cpu_ns.fetch_add(process_cpu_ns() - cpu_start, std::memory_order_relaxed);
      times[i].calls.fetch_add(1, std::memory_order_relaxed);
    }
    if (!s.ok()) return s;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (step.outputs[k] < 0) continue;
      if (ctx.outputs[k].empty()) {
        return Status::Internal(n.describe() + ": produced no value for output '" +
                                n.outputs[k] + "'");
      }
      if (intercept) intercept(n.outputs[k], ctx.outputs[k]);
      if (observer) observer(n.outputs[k], ctx.outputs[k]);
      values[static_cast<size_t>(step.outputs[k])] = std::move(ctx.outputs[k]);
    }
    for (int32_t slot : step.release) values[static_cast<size_t>(slot)] = Tensor();
  }
  std::vector<Tensor> out;
  for (size_t k = 0; k < output_refs_.size(); ++k) {
    const InputRef& r = output_refs_[k];
    if (r.init) {
      out.push_back(*r.init);
    } else if (r.slot >= 0 && !values[static_cast<size_t>(r.slot)].empty()) {
      out.push_back(values[static_cast<size_t>(r.slot)]);
    } else {
      return Status::InvalidInput("graph output '" + g.outputs[k].name + "' is never produced");
    }
  }
  return out;
}

}  // namespace qtune
