#include "common/onnx_io.h"

#include <onnx/onnx-data_pb.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/file_writer.h"
#include "common/opset_lowering.h"
#include "common/size_check.h"

namespace qtune {
namespace {

// Copies a repeated proto field into the tensor, converting element by element.
template <typename Dst, typename Field>
void copy_field(const Field& field, Tensor* t) {
  Dst* out = t->data<Dst>();
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<Dst>(field.Get(i));
}

Result<DType> dtype_of(int32_t onnx_type, const std::string& where) {
  DType d;
  if (!dtype_from_onnx(onnx_type, &d)) {
    return Status::Unsupported(where + ": element type " + std::to_string(onnx_type) +
                               " (" + onnx::TensorProto_DataType_Name(onnx_type) +
                               ") is not supported");
  }
  return d;
}

// A tensor type's element type and shape; elem_type 0 means not declared.
Status read_tensor_type(const onnx::TypeProto::Tensor& tt, const std::string& where, ValueInfo* v) {
  if (tt.elem_type() != 0) {
    QT_ASSIGN_OR_RETURN(v->dtype, dtype_of(tt.elem_type(), where));
  }
  if (tt.has_shape()) {
    Shape s, known;
    // Some exporters write -1 for a dynamic dimension: any negative value counts as unknown.
    for (const auto& d : tt.shape().dim()) {
      const bool is_known = d.has_dim_value() && d.dim_value() >= 0;
      s.push_back(is_known ? d.dim_value() : -1);
      if (is_known) known.push_back(d.dim_value());
    }
    // Whatever the unknown dimensions turn out to be, the known ones must be countable.
    QT_RETURN_IF_ERROR(checked_numel(known, where).status());
    v->shape = s;
  }
  return Status::Ok();
}

// seq(tensor) or a tensor; `v` keeps the kind it was given when the type is a tensor.
Status read_sequence_or_tensor(const onnx::TypeProto& t, const std::string& where, ValueInfo* v,
                               bool* is_sequence) {
  *is_sequence = t.has_sequence_type();
  if (t.has_tensor_type()) return read_tensor_type(t.tensor_type(), where, v);
  if (t.has_sequence_type() && t.sequence_type().elem_type().has_tensor_type()) {
    return read_tensor_type(t.sequence_type().elem_type().tensor_type(), where, v);
  }
  return Status::Unsupported(where + ": only tensors, sequences of tensors and optionals of "
                             "those are supported");
}

Result<ValueInfo> value_info_from_type(const std::string& name, const onnx::TypeProto& type) {
  ValueInfo v;
  v.name = name;
  const std::string where = "value '" + name + "'";
  bool is_sequence = false;
  if (type.has_optional_type()) {
    v.kind = ValueKind::kOptional;
    QT_RETURN_IF_ERROR(
        read_sequence_or_tensor(type.optional_type().elem_type(), where, &v, &is_sequence));
    if (is_sequence) v.optional_of = ValueKind::kSequence;
    return v;
  }
  QT_RETURN_IF_ERROR(read_sequence_or_tensor(type, where, &v, &is_sequence));
  if (is_sequence) v.kind = ValueKind::kSequence;
  return v;
}

Result<ValueInfo> value_info_from_proto(const onnx::ValueInfoProto& p) {
  // An empty TypeProto declares nothing, like a missing one (exporters write `type {}` for
  // subgraph outputs whose type they leave to inference).
  if (!p.has_type() || p.type().value_case() == onnx::TypeProto::VALUE_NOT_SET) {
    return ValueInfo{p.name()};
  }
  return value_info_from_type(p.name(), p.type());
}

// Names an enclosing scope makes visible to a subgraph: its own outer scope plus everything the
// graph defines.
std::set<std::string> visible_names(const Graph& g, const std::set<std::string>& outer) {
  std::set<std::string> out = outer;
  for (const auto& v : g.inputs) out.insert(v.name);
  for (const auto& [n, t] : g.initializers) out.insert(n);
  for (const auto& n : g.nodes) out.insert(n.outputs.begin(), n.outputs.end());
  return out;
}

Result<Graph> graph_from_proto(const onnx::GraphProto& gp, const Graph& model_scope,
                               const std::set<std::string>& outer_scope);

// Subgraphs take the opsets of `model_scope` and may read the `visible` names of enclosing graphs.
Result<Attribute> attribute_from_proto(const onnx::AttributeProto& a, const std::string& where,
                                       const Graph& model_scope,
                                       const std::set<std::string>& visible) {
  Attribute out;
  using AP = onnx::AttributeProto;
  switch (a.type()) {
    case AP::INT: out.kind = Attribute::Kind::kInt; out.i = a.i(); break;
    case AP::FLOAT: out.kind = Attribute::Kind::kFloat; out.f = a.f(); break;
    case AP::STRING: out.kind = Attribute::Kind::kString; out.s = a.s(); break;
    case AP::INTS:
      out.kind = Attribute::Kind::kInts;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case AP::FLOATS:
      out.kind = Attribute::Kind::kFloats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case AP::STRINGS:
      out.kind = Attribute::Kind::kStrings;
      out.strings.assign(a.strings().begin(), a.strings().end());
      break;
    case AP::TENSOR: {
      out.kind = Attribute::Kind::kTensor;
      QT_ASSIGN_OR_RETURN(out.t, tensor_from_proto(a.t(), where + " attribute '" + a.name() + "'"));
      break;
    }
    case AP::TYPE_PROTO: {
      out.kind = Attribute::Kind::kType;
      auto v = value_info_from_type(a.name(), a.tp());
      if (!v.ok()) return v.status().Annotate(where);
      out.type = std::move(v).value();
      break;
    }
    case AP::GRAPH: {
      out.kind = Attribute::Kind::kGraph;
      auto g = graph_from_proto(a.g(), model_scope, visible);
      if (!g.ok()) return g.status().Annotate(where + " attribute '" + a.name() + "'");
      out.g = std::make_shared<const Graph>(std::move(g).value());
      break;
    }
    case AP::GRAPHS: {
      out.kind = Attribute::Kind::kGraphs;
      for (const auto& gp : a.graphs()) {
        auto g = graph_from_proto(gp, model_scope, visible);
        if (!g.ok()) return g.status().Annotate(where + " attribute '" + a.name() + "'");
        out.graphs.push_back(std::make_shared<const Graph>(std::move(g).value()));
      }
      break;
    }
    default:
      return Status::Unsupported(where + ": attribute '" + a.name() + "' has type " +
                                 AP::AttributeType_Name(a.type()) + ", which is not supported");
  }
  return out;
}

// A graph or subgraph; subgraphs share the model's opsets (`model_scope`) and may read every
// name in `outer_scope`.
Result<Graph> graph_from_proto(const onnx::GraphProto& gp, const Graph& model_scope,
                               const std::set<std::string>& outer_scope) {
  Graph g;
  g.opset = model_scope.opset;
  g.opset_imports = model_scope.opset_imports;
  g.name = gp.name();
  for (const auto& init : gp.initializer()) {
    QT_ASSIGN_OR_RETURN(g.initializers[init.name()],
                        tensor_from_proto(init, "initializer '" + init.name() + "'"));
  }
  for (const auto& in_vi : gp.input()) {
    if (g.initializers.count(in_vi.name())) continue;
    auto v = value_info_from_proto(in_vi);
    if (!v.ok()) return v.status().Annotate("graph input");
    g.inputs.push_back(std::move(v).value());
  }
  for (const auto& out_vi : gp.output()) {
    auto v = value_info_from_proto(out_vi);
    if (!v.ok()) return v.status().Annotate("graph output");
    g.outputs.push_back(std::move(v).value());
  }
  for (const auto& vi : gp.value_info()) {
    auto v = value_info_from_proto(vi);
    if (v.ok()) g.value_info[vi.name()] = std::move(v).value();  // hints only; ignore odd ones
  }
  for (const auto& np : gp.node()) {
    Node n;
    n.name = np.name().empty() ? np.op_type() + "_" + std::to_string(g.nodes.size()) : np.name();
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    g.nodes.push_back(std::move(n));
  }
  // Attributes after all nodes: a subgraph may read any value of this graph.
  const std::set<std::string> visible = visible_names(g, outer_scope);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    for (const auto& a : gp.node(static_cast<int>(i)).attribute()) {
      QT_ASSIGN_OR_RETURN(n.attrs[a.name()], attribute_from_proto(a, n.describe(), g, visible));
    }
  }
  QT_RETURN_IF_ERROR(g.topological_sort(outer_scope));
  return g;
}

// The proto form of one graph's type; only what the ValueInfo knows is written.
void type_to_proto(const ValueInfo& v, bool subgraph, onnx::TypeProto* type) {
  if (subgraph && v.dtype == DType::kUndefined && v.kind == ValueKind::kTensor) return;
  onnx::TypeProto* tensor_holder = type;
  if (v.kind == ValueKind::kOptional) {
    tensor_holder = type->mutable_optional_type()->mutable_elem_type();
    if (v.optional_of == ValueKind::kSequence) {
      tensor_holder = tensor_holder->mutable_sequence_type()->mutable_elem_type();
    }
  } else if (v.kind == ValueKind::kSequence) {
    tensor_holder = type->mutable_sequence_type()->mutable_elem_type();
  }
  auto* tt = tensor_holder->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  if (v.shape) {
    auto* sp = tt->mutable_shape();
    for (size_t i = 0; i < v.shape->size(); ++i) {
      auto* d = sp->add_dim();
      if ((*v.shape)[i] >= 0) {
        d->set_dim_value((*v.shape)[i]);
      } else {
        d->set_dim_param(i == 0 ? "batch" : "d" + std::to_string(i));
      }
    }
  }
}

// A value's type as a graph input: sequences and optionals (which cannot be initializers) say
// what they hold.
ValueInfo value_info_of(const std::string& name, const Tensor& t) {
  ValueInfo v{name, t.is_tensor() ? t.dtype() : t.elem_dtype(), std::nullopt, t.kind(),
              t.optional_of()};
  if (t.is_tensor()) v.shape = t.shape();
  return v;
}

// Writes the graph's nodes, values and initializers; true when a node uses com.microsoft.
bool graph_to_proto(const Graph& g, bool subgraph, onnx::GraphProto* gp) {
  gp->set_name(g.name.empty() ? "qtune" : g.name);
  auto write_vi = [subgraph](const ValueInfo& v, onnx::ValueInfoProto* p) {
    p->set_name(v.name);
    type_to_proto(v, subgraph, p->mutable_type());
    if (!p->type().value_case()) p->clear_type();
  };
  for (const auto& v : g.inputs) write_vi(v, gp->add_input());
  for (const auto& v : g.outputs) write_vi(v, gp->add_output());
  for (const auto& [name, t] : g.initializers) {
    if (t.is_tensor()) {
      tensor_to_proto(t, name, gp->add_initializer());
    } else {
      write_vi(value_info_of(name, t), gp->add_input());
    }
  }
  bool has_ms_domain = false;
  for (const auto& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) {
      np->set_domain(n.domain);
      has_ms_domain = has_ms_domain || n.domain == "com.microsoft";
    }
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& [key, a] : n.attrs) {
      auto* ap = np->add_attribute();
      ap->set_name(key);
      using AP = onnx::AttributeProto;
      switch (a.kind) {
        case Attribute::Kind::kInt: ap->set_type(AP::INT); ap->set_i(a.i); break;
        case Attribute::Kind::kFloat: ap->set_type(AP::FLOAT); ap->set_f(a.f); break;
        case Attribute::Kind::kString: ap->set_type(AP::STRING); ap->set_s(a.s); break;
        case Attribute::Kind::kInts:
          ap->set_type(AP::INTS);
          for (auto v : a.ints) ap->add_ints(v);
          break;
        case Attribute::Kind::kFloats:
          ap->set_type(AP::FLOATS);
          for (auto v : a.floats) ap->add_floats(v);
          break;
        case Attribute::Kind::kStrings:
          ap->set_type(AP::STRINGS);
          for (const auto& v : a.strings) ap->add_strings(v);
          break;
        case Attribute::Kind::kTensor:
          ap->set_type(AP::TENSOR);
          tensor_to_proto(a.t, "", ap->mutable_t());
          break;
        case Attribute::Kind::kType:
          ap->set_type(AP::TYPE_PROTO);
          type_to_proto(a.type, false, ap->mutable_tp());
          break;
        case Attribute::Kind::kGraph:
          ap->set_type(AP::GRAPH);
          if (a.g) has_ms_domain = graph_to_proto(*a.g, true, ap->mutable_g()) || has_ms_domain;
          break;
        case Attribute::Kind::kGraphs:
          ap->set_type(AP::GRAPHS);
          for (const auto& sub : a.graphs) {
            if (sub) has_ms_domain = graph_to_proto(*sub, true, ap->add_graphs()) || has_ms_domain;
          }
          break;
      }
    }
  }
  return has_ms_domain;
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& where) {
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    return Status::Unsupported(where + ": tensors stored in external data files are not supported");
  }
  QT_ASSIGN_OR_RETURN(DType dtype, dtype_of(p.data_type(), where));
  const Shape shape(p.dims().begin(), p.dims().end());
  // The shape is checked and compared with the data the file holds before anything is allocated.
  QT_ASSIGN_OR_RETURN(const int64_t numel, checked_numel(shape, where));
  QT_RETURN_IF_ERROR(checked_tensor_bytes(dtype, shape, where).status());
  if (dtype == DType::kString) {
    if (p.string_data_size() != numel) {
      return Status::InvalidInput(where + ": holds " + std::to_string(p.string_data_size()) +
                                  " strings, shape " + shape_str(shape) + " needs " +
                                  std::to_string(numel));
    }
    Tensor t(dtype, shape);
    std::copy(p.string_data().begin(), p.string_data().end(), t.data<std::string>());
    return t;
  }
  if (p.has_raw_data()) {
    int64_t want = 0;
    const bool fits = !__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(dtype)), &want);
    if (!fits || p.raw_data().size() != static_cast<uint64_t>(want)) {
      return Status::InvalidInput(where + ": raw_data holds " + std::to_string(p.raw_data().size()) +
                                  " bytes, shape " + shape_str(shape) + " of " + std::string(dtype_name(dtype)) +
                                  " needs " + (fits ? std::to_string(want) : "more than 2^63"));
    }
    Tensor t(dtype, shape);
    if (want) std::memcpy(t.raw(), p.raw_data().data(), static_cast<size_t>(want));
    return t;
  }
  int64_t count = 0;
  switch (dtype) {
    case DType::kF32: count = p.float_data_size(); break;
    case DType::kF64: count = p.double_data_size(); break;
    case DType::kS64: count = p.int64_data_size(); break;
    case DType::kU32: case DType::kU64: count = p.uint64_data_size(); break;
    default: count = p.int32_data_size(); break;
  }
  if (count != numel) {
    return Status::InvalidInput(where + ": holds " + std::to_string(count) + " values, shape " +
                                shape_str(shape) + " needs " + std::to_string(numel));
  }
  Tensor t(dtype, shape);
  switch (dtype) {
    case DType::kF32: copy_field<float>(p.float_data(), &t); break;
    case DType::kF64: copy_field<double>(p.double_data(), &t); break;
    case DType::kS64: copy_field<int64_t>(p.int64_data(), &t); break;
    case DType::kU32: copy_field<uint32_t>(p.uint64_data(), &t); break;
    case DType::kU64: copy_field<uint64_t>(p.uint64_data(), &t); break;
    case DType::kS32: copy_field<int32_t>(p.int32_data(), &t); break;
    case DType::kS16: copy_field<int16_t>(p.int32_data(), &t); break;
    case DType::kU16: case DType::kF16: case DType::kBF16:
      copy_field<uint16_t>(p.int32_data(), &t);
      break;
    case DType::kS8: copy_field<int8_t>(p.int32_data(), &t); break;
    case DType::kU8: case DType::kBool: copy_field<uint8_t>(p.int32_data(), &t); break;
    case DType::kString: case DType::kUndefined: break;
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* p) {
  p->set_name(name);
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.dtype() == DType::kString) {
    for (const std::string& v : t.span<std::string>()) p->add_string_data(v);
  } else {
    p->set_raw_data(t.raw(), t.nbytes());
  }
}

namespace {

Result<Tensor> sequence_from_proto(const onnx::SequenceProto& p, const std::string& where);

Result<Tensor> optional_from_proto(const onnx::OptionalProto& p, const std::string& where) {
  switch (p.elem_type()) {
    case onnx::OptionalProto::TENSOR: {
      if (!p.has_tensor_value()) return Tensor::none(ValueKind::kTensor, DType::kUndefined);
      QT_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(p.tensor_value(), where));
      return Tensor::optional(std::move(t));
    }
    case onnx::OptionalProto::SEQUENCE: {
      if (!p.has_sequence_value()) return Tensor::none(ValueKind::kSequence, DType::kUndefined);
      QT_ASSIGN_OR_RETURN(Tensor t, sequence_from_proto(p.sequence_value(), where));
      return Tensor::optional(std::move(t));
    }
    case onnx::OptionalProto::UNDEFINED:
      return Tensor::none(ValueKind::kTensor, DType::kUndefined);
    default:
      return Status::Unsupported(where + ": optional of " +
                                 onnx::OptionalProto::DataType_Name(p.elem_type()) +
                                 " is not supported");
  }
}

Result<Tensor> sequence_from_proto(const onnx::SequenceProto& p, const std::string& where) {
  if (p.elem_type() != onnx::SequenceProto::TENSOR &&
      p.elem_type() != onnx::SequenceProto::UNDEFINED) {
    return Status::Unsupported(where + ": sequence of " +
                               onnx::SequenceProto::DataType_Name(p.elem_type()) +
                               " is not supported");
  }
  std::vector<Tensor> items;
  DType elem = DType::kUndefined;
  for (int i = 0; i < p.tensor_values_size(); ++i) {
    QT_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(p.tensor_values(i),
                                                    where + " element " + std::to_string(i)));
    elem = t.dtype();
    items.push_back(std::move(t));
  }
  return Tensor::sequence(elem, std::move(items));
}

// Opens a protobuf file after checking its size against the model size limit.
Status open_protobuf(const std::string& path, std::ifstream* in) {
  in->open(path, std::ios::binary);
  if (!*in) return Status::InvalidInput(path + ": cannot open");
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::InvalidInput(path + ": " + ec.message());
  return check_model_file_size(path, size);
}

template <typename Proto>
Status parse_file(const std::string& path, Proto* p) {
  std::ifstream in;
  QT_RETURN_IF_ERROR(open_protobuf(path, &in));
  if (!p->ParseFromIstream(&in)) {
    return Status::InvalidInput(path + ": not a valid serialized onnx." +
                                p->GetDescriptor()->name());
  }
  return Status::Ok();
}

}  // namespace

Result<Tensor> load_value_pb(const std::string& path, const ValueInfo& declared) {
  switch (declared.kind) {
    case ValueKind::kTensor: return load_tensor_pb(path);
    case ValueKind::kSequence: {
      onnx::SequenceProto p;
      QT_RETURN_IF_ERROR(parse_file(path, &p));
      QT_ASSIGN_OR_RETURN(Tensor t, sequence_from_proto(p, path));
      return t.items().empty() ? Tensor::sequence(declared.dtype, {}) : t;
    }
    case ValueKind::kOptional: {
      onnx::OptionalProto p;
      QT_RETURN_IF_ERROR(parse_file(path, &p));
      QT_ASSIGN_OR_RETURN(Tensor t, optional_from_proto(p, path));
      return t.items().empty() ? Tensor::none(declared.optional_of, declared.dtype) : t;
    }
  }
  return Status::Internal(path + ": unknown value kind");
}

Result<Tensor> load_tensor_pb(const std::string& path) {
  std::ifstream in;
  QT_RETURN_IF_ERROR(open_protobuf(path, &in));
  onnx::TensorProto p;
  if (!p.ParseFromIstream(&in)) {
    return Status::InvalidInput(path + ": not a valid serialized onnx.TensorProto");
  }
  return tensor_from_proto(p, path);
}

Result<Graph> load_onnx_model(const std::string& path) {
  std::ifstream in;
  QT_RETURN_IF_ERROR(open_protobuf(path, &in));
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) {
    return Status::InvalidInput(path + ": not a valid ONNX model (protobuf ModelProto parse failed)");
  }
  if (!model.has_graph()) return Status::InvalidInput(path + ": model has no graph");
  Graph scope;
  scope.opset = 0;
  for (const auto& imp : model.opset_import()) {
    if (imp.domain().empty() || imp.domain() == "ai.onnx") {
      scope.opset = imp.version();
    } else {
      scope.opset_imports[imp.domain()] = imp.version();
    }
  }
  if (scope.opset == 0) scope.opset = 1;
  auto g = graph_from_proto(model.graph(), scope, {});
  if (!g.ok()) return g.status().Annotate(path);
  // Newer exporters' opsets become the runtime's (common/opset_lowering.h).
  if (Status s = lower_to_runtime_opset(g.value()); !s.ok()) return s.Annotate(path);
  return g;
}

void graph_to_model_proto(const Graph& g, onnx::ModelProto* out) {
  onnx::ModelProto& model = *out;
  model.set_ir_version(7);  // ONNX 1.8+ readers accept IR 7 with opset 13
  model.set_producer_name("qtune");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(g.opset);
  const bool has_ms_domain = graph_to_proto(g, false, model.mutable_graph());
  for (const auto& [domain, version] : g.opset_imports) {
    if (domain == "com.microsoft") continue;
    auto* imp = model.add_opset_import();
    imp->set_domain(domain);
    imp->set_version(version);
  }
  if (has_ms_domain || g.opset_imports.count("com.microsoft")) {
    auto* ms = model.add_opset_import();
    ms->set_domain("com.microsoft");
    ms->set_version(1);
  }
}

Result<std::string> serialize_onnx_model(const Graph& g) {
  onnx::ModelProto model;
  graph_to_model_proto(g, &model);
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    return Status::Internal("the model does not serialize (more than protobuf's 2 GiB?)");
  }
  return bytes;
}

Status save_onnx_model(const Graph& g, const std::string& path) {
  Result<std::string> bytes = serialize_onnx_model(g);
  if (!bytes.ok()) return bytes.status().Annotate(path);
  return replace_file(path, *bytes);
}

}  // namespace qtune
