// Executor: runs a Graph on concrete input tensors, node by node in topological order, with the
// ops in op_registry.h. Ops parallelise internally with TBB; the executor itself is sequential.
// `run` is const; the only state kept between calls is per-node caches (packed weights), which
// are thread-safe, so one Executor may serve many threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adaptors/runtime/op_registry.h"
#include "common/graph.h"

namespace qtune {

class Executor {
 public:
  // Sees every value a node produces (calibration hooks in here).
  using Observer = std::function<void(const std::string& value_name, const Tensor& value)>;

  // Fails with kUnsupported naming the first node whose op has no implementation. `extra_ops`
  // (an adaptor's fused ops) are looked up before the standard ONNX ops; it must outlive the
  // Executor.
  static Result<Executor> create(std::shared_ptr<const Graph> graph,
                                 const OpRegistry* extra_ops = nullptr);

  // Inputs in the order of graph().inputs; returns outputs in the order of graph().outputs.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs,
                                  const Observer& observer = nullptr) const;

  const Graph& graph() const { return *graph_; }

 private:
  Executor() = default;
  Status check_input(const ValueInfo& info, const Tensor& t) const;

  std::shared_ptr<const Graph> graph_;
  std::vector<const OpFn*> ops_;                  // one per node
  std::vector<std::unique_ptr<NodeCache>> caches_;  // one per node
  std::map<std::string, size_t> last_use_;        // value -> index of the last node reading it
};

// Every node of `graph` whose op qtune cannot run, as "node 'x' (Op)" phrases.
std::vector<std::string> unsupported_nodes(const Graph& graph,
                                           const OpRegistry* extra_ops = nullptr);

}  // namespace qtune
