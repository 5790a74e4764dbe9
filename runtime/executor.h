// Executor: runs a Graph on concrete input tensors, node by node in topological order, with the
// ops in op_registry.h. Ops parallelise internally with TBB; the executor itself is sequential.
// Values may be tensors, sequences or optionals (common/tensor.h); a node whose subgraphs read
// outer values gets them after its own inputs, in Node::implicit_inputs() order, and runs the
// subgraph with an Executor of its own through run_subgraph.
// `run` is const; the only state kept between calls is per-node caches (packed weights) and the
// optional timing profile, both thread-safe, so one Executor may serve many threads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/kernel_registry.h"
#include "common/graph.h"

namespace qtune {

// Time spent in one op type's (or one node's) nodes over the profiled runs: wall time, and the
// process's CPU time (all threads) meanwhile, which a busy machine's preemptions do not inflate.
struct OpTypeTime {
  std::string op_type;  // "Conv", or "qtune::QGemm" outside ONNX's domain; or a node's name
  double ms = 0.0;
  double cpu_ms = 0.0;
  int64_t calls = 0;
};

class Executor {
 public:
  // Sees every value a node produces, subgraphs' included (calibration hooks in here).
  using Observer = ValueObserver;
  // Sees every value a node of this graph produces and may replace it before any consumer reads
  // it (`qtune diagnose` feeds each op of a quantized graph its fp32 inputs this way).
  using Interceptor = std::function<void(const std::string& value_name, Tensor& value)>;

  // Fails with kUnsupported naming the first node whose op has no implementation. `extra_ops`
  // (an adaptor's fused ops) are looked up before the standard ONNX ops; it must outlive the
  // Executor.
  static Result<Executor> create(std::shared_ptr<const Graph> graph,
                                 const KernelRegistry* extra_ops = nullptr);

  // Inputs in the order of graph().inputs; returns outputs in the order of graph().outputs.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs,
                                  const Observer& observer = nullptr) const;
  // run() with every value this graph's nodes produce passed through `intercept` (the graph's
  // outputs too; not the values inside subgraphs).
  Result<std::vector<Tensor>> run_intercepted(const std::vector<Tensor>& inputs,
                                              const Interceptor& intercept) const;

  // For a subgraph: `outer` holds the values of outer_scope() (what it reads from enclosing
  // graphs), in that order; nullptr where the enclosing graph has no value.
  Result<std::vector<Tensor>> run_subgraph(const std::vector<Tensor>& inputs,
                                           const std::vector<const Tensor*>& outer,
                                           const Observer& observer = nullptr) const;
  const std::vector<std::string>& outer_scope() const { return outer_scope_; }

  const Graph& graph() const { return *graph_; }

  // Times every node of later runs (off by default: no clock reads then). The profile sums
  // over all runs since enabling, by op type, slowest first.
  void enable_profiling();
  std::vector<OpTypeTime> profile(bool by_node = false) const;

 private:
  Executor() = default;
  Status check_input(const ValueInfo& info, const Tensor& t) const;
  Result<std::vector<Tensor>> run_impl(const std::vector<Tensor>& inputs,
                                       const std::vector<const Tensor*>& outer,
                                       const Observer& observer, const Interceptor& intercept) const;

  // Where a node input comes from, resolved once at create().
  struct InputRef {
    int32_t slot = -1;               // a run-time value (graph input or node output)
    const Tensor* init = nullptr;    // else a graph initializer
  };
  struct Step {
    std::vector<InputRef> inputs;    // "" inputs: slot -1 and no initializer
    std::vector<int32_t> outputs;    // -1 for an omitted output
    std::vector<int32_t> release;    // slots whose last reader is this node
    std::vector<bool> takes_values;  // inputs whose schema allows sequences/optionals
  };
  struct NodeTimes {
    std::atomic<int64_t> ns{0};
    std::atomic<int64_t> cpu_ns{0};
    std::atomic<int64_t> calls{0};
  };

  std::shared_ptr<const Graph> graph_;
  std::vector<const Kernel*> ops_;                  // one per node
  std::vector<std::unique_ptr<NodeCache>> caches_;  // one per node
  std::vector<Step> steps_;                         // one per node
  std::vector<int32_t> input_slots_;                // one per graph input
  std::vector<std::string> outer_scope_;
  std::vector<int32_t> outer_slots_;                // one per outer_scope_ name
  std::vector<InputRef> output_refs_;               // one per graph output
  std::vector<std::string> slot_names_;
  const KernelRegistry* extra_ops_ = nullptr;       // handed on to subgraphs
  std::unique_ptr<NodeTimes[]> times_;              // one per node while profiling
};

// Every node of `graph` whose op qtune cannot run, as "node 'x' (Op)" phrases.
std::vector<std::string> unsupported_nodes(const Graph& graph,
                                           const KernelRegistry* extra_ops = nullptr);

}  // namespace qtune
