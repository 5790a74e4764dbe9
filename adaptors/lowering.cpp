#include "adaptors/lowering.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "runtime/executor.h"

namespace qtune {
namespace {

bool onnx_domain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }
bool is_op(const Node& n, const char* op) { return onnx_domain(n) && n.op_type == op; }

// Who reads each tensor, and which tensors leave the graph.
struct Uses {
  std::unordered_map<std::string, size_t> producer;
  std::unordered_map<std::string, std::vector<size_t>> consumers;
  std::set<std::string> graph_outputs;

  explicit Uses(const Graph& g) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const auto& o : g.nodes[i].outputs) {
        if (!o.empty()) producer.emplace(o, i);
      }
      std::set<std::string> seen;  // a node reading a tensor twice is still one consumer
      for (const auto& in : g.nodes[i].inputs) {
        if (!in.empty() && seen.insert(in).second) consumers[in].push_back(i);
      }
      // Reads from inside its subgraphs (If branches, Loop bodies) make the node a reader too.
      for (const auto& in : g.nodes[i].implicit_inputs()) {
        if (seen.insert(in).second) consumers[in].push_back(i);
      }
    }
    for (const auto& o : g.outputs) graph_outputs.insert(o.name);
  }
  const Node* produced_by(const Graph& g, const std::string& t) const {
    auto it = producer.find(t);
    return it == producer.end() ? nullptr : &g.nodes[it->second];
  }
  // The only reader of t, when t is an intermediate with exactly one reader.
  std::optional<size_t> sole_consumer(const std::string& t) const {
    if (graph_outputs.count(t)) return std::nullopt;
    auto it = consumers.find(t);
    if (it == consumers.end() || it->second.size() != 1) return std::nullopt;
    return it->second[0];
  }
};

const std::string& input_at(const Node& n, size_t i) {
  static const std::string kNone;
  return i < n.inputs.size() ? n.inputs[i] : kNone;
}

bool scalar_like(const Tensor& t) { return t.numel() == 1 && t.rank() <= 1; }

// A per-column bias: [N] or [1, N] ([N, 1] would broadcast along rows instead).
bool bias_shape_ok(const Tensor& t, int64_t n) {
  return (t.rank() == 1 && t.dim(0) == n) || (t.rank() == 2 && t.dim(0) == 1 && t.dim(1) == n);
}

std::optional<float> const_scalar_f32(const Graph& g, const std::string& name) {
  const Tensor* t = g.initializer(name);
  if (!t || t->dtype() != DType::kF32 || !scalar_like(*t)) return std::nullopt;
  return t->data<float>()[0];
}

bool all_zero(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (t.get_i64(i) != 0) return false;
  }
  return true;
}

// A per-tensor (scale, zero point) pair of constants on inputs 1 and 2 of a Q or DQ node.
struct PerTensorQ {
  std::string scale, zero_point;
  float scale_value = 1.0f;
  int32_t zp_value = 0;
  DType type = DType::kUndefined;  // the zero point's type
};

std::optional<PerTensorQ> per_tensor_params(const Graph& g, const Node& n) {
  if (n.attr_int("block_size", 0) != 0) return std::nullopt;
  PerTensorQ q;
  q.scale = input_at(n, 1);
  q.zero_point = input_at(n, 2);
  auto s = const_scalar_f32(g, q.scale);
  if (!s || !(*s > 0.0f) || !std::isfinite(*s)) return std::nullopt;
  q.scale_value = *s;
  if (!q.zero_point.empty()) {
    const Tensor* zp = g.initializer(q.zero_point);
    if (!zp || !scalar_like(*zp) || (zp->dtype() != DType::kU8 && zp->dtype() != DType::kS8)) {
      return std::nullopt;
    }
    q.zp_value = static_cast<int32_t>(zp->get_i64(0));
    q.type = zp->dtype();
  }
  return q;
}

// x -> DequantizeLinear (per tensor) -> t: returns x's name and the parameters.
std::optional<std::pair<std::string, PerTensorQ>> activation_dq(const Graph& g, const Uses& u,
                                                                const std::string& t) {
  const Node* dq = u.produced_by(g, t);
  if (!dq || !is_op(*dq, "DequantizeLinear") || input_at(*dq, 0).empty()) return std::nullopt;
  if (g.initializer(input_at(*dq, 0))) return std::nullopt;  // a constant: not an activation
  auto q = per_tensor_params(g, *dq);
  if (!q) return std::nullopt;
  return std::make_pair(input_at(*dq, 0), *q);
}

struct WeightDq {
  std::string w_q, scale;
  const Tensor* w = nullptr;
  const Tensor* scale_t = nullptr;
  bool per_channel = false;
};

// t = DequantizeLinear(s8 constant, f32 scale [] or [C] on `axis`, zero zero points).
std::optional<WeightDq> weight_dq(const Graph& g, const Uses& u, const std::string& t,
                                  int64_t rank, int64_t axis) {
  const Node* dq = u.produced_by(g, t);
  if (!dq || !is_op(*dq, "DequantizeLinear") || dq->attr_int("block_size", 0) != 0) {
    return std::nullopt;
  }
  WeightDq w;
  w.w_q = input_at(*dq, 0);
  w.scale = input_at(*dq, 1);
  w.w = g.initializer(w.w_q);
  w.scale_t = g.initializer(w.scale);
  if (!w.w || w.w->dtype() != DType::kS8 || w.w->rank() != rank) return std::nullopt;
  if (!w.scale_t || w.scale_t->dtype() != DType::kF32) return std::nullopt;
  if (!scalar_like(*w.scale_t)) {
    int64_t dq_axis = dq->attr_int("axis", 1);
    if (dq_axis < 0) dq_axis += rank;
    if (w.scale_t->rank() != 1 || dq_axis != axis || w.scale_t->dim(0) != w.w->dim(axis)) {
      return std::nullopt;
    }
    w.per_channel = true;
  }
  for (int64_t i = 0; i < w.scale_t->numel(); ++i) {
    const float s = w.scale_t->data<float>()[i];
    if (!(s > 0.0f) || !std::isfinite(s)) return std::nullopt;
  }
  const std::string& zp_name = input_at(*dq, 2);
  if (!zp_name.empty()) {
    const Tensor* zp = g.initializer(zp_name);
    if (!zp || zp->dtype() != DType::kS8 || zp->numel() != w.scale_t->numel() || !all_zero(*zp)) {
      return std::nullopt;
    }
  }
  return w;
}

// The bias: DequantizeLinear(s32 constant [N], scale == x_scale * w_scale, zero zero points), or
// a plain f32 constant of N values.
bool match_bias(const Graph& g, const Uses& u, const std::string& t, int64_t n, float x_scale,
                const WeightDq& w, QuantizedUnit* unit) {
  if (t.empty()) return true;
  if (const Tensor* f = g.initializer(t)) {
    if (f->dtype() != DType::kF32 || !bias_shape_ok(*f, n)) return false;
    unit->bias = t;
    unit->bias_type = DType::kF32;
    return true;
  }
  const Node* dq = u.produced_by(g, t);
  if (!dq || !is_op(*dq, "DequantizeLinear") || dq->attr_int("block_size", 0) != 0) return false;
  const Tensor* b = g.initializer(input_at(*dq, 0));
  const Tensor* s = g.initializer(input_at(*dq, 1));
  if (!b || b->dtype() != DType::kS32 || !bias_shape_ok(*b, n)) return false;
  if (!s || s->dtype() != DType::kF32 || (s->numel() != 1 && s->numel() != n)) return false;
  if (!input_at(*dq, 2).empty()) {
    const Tensor* zp = g.initializer(input_at(*dq, 2));
    if (!zp || !all_zero(*zp)) return false;
  }
  // The fused op adds the s32 bias to the accumulator, which is only right at this scale.
  for (int64_t c = 0; c < n; ++c) {
    const float want = x_scale * w.scale_t->data<float>()[w.per_channel ? c : 0];
    const float have = s->data<float>()[s->numel() == 1 ? 0 : c];
    if (!(std::fabs(have - want) <= 1e-5f * std::fabs(want))) return false;
  }
  unit->bias = input_at(*dq, 0);
  unit->bias_type = DType::kS32;
  return true;
}

// Relu or Clip with constant bounds reading `t`, as the only reader.
bool match_activation(const Graph& g, const Node& n, FusedActivation* act, float* lo, float* hi) {
  if (is_op(n, "Relu")) {
    *act = FusedActivation::kRelu;
    *lo = 0.0f;
    *hi = std::numeric_limits<float>::infinity();
    return true;
  }
  if (!is_op(n, "Clip")) return false;
  float mn = -std::numeric_limits<float>::infinity(), mx = std::numeric_limits<float>::infinity();
  if (n.has_attr("min")) mn = n.attr_float("min", mn);  // opset < 11
  if (n.has_attr("max")) mx = n.attr_float("max", mx);
  for (size_t i : {1, 2}) {
    const std::string& name = input_at(n, i);
    if (name.empty()) continue;
    auto v = const_scalar_f32(g, name);
    if (!v) return false;
    (i == 1 ? mn : mx) = *v;
  }
  if (std::isnan(mn) || std::isnan(mx) || mn > mx) return false;
  *act = FusedActivation::kClip;
  *lo = mn;
  *hi = mx;
  return true;
}

// Extends a unit over its output side: [Relu|Clip] then [per-tensor Q].
template <typename Unit>
void match_output(const Graph& g, const Uses& u, const Node& op, Unit* unit) {
  std::string cur = op.outputs[0];
  if (auto c = u.sole_consumer(cur)) {
    const Node& n = g.nodes[*c];
    if (n.outputs.size() == 1 && input_at(n, 0) == cur &&
        match_activation(g, n, &unit->activation, &unit->clip_min, &unit->clip_max)) {
      unit->fused.push_back(*c);
      cur = n.outputs[0];
    }
  }
  if (auto c = u.sole_consumer(cur)) {
    const Node& q = g.nodes[*c];
    if (is_op(q, "QuantizeLinear") && q.outputs.size() == 1 && input_at(q, 0) == cur) {
      auto p = per_tensor_params(g, q);
      const bool default_u8 = q.attr_int("output_dtype", 0) == 0 ||
                              q.attr_int("output_dtype", 0) == static_cast<int64_t>(DType::kU8);
      if (p && (!p->zero_point.empty() || default_u8)) {
        unit->fused.push_back(*c);
        cur = q.outputs[0];
        unit->out_type = p->zero_point.empty() ? DType::kU8 : p->type;
        unit->y_scale = p->scale;
        unit->y_zero_point = p->zero_point;
        unit->y_scale_value = p->scale_value;
        unit->y_zero_point_value = p->zp_value;
      }
    }
  }
  unit->output = cur;
}

// op -> [Q -> DQ, same per-tensor parameters] -> Add(f32 constant bias of n values), each link the
// only reader: the Add folds into the unit as an f32 bias after the rounding of the Q -> DQ.
// Returns the Add's index.
std::optional<size_t> match_bias_add(const Graph& g, const Uses& u, const Node& op, int64_t n,
                                     const UnitOptions& opts, QuantizedUnit* unit) {
  std::string cur = op.outputs[0];
  std::vector<size_t> nodes;
  std::optional<PerTensorQ> mid;
  auto next = u.sole_consumer(cur);
  if (!next) return std::nullopt;
  if (is_op(g.nodes[*next], "QuantizeLinear")) {
    const Node& q = g.nodes[*next];
    if (!opts.requant_bias_add || q.outputs.size() != 1 || input_at(q, 0) != cur) {
      return std::nullopt;
    }
    auto qp = per_tensor_params(g, q);
    const int64_t out_attr = q.attr_int("output_dtype", 0);
    if (!qp || (qp->zero_point.empty() && out_attr != 0 &&
                out_attr != static_cast<int64_t>(DType::kU8))) {
      return std::nullopt;
    }
    auto d = u.sole_consumer(q.outputs[0]);
    if (!d) return std::nullopt;
    const Node& dq = g.nodes[*d];
    if (!is_op(dq, "DequantizeLinear") || dq.outputs.size() != 1 ||
        input_at(dq, 0) != q.outputs[0]) {
      return std::nullopt;
    }
    auto dp = per_tensor_params(g, dq);
    if (!dp || dp->scale_value != qp->scale_value || dp->zp_value != qp->zp_value ||
        dp->type != qp->type) {
      return std::nullopt;
    }
    nodes = {*next, *d};
    mid = qp;
    cur = dq.outputs[0];
    next = u.sole_consumer(cur);
    if (!next) return std::nullopt;
  }
  const Node& add = g.nodes[*next];
  if (!is_op(add, "Add") || add.inputs.size() != 2 || add.outputs.size() != 1 ||
      add.outputs[0].empty() || add.inputs[0] == add.inputs[1]) {
    return std::nullopt;
  }
  const std::string& other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
  const Tensor* b = g.initializer(other);
  if (!b || b->dtype() != DType::kF32) return std::nullopt;
  // [N] broadcasts over any product; [1, N] only keeps the shape when the product has rank >= 2.
  const ValueInfo* vi = g.find_value(op.outputs[0]);
  const bool rank2 = vi && vi->shape && vi->shape->size() >= 2;
  if (!(b->rank() == 1 && b->dim(0) == n) && !(rank2 && bias_shape_ok(*b, n))) {
    return std::nullopt;
  }
  if (mid) {
    unit->mid_scale = mid->scale;
    unit->mid_zero_point = mid->zero_point;
    unit->mid_scale_value = mid->scale_value;
    unit->mid_zero_point_value = mid->zp_value;
    unit->mid_type = mid->zero_point.empty() ? DType::kU8 : mid->type;
  }
  unit->bias = other;
  unit->bias_type = DType::kF32;
  unit->bias_add = add.name;
  unit->fused.insert(unit->fused.end(), nodes.begin(), nodes.end());
  unit->fused.push_back(*next);
  return *next;
}

std::optional<QuantizedUnit> match_unit(const Graph& g, const Uses& u, size_t idx,
                                        const UnitOptions& opts) {
  const Node& op = g.nodes[idx];
  if (!onnx_domain(op) || op.outputs.size() != 1 || op.outputs[0].empty()) return std::nullopt;
  QuantizedUnit unit;
  unit.node = idx;
  int64_t w_rank = 2, w_axis = 0, n_axis = 0;
  if (op.op_type == "Conv") {
    unit.kind = UnitKind::kConv;
    // Rank from the weight: 1-D and 2-D convolutions.
    const Node* wdq = u.produced_by(g, input_at(op, 1));
    const Tensor* w = wdq ? g.initializer(input_at(*wdq, 0)) : nullptr;
    if (!w || (w->rank() != 3 && w->rank() != 4)) return std::nullopt;
    w_rank = w->rank();
  } else if (op.op_type == "Gemm") {
    unit.kind = UnitKind::kGemm;
    if (op.attr_int("transA", 0) != 0 || op.attr_float("alpha", 1.0f) != 1.0f) return std::nullopt;
    if (!input_at(op, 2).empty() && op.attr_float("beta", 1.0f) != 1.0f) return std::nullopt;
    unit.trans_b = op.attr_int("transB", 0) != 0;
    w_axis = n_axis = unit.trans_b ? 0 : 1;
  } else if (op.op_type == "MatMul") {
    unit.kind = UnitKind::kMatMul;
    w_axis = n_axis = 1;
  } else {
    return std::nullopt;
  }
  auto x = activation_dq(g, u, input_at(op, 0));
  if (!x) return std::nullopt;
  auto w = weight_dq(g, u, input_at(op, 1), w_rank, w_axis);
  if (!w) return std::nullopt;
  unit.x_q = x->first;
  unit.x_scale = x->second.scale;
  unit.x_zero_point = x->second.zero_point;
  unit.x_type = x->second.type;
  unit.x_scale_value = x->second.scale_value;
  unit.x_zero_point_value = x->second.zp_value;
  unit.w_q = w->w_q;
  unit.w_scale = w->scale;
  unit.w_per_channel = w->per_channel;
  const int64_t n = w->w->dim(n_axis);
  if (unit.kind != UnitKind::kMatMul &&
      !match_bias(g, u, input_at(op, 2), n, unit.x_scale_value, *w, &unit)) {
    return std::nullopt;
  }
  unit.fused.push_back(idx);
  std::optional<size_t> add;
  if (opts.bias_add && unit.kind != UnitKind::kConv && unit.bias.empty()) {
    add = match_bias_add(g, u, op, n, opts, &unit);
  }
  match_output(g, u, add ? g.nodes[*add] : op, &unit);
  return unit;
}

Attribute string_attr(const std::string& s) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = s;
  return a;
}
Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute float_attr(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}

void set_activation_attrs(Node* n, FusedActivation act, float lo, float hi) {
  n->attrs["activation"] = string_attr(activation_name(act));
  if (act == FusedActivation::kClip) {
    n->attrs["clip_min"] = float_attr(lo);
    n->attrs["clip_max"] = float_attr(hi);
  }
}

// Conv's own attributes, which the fused conv ops read the same way.
void copy_conv_attrs(const Node& from, Node* to) {
  for (const char* key : {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}) {
    auto it = from.attrs.find(key);
    if (it != from.attrs.end()) to->attrs[key] = it->second;
  }
}

bool target_supports(const LoweringTarget& t, const QuantizedUnit& u) {
  switch (u.kind) {
    case UnitKind::kConv: if (!t.conv) return false; break;
    case UnitKind::kGemm: if (!t.gemm) return false; break;
    case UnitKind::kMatMul: if (!t.matmul) return false; break;
  }
  if (u.x_type == DType::kS8 && !t.s8_activations) return false;
  if (u.out_type == DType::kF32 && !t.f32_output) return false;
  if (u.activation == FusedActivation::kClip && !t.clip) return false;
  return true;
}

Node fused_node(const Graph& g, const QuantizedUnit& u, const std::string& domain) {
  const Node& op = g.nodes[u.node];
  Node n;
  n.name = op.name;
  n.domain = domain;
  n.op_type = u.kind == UnitKind::kConv ? kQConvOp : kQGemmOp;
  n.inputs = {u.x_q, u.w_q, u.w_scale, u.bias, u.x_scale, u.x_zero_point, u.y_scale,
              u.y_zero_point};
  if (!u.mid_scale.empty()) {
    n.inputs.push_back(u.mid_scale);
    n.inputs.push_back(u.mid_zero_point);
  }
  if (!u.bias_add.empty()) n.attrs["bias_add"] = string_attr(u.bias_add);
  n.outputs = {u.output};
  if (u.kind == UnitKind::kConv) {
    copy_conv_attrs(op, &n);
  } else {
    n.attrs["trans_b"] = int_attr(u.trans_b ? 1 : 0);
  }
  set_activation_attrs(&n, u.activation, u.clip_min, u.clip_max);
  n.attrs["out_dtype"] = string_attr(std::string(dtype_name(u.out_type)));
  return n;
}

// A 2-D MaxPool that F32Conv's "max_pool_2x2" can stand for: a 2x2 window at stride 2, no
// padding or dilation, floor mode, no Indices output.
bool is_max_pool_2x2(const Node& pool) {
  if (!is_op(pool, "MaxPool") || pool.outputs.empty() || pool.outputs[0].empty()) return false;
  if (pool.outputs.size() > 1 && !pool.outputs[1].empty()) return false;
  const std::string auto_pad = pool.attr_string("auto_pad", "NOTSET");
  auto all = [](const std::vector<int64_t>& v, int64_t x) {
    return std::all_of(v.begin(), v.end(), [&](int64_t e) { return e == x; });
  };
  const std::vector<int64_t> pads = pool.attr_ints("pads", {0, 0, 0, 0});
  const std::vector<int64_t> dilations = pool.attr_ints("dilations", {1, 1});
  return (auto_pad == "NOTSET" || auto_pad == "VALID") &&
         pool.attr_ints("kernel_shape") == std::vector<int64_t>{2, 2} &&
         pool.attr_ints("strides") == std::vector<int64_t>{2, 2} && pads.size() == 4 &&
         all(pads, 0) && dilations.size() == 2 && all(dilations, 1) &&
         pool.attr_int("ceil_mode", 0) == 0;
}

// An fp32 Conv/Gemm/MatMul with a constant f32 weight as a Bf16Conv/Bf16Gemm (bf16) or
// F32Conv/F32Gemm node, with a sole Relu/Clip reader fused, and for F32 also a residual Add
// (F32Conv, target.f32_sum) or a bias Add (F32Gemm, target.bias_add) before it when fuse_add,
// and an F32Conv's following 2x2 MaxPool (target.f32_max_pool).
// Returns the indices of nodes it replaces, the one whose place it takes first (empty: no match).
std::vector<size_t> float_node(const Graph& g, const Uses& u, size_t idx,
                               const LoweringTarget& target, bool bf16, bool fuse_add, Node* out) {
  const Node& op = g.nodes[idx];
  if (!onnx_domain(op) || op.outputs.size() != 1 || op.outputs[0].empty()) return {};
  const Tensor* w = g.initializer(input_at(op, 1));
  if (!w || w->dtype() != DType::kF32) return {};
  // The fused ops take f32 activations only; an unknown type is left to the op to check.
  const ValueInfo* xi = g.find_value(input_at(op, 0));
  if (xi && xi->dtype != DType::kF32 && xi->dtype != DType::kUndefined) return {};
  const bool conv_ok = bf16 ? target.bf16_conv : target.f32_conv;
  const bool gemm_ok = bf16 ? target.bf16_gemm : target.f32_gemm;
  Node n;
  n.name = op.name;
  n.domain = target.domain;
  if (op.op_type == "Conv") {
    if (!conv_ok || (w->rank() != 3 && w->rank() != 4)) return {};
    n.op_type = bf16 ? kBf16ConvOp : kF32ConvOp;
    copy_conv_attrs(op, &n);
    n.inputs = {input_at(op, 0), input_at(op, 1), input_at(op, 2)};
  } else if (op.op_type == "Gemm" || op.op_type == "MatMul") {
    if (!gemm_ok || w->rank() != 2) return {};
    const bool gemm = op.op_type == "Gemm";
    const bool trans_b = gemm && op.attr_int("transB", 0) != 0;
    const std::string c = gemm ? input_at(op, 2) : std::string();
    if (gemm) {
      if (op.attr_int("transA", 0) != 0 || op.attr_float("alpha", 1.0f) != 1.0f) return {};
      if (!c.empty()) {
        // Only a per-column bias fuses; a full [M, N] C stays on the reference Gemm.
        const Tensor* ct = g.initializer(c);
        const int64_t n_out = w->dim(trans_b ? 0 : 1);
        if (op.attr_float("beta", 1.0f) != 1.0f || !ct || ct->dtype() != DType::kF32 ||
            !bias_shape_ok(*ct, n_out)) {
          return {};
        }
      }
    }
    n.op_type = bf16 ? kBf16GemmOp : kF32GemmOp;
    n.attrs["trans_b"] = int_attr(trans_b ? 1 : 0);
    n.inputs = {input_at(op, 0), input_at(op, 1), c};
  } else {
    return {};
  }
  // replaced[0] is where the fused node goes: the last node whose other inputs it reads.
  std::vector<size_t> replaced{idx};
  std::string output = op.outputs[0];
  // The sole reader of `output` when it is a two-input Add: the Add and its other operand.
  auto sole_add = [&](std::string* other) -> std::optional<size_t> {
    const auto c = u.sole_consumer(output);
    if (!c) return std::nullopt;
    const Node& add = g.nodes[*c];
    if (!is_op(add, "Add") || add.inputs.size() != 2 || add.outputs.size() != 1 ||
        add.outputs[0].empty() || add.inputs[0] == add.inputs[1]) {
      return std::nullopt;
    }
    *other = add.inputs[0] == output ? add.inputs[1] : add.inputs[0];
    if (other->empty()) return std::nullopt;
    const ValueInfo* vi = g.find_value(*other);
    if (vi && vi->dtype != DType::kF32 && vi->dtype != DType::kUndefined) return std::nullopt;
    return c;
  };
  std::string other;
  if (fuse_add && !bf16 && n.op_type == kF32ConvOp && target.f32_sum) {
    // A residual Add: its other operand becomes the sum input; the node runs where the Add was,
    // after whatever produces that operand.
    if (auto c = sole_add(&other)) {
      n.inputs.push_back(other);
      replaced.insert(replaced.begin(), *c);
      output = g.nodes[*c].outputs[0];
    }
  } else if (fuse_add && !bf16 && n.op_type == kF32GemmOp && target.bias_add &&
             n.inputs[2].empty()) {
    // A bias Add of a constant [N] after a MatMul (or bias-less Gemm) becomes its bias.
    if (auto c = sole_add(&other)) {
      const Tensor* bias = g.initializer(other);
      const int64_t n_out = w->dim(n.attr_int("trans_b", 0) != 0 ? 0 : 1);
      if (bias && bias->dtype() == DType::kF32 && bias_shape_ok(*bias, n_out)) {
        n.inputs[2] = other;
        replaced.push_back(*c);
        output = g.nodes[*c].outputs[0];
      }
    }
  }
  FusedActivation act = FusedActivation::kNone;
  float lo = 0.0f, hi = 0.0f;
  if (auto c = u.sole_consumer(output)) {
    const Node& a = g.nodes[*c];
    if (a.outputs.size() == 1 && input_at(a, 0) == output &&
        match_activation(g, a, &act, &lo, &hi) && (act != FusedActivation::kClip || target.clip)) {
      replaced.push_back(*c);
      output = a.outputs[0];
    } else {
      act = FusedActivation::kNone;
    }
  }
  set_activation_attrs(&n, act, lo, hi);
  if (!bf16 && n.op_type == kF32ConvOp && target.f32_max_pool && w->rank() == 4) {
    if (auto c = u.sole_consumer(output)) {
      const Node& pool = g.nodes[*c];
      if (input_at(pool, 0) == output && is_max_pool_2x2(pool)) {
        n.attrs["max_pool_2x2"] = int_attr(1);
        replaced.push_back(*c);
        output = pool.outputs[0];
      }
    }
  }
  n.outputs = {output};
  *out = std::move(n);
  return replaced;
}

}  // namespace

const char* activation_name(FusedActivation a) {
  switch (a) {
    case FusedActivation::kNone: return "none";
    case FusedActivation::kRelu: return "relu";
    case FusedActivation::kClip: return "clip";
  }
  return "none";
}

std::vector<QuantizedUnit> find_quantized_units(const Graph& g, const UnitOptions& opts) {
  const Uses u(g);
  std::vector<QuantizedUnit> units;
  std::vector<bool> claimed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (claimed[i]) continue;
    auto unit = match_unit(g, u, i, opts);
    if (!unit) continue;
    bool free = true;
    for (size_t f : unit->fused) free = free && !claimed[f];
    if (!free) continue;
    for (size_t f : unit->fused) claimed[f] = true;
    units.push_back(std::move(*unit));
  }
  return units;
}

namespace {

// Node i reads a per-tensor DequantizeLinear on input 0 and its first output feeds only a
// QuantizeLinear with the same type, scale and zero point: it can run on the 8-bit values.
std::optional<Int8PoolUnit> between_equal_qdq(const Graph& g, const Uses& u, size_t i) {
  const Node& op = g.nodes[i];
  auto x = activation_dq(g, u, input_at(op, 0));
  if (!x || x->second.zero_point.empty()) return std::nullopt;
  auto c = u.sole_consumer(op.outputs[0]);
  if (!c) return std::nullopt;
  const Node& q = g.nodes[*c];
  if (!is_op(q, "QuantizeLinear") || q.outputs.size() != 1 || input_at(q, 0) != op.outputs[0]) {
    return std::nullopt;
  }
  auto y = per_tensor_params(g, q);
  if (!y || y->zero_point.empty() || y->type != x->second.type ||
      y->zp_value != x->second.zp_value ||
      std::memcmp(&y->scale_value, &x->second.scale_value, sizeof(float)) != 0) {
    return std::nullopt;
  }
  return Int8PoolUnit{u.producer.at(input_at(op, 0)), i, *c, x->first, q.outputs[0]};
}

}  // namespace

std::vector<Int8PoolUnit> find_int8_pools(const Graph& g) {
  std::vector<Int8PoolUnit> pools;
  if (g.opset < 12) return pools;  // MaxPool takes int8/uint8 from opset 12
  const Uses u(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& pool = g.nodes[i];
    if (!is_op(pool, "MaxPool") || pool.outputs.empty() || pool.outputs[0].empty()) continue;
    if (pool.outputs.size() > 1 && !pool.outputs[1].empty()) continue;  // indices wanted
    if (auto unit = between_equal_qdq(g, u, i)) pools.push_back(*unit);
  }
  return pools;
}

// Ops that only move or pick elements, and the opset from which ONNX lets them take 8-bit
// tensors (Reshape-1 and Flatten before 9 are float-only).
std::optional<int64_t> data_movement_since(const Node& n) {
  static const std::map<std::string, int64_t> kOps = {
      {"Reshape", 5},   {"Transpose", 1}, {"Squeeze", 1},      {"Unsqueeze", 1},
      {"Flatten", 9},   {"Gather", 1},    {"Slice", 1},        {"Identity", 1},
      {"Expand", 8},    {"Tile", 6},      {"DepthToSpace", 1}, {"SpaceToDepth", 1}};
  if (!onnx_domain(n)) return std::nullopt;
  auto it = kOps.find(n.op_type);
  if (it == kOps.end()) return std::nullopt;
  return it->second;
}

std::vector<Int8AddUnit> find_int8_adds(const Graph& g, const std::vector<bool>& taken) {
  const Uses u(g);
  std::vector<Int8AddUnit> adds;
  std::vector<bool> claimed = taken;
  claimed.resize(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& add = g.nodes[i];
    if (claimed[i] || !is_op(add, "Add") || add.inputs.size() != 2 || add.outputs.size() != 1 ||
        add.outputs[0].empty()) {
      continue;
    }
    Int8AddUnit unit;
    unit.node = i;
    Int8AddUnit::Operand* ops[2] = {&unit.a, &unit.b};
    std::vector<size_t> fake_qs;
    for (size_t k = 0; k < 2; ++k) {
      ops[k]->tensor = add.inputs[k];
      if (auto x = activation_dq(g, u, add.inputs[k])) {
        *ops[k] = {x->first, x->second.scale, x->second.zero_point, true};
        // The Q in front, when its 8-bit tensor only feeds this Add, runs inside the QAdd.
        const Node* q = u.produced_by(g, x->first);
        const auto dq_reader = u.sole_consumer(add.inputs[k]);
        const auto q_reader = u.sole_consumer(x->first);
        const size_t q_index = q ? u.producer.at(x->first) : 0;
        // A Q some unit already ends with is that unit's output, not a tensor to re-read.
        if (q && !claimed[q_index] && is_op(*q, "QuantizeLinear") && dq_reader == i && q_reader &&
            q_reader == u.producer.find(add.inputs[k])->second && !input_at(*q, 0).empty() &&
            input_at(*q, 1) == x->second.scale && input_at(*q, 2) == x->second.zero_point &&
            q->attr_int("output_dtype", 0) == 0 && per_tensor_params(g, *q)) {
          const ValueInfo* vi = g.find_value(input_at(*q, 0));
          if (vi && vi->dtype != DType::kF32 && vi->dtype != DType::kUndefined) continue;
          ops[k]->tensor = input_at(*q, 0);
          ops[k]->fake_quant = true;
          fake_qs.push_back(q_index);
        }
      }
    }
    if (!unit.a.quantized && !unit.b.quantized) continue;
    unit.fused.push_back(i);
    match_output(g, u, add, &unit);
    for (size_t qi : fake_qs) {
      if (std::find(unit.fused.begin(), unit.fused.end(), qi) == unit.fused.end()) {
        unit.fused.push_back(qi);
      }
    }
    bool free = true;
    for (size_t f : unit.fused) free = free && !claimed[f];
    if (!free) continue;
    for (size_t f : unit.fused) claimed[f] = true;
    adds.push_back(std::move(unit));
  }
  return adds;
}

namespace {

// Elementwise unary ops whose every output element depends on its input element alone, with
// constant operands only: a DQ -> op -> Q chain over them is a function of the input byte.
bool lut_op(const Graph& g, const Node& n) {
  static const std::set<std::string> kUnary = {
      "Relu",     "LeakyRelu", "PRelu",  "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
      "Elu",      "Selu",      "Celu",   "Softplus", "Softsign",   "Abs",       "Neg",
      "Clip",     "Erf",       "Exp",    "Log",      "Sqrt",       "Reciprocal", "Floor",
      "Ceil",     "Round",     "Sin",    "Cos",      "Gelu",       "Mish",      "ThresholdedRelu",
      "Shrink",   "Identity"};
  if (!onnx_domain(n) || !kUnary.count(n.op_type) || n.outputs.size() != 1) return false;
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (!n.inputs[i].empty() && !g.initializer(n.inputs[i])) return false;
  }
  // PRelu's slope must not vary along the tensor.
  if (n.op_type == "PRelu") {
    const Tensor* slope = g.initializer(input_at(n, 1));
    if (!slope || slope->numel() != 1) return false;
  }
  return true;
}

// Binary arithmetic that stays elementwise when both operands are the same shape (two values
// of one chain) or one is a constant scalar.
bool lut_binary_op(const Node& n) {
  static const std::set<std::string> kBinary = {"Add", "Sub", "Mul", "Div", "Max", "Min"};
  return onnx_domain(n) && kBinary.count(n.op_type) && n.inputs.size() == 2 && n.outputs.size() == 1;
}

// What the reference ops compute for each of the 256 values of x's type through `nodes` (graph
// order), x standing for the source tensor `x_q`; `out` is the last node's output.
Result<Tensor> lut_table(const Graph& g, const std::vector<size_t>& nodes, const std::string& x_q,
                         DType x_type, const std::string& out) {
  Graph mini;
  mini.name = "lut";
  mini.opset = g.opset;
  mini.opset_imports = g.opset_imports;
  mini.inputs.push_back({x_q, x_type, Shape{256}});
  for (size_t i : nodes) {
    const Node& n = g.nodes[i];
    for (const auto& in : n.inputs) {
      if (const Tensor* t = g.initializer(in)) mini.initializers[in] = *t;
    }
    mini.nodes.push_back(n);
  }
  mini.outputs.push_back({out, DType::kUndefined, std::nullopt});
  QT_ASSIGN_OR_RETURN(Executor exec, Executor::create(std::make_shared<const Graph>(std::move(mini))));
  Tensor x(x_type, {256});
  auto* xb = static_cast<uint8_t*>(x.raw());
  for (int i = 0; i < 256; ++i) xb[i] = static_cast<uint8_t>(i);
  QT_ASSIGN_OR_RETURN(std::vector<Tensor> result, exec.run({x}));
  const DType t = result.empty() ? DType::kUndefined : result[0].dtype();
  if (result.size() != 1 || (t != DType::kU8 && t != DType::kS8) || result[0].numel() != 256) {
    return Status::Internal("lookup table of " + g.nodes[nodes.back()].describe() +
                            " is not 256 8-bit values");
  }
  return std::move(result[0]);
}

// Largest number of nodes one table replaces (HardSwish as QDQ'd x * HardSigmoid(x) takes 6).
constexpr size_t kMaxLutNodes = 16;

}  // namespace

std::vector<Int8LutUnit> find_int8_luts(const Graph& g, const std::vector<bool>& taken) {
  const Uses u(g);
  std::vector<Int8LutUnit> luts;
  auto free = [&](size_t i) { return i >= taken.size() || !taken[i]; };
  std::vector<bool> used(g.nodes.size(), false);  // by a table found before
  auto add = [&](size_t op, size_t qi, const std::string& source, const std::vector<size_t>& nodes,
                 Result<Tensor> table) {
    if (!table.ok()) return;
    for (size_t i : nodes) used[i] = true;
    Int8LutUnit unit;
    unit.op = op;
    unit.q = qi;
    unit.x_q = source;
    unit.output = g.nodes[qi].outputs[0];
    unit.table = std::move(table).value();
    unit.nodes = nodes;
    luts.push_back(std::move(unit));
  };
  for (size_t qi = 0; qi < g.nodes.size(); ++qi) {
    const Node& q = g.nodes[qi];
    if (!free(qi) || used[qi] || !is_op(q, "QuantizeLinear") || q.outputs.size() != 1 ||
        q.outputs[0].empty() || !per_tensor_params(g, q)) {
      continue;
    }
    const Node* last = u.produced_by(g, input_at(q, 0));
    if (!last) continue;
    if (is_op(*last, "DequantizeLinear")) {
      // A requantization: DQ -> Q, the DQ read by nothing else.
      const size_t dqi = u.producer.at(input_at(q, 0));
      const std::string& source = input_at(*last, 0);
      const auto reader = u.sole_consumer(input_at(q, 0));
      const auto dq_params = per_tensor_params(g, *last);
      if (!free(dqi) || used[dqi] || !reader || *reader != qi || source.empty() ||
          g.initializer(source) || !dq_params || dq_params->zero_point.empty() ||
          u.graph_outputs.count(input_at(q, 0))) {
        continue;
      }
      const std::vector<size_t> nodes = {std::min(dqi, qi), std::max(dqi, qi)};
      add(dqi, qi, source, nodes, lut_table(g, nodes, source, dq_params->type, q.outputs[0]));
      continue;
    }
    if (!(lut_op(g, *last) || lut_binary_op(*last))) continue;
    // Walk back from the Q over elementwise ops, per-tensor DQs and the Qs between them, to
    // the one 8-bit tensor everything derives from.
    std::set<size_t> cone = {qi};
    std::vector<std::string> todo = {input_at(q, 0)};
    std::string source;
    bool ok = true;
    while (ok && !todo.empty()) {
      const std::string t = todo.back();
      todo.pop_back();
      if (g.initializer(t)) {
        ok = g.initializer(t)->numel() == 1;  // a constant operand must be a scalar
        continue;
      }
      auto p = u.producer.find(t);
      const bool inner = p != u.producer.end() && free(p->second) && !used[p->second];
      if (inner && cone.count(p->second)) continue;
      const Node* n = inner ? &g.nodes[p->second] : nullptr;
      if (n && is_op(*n, "DequantizeLinear")) {
        if (!per_tensor_params(g, *n) || input_at(*n, 0).empty()) {
          ok = false;
          break;
        }
        cone.insert(p->second);
        const std::string& in = input_at(*n, 0);
        const Node* qin = u.produced_by(g, in);
        // A Q of an elementwise op's value is a rounding inside the chain; any other 8-bit
        // tensor (a QConv's output, a graph input's Q) is the chain's source.
        const Node* op_in = qin ? u.produced_by(g, input_at(*qin, 0)) : nullptr;
        const bool requant = qin && is_op(*qin, "QuantizeLinear") && free(u.producer.at(in)) &&
                             !used[u.producer.at(in)] && per_tensor_params(g, *qin) && op_in &&
                             (lut_op(g, *op_in) || lut_binary_op(*op_in));
        if (requant) {
          todo.push_back(in);  // a Q -> DQ inside the chain: rounded there, as the graph does
        } else if (source.empty() || source == in) {
          source = in;
        } else {
          ok = false;  // a second 8-bit input
        }
      } else if (n && ((is_op(*n, "QuantizeLinear") && per_tensor_params(g, *n)) ||
                       lut_op(g, *n) || lut_binary_op(*n))) {
        cone.insert(p->second);
        for (const auto& in : n->inputs) {
          if (!in.empty()) todo.push_back(in);
        }
      } else {
        ok = false;  // an input from outside the chain that is not its 8-bit source
      }
      ok = ok && cone.size() <= kMaxLutNodes;
    }
    if (!ok || source.empty()) continue;
    // Every value but the last stays inside: nothing else reads it.
    for (size_t i : cone) {
      if (i == qi) continue;
      for (const auto& o : g.nodes[i].outputs) {
        if (o.empty()) continue;
        if (u.graph_outputs.count(o)) ok = false;
        auto c = u.consumers.find(o);
        if (c == u.consumers.end()) continue;
        for (size_t r : c->second) ok = ok && cone.count(r);
      }
    }
    if (!ok) continue;
    // The 8-bit type from a zero point, else from what the graph declares (ONNX's default for
    // a DequantizeLinear without zero point is not necessarily u8: int32 has none either).
    DType x_type = DType::kUndefined;
    for (size_t i : cone) {
      const Node& n = g.nodes[i];
      if (!is_op(n, "DequantizeLinear") || input_at(n, 0) != source) continue;
      const PerTensorQ pq = *per_tensor_params(g, n);
      if (!pq.zero_point.empty()) x_type = pq.type;
    }
    if (x_type == DType::kUndefined) {
      const ValueInfo* vi = g.find_value(source);
      x_type = vi ? vi->dtype : DType::kUndefined;
    }
    if (x_type != DType::kU8 && x_type != DType::kS8) continue;
    const std::vector<size_t> nodes(cone.begin(), cone.end());  // graph order
    // A node the reference ops cannot run stays as it is, to fail (or not) where the graph runs.
    Result<Tensor> table = lut_table(g, nodes, source, x_type, q.outputs[0]);
    add(u.producer.at(input_at(q, 0)), qi, source, nodes, std::move(table));
  }
  return luts;
}

namespace {

Result<Graph> lower_graph(const Graph& qdq, const LoweringTarget& target,
                          const std::vector<std::string>& bf16_ops) {
  const Uses u(qdq);
  const size_t count = qdq.nodes.size();
  std::vector<std::optional<Node>> replacement(count);
  std::vector<bool> removed(count, false);
  bool changed = false;
  auto claim = [&](const std::vector<size_t>& nodes) {
    for (size_t i : nodes) {
      if (removed[i] || replacement[i]) return false;
    }
    for (size_t i : nodes) removed[i] = true;
    removed[nodes[0]] = false;
    return true;
  };

  UnitOptions opts;
  opts.bias_add = target.bias_add;
  opts.requant_bias_add = target.bias_add && target.requant_bias_add;
  for (const QuantizedUnit& unit : find_quantized_units(qdq, opts)) {
    if (!target_supports(target, unit) || !claim(unit.fused)) continue;
    replacement[unit.node] = fused_node(qdq, unit, target.domain);
    changed = true;
  }
  if (target.int8_maxpool) {
    for (const Int8PoolUnit& p : find_int8_pools(qdq)) {
      if (!claim({p.pool, p.q})) continue;
      Node n = qdq.nodes[p.pool];
      n.inputs = {p.x_q};
      n.outputs = {p.output};
      replacement[p.pool] = std::move(n);
      changed = true;
    }
  }
  if (target.int8_add) {
    std::vector<bool> taken(count, false);
    for (size_t i = 0; i < count; ++i) taken[i] = removed[i] || replacement[i].has_value();
    for (const Int8AddUnit& a : find_int8_adds(qdq, taken)) {
      if (a.out_type == DType::kF32 && !target.f32_output) continue;
      if (a.activation == FusedActivation::kClip && !target.clip) continue;
      if (!claim(a.fused)) continue;
      Node n;
      n.name = qdq.nodes[a.node].name;
      n.domain = target.domain;
      n.op_type = kQAddOp;
      n.inputs = {a.a.tensor, a.a.scale, a.a.zero_point, a.b.tensor, a.b.scale, a.b.zero_point,
                  a.y_scale, a.y_zero_point};
      n.outputs = {a.output};
      set_activation_attrs(&n, a.activation, a.clip_min, a.clip_max);
      n.attrs["out_dtype"] = string_attr(std::string(dtype_name(a.out_type)));
      replacement[a.node] = std::move(n);
      changed = true;
    }
  }
  std::vector<std::pair<std::string, Tensor>> tables;  // QLut tables, new initializers
  if (target.int8_lut) {
    std::vector<bool> taken(count, false);
    for (size_t i = 0; i < count; ++i) taken[i] = removed[i] || replacement[i].has_value();
    std::vector<Int8LutUnit> luts = find_int8_luts(qdq, taken);
    std::set<std::string> names;
    for (const auto& [name, t] : qdq.initializers) names.insert(name);
    for (Int8LutUnit& l : luts) {
      // The Q first: claim keeps the first node's slot, where the table lookup goes.
      std::vector<size_t> nodes = {l.q};
      for (size_t i : l.nodes) {
        if (i != l.q) nodes.push_back(i);
      }
      if (!claim(nodes)) continue;
      std::string table = l.output + "_lut";
      while (names.count(table)) table += "_";
      names.insert(table);
      Node n;
      n.name = qdq.nodes[l.op].name;
      n.domain = target.domain;
      n.op_type = kQLutOp;
      n.inputs = {l.x_q, table};
      n.outputs = {l.output};
      replacement[l.q] = std::move(n);
      tables.emplace_back(table, std::move(l.table));
      changed = true;
    }
  }
  const std::set<std::string> bf16(bf16_ops.begin(), bf16_ops.end());
  for (size_t i = 0; i < count && !bf16.empty(); ++i) {
    if (!bf16.count(qdq.nodes[i].name) || removed[i] || replacement[i]) continue;
    Node n;
    std::vector<size_t> nodes = float_node(qdq, u, i, target, true, false, &n);
    if (nodes.empty() || !claim(nodes)) continue;
    replacement[nodes[0]] = std::move(n);
    changed = true;
  }
  // What is left in fp32 (the whole model when it is not quantized).
  for (size_t i = 0; i < count && (target.f32_conv || target.f32_gemm); ++i) {
    if (removed[i] || replacement[i]) continue;
    // The Add after it may already belong to another node (the other branch of a residual).
    Node n;
    std::vector<size_t> nodes = float_node(qdq, u, i, target, false, true, &n);
    bool claimed = !nodes.empty() && claim(nodes);
    if (!claimed && nodes.size() > 1) {
      nodes = float_node(qdq, u, i, target, false, false, &n);
      claimed = !nodes.empty() && claim(nodes);
    }
    if (!claimed) continue;
    replacement[nodes[0]] = std::move(n);
    changed = true;
  }
  if (!changed) return qdq;

  Graph out = qdq;
  for (auto& [name, t] : tables) out.initializers[name] = std::move(t);
  out.nodes.clear();
  for (size_t i = 0; i < count; ++i) {
    if (removed[i]) continue;
    out.nodes.push_back(replacement[i] ? *replacement[i] : qdq.nodes[i]);
  }
  // Drop Q/DQ nodes nothing reads any more (the fused nodes read the 8-bit tensors directly);
  // removing a DQ can orphan the Q before it, hence the loop.
  for (bool again = true; again;) {
    again = false;
    const Uses now(out);
    for (size_t i = out.nodes.size(); i-- > 0;) {
      const Node& n = out.nodes[i];
      if (!is_op(n, "DequantizeLinear") && !is_op(n, "QuantizeLinear")) continue;
      bool read = false;
      for (const auto& o : n.outputs) {
        read = read || now.graph_outputs.count(o) || now.consumers.count(o);
      }
      if (!read) {
        out.nodes.erase(out.nodes.begin() + static_cast<std::ptrdiff_t>(i));
        again = true;
      }
    }
  }
  // Forget what only the removed nodes used: their initializers and intermediate value infos.
  const Uses now(out);
  std::set<std::string> before;
  for (const auto& n : qdq.nodes) {
    before.insert(n.inputs.begin(), n.inputs.end());
    before.insert(n.outputs.begin(), n.outputs.end());
  }
  for (auto it = out.initializers.begin(); it != out.initializers.end();) {
    const bool dropped = before.count(it->first) && !now.consumers.count(it->first) &&
                         !now.graph_outputs.count(it->first);
    it = dropped ? out.initializers.erase(it) : std::next(it);
  }
  for (auto it = out.value_info.begin(); it != out.value_info.end();) {
    const bool dropped = before.count(it->first) && !now.producer.count(it->first) &&
                         !now.consumers.count(it->first) && !now.graph_outputs.count(it->first);
    it = dropped ? out.value_info.erase(it) : std::next(it);
  }
  return out;
}

}  // namespace

namespace {

// Runs data movement (data_movement_since's ops) and Concat on 8-bit tensors where a QDQ graph
// has them between a per-tensor DequantizeLinear and QuantizeLinears with the same parameters:
// the op reads the 8-bit tensor, the Qs go, and Shape ops read the 8-bit tensor too (its shape is
// the same). An op qualifies when every reader of its output is such a Q, a Shape, or an op that
// qualifies in turn. A Concat's inputs (each the output of a DequantizeLinear) may come with other
// parameters than its Q's: those are requantized first by a DQ -> Q pair of their own (which
// find_int8_luts makes a table lookup), so every element still gets exactly Q(DQ(x)).
Graph int8_data_movement(const Graph& g) {
  const Uses u(g);
  struct View {  // a tensor that is the f32 view of an 8-bit one
    std::string bits;  // the 8-bit tensor
    PerTensorQ q;
    bool from_dq = false;
  };
  std::map<std::string, View> views;
  auto same = [](const PerTensorQ& a, const PerTensorQ& b) {
    return a.type == b.type && a.zp_value == b.zp_value &&
           std::memcmp(&a.scale_value, &b.scale_value, sizeof(float)) == 0;
  };
  auto data_op = [&](const Node& n) {
    const std::optional<int64_t> since = data_movement_since(n);
    if (!since || g.opset < *since || n.outputs.size() != 1 || n.outputs[0].empty() ||
        n.inputs.empty() || input_at(n, 0).empty()) {
      return false;
    }
    for (size_t k = 1; k < n.inputs.size(); ++k) {
      if (n.inputs[k] == input_at(n, 0)) return false;
    }
    return true;
  };
  auto is_concat = [&](const Node& n) {
    return g.opset >= 4 && is_op(n, "Concat") && n.outputs.size() == 1 && !n.outputs[0].empty() &&
           !n.inputs.empty();
  };
  // A Q that can go: per tensor, parameters q, nothing reading its output from a subgraph. One
  // whose output is a graph output goes too: the op then writes that output itself.
  auto dropped_q = [&](const Node& c, const std::string& t, const PerTensorQ& q) {
    if (!is_op(c, "QuantizeLinear") || c.outputs.size() != 1 || c.outputs[0].empty() ||
        input_at(c, 0) != t || c.attr_int("output_dtype", 0) != 0) {
      return false;
    }
    const auto p = per_tensor_params(g, c);
    if (!p || p->zero_point.empty()) return false;
    auto r = u.consumers.find(c.outputs[0]);
    if (r == u.consumers.end()) return true;
    for (size_t k : r->second) {
      const auto& in = g.nodes[k].inputs;
      if (std::find(in.begin(), in.end(), c.outputs[0]) == in.end()) return false;
    }
    return true;
  };
  // Forward: the f32 views (DQ outputs, and data movement of a view).
  for (const Node& n : g.nodes) {
    if (is_op(n, "DequantizeLinear") && n.outputs.size() == 1 && !n.outputs[0].empty()) {
      if (auto x = activation_dq(g, u, n.outputs[0]); x && !x->second.zero_point.empty()) {
        views[n.outputs[0]] = {x->first, x->second, true};
      }
    } else if (data_op(n) && views.count(input_at(n, 0))) {
      views[n.outputs[0]] = {n.outputs[0], views[input_at(n, 0)].q, false};
    }
  }
  // Backward: which ops go 8-bit (their output then is the 8-bit tensor itself).
  std::vector<bool> convert(g.nodes.size(), false);
  std::map<size_t, PerTensorQ> concat_q;
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    const std::string& out = n.outputs.empty() ? std::string() : n.outputs[0];
    if (out.empty() || u.graph_outputs.count(out)) continue;
    auto readers = u.consumers.find(out);
    if (readers == u.consumers.end()) continue;
    std::optional<PerTensorQ> q;
    if (data_op(n) && views.count(out)) {
      q = views[out].q;
    } else if (is_concat(n)) {
      for (const auto& in : n.inputs) {
        auto v = views.find(in);
        if (v == views.end() || !v->second.from_dq) {
          q.reset();
          break;
        }
        q = v->second.q;  // provisional; the Qs decide
      }
      if (!q) continue;
      q.reset();
      for (size_t k : readers->second) {  // the output's parameters: those of its Qs
        const Node& c = g.nodes[k];
        if (!is_op(c, "QuantizeLinear")) continue;
        if (auto p = per_tensor_params(g, c); p && !p->zero_point.empty()) q = *p;
        break;
      }
    }
    if (!q) continue;
    bool ok = true, any_q = false;
    int graph_output_qs = 0;  // at most one: the op's output can take one name
    for (size_t k : readers->second) {
      const Node& c = g.nodes[k];
      const bool can_drop = dropped_q(c, out, *q);
      const bool same_q = can_drop && same(*per_tensor_params(g, c), *q);
      const bool named = same_q && u.graph_outputs.count(c.outputs[0]) && ++graph_output_qs > 1;
      if (can_drop && (!is_concat(n) || same_q) && !named) {
        any_q = true;
      } else if (!(is_op(c, "Shape") && input_at(c, 0) == out) &&
                 !(convert[k] && input_at(c, 0) == out && data_op(c)) &&
                 !(convert[k] && is_concat(c))) {
        ok = false;
      }
    }
    // A Concat needs a Q to take its parameters from; data movement needs 8-bit readers.
    if (!ok || (is_concat(n) && !any_q)) continue;
    convert[i] = true;
    if (is_concat(n)) concat_q[i] = *q;
  }
  // Forward: data movement of a view whose own op stays f32 has no 8-bit tensor to read.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!convert[i] || !data_op(g.nodes[i])) continue;
    const View& v = views.at(input_at(g.nodes[i], 0));
    if (!v.from_dq && !convert[u.producer.at(input_at(g.nodes[i], 0))]) convert[i] = false;
  }
  if (std::find(convert.begin(), convert.end(), true) == convert.end()) return g;
  // Rewrite: converted ops read 8-bit tensors, their Qs go (their readers read the op's output).
  std::set<std::string> names;
  for (const auto& n : g.nodes) names.insert(n.outputs.begin(), n.outputs.end());
  for (const auto& [name, t] : g.initializers) names.insert(name);
  for (const auto& v : g.inputs) names.insert(v.name);
  auto fresh = [&](std::string base) {
    while (names.count(base)) base += "_";
    names.insert(base);
    return base;
  };
  std::map<std::string, std::string> rename;
  std::vector<bool> drop(g.nodes.size(), false);
  std::map<size_t, PerTensorQ> requant;
  // A converted op whose dropped Q wrote a graph output writes it under that name.
  std::map<size_t, std::string> output_name;
  Graph out = g;
  out.nodes.clear();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!convert[i]) continue;
    const Node& n = g.nodes[i];
    const PerTensorQ in = is_concat(n) ? concat_q.at(i) : views.at(n.outputs[0]).q;
    auto same_q = [&](size_t k) {
      return is_op(g.nodes[k], "QuantizeLinear") && same(*per_tensor_params(g, g.nodes[k]), in);
    };
    std::string eight_bit = n.outputs[0];
    for (size_t k : u.consumers.at(n.outputs[0])) {
      if (same_q(k) && u.graph_outputs.count(g.nodes[k].outputs[0])) {
        eight_bit = g.nodes[k].outputs[0];
        output_name[i] = eight_bit;
        rename[n.outputs[0]] = eight_bit;
      }
    }
    for (size_t k : u.consumers.at(n.outputs[0])) {
      if (!is_op(g.nodes[k], "QuantizeLinear")) continue;
      if (same_q(k)) {
        drop[k] = true;
        if (g.nodes[k].outputs[0] != eight_bit) rename[g.nodes[k].outputs[0]] = eight_bit;
      } else {
        requant[k] = in;  // the Q of other parameters reads a DQ of the 8-bit output
      }
    }
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (drop[i]) continue;
    Node n = g.nodes[i];
    if (auto r = requant.find(i); r != requant.end()) {
      Node dq;
      dq.name = fresh(n.name + "_requant_dq");
      dq.op_type = "DequantizeLinear";
      dq.inputs = {input_at(n, 0), r->second.scale, r->second.zero_point};
      dq.outputs = {fresh(input_at(n, 0) + "_f32")};
      n.inputs[0] = dq.outputs[0];
      out.nodes.push_back(std::move(dq));
    }
    if (convert[i]) {
      const size_t data_inputs = is_concat(n) ? n.inputs.size() : 1;
      for (size_t k = 0; k < data_inputs; ++k) {
        const View& v = views.at(n.inputs[k]);
        const std::string bits = v.from_dq ? v.bits : n.inputs[k];
        if (!is_concat(n) || same(v.q, concat_q.at(i))) {
          n.inputs[k] = bits;
          continue;
        }
        // Requantized to the Concat's parameters by a DQ -> Q pair of its own.
        Node dq = *u.produced_by(g, n.inputs[k]);
        dq.name = fresh(n.name + "_requant_dq" + std::to_string(k));
        dq.outputs = {fresh(n.outputs[0] + "_in" + std::to_string(k) + "_f32")};
        const PerTensorQ& q = concat_q.at(i);
        Node rq;
        rq.name = fresh(n.name + "_requant_q" + std::to_string(k));
        rq.op_type = "QuantizeLinear";
        rq.inputs = {dq.outputs[0], q.scale, q.zero_point};
        rq.outputs = {fresh(n.outputs[0] + "_in" + std::to_string(k))};
        n.inputs[k] = rq.outputs[0];
        out.nodes.push_back(std::move(dq));
        out.nodes.push_back(std::move(rq));
      }
      if (auto o = output_name.find(i); o != output_name.end()) n.outputs[0] = o->second;
    }
    out.nodes.push_back(std::move(n));
  }
  for (Node& n : out.nodes) {
    for (auto& in : n.inputs) {
      for (auto r = rename.find(in); r != rename.end(); r = rename.find(in)) in = r->second;
    }
  }
  // What the graph declares of the converted outputs: now 8-bit tensors (a graph output's
  // declaration stays, already 8-bit; the f32 name it replaces is gone).
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!convert[i]) continue;
    auto vi = out.value_info.find(g.nodes[i].outputs[0]);
    if (vi == out.value_info.end()) continue;
    if (output_name.count(i)) {
      out.value_info.erase(vi);
    } else {
      vi->second.dtype = is_concat(g.nodes[i]) ? concat_q.at(i).type : views.at(g.nodes[i].outputs[0]).q.type;
    }
  }
  // The DQs nothing reads any more.
  const Uses after(out);
  std::vector<Node> live;
  for (Node& n : out.nodes) {
    const bool dead = is_op(n, "DequantizeLinear") && n.outputs.size() == 1 &&
                      !after.consumers.count(n.outputs[0]) && !after.graph_outputs.count(n.outputs[0]);
    if (!dead) live.push_back(std::move(n));
  }
  out.nodes = std::move(live);
  return out;
}

}  // namespace

Result<Graph> lower_qdq(const Graph& qdq, const LoweringTarget& target,
                        const std::vector<std::string>& bf16_ops) {
  QT_ASSIGN_OR_RETURN(Graph out,
                      lower_graph(target.int8_data_movement ? int8_data_movement(qdq) : qdq, target, bf16_ops));
  // Subgraphs hold their own quantized units (the QDQ builder puts them there).
  QT_RETURN_IF_ERROR(rewrite_subgraphs(out, [&](Graph& sub) -> Status {
    QT_ASSIGN_OR_RETURN(sub, lower_qdq(sub, target, bf16_ops));
    return Status::Ok();
  }));
  return out;
}

}  // namespace qtune
