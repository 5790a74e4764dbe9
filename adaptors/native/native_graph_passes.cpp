#include "adaptors/native/native_graph_passes.h"

#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "adaptors/lowering.h"
#include "kernels/quantize_ref.h"
#include "adaptors/graph_match.h"

namespace qtune {
namespace {

using namespace graph_match;

bool is_fused(const Node& n, const std::string& domain, const char* op) {
  return n.domain == domain && n.op_type == op;
}

Attribute string_attr(const std::string& s) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = s;
  return a;
}

// Two shapes the same at run time whatever the batch: equal, every dim known but the first.
bool same_shape(const Shape* a, const Shape* b) {
  if (!a || !b || a->size() != b->size() || a->empty()) return false;
  for (size_t d = 0; d < a->size(); ++d) {
    if ((*a)[d] != (*b)[d] || ((*a)[d] < 0 && d != 0)) return false;
  }
  return true;
}

// The same constant scalar (or both absent).
bool same_constant(const Graph& g, const std::string& a, const std::string& b) {
  if (a == b) return true;
  const Tensor* x = g.initializer(a);
  const Tensor* y = g.initializer(b);
  if (!x || !y || x->dtype() != y->dtype() || x->numel() != 1 || y->numel() != 1) return false;
  return std::memcmp(x->raw(), y->raw(), x->nbytes()) == 0;
}

}  // namespace

Graph fuse_conv_add(const Graph& g, const std::string& domain) {
  const std::optional<Graph> t = typed(g);
  if (!t) return g;
  const Readers readers(g);
  const std::map<std::string, size_t> producer = producers(g);
  std::vector<std::optional<Node>> replacement(g.nodes.size());
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& add = g.nodes[i];
    if (!is_fused(add, domain, kQAddOp) || add.outputs.size() != 1) continue;
    for (size_t k = 0; k < 2; ++k) {
      const std::string& mine = input_at(add, 3 * k);
      const std::string& other = input_at(add, 3 * (1 - k));
      auto p = producer.find(mine);
      if (p == producer.end() || removed[p->second] || replacement[p->second]) continue;
      const Node& conv = g.nodes[p->second];
      const std::string conv_type = conv.attr_string("out_dtype", "");
      if (!is_fused(conv, domain, kQConvOp) || !input_at(conv, 8).empty() ||
          (conv_type != "u8" && conv_type != "s8") || readers.count(mine) != 1 ||
          readers.outputs.count(mine)) {
        continue;
      }
      // The Add dequantizes the convolution's output with the convolution's own parameters,
      // and its other operand is an 8-bit tensor of the same shape.
      if (!same_constant(g, input_at(add, 3 * k + 1), input_at(conv, 6)) ||
          !same_constant(g, input_at(add, 3 * k + 2), input_at(conv, 7)) ||
          input_at(add, 3 * (1 - k) + 1).empty() || !is_q8(dtype_of(*t, other)) ||
          !same_shape(shape_of(*t, mine), shape_of(*t, other))) {
        continue;
      }
      Node n = conv;
      n.inputs.resize(13);
      n.inputs[8] = other;
      n.inputs[9] = input_at(add, 3 * (1 - k) + 1);
      n.inputs[10] = input_at(add, 3 * (1 - k) + 2);
      n.inputs[11] = input_at(add, 6);
      n.inputs[12] = input_at(add, 7);
      n.outputs = add.outputs;
      n.attrs["conv_dtype"] = string_attr(conv_type);
      n.attrs["out_dtype"] = string_attr(add.attr_string("out_dtype", "f32"));
      n.attrs["sum_add"] = string_attr(add.name);
      n.attrs["sum_activation"] = string_attr(add.attr_string("activation", "none"));
      for (const char* key : {"clip_min", "clip_max"}) {
        auto a = add.attrs.find(key);
        if (a != add.attrs.end()) n.attrs[std::string("sum_") + key] = a->second;
      }
      removed[p->second] = true;
      replacement[i] = std::move(n);
      break;
    }
  }
  Graph out = g;
  out.nodes.clear();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (removed[i]) {
      out.value_info.erase(g.nodes[i].outputs[0]);
      continue;
    }
    out.nodes.push_back(replacement[i] ? *replacement[i] : g.nodes[i]);
  }
  return out;
}

Graph use_channels_last(const Graph& g, const std::string& domain) {
  const std::optional<Graph> t = typed(g);
  if (!t) return g;
  auto rank4 = [&](const std::string& name) {
    const Shape* s = shape_of(*t, name);
    return s && s->size() == 4;
  };
  // Which nodes run channels-last, and which of their inputs carry that layout.
  std::set<std::string> nhwc;  // tensors produced channels-last
  std::vector<std::vector<size_t>> layout_inputs(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.outputs.empty() || n.outputs[0].empty()) continue;
    std::vector<size_t> ins;
    if (is_fused(n, domain, kQConvOp)) {
      const Tensor* w = g.initializer(input_at(n, 1));
      if (!w || w->rank() != 4 || n.attr_int("channels_last", 0) != 0 || !rank4(input_at(n, 0))) continue;
      ins = {0};
      if (!input_at(n, 8).empty()) ins.push_back(8);
    } else if (is_fused(n, domain, kQAddOp)) {
      const std::string& a = input_at(n, 0);
      const std::string& b = input_at(n, 3);
      if (!rank4(a) || !same_shape(shape_of(*t, a), shape_of(*t, b)) ||
          (!nhwc.count(a) && !nhwc.count(b))) {
        continue;
      }
      ins = {0, 3};
    } else if (is_fused(n, domain, kQLutOp) ||
               ((n.domain.empty() || n.domain == "ai.onnx") && n.op_type == "MaxPool" &&
                is_q8(dtype_of(*t, input_at(n, 0))) &&
                (n.outputs.size() == 1 || n.outputs[1].empty()) &&
                n.attr_ints("kernel_shape").size() == 2)) {
      if (!nhwc.count(input_at(n, 0))) continue;
      ins = {0};
    } else {
      continue;
    }
    layout_inputs[i] = ins;
    nhwc.insert(n.outputs[0]);
  }
  if (nhwc.empty()) return g;

  const Readers readers(g);
  std::set<std::string> names;
  for (const auto& n : g.nodes) {
    names.insert(n.inputs.begin(), n.inputs.end());
    names.insert(n.outputs.begin(), n.outputs.end());
  }
  for (const auto& [name, tensor] : g.initializers) names.insert(name);
  for (const auto& v : g.inputs) names.insert(v.name);
  auto fresh = [&](const std::string& base) {
    std::string n = base;
    while (names.count(n)) n += "_";
    names.insert(n);
    return n;
  };
  auto transpose = [&](const std::string& from, const std::string& to, std::vector<int64_t> perm) {
    Node n;
    n.name = fresh(to + "_transpose");
    n.op_type = "Transpose";
    n.inputs = {from};
    n.outputs = {to};
    Attribute a;
    a.kind = Attribute::Kind::kInts;
    a.ints = std::move(perm);
    n.attrs["perm"] = std::move(a);
    return n;
  };
  std::map<std::string, std::string> last_name;  // tensor -> its channels-last name
  Graph out = g;
  out.nodes.clear();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node n = g.nodes[i];
    if (layout_inputs[i].empty()) {
      out.nodes.push_back(std::move(n));
      continue;
    }
    for (size_t k : layout_inputs[i]) {
      const std::string& in = n.inputs[k];
      auto it = last_name.find(in);
      if (it == last_name.end()) {  // produced channels-first: transposed once, before its first use
        const std::string to = fresh(in + "_nhwc");
        out.nodes.push_back(transpose(in, to, {0, 2, 3, 1}));
        it = last_name.emplace(in, to).first;
      }
      n.inputs[k] = it->second;
    }
    if (n.op_type == "MaxPool" && n.domain != domain) n.domain = domain;
    if (n.op_type == kQConvOp || n.op_type == kMaxPoolNhwcOp) {
      Attribute a;
      a.kind = Attribute::Kind::kInt;
      a.i = 1;
      n.attrs["channels_last"] = a;
    }
    const std::string y = n.outputs[0];
    const std::string y_last = fresh(y + "_nhwc");
    n.outputs[0] = y_last;
    last_name[y] = y_last;
    out.nodes.push_back(std::move(n));
    // Channels-first readers (or a graph output) get it back once, right after: every read that
    // is not a channels-last input of a channels-last node.
    bool first_reader = readers.outputs.count(y) != 0;
    auto r = readers.by_tensor.find(y);
    if (r != readers.by_tensor.end()) {
      for (size_t j : r->second) {
        const Node& reader = g.nodes[j];
        for (size_t k = 0; k < reader.inputs.size(); ++k) {
          if (reader.inputs[k] != y) continue;
          bool layout = false;
          for (size_t lk : layout_inputs[j]) layout = layout || lk == k;
          first_reader = first_reader || !layout;
        }
        for (const auto& in : reader.implicit_inputs()) first_reader = first_reader || in == y;
      }
    }
    if (first_reader) {
      out.nodes.push_back(transpose(y_last, y, {0, 3, 1, 2}));
    } else {
      out.value_info.erase(y);
    }
  }
  return out;
}

}  // namespace qtune

