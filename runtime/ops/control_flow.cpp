// Control flow: If, Loop, Scan and SequenceMap, which run subgraphs (graph attributes) with their own
// Executor. A node's subgraphs read outer values through the implicit inputs the executor appends
// after the node's own (Node::implicit_inputs() order); each subgraph Executor is built once per
// node and kept in its NodeCache.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "runtime/kernel_registry.h"
#include "runtime/op_util.h"

namespace qtune {
namespace {

// One subgraph ready to run under a node.
struct Body {
  std::unique_ptr<Executor> exec;
  std::vector<size_t> outer_inputs;  // ctx input index of each exec->outer_scope() name
};

struct Bodies {
  Status status;
  std::map<std::string, Body> by_attr;
};

Bodies build_bodies(const OpContext& ctx, const std::vector<std::string>& attr_names) {
  Bodies out;
  const Node& n = ctx.node;
  const std::vector<std::string> implicit = n.implicit_inputs();
  for (const auto& name : attr_names) {
    auto it = n.attrs.find(name);
    if (it == n.attrs.end() || it->second.kind != Attribute::Kind::kGraph || !it->second.g) {
      out.status = ctx.invalid("graph attribute '" + name + "' is missing");
      return out;
    }
    std::shared_ptr<const Graph> g = it->second.g;
    if (g->opset != ctx.opset) {  // subgraph kernels follow the model's opset
      auto copy = std::make_shared<Graph>(*g);
      copy->opset = ctx.opset;
      g = std::move(copy);
    }
    auto exec = Executor::create(g, ctx.extra_ops);
    if (!exec.ok()) {
      out.status = exec.status().Annotate(n.describe() + " " + name);
      return out;
    }
    Body body;
    body.exec = std::make_unique<Executor>(std::move(exec).value());
    for (const auto& outer : body.exec->outer_scope()) {
      const size_t k = static_cast<size_t>(
          std::find(implicit.begin(), implicit.end(), outer) - implicit.begin());
      body.outer_inputs.push_back(n.inputs.size() + k);
    }
    out.by_attr.emplace(name, std::move(body));
  }
  return out;
}

// The node's subgraph executors, built on first use (kept when the caller gives a cache).
Result<std::shared_ptr<const Bodies>> bodies(OpContext& ctx,
                                             const std::vector<std::string>& attr_names) {
  std::shared_ptr<const Bodies> b;
  if (ctx.cache) {
    b = ctx.cache->get<Bodies>(&ctx.node, [&] { return build_bodies(ctx, attr_names); });
  } else {
    b = std::make_shared<const Bodies>(build_bodies(ctx, attr_names));
  }
  if (!b->status.ok()) return b->status;
  return b;
}

Result<std::vector<Tensor>> run_body(const OpContext& ctx, const Body& body,
                                     const std::vector<Tensor>& inputs) {
  std::vector<const Tensor*> outer;
  outer.reserve(body.outer_inputs.size());
  for (size_t k : body.outer_inputs) outer.push_back(ctx.input(k));
  auto out = body.exec->run_subgraph(inputs, outer,
                                     ctx.observer ? *ctx.observer : Executor::Observer());
  if (!out.ok()) return out.status().Annotate(ctx.node.describe());
  return out;
}

// Node inputs without the implicit (outer-scope) ones the executor appends.
size_t own_inputs(const OpContext& ctx) {
  return std::min(ctx.num_inputs(), ctx.node.inputs.size());
}

Result<bool> bool_scalar(const OpContext& ctx, size_t i, const char* name) {
  QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, name));
  if (!t->is_tensor() || t->numel() != 1 || dtype_size(t->dtype()) == 0) {
    return ctx.invalid(std::string(name) + " must be a one-element tensor");
  }
  return t->get_f64(0) != 0.0;
}

Tensor bool_tensor(bool v) {
  Tensor t(DType::kBool, {});
  t.data<uint8_t>()[0] = v ? 1 : 0;
  return t;
}

// ------------------------------------------------------------------ If

Status if_op(OpContext& ctx) {
  if (own_inputs(ctx) != 1) return ctx.invalid("expects one input (cond)");
  QT_ASSIGN_OR_RETURN(bool cond, bool_scalar(ctx, 0, "cond"));
  const char* branch = cond ? "then_branch" : "else_branch";
  QT_ASSIGN_OR_RETURN(auto b, bodies(ctx, {"then_branch", "else_branch"}));
  QT_ASSIGN_OR_RETURN(auto out, run_body(ctx, b->by_attr.at(branch), {}));
  if (out.size() != ctx.outputs.size()) {
    return ctx.invalid(std::string(branch) + " produces " + std::to_string(out.size()) +
                       " outputs, the node has " + std::to_string(ctx.outputs.size()));
  }
  for (size_t k = 0; k < out.size(); ++k) ctx.outputs[k] = std::move(out[k]);
  return Status::Ok();
}

// ------------------------------------------------------------------ tensor slicing

// A shape viewed as [outer, len, inner] around one axis, for slicing and stacking.
struct AxisView {
  int64_t outer = 1, len = 1, inner = 1;
};

AxisView axis_view(const Shape& s, int64_t axis) {
  AxisView v;
  v.outer = dims_product(s, 0, static_cast<size_t>(axis));
  v.len = s[static_cast<size_t>(axis)];
  v.inner = dims_product(s, static_cast<size_t>(axis) + 1, s.size());
  return v;
}

// t's slice at `index` of `axis`, with that axis removed.
Tensor take_slice(const Tensor& t, int64_t axis, int64_t index) {
  const AxisView v = axis_view(t.shape(), axis);
  Shape s = t.shape();
  s.erase(s.begin() + axis);
  Tensor out(t.dtype(), s);
  for (int64_t o = 0; o < v.outer; ++o) {
    out.copy_elements(t, (o * v.len + index) * v.inner, o * v.inner, v.inner);
  }
  return out;
}

// Stacks equally shaped tensors along a new `axis` (in [0, rank]); `reverse` stacks last first.
Result<Tensor> stack(const OpContext& ctx, const std::vector<Tensor>& parts, int64_t axis,
                     bool reverse, const std::string& what) {
  const Tensor& first = parts.front();
  for (const Tensor& p : parts) {
    if (!p.is_tensor() || p.dtype() != first.dtype() || p.shape() != first.shape()) {
      return ctx.invalid(what + ": every iteration must produce a tensor of type " +
                         dtype_str(first.dtype()) + " and shape " + shape_str(first.shape()));
    }
  }
  Shape s = first.shape();
  if (axis < 0 || axis > static_cast<int64_t>(s.size())) {
    return ctx.invalid(what + ": axis " + std::to_string(axis) + " out of range");
  }
  s.insert(s.begin() + axis, static_cast<int64_t>(parts.size()));
  Tensor out(first.dtype(), s);
  const AxisView v = axis_view(s, axis);
  for (int64_t i = 0; i < v.len; ++i) {
    const Tensor& p = parts[static_cast<size_t>(reverse ? v.len - 1 - i : i)];
    for (int64_t o = 0; o < v.outer; ++o) {
      out.copy_elements(p, o * v.inner, (o * v.len + i) * v.inner, v.inner);
    }
  }
  return out;
}

// An empty scan output when the body never ran: [0] followed by the body output's declared
// shape when that is fully known.
Result<Tensor> empty_scan_output(const OpContext& ctx, const ValueInfo& declared) {
  if (declared.dtype == DType::kUndefined || declared.kind != ValueKind::kTensor) {
    return ctx.unsupported("zero iterations and scan output '" + declared.name +
                           "' has no declared tensor type");
  }
  Shape s{0};
  if (declared.shape) {
    for (int64_t d : *declared.shape) s.push_back(d < 0 ? 0 : d);
  }
  return Tensor(declared.dtype, s);
}

// ------------------------------------------------------------------ Loop

Status loop_op(OpContext& ctx) {
  const size_t n_in = own_inputs(ctx);
  if (n_in < 2) return ctx.invalid("expects at least 2 inputs (M, cond)");
  const size_t n_carried = n_in - 2;
  std::optional<int64_t> trip_count;
  if (has_input(ctx, 0)) {
    const Tensor* m = ctx.input(0);
    if (!m->is_tensor() || m->numel() != 1 || m->dtype() != DType::kS64) {
      return ctx.invalid("M must be a one-element int64 tensor");
    }
    trip_count = m->get_i64(0);
  }
  bool cond = true;
  if (has_input(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(cond, bool_scalar(ctx, 1, "cond"));
  }
  QT_ASSIGN_OR_RETURN(auto b, bodies(ctx, {"body"}));
  const Body& body = b->by_attr.at("body");
  const Graph& g = body.exec->graph();
  if (g.inputs.size() != n_carried + 2) {
    return ctx.invalid("body takes " + std::to_string(g.inputs.size()) + " inputs, expected " +
                       std::to_string(n_carried + 2) + " (iteration, cond, carried values)");
  }
  if (g.outputs.size() < n_carried + 1 || ctx.outputs.size() != g.outputs.size() - 1) {
    return ctx.invalid("body produces " + std::to_string(g.outputs.size()) +
                       " outputs; the node has " + std::to_string(ctx.outputs.size()) +
                       " outputs and " + std::to_string(n_carried) + " carried values");
  }
  const size_t n_scan = g.outputs.size() - 1 - n_carried;
  std::vector<Tensor> carried;
  for (size_t k = 0; k < n_carried; ++k) {
    QT_ASSIGN_OR_RETURN(const Tensor* v, required_input(ctx, 2 + k, "v_initial"));
    carried.push_back(*v);
  }
  std::vector<std::vector<Tensor>> scans(n_scan);
  for (int64_t i = 0; (!trip_count || i < *trip_count) && cond; ++i) {
    std::vector<Tensor> in;
    in.reserve(n_carried + 2);
    in.push_back(Tensor::from_i64({}, {i}));
    in.push_back(bool_tensor(cond));
    for (Tensor& v : carried) in.push_back(std::move(v));
    QT_ASSIGN_OR_RETURN(auto out, run_body(ctx, body, in));
    const Tensor& c = out[0];
    if (!c.is_tensor() || c.numel() != 1 || dtype_size(c.dtype()) == 0) {
      return ctx.invalid("body's cond output must be a one-element tensor");
    }
    cond = c.get_f64(0) != 0.0;
    for (size_t k = 0; k < n_carried; ++k) carried[k] = std::move(out[1 + k]);
    for (size_t k = 0; k < n_scan; ++k) scans[k].push_back(std::move(out[1 + n_carried + k]));
  }
  for (size_t k = 0; k < n_carried; ++k) ctx.outputs[k] = std::move(carried[k]);
  for (size_t k = 0; k < n_scan; ++k) {
    const ValueInfo& declared = g.outputs[1 + n_carried + k];
    if (scans[k].empty()) {
      QT_ASSIGN_OR_RETURN(ctx.outputs[n_carried + k], empty_scan_output(ctx, declared));
    } else {
      QT_ASSIGN_OR_RETURN(ctx.outputs[n_carried + k],
                          stack(ctx, scans[k], 0, false, "scan output '" + declared.name + "'"));
    }
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ Scan

// What Scan's attributes say about its N state values and M scan inputs / K scan outputs.
struct ScanSpec {
  size_t n_state = 0, n_scan_in = 0, n_scan_out = 0;
  std::vector<int64_t> in_axes, in_reverse, out_axes, out_reverse;
};

Result<ScanSpec> scan_spec(const OpContext& ctx, const Graph& g, size_t n_values,
                           const char* directions_attr) {
  ScanSpec s;
  const Node& n = ctx.node;
  if (!n.has_attr("num_scan_inputs")) return ctx.invalid("attribute num_scan_inputs is missing");
  const int64_t m = n.attr_int("num_scan_inputs", 0);
  if (m < 1 || static_cast<size_t>(m) > n_values) {
    return ctx.invalid("num_scan_inputs " + std::to_string(m) + " does not fit " +
                       std::to_string(n_values) + " inputs");
  }
  s.n_scan_in = static_cast<size_t>(m);
  s.n_state = n_values - s.n_scan_in;
  if (g.inputs.size() != n_values || g.outputs.size() < s.n_state ||
      ctx.outputs.size() != g.outputs.size()) {
    return ctx.invalid("body takes " + std::to_string(g.inputs.size()) + " inputs and produces " +
                       std::to_string(g.outputs.size()) + " outputs, which does not match the " +
                       "node's inputs and outputs");
  }
  s.n_scan_out = g.outputs.size() - s.n_state;
  auto list = [&](const char* attr, size_t count, std::vector<int64_t>* out) -> Status {
    *out = n.attr_ints(attr, std::vector<int64_t>(count, 0));
    if (out->size() != count) {
      return ctx.invalid(std::string("attribute ") + attr + " needs " + std::to_string(count) +
                         " values");
    }
    return Status::Ok();
  };
  QT_RETURN_IF_ERROR(list(directions_attr, s.n_scan_in, &s.in_reverse));
  QT_RETURN_IF_ERROR(list("scan_input_axes", s.n_scan_in, &s.in_axes));
  QT_RETURN_IF_ERROR(list("scan_output_directions", s.n_scan_out, &s.out_reverse));
  QT_RETURN_IF_ERROR(list("scan_output_axes", s.n_scan_out, &s.out_axes));
  return s;
}

// Runs the body over `len` steps of the scan inputs; fills the final states and the stacked
// scan outputs (axis 0 unless the spec says otherwise).
Status scan_loop(const OpContext& ctx, const Body& body, const ScanSpec& s,
                 std::vector<Tensor> states, const std::vector<Tensor>& scan_inputs,
                 const std::vector<int64_t>& in_axes, const std::vector<int64_t>& out_axes,
                 std::vector<Tensor>* final_states, std::vector<Tensor>* scan_outputs) {
  int64_t len = -1;
  for (size_t j = 0; j < s.n_scan_in; ++j) {
    const int64_t d = scan_inputs[j].dim(in_axes[j]);
    if (len >= 0 && d != len) {
      return ctx.invalid("scan inputs have different sequence lengths (" + std::to_string(len) +
                         " and " + std::to_string(d) + ")");
    }
    len = d;
  }
  std::vector<std::vector<Tensor>> outs(s.n_scan_out);
  for (int64_t t = 0; t < len; ++t) {
    std::vector<Tensor> in = std::move(states);
    for (size_t j = 0; j < s.n_scan_in; ++j) {
      const int64_t at = s.in_reverse[j] ? len - 1 - t : t;
      in.push_back(take_slice(scan_inputs[j], in_axes[j], at));
    }
    QT_ASSIGN_OR_RETURN(auto out, run_body(ctx, body, in));
    states.assign(std::make_move_iterator(out.begin()),
                  std::make_move_iterator(out.begin() + static_cast<int64_t>(s.n_state)));
    for (size_t k = 0; k < s.n_scan_out; ++k) outs[k].push_back(std::move(out[s.n_state + k]));
  }
  *final_states = std::move(states);
  const Graph& g = body.exec->graph();
  scan_outputs->clear();
  for (size_t k = 0; k < s.n_scan_out; ++k) {
    const ValueInfo& declared = g.outputs[s.n_state + k];
    if (outs[k].empty()) {
      QT_ASSIGN_OR_RETURN(Tensor e, empty_scan_output(ctx, declared));
      scan_outputs->push_back(std::move(e));
      continue;
    }
    const int64_t rank = outs[k].front().rank() + 1;
    QT_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, out_axes[k], rank));
    QT_ASSIGN_OR_RETURN(Tensor st, stack(ctx, outs[k], axis, s.out_reverse[k] != 0,
                                         "scan output '" + declared.name + "'"));
    scan_outputs->push_back(std::move(st));
  }
  return Status::Ok();
}

// Scan 9+: no batch axis; per-input scan axes and directions.
Status scan_op(OpContext& ctx) {
  const size_t n_in = own_inputs(ctx);
  QT_ASSIGN_OR_RETURN(auto b, bodies(ctx, {"body"}));
  const Body& body = b->by_attr.at("body");
  QT_ASSIGN_OR_RETURN(ScanSpec s, scan_spec(ctx, body.exec->graph(), n_in, "scan_input_directions"));
  std::vector<Tensor> states, scan_inputs;
  std::vector<int64_t> in_axes;
  for (size_t k = 0; k < n_in; ++k) {
    QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, k, "input"));
    if (!t->is_tensor()) return ctx.invalid("Scan takes tensors only");
    if (k < s.n_state) {
      states.push_back(*t);
      continue;
    }
    QT_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, s.in_axes[k - s.n_state], t->rank()));
    in_axes.push_back(axis);
    scan_inputs.push_back(*t);
  }
  std::vector<Tensor> final_states, scan_outputs;
  QT_RETURN_IF_ERROR(scan_loop(ctx, body, s, std::move(states), scan_inputs, in_axes, s.out_axes,
                               &final_states, &scan_outputs));
  for (size_t k = 0; k < s.n_state; ++k) ctx.outputs[k] = std::move(final_states[k]);
  for (size_t k = 0; k < s.n_scan_out; ++k) ctx.outputs[s.n_state + k] = std::move(scan_outputs[k]);
  return Status::Ok();
}

// Scan 8: every input carries a leading batch axis, scan inputs scan their axis 1, and the
// optional first input gives each batch entry's sequence length (shorter ones are zero-padded).
Status scan8_op(OpContext& ctx) {
  const size_t n_in = own_inputs(ctx);
  if (n_in < 2) return ctx.invalid("expects sequence_lens and at least one value");
  QT_ASSIGN_OR_RETURN(auto b, bodies(ctx, {"body"}));
  const Body& body = b->by_attr.at("body");
  QT_ASSIGN_OR_RETURN(ScanSpec s, scan_spec(ctx, body.exec->graph(), n_in - 1, "directions"));
  if (ctx.node.has_attr("scan_input_axes") || ctx.node.has_attr("scan_output_axes")) {
    return ctx.invalid("scan axes attributes do not exist at opset 8");
  }
  std::vector<const Tensor*> values;
  int64_t batch = -1, max_len = -1;
  for (size_t k = 1; k < n_in; ++k) {
    QT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, k, "input"));
    const bool scanned = k - 1 >= s.n_state;
    if (!t->is_tensor() || t->rank() < (scanned ? 2 : 1)) {
      return ctx.invalid("every input needs a batch axis (and scan inputs a sequence axis)");
    }
    if (batch >= 0 && t->dim(0) != batch) return ctx.invalid("inputs disagree on the batch size");
    batch = t->dim(0);
    if (scanned) {
      if (max_len >= 0 && t->dim(1) != max_len) {
        return ctx.invalid("scan inputs have different sequence lengths");
      }
      max_len = t->dim(1);
    }
    values.push_back(t);
  }
  if (batch <= 0) return ctx.unsupported("an empty batch");
  std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
  if (has_input(ctx, 0)) {
    QT_ASSIGN_OR_RETURN(lens, int_list_input(ctx, 0, "sequence_lens"));
    if (lens.size() != static_cast<size_t>(batch)) {
      return ctx.invalid("sequence_lens needs one length per batch entry");
    }
    for (int64_t l : lens) {
      if (l < 0 || l > max_len) return ctx.invalid("sequence length out of range");
    }
  }
  const std::vector<int64_t> in_axes(s.n_scan_in, 0), out_axes(s.n_scan_out, 0);
  for (int64_t bi = 0; bi < batch; ++bi) {
    std::vector<Tensor> states, scan_inputs;
    for (size_t k = 0; k < values.size(); ++k) {
      Tensor entry = take_slice(*values[k], 0, bi);
      if (k >= s.n_state && lens[static_cast<size_t>(bi)] < max_len) {
        // Only the first `len` steps: a copy of the leading rows.
        Shape sh = entry.shape();
        sh[0] = lens[static_cast<size_t>(bi)];
        Tensor head(entry.dtype(), sh);
        head.copy_elements(entry, 0, 0, head.numel());
        entry = std::move(head);
      }
      (k < s.n_state ? states : scan_inputs).push_back(std::move(entry));
    }
    std::vector<Tensor> final_states, scan_outputs;
    QT_RETURN_IF_ERROR(scan_loop(ctx, body, s, std::move(states), scan_inputs, in_axes, out_axes,
                                 &final_states, &scan_outputs));
    auto place = [&](Tensor part, size_t out, int64_t padded_len) -> Status {
      if (padded_len >= 0 && part.dim(0) < padded_len) {  // zero-pad short sequences
        Shape sh = part.shape();
        sh[0] = padded_len;
        Tensor full(part.dtype(), sh);
        full.copy_elements(part, 0, 0, part.numel());
        part = std::move(full);
      }
      Tensor& whole = ctx.outputs[out];
      if (whole.empty()) {
        Shape sh = part.shape();
        sh.insert(sh.begin(), batch);
        whole = Tensor(part.dtype(), sh);
      } else if (whole.dtype() != part.dtype() ||
                 Shape(whole.shape().begin() + 1, whole.shape().end()) != part.shape()) {
        return ctx.invalid("batch entries produce differently shaped outputs");
      }
      whole.copy_elements(part, 0, bi * part.numel(), part.numel());
      return Status::Ok();
    };
    for (size_t k = 0; k < s.n_state; ++k) {
      QT_RETURN_IF_ERROR(place(std::move(final_states[k]), k, -1));
    }
    for (size_t k = 0; k < s.n_scan_out; ++k) {
      QT_RETURN_IF_ERROR(place(std::move(scan_outputs[k]), s.n_state + k, max_len));
    }
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ SequenceMap

// Runs the body once per position of the input sequence; additional sequence inputs give their
// element at that position, tensor inputs are passed whole. Each body output forms a sequence.
Status sequence_map_op(OpContext& ctx) {
  const size_t n_in = own_inputs(ctx);
  if (n_in < 1) return ctx.invalid("expects an input sequence");
  int64_t len = -1;
  for (size_t k = 0; k < n_in; ++k) {
    QT_ASSIGN_OR_RETURN(const Tensor* v, required_input(ctx, k, "input"));
    if (k == 0 && !v->is_sequence()) return ctx.invalid("input 0 must be a sequence");
    if (v->is_optional()) return ctx.invalid("inputs must be sequences or tensors");
    if (!v->is_sequence()) continue;
    const auto n = static_cast<int64_t>(v->items().size());
    if (len >= 0 && n != len) {
      return ctx.invalid("input sequences differ in length (" + std::to_string(len) + " and " +
                         std::to_string(n) + ")");
    }
    len = n;
  }
  QT_ASSIGN_OR_RETURN(auto b, bodies(ctx, {"body"}));
  const Body& body = b->by_attr.at("body");
  const Graph& g = body.exec->graph();
  if (g.inputs.size() != n_in || g.outputs.size() != ctx.outputs.size()) {
    return ctx.invalid("body takes " + std::to_string(g.inputs.size()) + " inputs and produces " +
                       std::to_string(g.outputs.size()) + " outputs, the node has " +
                       std::to_string(n_in) + " and " + std::to_string(ctx.outputs.size()));
  }
  std::vector<std::vector<Tensor>> outs(ctx.outputs.size());
  for (int64_t i = 0; i < len; ++i) {
    std::vector<Tensor> in;
    for (size_t k = 0; k < n_in; ++k) {
      const Tensor* v = ctx.input(k);
      in.push_back(v->is_sequence() ? v->items()[static_cast<size_t>(i)] : *v);
    }
    QT_ASSIGN_OR_RETURN(auto out, run_body(ctx, body, in));
    for (size_t k = 0; k < out.size(); ++k) {
      if (!out[k].is_tensor()) return ctx.invalid("body outputs must be tensors");
      outs[k].push_back(std::move(out[k]));
    }
  }
  for (size_t k = 0; k < outs.size(); ++k) {
    const DType dtype = outs[k].empty() ? g.outputs[k].dtype : outs[k].front().dtype();
    ctx.outputs[k] = Tensor::sequence(dtype, std::move(outs[k]));
  }
  return Status::Ok();
}

}  // namespace

void register_control_flow_kernels(KernelRegistry& r) {
  // The branches and bodies are the same at every opset; what values they may pass (sequences
  // from 13, optionals from 16) is checked by the executor against the schema.
  r.add({"", "If", 1}, if_op);
  r.add({"", "Loop", 1}, loop_op);
  r.add({"", "Scan", 8, 8}, scan8_op);
  r.add({"", "Scan", 9}, scan_op);
  r.add({"", "SequenceMap", 17}, sequence_map_op);
}

}  // namespace qtune
