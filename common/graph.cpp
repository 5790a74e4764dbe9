#include "common/graph.h"

#include <deque>
#include <set>
#include <unordered_map>

namespace qtune {

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.i;
}
float Node::attr_float(const std::string& key, float fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.f;
}
std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.s;
}
std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.ints;
}
std::vector<float> Node::attr_floats(const std::string& key, std::vector<float> fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.floats;
}
std::vector<const Graph*> Node::subgraphs() const {
  std::vector<const Graph*> out;
  for (const auto& [key, a] : attrs) {
    if (a.kind == Attribute::Kind::kGraph && a.g) out.push_back(a.g.get());
    if (a.kind == Attribute::Kind::kGraphs) {
      for (const auto& g : a.graphs) if (g) out.push_back(g.get());
    }
  }
  return out;
}

std::vector<std::string> Node::implicit_inputs() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const Graph* g : subgraphs()) {
    for (auto& name : g->outer_scope_names()) {
      if (seen.insert(name).second) out.push_back(std::move(name));
    }
  }
  return out;
}

std::string Node::describe() const { return "node '" + name + "' (" + op_type + ")"; }

const Tensor* Graph::initializer(const std::string& n) const {
  auto it = initializers.find(n);
  return it == initializers.end() ? nullptr : &it->second;
}

const ValueInfo* Graph::find_value(const std::string& n) const {
  for (const auto& v : inputs) if (v.name == n) return &v;
  for (const auto& v : outputs) if (v.name == n) return &v;
  auto it = value_info.find(n);
  return it == value_info.end() ? nullptr : &it->second;
}

std::vector<std::string> Graph::outer_scope_names() const {
  std::set<std::string> defined;
  for (const auto& v : inputs) defined.insert(v.name);
  for (const auto& [n, t] : initializers) defined.insert(n);
  for (const auto& n : nodes) {
    for (const auto& o : n.outputs) defined.insert(o);
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto use = [&](const std::string& name) {
    if (!name.empty() && !defined.count(name) && seen.insert(name).second) out.push_back(name);
  };
  for (const auto& n : nodes) {
    for (const auto& in : n.inputs) use(in);
    for (const auto& in : n.implicit_inputs()) use(in);
  }
  return out;
}

Status Graph::topological_sort() { return topological_sort({}); }

Status Graph::topological_sort(const std::set<std::string>& outer_scope) {
  std::set<std::string> available;
  for (const auto& v : inputs) available.insert(v.name);
  for (const auto& [n, t] : initializers) available.insert(n);
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& o : nodes[i].outputs) {
      if (o.empty()) continue;
      if (!producer.emplace(o, i).second || available.count(o)) {
        return Status::InvalidInput(nodes[i].describe() + ": output '" + o +
                                    "' is produced more than once");
      }
    }
  }
  // Kahn's algorithm, stable in the original order so the result is deterministic.
  std::vector<int> missing(nodes.size(), 0);
  std::unordered_map<std::string, std::vector<size_t>> consumers;
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::set<std::string> seen;
    std::vector<std::string> reads = nodes[i].inputs;
    for (auto& in : nodes[i].implicit_inputs()) reads.push_back(std::move(in));
    for (const auto& in : reads) {
      if (in.empty() || available.count(in) || !seen.insert(in).second) continue;
      const bool produced = producer.count(in) != 0;
      if (!produced && outer_scope.count(in)) continue;
      if (!produced) {
        return Status::InvalidInput(nodes[i].describe() + ": input '" + in +
                                    "' is not a graph input, initializer or node output");
      }
      ++missing[i];
      consumers[in].push_back(i);
    }
  }
  std::deque<size_t> ready;
  for (size_t i = 0; i < nodes.size(); ++i) if (missing[i] == 0) ready.push_back(i);
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  std::vector<bool> done(nodes.size(), false);
  while (!ready.empty()) {
    size_t i = ready.front();
    ready.pop_front();
    done[i] = true;
    sorted.push_back(nodes[i]);
    for (const auto& o : nodes[i].outputs) {
      auto it = consumers.find(o);
      if (it == consumers.end()) continue;
      for (size_t c : it->second) if (--missing[c] == 0) ready.push_back(c);
    }
  }
  if (sorted.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!done[i]) return Status::InvalidInput(nodes[i].describe() + " is part of a cycle");
    }
  }
  nodes = std::move(sorted);
  return Status::Ok();
}

std::set<std::string> Graph::defined_names() const {
  std::set<std::string> out;
  for (const auto& v : inputs) out.insert(v.name);
  for (const auto& [n, t] : initializers) out.insert(n);
  for (const auto& n : nodes) {
    for (const auto& o : n.outputs) {
      if (!o.empty()) out.insert(o);
    }
  }
  return out;
}

const Tensor* ScopedGraph::initializer(const std::string& name) const {
  if (const Tensor* t = graph->initializer(name)) return t;
  if (graph->defined_names().count(name)) return nullptr;
  for (auto it = enclosing.rbegin(); it != enclosing.rend(); ++it) {
    // A name the inner scope defines otherwise is not the outer constant.
    if (const Tensor* t = (*it)->initializer(name)) return t;
    if ((*it)->defined_names().count(name)) return nullptr;
  }
  return nullptr;
}

std::set<std::string> ScopedGraph::outer_names() const {
  std::set<std::string> out;
  for (const Graph* g : enclosing) {
    std::set<std::string> d = g->defined_names();
    out.insert(d.begin(), d.end());
  }
  return out;
}

namespace {
void collect_tree(const Graph& g, std::vector<const Graph*>& enclosing, const Node* owner,
                  std::vector<ScopedGraph>* out) {
  out->push_back({&g, enclosing, owner});
  enclosing.push_back(&g);
  for (const Node& n : g.nodes) {
    for (const Graph* sub : n.subgraphs()) collect_tree(*sub, enclosing, &n, out);
  }
  enclosing.pop_back();
}
}  // namespace

std::vector<ScopedGraph> graph_tree(const Graph& root) {
  std::vector<ScopedGraph> out;
  std::vector<const Graph*> enclosing;
  collect_tree(root, enclosing, nullptr, &out);
  return out;
}

Status rewrite_subgraphs(Graph& g, const std::function<Status(Graph& sub)>& fn) {
  for (Node& n : g.nodes) {
    for (auto& [key, a] : n.attrs) {
      if (a.kind == Attribute::Kind::kGraph && a.g) {
        Graph copy = *a.g;
        QT_RETURN_IF_ERROR(fn(copy));
        a.g = std::make_shared<const Graph>(std::move(copy));
      } else if (a.kind == Attribute::Kind::kGraphs) {
        for (auto& sub : a.graphs) {
          if (!sub) continue;
          Graph copy = *sub;
          QT_RETURN_IF_ERROR(fn(copy));
          sub = std::make_shared<const Graph>(std::move(copy));
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace qtune
