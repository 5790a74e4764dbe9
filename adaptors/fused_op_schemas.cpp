#include "adaptors/fused_op_schemas.h"

#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>

#include <mutex>
#include <set>
#include <vector>

#include "adaptors/lowering.h"

namespace qtune {
namespace {

// Presents a fused node to a standard op's inference function: standard input k is fused input
// map[k] (with an optional replacement type), outputs are shared.
class OperandView : public onnx::InferenceContext {
 public:
  OperandView(onnx::InferenceContext& fused, std::vector<size_t> map)
      : fused_(fused), map_(std::move(map)), replaced_(map_.size()) {}

  void replace_type(size_t k, onnx::TypeProto t) { replaced_[k] = std::move(t); }

  const onnx::AttributeProto* getAttribute(const std::string& name) const override {
    return fused_.getAttribute(name);
  }
  size_t getNumInputs() const override { return map_.size(); }
  const onnx::TypeProto* getInputType(size_t k) const override {
    if (k >= map_.size()) return nullptr;
    if (replaced_[k].has_tensor_type()) return &replaced_[k];
    return map_[k] < fused_.getNumInputs() ? fused_.getInputType(map_[k]) : nullptr;
  }
  const onnx::TensorProto* getInputData(size_t k) const override {
    return k < map_.size() && map_[k] < fused_.getNumInputs() ? fused_.getInputData(map_[k])
                                                              : nullptr;
  }
  size_t getNumOutputs() const override { return fused_.getNumOutputs(); }
  onnx::TypeProto* getOutputType(size_t i) override { return fused_.getOutputType(i); }
  onnx::GraphInferencer* getGraphAttributeInferencer(const std::string&) override {
    return nullptr;
  }
  const onnx::SparseTensorProto* getInputSparseData(size_t) const override { return nullptr; }
  const onnx::TensorShapeProto* getSymbolicInput(size_t) const override { return nullptr; }

 private:
  onnx::InferenceContext& fused_;
  std::vector<size_t> map_;
  std::vector<onnx::TypeProto> replaced_;
};

int32_t out_elem_type(onnx::InferenceContext& ctx) {
  const onnx::AttributeProto* a = ctx.getAttribute("out_dtype");
  const std::string s = a ? a->s() : "f32";
  if (s == "u8") return onnx::TensorProto::UINT8;
  if (s == "s8") return onnx::TensorProto::INT8;
  if (s == "f32") return onnx::TensorProto::FLOAT;
  fail_type_inference("out_dtype must be u8, s8 or f32, got '", s, "'");
}

void infer_as(const char* op, int version, OperandView& view, onnx::InferenceContext& fused) {
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(op, version);
  if (!schema || !schema->has_type_and_shape_inference_function()) {
    fail_shape_inference("no ", op, " schema to infer from");
  }
  // The standard inference copies x's element type to the output; the fused op says its own.
  const int32_t want = out_elem_type(fused);
  onnx::TypeProto* out = fused.getOutputType(0);
  out->mutable_tensor_type()->set_elem_type(0);
  schema->GetTypeAndShapeInferenceFunction()(view);
  out->mutable_tensor_type()->set_elem_type(want);
}

// A copy of t with its dims reordered: dim i of the result is dim perm[i] of t.
onnx::TypeProto permuted(const onnx::TypeProto& t, const std::vector<int>& perm) {
  onnx::TypeProto out = t;
  if (!t.tensor_type().has_shape() || t.tensor_type().shape().dim_size() != static_cast<int>(perm.size())) {
    return out;
  }
  auto* dims = out.mutable_tensor_type()->mutable_shape();
  for (size_t i = 0; i < perm.size(); ++i) {
    *dims->mutable_dim(static_cast<int>(i)) = t.tensor_type().shape().dim(perm[i]);
  }
  return out;
}

const std::vector<int> kToNchw = {0, 3, 1, 2};
const std::vector<int> kToNhwc = {0, 2, 3, 1};

bool channels_last(onnx::InferenceContext& ctx) {
  const onnx::AttributeProto* a = ctx.getAttribute("channels_last");
  return a && a->i() != 0;
}

// The standard inference ran on NCHW operands: its output back to NHWC.
void output_to_nhwc(onnx::InferenceContext& ctx) {
  onnx::TypeProto* out = ctx.getOutputType(0);
  if (out->tensor_type().has_shape() && out->tensor_type().shape().dim_size() == 4) {
    *out = permuted(*out, kToNhwc);
  }
}

// Conv on [x, w] (inputs 0 and 1); x [N, H, W, C] and y [N, OH, OW, M] with channels_last.
void infer_conv(onnx::InferenceContext& ctx) {
  OperandView view(ctx, {0, 1});
  const bool nhwc = channels_last(ctx);
  if (nhwc && ctx.getInputType(0)) view.replace_type(0, permuted(*ctx.getInputType(0), kToNchw));
  infer_as("Conv", 11, view, ctx);
  if (nhwc) output_to_nhwc(ctx);
}

// MaxPool on a channels-last 8-bit x: the standard inference on its NCHW view, x's type.
void infer_max_pool_nhwc(onnx::InferenceContext& ctx) {
  OperandView view(ctx, {0});
  if (ctx.getInputType(0)) view.replace_type(0, permuted(*ctx.getInputType(0), kToNchw));
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema("MaxPool", 12);
  if (!schema || !schema->has_type_and_shape_inference_function()) {
    fail_shape_inference("no MaxPool schema to infer from");
  }
  schema->GetTypeAndShapeInferenceFunction()(view);
  output_to_nhwc(ctx);
}

// QLut: x's shape, the table's element type.
void infer_lut(onnx::InferenceContext& ctx) {
  if (ctx.getNumInputs() < 2 || !ctx.getInputType(1)) return;
  onnx::updateOutputElemType(ctx, 0, ctx.getInputType(1)->tensor_type().elem_type());
  if (onnx::hasInputShape(ctx, 0)) onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
}

// F32Conv: Conv on [x, w]; with a sum (input 3), the Add of that result and the sum; with
// "max_pool_2x2", the last two dims halved (rounding down).
void infer_conv_sum(onnx::InferenceContext& ctx) {
  infer_conv(ctx);
  const onnx::TypeProto* sum = ctx.getNumInputs() > 3 ? ctx.getInputType(3) : nullptr;
  if (sum && sum->has_tensor_type()) {
    onnx::TypeProto conv_out = *ctx.getOutputType(0);
    ctx.getOutputType(0)->mutable_tensor_type()->clear_shape();
    OperandView view(ctx, {3, 3});
    view.replace_type(0, std::move(conv_out));
    infer_as("Add", 14, view, ctx);
  }
  const onnx::AttributeProto* pool = ctx.getAttribute("max_pool_2x2");
  onnx::TypeProto* out = ctx.getOutputType(0);
  if (!pool || pool->i() == 0 || !out->tensor_type().has_shape()) return;
  auto* dims = out->mutable_tensor_type()->mutable_shape()->mutable_dim();
  if (dims->size() != 4) return;
  for (int d = 2; d < 4; ++d) {
    auto* dim = dims->Mutable(d);
    if (dim->has_dim_value()) {
      dim->set_dim_value(dim->dim_value() / 2);
    } else {
      dim->Clear();  // a symbolic size halves into an unknown one
    }
  }
}

// MatMul on [x, w as [K, N]]: w is [N, K] when trans_b is 1.
void infer_gemm(onnx::InferenceContext& ctx) {
  OperandView view(ctx, {0, 1});
  const onnx::AttributeProto* tb = ctx.getAttribute("trans_b");
  const onnx::TypeProto* w = ctx.getInputType(1);
  if (tb && tb->i() != 0 && w && w->tensor_type().has_shape() &&
      w->tensor_type().shape().dim_size() == 2) {
    onnx::TypeProto kn = *w;
    auto* dims = kn.mutable_tensor_type()->mutable_shape()->mutable_dim();
    dims->SwapElements(0, 1);
    view.replace_type(1, std::move(kn));
  }
  infer_as("MatMul", 13, view, ctx);
}

// Add on [a, b] (inputs 0 and 3); the operands may differ in element type (8-bit and f32),
// which Add's own type check would refuse, so both are presented as f32.
void infer_add(onnx::InferenceContext& ctx) {
  OperandView view(ctx, {0, 3});
  for (size_t k = 0; k < 2; ++k) {
    const size_t i = k == 0 ? 0 : 3;
    const onnx::TypeProto* t = i < ctx.getNumInputs() ? ctx.getInputType(i) : nullptr;
    if (!t) continue;
    onnx::TypeProto f = *t;
    f.mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    view.replace_type(k, std::move(f));
  }
  infer_as("Add", 14, view, ctx);
}

// LayerNorm and Gelu: x's type and shape.
void infer_like_x(onnx::InferenceContext& ctx) {
  if (ctx.getNumInputs() < 1 || !ctx.getInputType(0)) return;
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (onnx::hasInputShape(ctx, 0)) onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
}

onnx::OpSchema fused_schema(const std::string& domain, const char* op, const char* doc,
                            onnx::InferenceFunction infer) {
  onnx::OpSchema s;
  s.SetName(op)
      .SetDomain(domain)
      .SinceVersion(1)
      .SetDoc(doc)
      .Input(0, "inputs", "operands as adaptors/lowering.h lists them", "T",
             onnx::OpSchema::Variadic, /*is_homogeneous=*/false, /*min_arity=*/1)
      .Output(0, "y", "result", "T")
      .TypeConstraint("T", onnx::OpSchema::all_tensor_types(), "any tensor")
      .AllowUncheckedAttributes()
      .TypeAndShapeInferenceFunction(std::move(infer));
  return s;
}

}  // namespace

void register_fused_op_schemas(const std::string& domain) {
  static std::mutex mu;
  static std::set<std::string> done;
  std::lock_guard<std::mutex> lock(mu);
  if (!done.insert(domain).second) return;
  onnx::OpSchemaRegistry::DomainToVersionRange::Instance().AddDomainToVersion(domain, 1, 1);
  onnx::RegisterSchema(fused_schema(domain, kQConvOp, "int8 Conv with fused requantization",
                                    infer_conv));
  onnx::RegisterSchema(fused_schema(domain, kBf16ConvOp, "Conv computed in bf16", infer_conv));
  onnx::RegisterSchema(fused_schema(domain, kF32ConvOp, "Conv on the adaptor's f32 kernels",
                                    infer_conv_sum));
  onnx::RegisterSchema(fused_schema(domain, kQGemmOp, "int8 Gemm/MatMul with fused requantization",
                                    infer_gemm));
  onnx::RegisterSchema(fused_schema(domain, kBf16GemmOp, "Gemm/MatMul computed in bf16",
                                    infer_gemm));
  onnx::RegisterSchema(fused_schema(domain, kF32GemmOp, "Gemm/MatMul on the adaptor's f32 kernels",
                                    infer_gemm));
  onnx::RegisterSchema(fused_schema(domain, kQAddOp, "Add of (de)quantized operands", infer_add));
  onnx::RegisterSchema(fused_schema(domain, kQLutOp, "8-bit table lookup per element", infer_lut));
  onnx::RegisterSchema(fused_schema(domain, kMaxPoolNhwcOp, "MaxPool on channels-last 8-bit tensors",
                                    infer_max_pool_nhwc));
  onnx::RegisterSchema(fused_schema(domain, kLayerNormOp, "LayerNormalization's Y, any opset",
                                    infer_like_x));
  onnx::RegisterSchema(fused_schema(domain, kGeluOp, "exact GELU", infer_like_x));
}

}  // namespace qtune
