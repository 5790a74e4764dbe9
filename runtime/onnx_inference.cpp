#include "runtime/onnx_inference.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <exception>
#include <map>
#include <set>

#include "common/onnx_io.h"

namespace qtune {
namespace {

ValueInfo from_type_proto(const std::string& name, const onnx::TypeProto& type) {
  ValueInfo v;
  v.name = name;
  if (!type.has_tensor_type()) return v;
  const auto& tt = type.tensor_type();
  DType d;
  if (tt.elem_type() != 0 && dtype_from_onnx(tt.elem_type(), &d)) v.dtype = d;
  if (tt.has_shape()) {
    Shape s;
    for (const auto& dim : tt.shape().dim()) s.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
    v.shape = s;
  }
  return v;
}

Status run_inference(onnx::ModelProto& model) {
  try {
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, true));
  } catch (const std::exception& e) {
    return Status::Unsupported(std::string("libonnx shape inference failed: ") + e.what());
  }
  return Status::Ok();
}

Status compare(const std::string& what, const ValueInfo& want, const Tensor& got) {
  if (got.empty()) return Status::Ok();  // sequences and other non-tensor values
  if (want.dtype != DType::kUndefined && want.dtype != got.dtype()) {
    return Status::InvalidInput(what + ": element type " + std::string(dtype_name(got.dtype())) +
                                ", libonnx infers " + std::string(dtype_name(want.dtype)));
  }
  if (!want.shape) return Status::Ok();
  const Shape& s = *want.shape;
  bool same = s.size() == got.shape().size();
  for (size_t i = 0; same && i < s.size(); ++i) same = s[i] < 0 || s[i] == got.shape()[i];
  if (!same) {
    return Status::InvalidInput(what + ": shape " + shape_str(got.shape()) + ", libonnx infers " +
                                shape_str(s));
  }
  return Status::Ok();
}

// Domains a graph's nodes use that it does not import (fused ops added by an adaptor) get
// version 1, so libonnx looks their schemas up.
void import_used_domains(const Graph& g, onnx::ModelProto* model) {
  std::set<std::string> have;
  for (const auto& imp : model->opset_import()) have.insert(imp.domain());
  for (const auto& n : g.nodes) {
    if (n.domain.empty() || n.domain == "ai.onnx" || have.count(n.domain)) continue;
    auto* imp = model->add_opset_import();
    imp->set_domain(n.domain);
    imp->set_version(1);
    have.insert(n.domain);
  }
}

}  // namespace

Status check_model_file(const std::string& path) {
  try {
    onnx::checker::check_model(path);
  } catch (const std::exception& e) {
    return Status::InvalidInput(path + ": " + e.what());
  }
  return Status::Ok();
}

Status infer_graph_types(Graph& g) {
  onnx::ModelProto model;
  graph_to_model_proto(g, &model);
  import_used_domains(g, &model);
  // First pass tolerant, so one op libonnx cannot infer does not cost every other value its
  // type; then a strict pass on a copy to report what contradicts a schema.
  onnx::ModelProto strict = model;
  try {
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception& e) {
    return Status::InvalidInput(std::string("shape inference: ") + e.what());
  }
  auto take = [&](const onnx::ValueInfoProto& vi) {
    ValueInfo v = from_type_proto(vi.name(), vi.type());
    if (v.dtype == DType::kUndefined) return;
    auto it = g.value_info.find(v.name);
    if (it != g.value_info.end() && it->second.shape && v.shape &&
        it->second.shape->size() == v.shape->size()) {
      for (size_t d = 0; d < v.shape->size(); ++d) {  // a declared dim beats an unknown one
        if ((*v.shape)[d] < 0) (*v.shape)[d] = (*it->second.shape)[d];
      }
    }
    g.value_info[v.name] = std::move(v);
  };
  for (const auto& vi : model.graph().value_info()) take(vi);
  for (const auto& vi : model.graph().output()) take(vi);
  try {
    onnx::shape_inference::InferShapes(strict, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, true));
  } catch (const std::exception& e) {
    return Status::InvalidInput(std::string("shape inference: ") + e.what());
  }
  return Status::Ok();
}

namespace {
void collect_types(const onnx::GraphProto& gp, std::map<std::string, DType>* out) {
  auto take = [&](const onnx::ValueInfoProto& vi) {
    const ValueInfo v = from_type_proto(vi.name(), vi.type());
    if (v.dtype != DType::kUndefined) (*out)[v.name] = v.dtype;
  };
  for (const auto& vi : gp.input()) take(vi);
  for (const auto& vi : gp.value_info()) take(vi);
  for (const auto& vi : gp.output()) take(vi);
  for (const auto& t : gp.initializer()) {
    DType d;
    if (dtype_from_onnx(t.data_type(), &d)) (*out)[t.name()] = d;
  }
  for (const auto& n : gp.node()) {
    for (const auto& a : n.attribute()) {
      if (a.has_g()) collect_types(a.g(), out);
      for (const auto& sub : a.graphs()) collect_types(sub, out);
    }
  }
}
}  // namespace

std::map<std::string, DType> infer_value_types(const Graph& g) {
  onnx::ModelProto model;
  graph_to_model_proto(g, &model);
  import_used_domains(g, &model);
  try {
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    // What was declared is still known.
  }
  std::map<std::string, DType> out;
  collect_types(model.graph(), &out);
  return out;
}

Result<std::vector<ValueInfo>> infer_node_outputs(const Node& node, int64_t opset,
                                                  const std::vector<const Tensor*>& inputs) {
  Graph g;
  g.name = "one_node";
  g.opset = opset;
  g.nodes.push_back(node);
  for (size_t i = 0; i < node.inputs.size() && i < inputs.size(); ++i) {
    if (!node.inputs[i].empty() && inputs[i]) g.initializers[node.inputs[i]] = *inputs[i];
  }
  onnx::ModelProto model;
  graph_to_model_proto(g, &model);
  import_used_domains(g, &model);
  model.mutable_graph()->clear_output();
  QT_RETURN_IF_ERROR(run_inference(model).Annotate(node.describe()));
  std::map<std::string, const onnx::TypeProto*> inferred;
  for (const auto& vi : model.graph().value_info()) inferred[vi.name()] = &vi.type();
  std::vector<ValueInfo> out;
  for (const auto& name : node.outputs) {
    auto it = inferred.find(name);
    out.push_back(it == inferred.end() ? ValueInfo{name, DType::kUndefined, std::nullopt}
                                       : from_type_proto(name, *it->second));
  }
  return out;
}

Status check_against_onnx_inference(const Node& node, int64_t opset,
                                    const std::vector<const Tensor*>& inputs,
                                    const std::vector<Tensor>& outputs) {
  QT_ASSIGN_OR_RETURN(auto want, infer_node_outputs(node, opset, inputs));
  for (size_t i = 0; i < want.size() && i < outputs.size(); ++i) {
    if (node.outputs[i].empty()) continue;
    QT_RETURN_IF_ERROR(compare(node.describe() + " output '" + node.outputs[i] + "'", want[i],
                               outputs[i]));
  }
  return Status::Ok();
}

Status check_model_against_onnx_inference(const onnx::ModelProto& model_in,
                                          const std::vector<Tensor>& inputs,
                                          const std::vector<Tensor>& outputs) {
  onnx::ModelProto model = model_in;
  auto* g = model.mutable_graph();
  std::map<std::string, bool> is_init;
  for (const auto& t : g->initializer()) is_init[t.name()] = true;
  size_t k = 0;
  for (auto& in : *g->mutable_input()) {
    if (is_init.count(in.name())) continue;
    if (k >= inputs.size()) break;
    const Tensor& t = inputs[k++];
    if (t.empty() || !in.type().has_tensor_type()) continue;
    auto* tt = in.mutable_type()->mutable_tensor_type();
    auto* shape = tt->mutable_shape();
    shape->clear_dim();
    for (int64_t d : t.shape()) shape->add_dim()->set_dim_value(d);
  }
  // The declared outputs would be merged with (and can mask) the inference; infer from scratch.
  std::vector<std::string> names;
  for (const auto& o : g->output()) names.push_back(o.name());
  for (auto& o : *g->mutable_output()) o.clear_type();
  QT_RETURN_IF_ERROR(run_inference(model));
  for (size_t i = 0; i < names.size() && i < outputs.size(); ++i) {
    const auto& o = g->output(static_cast<int>(i));
    if (!o.has_type()) continue;
    QT_RETURN_IF_ERROR(compare("output '" + names[i] + "'", from_type_proto(names[i], o.type()),
                               outputs[i]));
  }
  return Status::Ok();
}

}  // namespace qtune
