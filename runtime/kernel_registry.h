// The one table of operator kernels the graph executor dispatches to. Each kernel is registered
// once with its domain, op type, the opset range it implements (since/until, inclusive, as ONNX
// Runtime's versioned kernel registrations) and the element types it takes; an opset change is a
// new registration beside the old one, never an `if (opset >= N)` inside the kernel.
// Kernels live in runtime/ops/NAME.cpp, each file defining `register_NAME_kernels`; the build
// generates the list that calls them. The table is built once, on first use, and is read-only
// (thread-safe) afterwards.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/graph.h"

namespace qtune {

// Newest ai.onnx opset the linked libonnx (1.12) defines; kernels that still match the newest
// schema register up to here.
inline constexpr int kLatestOpset = 17;

// State one node keeps across runs of its executor, such as weights packed once per model.
// Keyed by the constant input it was built from, so a different tensor rebuilds it. Thread-safe.
class NodeCache {
 public:
  template <typename T, typename Make>
  std::shared_ptr<const T> get(const void* key, Make&& make) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!value_ || key_ != key) {
      value_ = std::make_shared<const T>(make());
      key_ = key;
    }
    return std::static_pointer_cast<const T>(value_);
  }

 private:
  std::mutex mu_;
  const void* key_ = nullptr;
  std::shared_ptr<const void> value_;
};

class KernelRegistry;
// Sees every value a node produces, by name (calibration hooks in here).
using ValueObserver = std::function<void(const std::string& value_name, const Tensor& value)>;

// What one op invocation sees: the node, its inputs (nullptr for omitted optional inputs) and the
// outputs it must fill (one per node output, in order).
struct OpContext {
  const Node& node;
  int64_t opset;
  std::vector<const Tensor*> inputs;
  std::vector<Tensor> outputs;
  NodeCache* cache = nullptr;          // null when the caller keeps no state between runs
  std::vector<bool> constant_inputs;   // true where the input is a graph initializer
  // What a node running a subgraph (If, Loop, Scan) hands on to it: the extra (fused) ops its
  // executor looks up, and the observer that sees every value the subgraph produces.
  const KernelRegistry* extra_ops = nullptr;
  const ValueObserver* observer = nullptr;

  size_t num_inputs() const { return inputs.size(); }
  const Tensor* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  // Only constant inputs may key a NodeCache: an activation's buffer address can be reused.
  bool input_is_constant(size_t i) const {
    return i < constant_inputs.size() && constant_inputs[i];
  }
  // Error helpers that name the node, so every op reports the same way.
  Status invalid(const std::string& what) const { return Status::InvalidInput(node.describe() + ": " + what); }
  Status unsupported(const std::string& what) const {
    return Status::Unsupported(node.describe() + ": " + what);
  }
};

using OpFn = std::function<Status(OpContext&)>;

// What one registration implements.
struct KernelDef {
  std::string domain;                // "" is ai.onnx; fused ops use their adaptor's domain
  std::string op_type;
  int since = 1;                     // first opset of the domain this kernel implements
  int until = kLatestOpset;          // last one, inclusive
  std::vector<DType> types;          // element types of input `type_input`; empty = any
  int type_input = 0;                // which input's element type `types` constrains
};

struct Kernel {
  KernelDef def;
  OpFn fn;
};

class KernelRegistry {
 public:
  // The standard kernels (every runtime/ops/*.cpp).
  static const KernelRegistry& instance();

  // The kernel for (domain, op_type) at `opset`, or nullptr. Domains other than ai.onnx are
  // matched at any version when `opset` is 0 (the model did not import that domain's version).
  const Kernel* find(std::string_view domain, std::string_view op_type, int64_t opset) const;
  // The kernel with the newest opset range, for callers that run a known op outside a model.
  const OpFn* find(std::string_view domain, std::string_view op_type) const;

  // Registers one kernel; a range that overlaps an earlier registration of the same op is a
  // programming error and aborts with both ranges named.
  void add(KernelDef def, OpFn fn);

  // Every registration, ordered by (domain, op_type, since).
  std::vector<const Kernel*> kernels() const;
  std::vector<std::string> op_types() const;  // "Conv", or "qtune::QConv" outside ONNX's domain

  // "Relu" or "qtune::QConv": the key ops are listed and looked up by.
  static std::string key(std::string_view domain, std::string_view op_type) {
    return domain.empty() || domain == "ai.onnx" ? std::string(op_type)
                                                 : std::string(domain) + "::" + std::string(op_type);
  }

 private:
  std::map<std::string, std::vector<Kernel>, std::less<>> table_;  // each vector sorted by since
};

// The type check the executor applies before calling a kernel: Unsupported naming the node, the
// element type and what the kernel takes.
Status check_kernel_types(const Kernel& k, const OpContext& ctx);

}  // namespace qtune
