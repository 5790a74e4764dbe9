// Small helpers the graph rewrites of adaptors share: reading a node's inputs, the graph with
// libonnx's inferred types, and who reads each tensor. Header-only; pure functions.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/graph.h"
#include "runtime/onnx_inference.h"

namespace qtune::graph_match {

inline const std::string& input_at(const Node& n, size_t i) {
  static const std::string kNone;
  return i < n.inputs.size() ? n.inputs[i] : kNone;
}

// The graph with value_info as libonnx infers it; nullopt when it cannot.
inline std::optional<Graph> typed(const Graph& g) {
  Graph t = g;
  if (!infer_graph_types(t).ok()) return std::nullopt;
  return t;
}

inline const Shape* shape_of(const Graph& t, const std::string& name) {
  const ValueInfo* v = t.find_value(name);
  return v && v->shape ? &*v->shape : nullptr;
}

inline DType dtype_of(const Graph& t, const std::string& name) {
  const ValueInfo* v = t.find_value(name);
  return v ? v->dtype : DType::kUndefined;
}

// Readers of every tensor (nodes reading it, subgraphs included) and the graph's outputs.
struct Readers {
  std::map<std::string, std::vector<size_t>> by_tensor;
  std::set<std::string> outputs;
  explicit Readers(const Graph& g) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      std::set<std::string> seen;
      for (const auto& in : g.nodes[i].inputs) {
        if (!in.empty() && seen.insert(in).second) by_tensor[in].push_back(i);
      }
      for (const auto& in : g.nodes[i].implicit_inputs()) {
        if (seen.insert(in).second) by_tensor[in].push_back(i);
      }
    }
    for (const auto& o : g.outputs) outputs.insert(o.name);
  }
  size_t count(const std::string& t) const {
    auto it = by_tensor.find(t);
    return it == by_tensor.end() ? 0 : it->second.size();
  }
};

// The index of the node producing each tensor.
inline std::map<std::string, size_t> producers(const Graph& g) {
  std::map<std::string, size_t> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs) {
      if (!o.empty()) out[o] = i;
    }
  }
  return out;
}

}  // namespace qtune::graph_match
