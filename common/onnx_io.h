// Reading and writing ONNX protobuf files into/out of the Graph IR.
// The only place that touches onnx_pb.h; protobuf failures become Status naming the file.
// Stateless functions; thread-safe.
#pragma once

#include <string>

#include "common/graph.h"

namespace onnx {
class ModelProto;
class TensorProto;
}  // namespace onnx

namespace qtune {

Result<Graph> load_onnx_model(const std::string& path);
// Replaces `path` atomically (common/file_writer.h): a reader sees the old file or the new one.
Status save_onnx_model(const Graph& graph, const std::string& path);
// The bytes save_onnx_model writes.
Result<std::string> serialize_onnx_model(const Graph& graph);
// The ModelProto save_onnx_model writes (IR 7, the graph's opset imports).
void graph_to_model_proto(const Graph& graph, onnx::ModelProto* model);

// A serialized TensorProto file (the ONNX backend tests' input_0.pb / output_0.pb).
Result<Tensor> load_tensor_pb(const std::string& path);

// A serialized TensorProto, SequenceProto or OptionalProto file, as `declared` (a graph input or
// output) says: the backend tests' data for sequence and optional values.
Result<Tensor> load_value_pb(const std::string& path, const ValueInfo& declared);

// `where` names the tensor in errors ("initializer 'fc.weight'").
Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& where);
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* proto);

}  // namespace qtune
