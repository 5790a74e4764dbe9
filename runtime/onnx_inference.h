// The one bridge to libonnx's operator schemas for shapes and types: what libonnx's versioned
// shape inference (onnx::shape_inference::InferShapes) says a node or a model produces, and the
// check that a kernel's actual outputs agree with it. Used by the per-operator tests and by the
// conformance runner, so kernels and the ONNX schemas can never disagree unnoticed.
// Stateless functions; thread-safe (libonnx's schema registry is read-only after start-up).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/graph.h"

namespace onnx {
class ModelProto;
}

namespace qtune {

// libonnx's model checker on a file (structure, schemas, opset imports): kInvalidInput with
// the checker's message naming the file when it objects.
Status check_model_file(const std::string& path);

// Fills g.value_info with every value's element type and shape as libonnx's schemas infer them
// (existing entries are replaced where libonnx knows more; -1 marks dims only known at run time).
// Ops libonnx cannot infer leave their outputs as declared. kInvalidInput naming the node when
// the graph contradicts a schema.
Status infer_graph_types(Graph& g);

// Element types of every value of `g` and of its subgraphs (If branches, Loop/Scan bodies), as
// declared or as libonnx infers them; values libonnx cannot type are left out. Never fails: an
// inference error only leaves fewer types known.
std::map<std::string, DType> infer_value_types(const Graph& g);

// Output types and shapes libonnx infers for one node run at `opset` on these concrete inputs.
// Inputs are passed as constants, so shape-carrying inputs (Reshape's shape, Slice's starts, ...)
// are read. Dims libonnx cannot tell are -1; a ValueInfo without shape means rank unknown and
// kUndefined dtype means no inference. kUnsupported when libonnx's inference rejects the node.
Result<std::vector<ValueInfo>> infer_node_outputs(const Node& node, int64_t opset,
                                                  const std::vector<const Tensor*>& inputs);

// kInvalidInput describing the first place where `outputs` disagree with the inference for
// `node` (element type, rank, or a dim libonnx knows), naming the node and the output;
// kUnsupported when libonnx cannot infer it.
Status check_against_onnx_inference(const Node& node, int64_t opset,
                                    const std::vector<const Tensor*>& inputs,
                                    const std::vector<Tensor>& outputs);

// Same comparison for a whole model: graph inputs get the given tensors' types and shapes, then
// every graph output's inference is compared with `outputs` (in graph output order).
Status check_model_against_onnx_inference(const onnx::ModelProto& model,
                                          const std::vector<Tensor>& inputs,
                                          const std::vector<Tensor>& outputs);

}  // namespace qtune
