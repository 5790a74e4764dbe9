// Graph IR: nodes, attributes, initializers and value infos of one ONNX-like graph.
// Built by the ONNX loader (common/onnx_io.h), transformed by adaptors, run by the executor.
// A Graph is a value; it is not synchronised, share it as const.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"

namespace qtune {

// Declared type of a graph input/output/intermediate; -1 marks an unknown (dynamic) dimension.
// Sequences and optionals give the type of the tensors they hold in dtype/shape.
struct ValueInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  std::optional<Shape> shape;  // absent when even the rank is unknown
  ValueKind kind = ValueKind::kTensor;
  ValueKind optional_of = ValueKind::kTensor;  // an optional's value: a tensor or a sequence
};

struct Graph;

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kStrings, kTensor, kGraph, kGraphs, kType };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0.0f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  Tensor t;
  std::shared_ptr<const Graph> g;                   // kGraph: an If branch, a Loop/Scan body
  std::vector<std::shared_ptr<const Graph>> graphs;  // kGraphs
  ValueInfo type;                                    // kType: a TypeProto (Optional's `type`)
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;               // "" is the default ONNX domain
  std::vector<std::string> inputs;  // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attrs;

  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key, std::vector<float> fallback = {}) const;
  // The graphs of its graph attributes (If branches, Loop/Scan bodies), in attribute-name order.
  std::vector<const Graph*> subgraphs() const;
  // What those subgraphs read from enclosing scopes (Graph::outer_scope_names of each, without
  // repeats): the node's implicit inputs, which must exist before it runs.
  std::vector<std::string> implicit_inputs() const;
  // "node 'conv1' (Conv)": the phrase every error about a node starts with.
  std::string describe() const;
};


struct Graph {
  std::string name;
  int64_t opset = 13;  // default-domain opset the model was exported with
  std::map<std::string, int64_t> opset_imports;  // other domains' versions ("ai.onnx.ml": 3)
  std::vector<Node> nodes;
  std::map<std::string, Tensor> initializers;
  std::vector<ValueInfo> inputs;   // excludes initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, ValueInfo> value_info;  // inferred or declared intermediates

  const Tensor* initializer(const std::string& name) const;
  const ValueInfo* find_value(const std::string& name) const;  // inputs, outputs, value_info

  // Names the nodes (and their subgraphs) read that this graph does not define as an input,
  // initializer or node output, in first-use order: a subgraph's values from enclosing scopes.
  std::vector<std::string> outer_scope_names() const;

  // Orders nodes so every input, and every value their subgraphs read, is produced before use;
  // error names the node on a cycle or a dangling input. A subgraph passes the names its
  // enclosing scopes define as `outer_scope`.
  Status topological_sort();
  Status topological_sort(const std::set<std::string>& outer_scope);

  // Names this graph defines: inputs, initializers and node outputs (not its subgraphs' own).
  std::set<std::string> defined_names() const;
};

// One graph of a model with the graphs around it.
struct ScopedGraph {
  const Graph* graph = nullptr;
  std::vector<const Graph*> enclosing;  // outermost first; empty for the model's main graph
  const Node* owner = nullptr;          // the node whose attribute holds it; null for the root

  // An initializer as this graph sees it: its own, else the innermost enclosing graph's.
  const Tensor* initializer(const std::string& name) const;
  // Every name the enclosing graphs define (what the graph may read from outside).
  std::set<std::string> outer_names() const;
};

// `root`, then every subgraph (If branches, Loop/Scan bodies), depth first, each one after the
// graph that holds its node.
std::vector<ScopedGraph> graph_tree(const Graph& root);

// Applies `fn` to a copy of each subgraph of g's nodes (one level; `fn` recurses if it wants)
// and puts the result in its place. Stops at the first error.
Status rewrite_subgraphs(Graph& g, const std::function<Status(Graph& sub)>& fn);

}  // namespace qtune
