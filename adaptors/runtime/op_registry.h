// The table of operator implementations the graph executor dispatches to.
// Each op family registers itself from one function (ops_*.cpp); the table is built once, on
// first use, and is read-only (thread-safe) afterwards.
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

// What one op invocation sees: the node, its inputs (nullptr for omitted optional inputs) and the
// outputs it must fill (one per node output, in order).
struct OpContext {
  const Node& node;
  int64_t opset;
  std::vector<const Tensor*> inputs;
  std::vector<Tensor> outputs;
  NodeCache* cache = nullptr;          // null when the caller keeps no state between runs
  std::vector<bool> constant_inputs;   // true where the input is a graph initializer

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

class OpRegistry {
 public:
  static const OpRegistry& instance();

  // nullptr when (domain, op_type) has no implementation.
  const OpFn* find(std::string_view domain, std::string_view op_type) const;
  std::vector<std::string> op_types() const;  // "Conv", or "qtune::QConv" outside ONNX's domain

  // Adaptors register their fused ops under their own domain (e.g. "qtune").
  void add(const std::string& op_type, OpFn fn, const std::string& domain = "") {
    table_[key(domain, op_type)] = std::move(fn);
  }

 private:
  static std::string key(std::string_view domain, std::string_view op_type) {
    return domain.empty() || domain == "ai.onnx" ? std::string(op_type)
                                                 : std::string(domain) + "::" + std::string(op_type);
  }
  std::map<std::string, OpFn, std::less<>> table_;
};

// One per ops_*.cpp file; called once when the registry is built.
void register_elementwise_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_nn_ops(OpRegistry& r);
void register_normalization_ops(OpRegistry& r);
void register_quantization_ops(OpRegistry& r);

}  // namespace qtune
