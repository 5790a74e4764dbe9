// The fused ops' libonnx schemas agree with their kernels: a bundled model quantized and lowered
// on each adaptor is shape-inferred by libonnx (strictly), then run; every fused node's output
// has exactly the element type and shape libonnx inferred.
#include "adaptors/fused_op_schemas.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>

#include "adaptors/adaptor.h"
#include "adaptors/capability.h"
#include "adaptors/lowering.h"
#include "adaptors/native/native_ops.h"
#include "adaptors/onednn/onednn_ops.h"
#include "common/data_config.h"
#include "common/onnx_io.h"
#include "runtime/executor.h"
#include "runtime/onnx_inference.h"
#include "worker/quantizer.h"

namespace qtune {
namespace {

const std::string kSource = QTUNE_SOURCE_DIR;

class FusedOpSchemas : public ::testing::TestWithParam<std::string> {};

TEST_P(FusedOpSchemas, LoweredModelsMatchLibonnxInference) {
  auto calib_cfg = load_data_config(kSource + "/examples/fashion_mnist/calib.yaml");
  ASSERT_TRUE(calib_cfg.ok());
  if (!std::filesystem::exists(calib_cfg->dataset.inputs[0].path)) {
    GTEST_SKIP() << calib_cfg->dataset.inputs[0].path << " missing (dataset-fashion-mnist)";
  }
  calib_cfg->dataset.limit = 20;
  auto calib = load_dataset(*calib_cfg);
  ASSERT_TRUE(calib.ok());
  auto loaded = load_onnx_model(kSource + "/models/fashion_mnist/" + GetParam() + ".onnx");
  ASSERT_TRUE(loaded.ok());
  auto model = std::make_shared<const Graph>(std::move(loaded).value());

  auto native = make_adaptor("native");
  ASSERT_TRUE(native.ok());
  std::shared_ptr<const Adaptor> quantizer = std::move(native).value();
  auto session = start_quantization_session(quantizer, model, *calib, 20, 10);
  ASSERT_TRUE(session.ok()) << session.status().message();
  auto cfg = default_int8_config(session->capability);
  ASSERT_TRUE(cfg.ok());
  auto q = session->quantize(*cfg);
  ASSERT_TRUE(q.ok()) << q.status().message();

  std::vector<std::string> bf16_ops;
  for (const Node& n : model->nodes) {
    if (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") bf16_ops.push_back(n.name);
  }
  const Tensor batch = calib->batch(0, 4)[0];
  std::set<std::string> seen_ops;
  for (const std::string& name : adaptor_names()) {
    const KernelRegistry& ops = name == "native" ? native_ops() : onednn_ops();
    auto a = make_adaptor(name);
    ASSERT_TRUE(a.ok());
    // int8 (QConv/QGemm/QAdd), fp32 on the adaptor's kernels (F32*), and bf16 (Bf16*).
    const std::vector<std::pair<std::shared_ptr<const Graph>, std::vector<std::string>>> forms = {
        {q->graph, {}}, {model, {}}, {model, bf16_ops}};
    for (const auto& [graph, bf16] : forms) {
      auto prepared = (*a)->prepare(graph, bf16);
      ASSERT_TRUE(prepared.ok()) << name << ": " << prepared.status().message();
      Graph lowered = (*prepared)->graph();
      lowered.value_info.clear();
      Status inferred = infer_graph_types(lowered);
      ASSERT_TRUE(inferred.ok()) << name << ": " << inferred.message();

      std::map<std::string, const Node*> fused;
      for (const Node& n : lowered.nodes) {
        if (!n.domain.empty()) fused[n.outputs.at(0)] = &n;
      }
      auto exec = Executor::create(std::make_shared<const Graph>(lowered), &ops);
      ASSERT_TRUE(exec.ok()) << exec.status().message();
      int checked = 0;
      auto run = exec->run({batch}, [&](const std::string& value, const Tensor& t) {
        auto f = fused.find(value);
        if (f == fused.end()) return;
        const ValueInfo& want = lowered.value_info.at(value);
        EXPECT_EQ(t.dtype(), want.dtype) << name << " " << f->second->describe();
        ASSERT_TRUE(want.shape.has_value()) << name << " " << f->second->describe();
        bool same = t.shape().size() == want.shape->size();  // -1: the dynamic batch
        for (size_t d = 0; same && d < t.shape().size(); ++d) {
          same = (*want.shape)[d] < 0 || (*want.shape)[d] == t.shape()[d];
        }
        EXPECT_TRUE(same) << name << " " << f->second->describe() << ": "
                          << shape_str(t.shape()) << ", libonnx infers " << shape_str(*want.shape);
        seen_ops.insert(f->second->op_type);
        ++checked;
      });
      ASSERT_TRUE(run.ok()) << run.status().message();
      EXPECT_EQ(checked, static_cast<int>(fused.size())) << name;
    }
  }
  EXPECT_TRUE(seen_ops.count(kQConvOp) || seen_ops.count(kQGemmOp));
  EXPECT_TRUE(seen_ops.count(kBf16ConvOp) || seen_ops.count(kBf16GemmOp));
  EXPECT_TRUE(seen_ops.count(kF32ConvOp) || seen_ops.count(kF32GemmOp));
}

INSTANTIATE_TEST_SUITE_P(Bundled, FusedOpSchemas, ::testing::Values("lenet", "resnet", "vit"));

}  // namespace
}  // namespace qtune
