#include "common/opset_lowering.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qtune {
namespace {

bool default_domain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

const std::string& input_at(const Node& n, size_t i) {
  static const std::string kNone;
  return i < n.inputs.size() ? n.inputs[i] : kNone;
}

Status unsupported(const Node& n, int64_t opset, const std::string& what) {
  return Status::Unsupported(n.describe() + " at opset " + std::to_string(opset) + ": " + what +
                             " has no equivalent at opset " + std::to_string(kRuntimeOpset) +
                             ", which qtune runs");
}

// Ops added after the runtime's opset with no single-op equivalent, and what replaces the
// ones that have a definition in older ops (see lower_node).
const std::set<std::string>& ops_without_equivalent() {
  static const std::set<std::string> ops = {
      "AffineGrid", "Attention", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor",
      "CenterCropPad", "Col2Im", "DeformConv", "GroupNormalization", "ImageDecoder",
      "RMSNormalization", "RegexFullMatch", "RotaryEmbedding", "StringConcat", "StringSplit"};
  return ops;
}

// The Reduce ops whose axes became an input at opset 18 (ReduceSum did at 13).
const std::set<std::string>& reduce_ops_with_axes_input() {
  static const std::set<std::string> ops = {
      "ReduceL1",  "ReduceL2",  "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
      "ReduceMean", "ReduceMin", "ReduceProd",  "ReduceSumSquare"};
  return ops;
}

class Lowering {
 public:
  Lowering(Graph& g, int64_t opset) : g_(g), opset_(opset) {
    for (const Node& n : g.nodes) {
      names_.insert(n.name);
      names_.insert(n.outputs.begin(), n.outputs.end());
      if (default_domain(n) && n.op_type == "Constant" && n.outputs.size() == 1) {
        auto v = n.attrs.find("value");
        if (v != n.attrs.end() && v->second.kind == Attribute::Kind::kTensor) {
          constants_[n.outputs[0]] = &v->second.t;
        }
      }
    }
    for (const auto& [name, t] : g.initializers) names_.insert(name);
    for (const auto& v : g.inputs) names_.insert(v.name);
  }

  Status run() {
    std::vector<Node> out;
    for (Node& n : g_.nodes) {
      if (!default_domain(n)) {
        out.push_back(std::move(n));
        continue;
      }
      note_rank(n);
      std::vector<Node> replaced;
      QT_RETURN_IF_ERROR(lower_node(n, &replaced));
      for (Node& r : replaced) out.push_back(std::move(r));
    }
    g_.nodes = std::move(out);
    for (auto& [name, t] : new_initializers_) g_.initializers[name] = std::move(t);
    g_.opset = kRuntimeOpset;
    return Status::Ok();
  }

 private:
  // An initializer or a Constant node's value.
  const Tensor* constant(const std::string& name) const {
    if (name.empty()) return nullptr;
    if (const Tensor* t = g_.initializer(name)) return t;
    auto it = constants_.find(name);
    return it == constants_.end() ? nullptr : it->second;
  }

  // The rank of a tensor: declared, constant, or carried through the ops before it that keep
  // their first input's rank or broadcast their inputs; -1 when not known.
  int64_t rank_of(const std::string& name) const {
    if (const Tensor* t = constant(name)) return t->rank();
    auto r = ranks_.find(name);
    if (r != ranks_.end()) return r->second;
    const ValueInfo* v = g_.find_value(name);
    return v && v->shape ? static_cast<int64_t>(v->shape->size()) : -1;
  }

  void note_rank(const Node& n) {
    static const std::set<std::string> keeps_rank = {
        "Abs", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Ceil", "Celu", "Clip",
        "Conv", "ConvTranspose", "Cos", "DequantizeLinear", "Dropout", "Elu", "Erf", "Exp",
        "Floor", "Gelu", "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish",
        "Identity", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Log",
        "LogSoftmax", "LpNormalization", "LpPool", "LRN", "MaxPool", "Mish", "Neg", "Not", "Pad",
        "QuantizeLinear", "Reciprocal", "Relu", "Resize", "Round", "Selu", "Sigmoid", "Sign",
        "Sin", "Softmax", "Softplus", "Softsign", "Split", "Sqrt", "Tanh", "ThresholdedRelu",
        "Transpose"};
    static const std::set<std::string> broadcasts = {
        "Add", "And", "BitShift", "Div", "Equal", "Greater", "GreaterOrEqual", "Less",
        "LessOrEqual", "Max", "Mean", "Min", "Mod", "Mul", "Or", "Pow", "PRelu", "Sub", "Sum",
        "Where", "Xor"};
    int64_t r = -1;
    if (keeps_rank.count(n.op_type)) {
      r = rank_of(input_at(n, 0));
    } else if (broadcasts.count(n.op_type)) {
      for (const auto& in : n.inputs) {
        const int64_t k = in.empty() ? -1 : rank_of(in);
        if (k < 0) return;
        r = std::max(r, k);
      }
    }
    if (r < 0) return;
    for (const auto& o : n.outputs) {
      if (!o.empty()) ranks_[o] = r;
    }
  }

  std::string fresh(const std::string& base) {
    std::string n = base;
    for (int k = 1; names_.count(n); ++k) n = base + "_" + std::to_string(k);
    names_.insert(n);
    return n;
  }

  std::string scalar(const std::string& base, float v) {
    const std::string name = fresh(base);
    new_initializers_[name] = Tensor::from_f32({}, {v});
    return name;
  }

  Node make(const Node& from, const std::string& op, std::vector<std::string> in,
            std::vector<std::string> out) {
    Node n;
    n.name = fresh(from.name + "/" + op);
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
  }

  // An attribute that must be absent or hold `ok` (an int), else the feature is unsupported.
  Status require_int(Node& n, const char* key, int64_t ok, const std::string& what) {
    auto a = n.attrs.find(key);
    if (a == n.attrs.end()) return Status::Ok();
    if (a->second.i != ok) return unsupported(n, opset_, what);
    n.attrs.erase(a);
    return Status::Ok();
  }
  Status require_string(Node& n, const char* key, const std::string& ok, const std::string& what) {
    auto a = n.attrs.find(key);
    if (a == n.attrs.end()) return Status::Ok();
    if (a->second.s != ok) return unsupported(n, opset_, what);
    n.attrs.erase(a);
    return Status::Ok();
  }

  Result<std::vector<int64_t>> int_values(const Node& n, const std::string& name,
                                          const char* what) const {
    const Tensor* t = constant(name);
    if (!t) return unsupported(n, opset_, std::string(what) + " computed at run time");
    if (t->dtype() != DType::kS64 && t->dtype() != DType::kS32) {
      return Status::InvalidInput(n.describe() + ": " + what + " must be int64, got " +
                                  std::string(dtype_name(t->dtype())));
    }
    std::vector<int64_t> v;
    for (int64_t i = 0; i < t->numel(); ++i) v.push_back(t->get_i64(i));
    return v;
  }

  std::string int64s(const std::string& base, const std::vector<int64_t>& v) {
    const std::string name = fresh(base);
    new_initializers_[name] = Tensor::from_i64({static_cast<int64_t>(v.size())}, v);
    return name;
  }

  // The split input for Split-18's num_outputs = parts, as an initializer when the dim is
  // declared, else as shape arithmetic in front of the node (appended to `out`).
  Status split_sizes(Node& n, int64_t parts, std::vector<Node>* out) {
    const std::string& x = input_at(n, 0);
    const int64_t axis = n.attr_int("axis", 0);
    const ValueInfo* v = g_.find_value(x);
    if (v && v->shape) {
      const int64_t rank = static_cast<int64_t>(v->shape->size());
      const int64_t a = axis < 0 ? axis + rank : axis;
      if (a < 0 || a >= rank) {
        return Status::InvalidInput(n.describe() + ": axis " + std::to_string(axis) +
                                    " is out of range for rank " + std::to_string(rank));
      }
      const int64_t d = (*v->shape)[static_cast<size_t>(a)];
      if (d >= 0) {
        if (d % parts == 0) return Status::Ok();
        const int64_t chunk = (d + parts - 1) / parts;
        std::vector<int64_t> sizes(static_cast<size_t>(parts), chunk);
        sizes.back() = d - chunk * (parts - 1);
        if (sizes.back() < 0) return unsupported(n, opset_, "more outputs than elements");
        n.inputs.resize(2);
        n.inputs[1] = int64s(n.name + "/split", sizes);
        return Status::Ok();
      }
    }
    auto tmp = [&](const char* s) { return fresh(n.outputs[0] + "/" + s); };
    const std::string d = tmp("dim"), padded = tmp("dim_plus"), chunk = tmp("chunk"),
                      firsts = tmp("firsts"), used = tmp("used"), last = tmp("last"),
                      sizes = tmp("sizes");
    Node shape = make(n, "Shape", {x}, {d});
    Attribute start;
    start.kind = Attribute::Kind::kInt;
    start.i = axis;
    shape.attrs["start"] = start;
    if (axis != -1) {
      Attribute end = start;
      end.i = axis + 1;
      shape.attrs["end"] = end;
    }
    out->push_back(std::move(shape));
    out->push_back(make(n, "Add", {d, int64s(n.name + "/parts_minus_one", {parts - 1})}, {padded}));
    out->push_back(make(n, "Div", {padded, int64s(n.name + "/parts", {parts})}, {chunk}));
    out->push_back(make(n, "Expand", {chunk, int64s(n.name + "/firsts_shape", {parts - 1})},
                        {firsts}));
    out->push_back(make(n, "Mul", {chunk, int64s(n.name + "/firsts_count", {parts - 1})},
                        {used}));
    out->push_back(make(n, "Sub", {d, used}, {last}));
    Node concat = make(n, "Concat", {firsts, last}, {sizes});
    Attribute zero;
    zero.kind = Attribute::Kind::kInt;
    zero.i = 0;
    concat.attrs["axis"] = zero;
    out->push_back(std::move(concat));
    n.inputs.resize(2);
    n.inputs[1] = sizes;
    return Status::Ok();
  }

  // x * (erf(x / sqrt 2) + 1) * 0.5, or the tanh form, as GELU's definition writes them.
  void gelu(const Node& n, bool tanh_form, std::vector<Node>* out) {
    const std::string& x = n.inputs[0];
    auto tmp = [&](const char* s) { return fresh(n.outputs[0] + "/" + s); };
    std::string inner;
    if (tanh_form) {
      const std::string cube = tmp("cube"), scaled = tmp("cubic_term"), sum = tmp("sum"),
                        arg = tmp("tanh_arg");
      out->push_back(make(n, "Pow", {x, scalar(n.name + "/three", 3.0f)}, {cube}));
      out->push_back(make(n, "Mul", {cube, scalar(n.name + "/coeff", 0.044715f)}, {scaled}));
      out->push_back(make(n, "Add", {x, scaled}, {sum}));
      out->push_back(make(n, "Mul", {sum, scalar(n.name + "/sqrt_2_over_pi",
                                                  static_cast<float>(std::sqrt(2.0 / M_PI)))},
                          {arg}));
      inner = tmp("tanh");
      out->push_back(make(n, "Tanh", {arg}, {inner}));
    } else {
      const std::string scaled = tmp("scaled");
      out->push_back(make(n, "Div", {x, scalar(n.name + "/sqrt2", static_cast<float>(M_SQRT2))},
                          {scaled}));
      inner = tmp("erf");
      out->push_back(make(n, "Erf", {scaled}, {inner}));
    }
    const std::string plus = tmp("plus_one"), prod = tmp("times_x");
    out->push_back(make(n, "Add", {inner, scalar(n.name + "/one", 1.0f)}, {plus}));
    out->push_back(make(n, "Mul", {x, plus}, {prod}));
    out->push_back(make(n, "Mul", {prod, scalar(n.name + "/half", 0.5f)}, {n.outputs[0]}));
  }

  Status lower_node(Node& n, std::vector<Node>* out) {
    const std::string& op = n.op_type;
    if (ops_without_equivalent().count(op)) return unsupported(n, opset_, "the operator");

    if (reduce_ops_with_axes_input().count(op) && n.inputs.size() > 1) {
      const std::string axes_name = n.inputs[1];
      n.inputs.resize(1);
      const int64_t noop = n.attr_int("noop_with_empty_axes", 0);
      n.attrs.erase("noop_with_empty_axes");
      if (!axes_name.empty()) {
        QT_ASSIGN_OR_RETURN(std::vector<int64_t> axes, int_values(n, axes_name, "axes"));
        if (axes.empty() && noop) {
          n.op_type = "Identity";
          n.attrs.clear();
        } else if (!axes.empty()) {
          Attribute a;
          a.kind = Attribute::Kind::kInts;
          a.ints = std::move(axes);
          n.attrs["axes"] = std::move(a);
        }
      } else if (noop) {
        n.op_type = "Identity";
        n.attrs.clear();
      }
    } else if (reduce_ops_with_axes_input().count(op)) {
      if (n.attr_int("noop_with_empty_axes", 0) != 0) {
        n.op_type = "Identity";
        n.attrs.clear();
      }
      n.attrs.erase("noop_with_empty_axes");
    } else if (op == "Split") {
      // Opset 18's num_outputs cuts parts of ceil(d / num_outputs), the last one shorter when
      // d does not divide; opset 13 needs those sizes as its split input. Equal parts of a
      // known d need none; otherwise they are computed from the shape at run time.
      const int64_t parts = n.attr_int("num_outputs", 0);
      n.attrs.erase("num_outputs");
      if (parts > 0 && input_at(n, 1).empty()) QT_RETURN_IF_ERROR(split_sizes(n, parts, out));
    } else if (op == "Pad") {
      if (n.attr_string("mode", "constant") == "wrap") return unsupported(n, opset_, "mode wrap");
      if (!input_at(n, 3).empty()) {
        // Pads of the listed axes only: spread over every axis, zero for the others.
        QT_ASSIGN_OR_RETURN(std::vector<int64_t> axes, int_values(n, input_at(n, 3), "axes"));
        QT_ASSIGN_OR_RETURN(std::vector<int64_t> pads, int_values(n, input_at(n, 1), "pads"));
        const int64_t rank = rank_of(input_at(n, 0));
        if (rank < 0) return unsupported(n, opset_, "an axes input on a tensor of unknown rank");
        if (pads.size() != 2 * axes.size()) {
          return Status::InvalidInput(n.describe() + ": " + std::to_string(pads.size()) +
                                      " pads for " + std::to_string(axes.size()) + " axes");
        }
        std::vector<int64_t> full(static_cast<size_t>(2 * rank), 0);
        for (size_t i = 0; i < axes.size(); ++i) {
          int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
          if (a < 0 || a >= rank) {
            return Status::InvalidInput(n.describe() + ": axis " + std::to_string(axes[i]) +
                                        " is out of range for rank " + std::to_string(rank));
          }
          full[static_cast<size_t>(a)] = pads[i];
          full[static_cast<size_t>(a + rank)] = pads[i + axes.size()];
        }
        const std::string name = fresh(n.name + "/pads");
        new_initializers_[name] = Tensor::from_i64({2 * rank}, full);
        n.inputs[1] = name;
      }
      n.inputs.resize(std::min<size_t>(n.inputs.size(), 3));
    } else if (op == "Resize") {
      QT_RETURN_IF_ERROR(require_int(n, "antialias", 0, "antialiasing"));
      QT_RETURN_IF_ERROR(require_string(n, "keep_aspect_ratio_policy", "stretch",
                                        "a keep_aspect_ratio_policy other than stretch"));
      if (n.has_attr("axes")) return unsupported(n, opset_, "resizing only some axes");
      if (n.attr_string("coordinate_transformation_mode", "half_pixel") ==
          "half_pixel_symmetric") {
        return unsupported(n, opset_, "coordinate_transformation_mode half_pixel_symmetric");
      }
    } else if (op == "AveragePool") {
      if (n.has_attr("dilations")) {
        for (int64_t d : n.attr_ints("dilations")) {
          if (d != 1) return unsupported(n, opset_, "dilated average pooling");
        }
        n.attrs.erase("dilations");
      }
    } else if (op == "LpPool") {
      QT_RETURN_IF_ERROR(require_int(n, "ceil_mode", 0, "ceil_mode 1"));
    } else if (op == "ScatterElements" || op == "ScatterND") {
      const std::string r = n.attr_string("reduction", "none");
      if (r == "max" || r == "min") return unsupported(n, opset_, "reduction '" + r + "'");
    } else if (op == "Cast" || op == "CastLike") {
      n.attrs.erase("saturate");  // only float8 results saturate, which no stored type is
    } else if (op == "QuantizeLinear" || op == "DequantizeLinear") {
      n.attrs.erase("saturate");
      QT_RETURN_IF_ERROR(require_int(n, "block_size", 0, "block quantization"));
      auto dt = n.attrs.find("output_dtype");
      if (dt != n.attrs.end()) {
        const int64_t t = dt->second.i;
        n.attrs.erase(dt);
        if (t != 0 && input_at(n, 2).empty()) {
          DType type;
          if (!dtype_from_onnx(static_cast<int32_t>(t), &type) ||
              (type != DType::kU8 && type != DType::kS8)) {
            return unsupported(n, opset_, "output_dtype " + std::to_string(t));
          }
          const std::string zp = fresh(n.name + "/zero_point");
          new_initializers_[zp] = Tensor(type, {});
          n.inputs.resize(3);
          n.inputs[2] = zp;
        }
      }
    } else if (op == "GridSample") {
      // Opset 20 renamed the modes and allowed other ranks; 16 had bilinear/bicubic only.
      auto m = n.attrs.find("mode");
      if (m != n.attrs.end()) {
        if (m->second.s == "linear") m->second.s = "bilinear";
        if (m->second.s == "cubic") m->second.s = "bicubic";
      }
    } else if (op == "DFT" && opset_ >= 20) {
      return unsupported(n, opset_, "DFT with dft_length and axis as inputs");
    } else if (op == "Gelu") {
      const std::string approx = n.attr_string("approximate", "none");
      if (approx != "none" && approx != "tanh") {
        return Status::InvalidInput(n.describe() + ": approximate must be none or tanh, got '" +
                                    approx + "'");
      }
      gelu(n, approx == "tanh", out);
      return Status::Ok();
    } else if (op == "Mish") {
      const std::string sp = fresh(n.outputs[0] + "/softplus");
      const std::string th = fresh(n.outputs[0] + "/tanh");
      out->push_back(make(n, "Softplus", {n.inputs[0]}, {sp}));
      out->push_back(make(n, "Tanh", {sp}, {th}));
      out->push_back(make(n, "Mul", {n.inputs[0], th}, {n.outputs[0]}));
      return Status::Ok();
    }
    out->push_back(std::move(n));
    return Status::Ok();
  }

  Graph& g_;
  int64_t opset_;
  std::set<std::string> names_;
  std::map<std::string, const Tensor*> constants_;
  std::map<std::string, int64_t> ranks_;
  std::map<std::string, Tensor> new_initializers_;
};

Status lower_graph(Graph& g, int64_t opset) {
  QT_RETURN_IF_ERROR(rewrite_subgraphs(g, [&](Graph& sub) { return lower_graph(sub, opset); }));
  return Lowering(g, opset).run();
}

}  // namespace

Status lower_to_runtime_opset(Graph& g) {
  if (g.opset <= kRuntimeOpset) return Status::Ok();
  if (g.opset > kNewestKnownOpset) {
    return Status::Unsupported("the model's opset " + std::to_string(g.opset) +
                               " is newer than qtune knows (up to " +
                               std::to_string(kNewestKnownOpset) + ")");
  }
  return lower_graph(g, g.opset);
}

}  // namespace qtune
