#include "adaptors/native/native_graph_passes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "adaptors/lowering.h"
#include "kernels/quantize_ref.h"
#include "runtime/onnx_inference.h"

namespace qtune {
namespace {

bool is_fused(const Node& n, const std::string& domain, const char* op) {
  return n.domain == domain && n.op_type == op;
}

const std::string& input_at(const Node& n, size_t i) {
  static const std::string kNone;
  return i < n.inputs.size() ? n.inputs[i] : kNone;
}

Attribute string_attr(const std::string& s) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = s;
  return a;
}

// The graph with value_info as libonnx infers it; nullopt when it cannot.
std::optional<Graph> typed(const Graph& g) {
  Graph t = g;
  if (!infer_graph_types(t).ok()) return std::nullopt;
  return t;
}

const Shape* shape_of(const Graph& t, const std::string& name) {
  const ValueInfo* v = t.find_value(name);
  return v && v->shape ? &*v->shape : nullptr;
}

DType dtype_of(const Graph& t, const std::string& name) {
  const ValueInfo* v = t.find_value(name);
  return v ? v->dtype : DType::kUndefined;
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

// An f32 initializer holding one number.
std::optional<float> scalar_f32(const Graph& g, const std::string& name) {
  const Tensor* t = g.initializer(name);
  if (!t || t->dtype() != DType::kF32 || t->numel() != 1) return std::nullopt;
  return t->data<float>()[0];
}

bool is_standard(const Node& n, const char* op) {
  return (n.domain.empty() || n.domain == "ai.onnx") && n.op_type == op;
}

// The ReduceMean's axes (attribute before opset 18, constant input after), normalised to
// [0, rank); empty when they are not known or the mean does not keep its dims.
std::vector<int64_t> reduce_axes(const Graph& g, const Node& n, int64_t rank) {
  if (n.attr_int("keepdims", 1) != 1) return {};
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (!input_at(n, 1).empty()) {
    const Tensor* a = g.initializer(input_at(n, 1));
    if (!a || a->dtype() != DType::kS64) return {};
    axes.assign(a->data<int64_t>(), a->data<int64_t>() + a->numel());
  }
  for (auto& a : axes) {
    if (a < -rank || a >= rank) return {};
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

// Producers of every tensor, and whether a tensor is read only by `reader` (and is no output).
struct Uses {
  std::map<std::string, size_t> producer;
  const Readers& readers;
  Uses(const Graph& g, const Readers& r) : readers(r) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const auto& o : g.nodes[i].outputs) {
        if (!o.empty()) producer[o] = i;
      }
    }
  }
  // Every reader of `t`; empty when t is a graph output (the chain must keep it).
  std::vector<size_t> internal_readers(const std::string& t) const {
    if (readers.outputs.count(t)) return {};
    auto it = readers.by_tensor.find(t);
    return it == readers.by_tensor.end() ? std::vector<size_t>{} : it->second;
  }
  std::optional<size_t> only_reader(const std::string& t) const {
    auto r = internal_readers(t);
    if (r.size() != 1) return std::nullopt;
    return r[0];
  }
};

// The other operand of a two-input node, given one of them; "" when `mine` is not an input.
std::string other_input(const Node& n, const std::string& mine) {
  if (n.inputs.size() != 2) return "";
  if (n.inputs[0] == mine) return n.inputs[1];
  if (n.inputs[1] == mine) return n.inputs[0];
  return "";
}

// Does `param` (an f32 initializer) broadcast over the normalised dims [axis, rank) only, its
// dims 1 or equal to x's there? Then it can be LayerNormalization's Scale or B.
bool fits_normalised_dims(const Graph& g, const std::string& param, const Shape& x, int64_t axis) {
  const Tensor* t = g.initializer(param);
  if (!t || t->dtype() != DType::kF32) return false;
  const int64_t rank = static_cast<int64_t>(x.size());
  if (t->rank() > rank - axis) return false;
  for (int64_t i = 0; i < t->rank(); ++i) {
    const int64_t xd = x[static_cast<size_t>(rank - t->rank() + i)];
    if (t->dim(i) != 1 && t->dim(i) != xd) return false;
  }
  return true;
}

}  // namespace

Graph fuse_conv_add(const Graph& g, const std::string& domain) {
  const std::optional<Graph> t = typed(g);
  if (!t) return g;
  const Readers readers(g);
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs) {
      if (!o.empty()) producer[o] = i;
    }
  }
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

namespace qtune {

Graph fuse_layer_norm_and_gelu(const Graph& g, const std::string& domain) {
  const std::optional<Graph> t = typed(g);
  if (!t) return g;
  const Readers readers(g);
  const Uses uses(g, readers);
  std::vector<std::optional<Node>> replacement(g.nodes.size());
  std::vector<bool> removed(g.nodes.size(), false);
  std::map<std::string, Tensor> new_initializers;
  auto taken = [&](size_t i) { return removed[i] || replacement[i].has_value(); };
  auto f32_tensor = [&](const std::string& name) { return dtype_of(*t, name) == DType::kF32; };

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (taken(i) || n.outputs.empty()) continue;

    // LayerNormalization as exporters write it without the op (before opset 17):
    // y = (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) [* Scale] [+ B] over trailing axes.
    if (is_standard(n, "ReduceMean") && f32_tensor(input_at(n, 0))) {
      const std::string& x = input_at(n, 0);
      const Shape* xs = shape_of(*t, x);
      if (!xs || xs->empty()) continue;
      const int64_t rank = static_cast<int64_t>(xs->size());
      const std::vector<int64_t> axes = reduce_axes(g, n, rank);
      if (axes.empty() || axes.back() != rank - 1 ||
          axes.front() != rank - static_cast<int64_t>(axes.size())) {
        continue;
      }
      const int64_t axis = axes.front();
      auto sub_i = uses.only_reader(n.outputs[0]);
      if (!sub_i || taken(*sub_i)) continue;
      const Node& sub = g.nodes[*sub_i];
      if (!is_standard(sub, "Sub") || input_at(sub, 0) != x || input_at(sub, 1) != n.outputs[0]) {
        continue;
      }
      // x - mean is read by the square and the division.
      const std::vector<size_t> centred = uses.internal_readers(sub.outputs[0]);
      if (centred.size() != 2) continue;
      std::optional<size_t> sq_i, div_i;
      for (size_t r : centred) {
        const Node& m = g.nodes[r];
        if (is_standard(m, "Pow") && input_at(m, 0) == sub.outputs[0] &&
            scalar_f32(g, input_at(m, 1)) == 2.0f) {
          sq_i = r;
        } else if (is_standard(m, "Mul") && input_at(m, 0) == sub.outputs[0] &&
                   input_at(m, 1) == sub.outputs[0]) {
          sq_i = r;
        } else if (is_standard(m, "Div") && input_at(m, 0) == sub.outputs[0]) {
          div_i = r;
        }
      }
      if (!sq_i || !div_i || taken(*sq_i) || taken(*div_i)) continue;
      auto var_i = uses.only_reader(g.nodes[*sq_i].outputs[0]);
      if (!var_i || !is_standard(g.nodes[*var_i], "ReduceMean") ||
          reduce_axes(g, g.nodes[*var_i], rank) != axes) {
        continue;
      }
      auto eps_i = uses.only_reader(g.nodes[*var_i].outputs[0]);
      if (!eps_i || !is_standard(g.nodes[*eps_i], "Add")) continue;
      const std::optional<float> eps =
          scalar_f32(g, other_input(g.nodes[*eps_i], g.nodes[*var_i].outputs[0]));
      if (!eps || !(*eps >= 0.0f)) continue;
      auto sqrt_i = uses.only_reader(g.nodes[*eps_i].outputs[0]);
      if (!sqrt_i || !is_standard(g.nodes[*sqrt_i], "Sqrt") ||
          input_at(g.nodes[*div_i], 1) != g.nodes[*sqrt_i].outputs[0] ||
          uses.only_reader(g.nodes[*sqrt_i].outputs[0]) != div_i) {
        continue;
      }
      std::vector<size_t> chain = {i, *sub_i, *sq_i, *var_i, *eps_i, *sqrt_i, *div_i};
      std::string y = g.nodes[*div_i].outputs[0];
      std::string scale, bias;
      // A Mul by a constant over the normalised dims is the Scale; an Add after it is B.
      if (auto mul_i = uses.only_reader(y); mul_i && !taken(*mul_i) &&
          is_standard(g.nodes[*mul_i], "Mul")) {
        const std::string s = other_input(g.nodes[*mul_i], y);
        if (!s.empty() && fits_normalised_dims(g, s, *xs, axis)) {
          scale = s;
          chain.push_back(*mul_i);
          y = g.nodes[*mul_i].outputs[0];
          if (auto add_i = uses.only_reader(y); add_i && !taken(*add_i) &&
              is_standard(g.nodes[*add_i], "Add")) {
            const std::string b = other_input(g.nodes[*add_i], y);
            if (!b.empty() && fits_normalised_dims(g, b, *xs, axis)) {
              bias = b;
              chain.push_back(*add_i);
              y = g.nodes[*add_i].outputs[0];
            }
          }
        }
      }
      bool free = true;
      for (size_t c : chain) free = free && !taken(c);
      if (!free) continue;
      if (scale.empty()) {
        scale = n.outputs[0] + "_unit_scale";
        new_initializers[scale] = Tensor::from_f32({1}, {1.0f});
      }
      Node ln;
      ln.name = n.name;
      ln.op_type = kLayerNormOp;
      ln.domain = domain;
      ln.inputs = {x, scale};
      if (!bias.empty()) ln.inputs.push_back(bias);
      ln.outputs = {y};
      Attribute a;
      a.kind = Attribute::Kind::kInt;
      a.i = axis;
      ln.attrs["axis"] = a;
      Attribute e;
      e.kind = Attribute::Kind::kFloat;
      e.f = *eps;
      ln.attrs["epsilon"] = e;
      for (size_t c : chain) removed[c] = true;
      removed[i] = false;
      replacement[i] = std::move(ln);
      continue;
    }

    // The standard op with only its normalised output wanted runs on the same kernel.
    if (is_standard(n, "LayerNormalization") && f32_tensor(input_at(n, 0)) &&
        n.attr_int("stash_type", 1) == 1 &&
        (n.outputs.size() == 1 || (readers.count(n.outputs[1]) == 0 &&
                                   !readers.outputs.count(n.outputs[1]) &&
                                   (n.outputs.size() < 3 || (readers.count(n.outputs[2]) == 0 &&
                                                             !readers.outputs.count(n.outputs[2])))))) {
      const Shape* xs = shape_of(*t, input_at(n, 0));
      if (!xs || xs->empty()) continue;
      const int64_t rank = static_cast<int64_t>(xs->size());
      int64_t axis = n.attr_int("axis", -1);
      if (axis < -rank || axis >= rank) continue;
      if (axis < 0) axis += rank;
      if (!fits_normalised_dims(g, input_at(n, 1), *xs, axis) ||
          (!input_at(n, 2).empty() && !fits_normalised_dims(g, input_at(n, 2), *xs, axis))) {
        continue;
      }
      Node ln = n;
      ln.op_type = kLayerNormOp;
      ln.domain = domain;
      ln.outputs.resize(1);
      ln.attrs.erase("stash_type");
      ln.attrs["axis"].kind = Attribute::Kind::kInt;
      ln.attrs["axis"].i = axis;
      if (!ln.has_attr("epsilon")) {
        Attribute e;
        e.kind = Attribute::Kind::kFloat;
        e.f = 1e-5f;
        ln.attrs["epsilon"] = e;
      }
      replacement[i] = std::move(ln);
      continue;
    }

    // Exact GELU as exported before opset 20: x * (erf(x / sqrt(2)) + 1) * 0.5 (or x * 0.5
    // first, or x * (1/sqrt(2)) inside the erf).
    if ((is_standard(n, "Div") || is_standard(n, "Mul")) && f32_tensor(input_at(n, 0))) {
      const std::string& x = input_at(n, 0);
      const std::optional<float> c = scalar_f32(g, input_at(n, 1));
      const bool scaled = c && (is_standard(n, "Div") ? std::fabs(*c - 1.41421356f) < 1e-4f
                                                      : std::fabs(*c - 0.70710678f) < 1e-4f);
      if (!scaled) continue;
      auto erf_i = uses.only_reader(n.outputs[0]);
      if (!erf_i || taken(*erf_i) || !is_standard(g.nodes[*erf_i], "Erf")) continue;
      auto one_i = uses.only_reader(g.nodes[*erf_i].outputs[0]);
      if (!one_i || taken(*one_i) || !is_standard(g.nodes[*one_i], "Add") ||
          scalar_f32(g, other_input(g.nodes[*one_i], g.nodes[*erf_i].outputs[0])) != 1.0f) {
        continue;
      }
      auto mul_i = uses.only_reader(g.nodes[*one_i].outputs[0]);
      if (!mul_i || taken(*mul_i) || !is_standard(g.nodes[*mul_i], "Mul")) continue;
      const std::string factor = other_input(g.nodes[*mul_i], g.nodes[*one_i].outputs[0]);
      std::vector<size_t> chain = {i, *erf_i, *one_i, *mul_i};
      std::string y = g.nodes[*mul_i].outputs[0];
      if (factor == x) {  // x * (erf + 1), then * 0.5
        auto half_i = uses.only_reader(y);
        if (!half_i || taken(*half_i) || !is_standard(g.nodes[*half_i], "Mul") ||
            scalar_f32(g, other_input(g.nodes[*half_i], y)) != 0.5f) {
          continue;
        }
        chain.push_back(*half_i);
        y = g.nodes[*half_i].outputs[0];
      } else {  // (x * 0.5) * (erf + 1)
        auto p = uses.producer.find(factor);
        if (p == uses.producer.end() || taken(p->second)) continue;
        const Node& half = g.nodes[p->second];
        if (!is_standard(half, "Mul") || other_input(half, x) == "" ||
            scalar_f32(g, other_input(half, x)) != 0.5f ||
            uses.only_reader(half.outputs[0]) != mul_i) {
          continue;
        }
        chain.push_back(p->second);
      }
      Node gelu;
      gelu.name = n.name;
      gelu.op_type = kGeluOp;
      gelu.domain = domain;
      gelu.inputs = {x};
      gelu.outputs = {y};
      for (size_t k : chain) removed[k] = true;
      removed[i] = false;
      replacement[i] = std::move(gelu);
    }
  }

  std::set<std::string> kept_outputs;
  for (const auto& r : replacement) {
    if (r) kept_outputs.insert(r->outputs.begin(), r->outputs.end());
  }
  Graph out = g;
  out.nodes.clear();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (removed[i]) {
      for (const auto& o : g.nodes[i].outputs) {
        if (!kept_outputs.count(o)) out.value_info.erase(o);
      }
      continue;
    }
    out.nodes.push_back(replacement[i] ? *replacement[i] : g.nodes[i]);
  }
  for (auto& [name, tensor] : new_initializers) out.initializers[name] = std::move(tensor);
  // The fused op is placed where its first node was; a Gelu whose 0.5 came first, or a
  // LayerNorm, reads only what that node read, so the order stays valid.
  return out;
}

}  // namespace qtune
