#include "adaptors/fused_fp32_patterns.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "adaptors/graph_match.h"
#include "adaptors/lowering.h"

namespace qtune {
namespace {

using namespace graph_match;

// An f32 initializer holding one number.
std::optional<float> scalar_f32(const Graph& g, const std::string& name) {
  const Tensor* t = g.initializer(name);
  if (!t || t->dtype() != DType::kF32 || t->numel() != 1) return std::nullopt;
  return t->data<float>()[0];
}

bool is_standard(const Node& n, const char* op) {
  return (n.domain.empty() || n.domain == "ai.onnx") && n.op_type == op;
}

// The ReduceMean's axes (attribute before opset 18, constant input after), sorted: normalised
// to [0, rank) when the rank is known, else as given, which must then count from the end
// (negative). Empty when they are not known or the mean does not keep its dims.
std::vector<int64_t> reduce_axes(const Graph& g, const Node& n, int64_t rank) {
  if (n.attr_int("keepdims", 1) != 1) return {};
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (!input_at(n, 1).empty()) {
    const Tensor* a = g.initializer(input_at(n, 1));
    if (!a || a->dtype() != DType::kS64) return {};
    axes.assign(a->data<int64_t>(), a->data<int64_t>() + a->numel());
  }
  for (auto& a : axes) {
    if (rank < 0) {
      if (a >= 0) return {};
      continue;
    }
    if (a < -rank || a >= rank) return {};
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

// The trailing axes [axis, rank) (axis < 0: the last -axis) a LayerNorm over `axes` normalises:
// axes must be exactly those, ending at the last one. nullopt otherwise.
std::optional<int64_t> trailing_axis(const std::vector<int64_t>& axes, int64_t rank) {
  if (axes.empty()) return std::nullopt;
  const int64_t last = rank < 0 ? -1 : rank - 1;
  const int64_t k = static_cast<int64_t>(axes.size());
  if (axes.back() != last || axes.front() != last - k + 1) return std::nullopt;
  return axes.front();
}

// Producers of every tensor, and whether a tensor is read only by `reader` (and is no output).
struct Uses {
  std::map<std::string, size_t> producer;
  const Readers& readers;
  Uses(const Graph& g, const Readers& r) : producer(producers(g)), readers(r) {}
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

// Does `param` (an f32 initializer) broadcast over the normalised dims only (from `axis`; the
// last -axis dims when axis < 0), its dims 1 or equal to x's there? Then it can be
// LayerNormalization's Scale or B. Without x's shape (null) only the rank is checked: a Mul or
// Add by it is valid only where its dims broadcast anyway.
bool fits_normalised_dims(const Graph& g, const std::string& param, const Shape* x,
                          int64_t axis) {
  const Tensor* t = g.initializer(param);
  if (!t || t->dtype() != DType::kF32) return false;
  const int64_t normalised = axis < 0 ? -axis : static_cast<int64_t>(x ? x->size() : 0) - axis;
  if (t->rank() > normalised) return false;
  if (!x) return axis < 0;
  const int64_t rank = static_cast<int64_t>(x->size());
  for (int64_t i = 0; i < t->rank(); ++i) {
    const int64_t xd = (*x)[static_cast<size_t>(rank - t->rank() + i)];
    if (t->dim(i) != 1 && t->dim(i) != xd) return false;
  }
  return true;
}

}  // namespace

Graph fuse_layer_norm_and_gelu(const Graph& g, const std::string& domain) {
  const std::optional<Graph> t = typed(g);
  if (!t) return g;
  const Readers readers(g);
  const Uses uses(g, readers);
  std::vector<std::optional<Node>> replacement(g.nodes.size());
  std::vector<bool> removed(g.nodes.size(), false);
  std::map<std::string, Tensor> new_initializers;
  auto taken = [&](size_t i) { return removed[i] || replacement[i].has_value(); };
  // Each pattern combines x with an f32 constant in an op whose operands share one type, so x
  // is f32 when inference does not say otherwise.
  auto f32_tensor = [&](const std::string& name) {
    const DType d = dtype_of(*t, name);
    return d == DType::kF32 || d == DType::kUndefined;
  };

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (taken(i) || n.outputs.empty()) continue;

    // LayerNormalization as exporters write it without the op (before opset 17):
    // y = (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) [* Scale] [+ B] over trailing axes.
    if (is_standard(n, "ReduceMean") && f32_tensor(input_at(n, 0))) {
      const std::string& x = input_at(n, 0);
      const Shape* xs = shape_of(*t, x);
      if (xs && xs->empty()) continue;
      const int64_t rank = xs ? static_cast<int64_t>(xs->size()) : -1;
      const std::vector<int64_t> axes = reduce_axes(g, n, rank);
      const std::optional<int64_t> trailing = trailing_axis(axes, rank);
      if (!trailing) continue;
      const int64_t axis = *trailing;
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
        if (!s.empty() && fits_normalised_dims(g, s, xs, axis)) {
          scale = s;
          chain.push_back(*mul_i);
          y = g.nodes[*mul_i].outputs[0];
          if (auto add_i = uses.only_reader(y); add_i && !taken(*add_i) &&
              is_standard(g.nodes[*add_i], "Add")) {
            const std::string b = other_input(g.nodes[*add_i], y);
            if (!b.empty() && fits_normalised_dims(g, b, xs, axis)) {
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
      if (xs && xs->empty()) continue;
      int64_t axis = n.attr_int("axis", -1);
      if (xs) {
        const int64_t rank = static_cast<int64_t>(xs->size());
        if (axis < -rank || axis >= rank) continue;
        if (axis < 0) axis += rank;
      } else if (axis >= 0) {
        continue;  // counts from the front of a tensor of unknown rank
      }
      if (!fits_normalised_dims(g, input_at(n, 1), xs, axis) ||
          (!input_at(n, 2).empty() && !fits_normalised_dims(g, input_at(n, 2), xs, axis))) {
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

    // GELU as exported before opset 20, exact: x * (erf(x / sqrt(2)) + 1) * 0.5 (or x * 0.5
    // first, or x * (1/sqrt(2)) inside the erf); or its tanh form:
    // x * (tanh(sqrt(2/pi) * (x + 0.044715 * x^3)) + 1) * 0.5, grouped either way too.
    std::string x, inner;  // GELU's input and the Erf/Tanh output
    std::vector<size_t> chain;
    bool tanh_form = false;
    if ((is_standard(n, "Div") || is_standard(n, "Mul")) && f32_tensor(input_at(n, 0))) {
      const std::optional<float> c = scalar_f32(g, input_at(n, 1));
      const bool scaled = c && (is_standard(n, "Div") ? std::fabs(*c - 1.41421356f) < 1e-4f
                                                      : std::fabs(*c - 0.70710678f) < 1e-4f);
      if (!scaled) continue;
      auto erf_i = uses.only_reader(n.outputs[0]);
      if (!erf_i || taken(*erf_i) || !is_standard(g.nodes[*erf_i], "Erf")) continue;
      x = input_at(n, 0);
      inner = g.nodes[*erf_i].outputs[0];
      chain = {i, *erf_i};
    } else if (is_standard(n, "Pow") && f32_tensor(input_at(n, 0)) &&
               scalar_f32(g, input_at(n, 1)) == 3.0f) {
      // x^3 * 0.044715, + x, * sqrt(2/pi), Tanh.
      x = input_at(n, 0);
      auto cubic_i = uses.only_reader(n.outputs[0]);
      if (!cubic_i || taken(*cubic_i) || !is_standard(g.nodes[*cubic_i], "Mul")) continue;
      const std::optional<float> k3 = scalar_f32(g, other_input(g.nodes[*cubic_i], n.outputs[0]));
      if (!k3 || std::fabs(*k3 - 0.044715f) > 1e-6f) continue;
      auto sum_i = uses.only_reader(g.nodes[*cubic_i].outputs[0]);
      if (!sum_i || taken(*sum_i) || !is_standard(g.nodes[*sum_i], "Add") ||
          other_input(g.nodes[*sum_i], g.nodes[*cubic_i].outputs[0]) != x) {
        continue;
      }
      auto scale_i = uses.only_reader(g.nodes[*sum_i].outputs[0]);
      if (!scale_i || taken(*scale_i) || !is_standard(g.nodes[*scale_i], "Mul")) continue;
      const std::optional<float> k =
          scalar_f32(g, other_input(g.nodes[*scale_i], g.nodes[*sum_i].outputs[0]));
      if (!k || std::fabs(*k - 0.7978845608f) > 1e-5f) continue;
      auto tanh_i = uses.only_reader(g.nodes[*scale_i].outputs[0]);
      if (!tanh_i || taken(*tanh_i) || !is_standard(g.nodes[*tanh_i], "Tanh")) continue;
      inner = g.nodes[*tanh_i].outputs[0];
      chain = {i, *cubic_i, *sum_i, *scale_i, *tanh_i};
      tanh_form = true;
    } else {
      continue;
    }
    auto one_i = uses.only_reader(inner);
    if (!one_i || taken(*one_i) || !is_standard(g.nodes[*one_i], "Add") ||
        scalar_f32(g, other_input(g.nodes[*one_i], inner)) != 1.0f) {
      continue;
    }
    auto mul_i = uses.only_reader(g.nodes[*one_i].outputs[0]);
    if (!mul_i || taken(*mul_i) || !is_standard(g.nodes[*mul_i], "Mul")) continue;
    const std::string factor = other_input(g.nodes[*mul_i], g.nodes[*one_i].outputs[0]);
    chain.push_back(*one_i);
    chain.push_back(*mul_i);
    std::string y = g.nodes[*mul_i].outputs[0];
    if (factor == x) {  // x * (inner + 1), then * 0.5
      auto half_i = uses.only_reader(y);
      if (!half_i || taken(*half_i) || !is_standard(g.nodes[*half_i], "Mul") ||
          scalar_f32(g, other_input(g.nodes[*half_i], y)) != 0.5f) {
        continue;
      }
      chain.push_back(*half_i);
      y = g.nodes[*half_i].outputs[0];
    } else {  // (x * 0.5) * (inner + 1)
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
    if (tanh_form) {
      Attribute a;
      a.kind = Attribute::Kind::kString;
      a.s = "tanh";
      gelu.attrs["approximate"] = a;
    }
    for (size_t k : chain) removed[k] = true;
    removed[i] = false;
    replacement[i] = std::move(gelu);
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

namespace qtune {

std::set<std::string> fused_fp32_pattern_nodes(const Graph& g) {
  static const std::string kProbe = "qtune.pattern_probe";
  const Graph fused = fuse_layer_norm_and_gelu(g, kProbe);
  std::set<std::string> kept;
  for (const Node& n : fused.nodes) {
    if (n.domain != kProbe) kept.insert(n.name);
  }
  std::set<std::string> out;
  for (const Node& n : g.nodes) {
    if (!kept.count(n.name)) out.insert(n.name);
  }
  return out;
}

}  // namespace qtune
