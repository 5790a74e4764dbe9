#include "common/onnx_io.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>
#include <set>

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

Result<ValueInfo> value_info_from_proto(const onnx::ValueInfoProto& p) {
  ValueInfo v;
  v.name = p.name();
  if (!p.has_type()) return v;
  if (!p.type().has_tensor_type()) {
    return Status::Unsupported("value '" + p.name() + "': only tensor types are supported");
  }
  const auto& tt = p.type().tensor_type();
  QT_ASSIGN_OR_RETURN(v.dtype, dtype_of(tt.elem_type(), "value '" + p.name() + "'"));
  if (tt.has_shape()) {
    Shape s;
    for (const auto& d : tt.shape().dim()) s.push_back(d.has_dim_value() ? d.dim_value() : -1);
    v.shape = s;
  }
  return v;
}

Result<Attribute> attribute_from_proto(const onnx::AttributeProto& a, const std::string& where) {
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
    default:
      return Status::Unsupported(where + ": attribute '" + a.name() + "' has type " +
                                 AP::AttributeType_Name(a.type()) + ", which is not supported");
  }
  return out;
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& where) {
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    return Status::Unsupported(where + ": tensors stored in external data files are not supported");
  }
  QT_ASSIGN_OR_RETURN(DType dtype, dtype_of(p.data_type(), where));
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape) {
    if (d < 0) return Status::InvalidInput(where + ": negative dimension in " + shape_str(shape));
  }
  Tensor t(dtype, shape);
  const size_t want = t.nbytes();
  if (p.has_raw_data()) {
    if (p.raw_data().size() != want) {
      return Status::InvalidInput(where + ": raw_data holds " + std::to_string(p.raw_data().size()) +
                                  " bytes, shape " + shape_str(shape) + " of " +
                                  std::string(dtype_name(dtype)) + " needs " +
                                  std::to_string(want));
    }
    if (want) std::memcpy(t.raw(), p.raw_data().data(), want);
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
  if (count != t.numel()) {
    return Status::InvalidInput(where + ": holds " + std::to_string(count) + " values, shape " +
                                shape_str(shape) + " needs " + std::to_string(t.numel()));
  }
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
    case DType::kUndefined: break;
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* p) {
  p->set_name(name);
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  p->set_raw_data(t.raw(), t.nbytes());
}

Result<Tensor> load_tensor_pb(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidInput(path + ": cannot open");
  onnx::TensorProto p;
  if (!p.ParseFromIstream(&in)) {
    return Status::InvalidInput(path + ": not a valid serialized onnx.TensorProto");
  }
  return tensor_from_proto(p, path);
}

Result<Graph> load_onnx_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidInput(path + ": cannot open");
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) {
    return Status::InvalidInput(path + ": not a valid ONNX model (protobuf ModelProto parse failed)");
  }
  if (!model.has_graph()) return Status::InvalidInput(path + ": model has no graph");
  Graph g;
  g.opset = 0;
  for (const auto& imp : model.opset_import()) {
    if (imp.domain().empty() || imp.domain() == "ai.onnx") {
      g.opset = imp.version();
    } else {
      g.opset_imports[imp.domain()] = imp.version();
    }
  }
  if (g.opset == 0) g.opset = 1;
  const auto& gp = model.graph();
  g.name = gp.name();
  for (const auto& init : gp.initializer()) {
    auto t = tensor_from_proto(init, "initializer '" + init.name() + "'");
    if (!t.ok()) return t.status().Annotate(path);
    g.initializers[init.name()] = std::move(t).value();
  }
  for (const auto& in_vi : gp.input()) {
    if (g.initializers.count(in_vi.name())) continue;
    auto v = value_info_from_proto(in_vi);
    if (!v.ok()) return v.status().Annotate(path + ": graph input");
    g.inputs.push_back(std::move(v).value());
  }
  for (const auto& out_vi : gp.output()) {
    auto v = value_info_from_proto(out_vi);
    if (!v.ok()) return v.status().Annotate(path + ": graph output");
    g.outputs.push_back(std::move(v).value());
  }
  for (const auto& vi : gp.value_info()) {
    auto v = value_info_from_proto(vi);
    if (v.ok()) g.value_info[vi.name()] = std::move(v).value();  // hints only; ignore odd ones
  }
  std::set<std::string> names;
  int index = 0;
  for (const auto& np : gp.node()) {
    Node n;
    n.name = np.name().empty() ? np.op_type() + "_" + std::to_string(index) : np.name();
    ++index;
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (const auto& a : np.attribute()) {
      auto attr = attribute_from_proto(a, n.describe());
      if (!attr.ok()) return attr.status().Annotate(path);
      n.attrs[a.name()] = std::move(attr).value();
    }
    g.nodes.push_back(std::move(n));
  }
  Status s = g.topological_sort();
  if (!s.ok()) return s.Annotate(path);
  return g;
}

void graph_to_model_proto(const Graph& g, onnx::ModelProto* out) {
  onnx::ModelProto& model = *out;
  model.set_ir_version(7);  // ONNX 1.8+ readers accept IR 7 with opset 13
  model.set_producer_name("qtune");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(g.opset);
  auto* gp = model.mutable_graph();
  gp->set_name(g.name.empty() ? "qtune" : g.name);
  auto write_vi = [](const ValueInfo& v, onnx::ValueInfoProto* p) {
    p->set_name(v.name);
    auto* tt = p->mutable_type()->mutable_tensor_type();
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
  };
  for (const auto& v : g.inputs) write_vi(v, gp->add_input());
  for (const auto& v : g.outputs) write_vi(v, gp->add_output());
  for (const auto& [name, t] : g.initializers) tensor_to_proto(t, name, gp->add_initializer());
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
      }
    }
  }
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

Status save_onnx_model(const Graph& g, const std::string& path) {
  onnx::ModelProto model;
  graph_to_model_proto(g, &model);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::InvalidInput(path + ": cannot open for writing");
  if (!model.SerializeToOstream(&out)) return Status::Internal(path + ": failed to write model");
  return Status::Ok();
}

}  // namespace qtune
