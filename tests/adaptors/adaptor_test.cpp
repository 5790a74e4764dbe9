// The adaptor layer end to end on the bundled lenet: registry, tuning_cfg_to_fw (INC's
// quantize_config), one calibration per session, and int8 execution on both adaptors.
#include "adaptors/adaptor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "adaptors/capability.h"
#include "common/data_config.h"
#include "common/onnx_io.h"
#include "worker/evaluator.h"
#include "worker/quantizer.h"

namespace qtune {
namespace {

const std::string kSource = QTUNE_SOURCE_DIR;

std::shared_ptr<const Graph> lenet() {
  auto g = load_onnx_model(kSource + "/models/fashion_mnist/lenet.onnx");
  EXPECT_TRUE(g.ok()) << g.status().message();
  return std::make_shared<const Graph>(std::move(g).value());
}

TEST(AdaptorRegistryTest, KnowsBothAdaptorsAndRefusesOthers) {
  EXPECT_EQ(adaptor_names(), (std::vector<std::string>{"native", "onednn"}));
  for (const std::string& name : adaptor_names()) {
    auto a = make_adaptor(name);
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ((*a)->name(), name);
  }
  auto bad = make_adaptor("tensorrt");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(bad.status().message().find("native, onednn"), std::string::npos);
}

TEST(AdaptorConfigTest, OnlyDispatchedOpsEnterOpWiseConfig) {
  auto model = lenet();
  auto adaptor = make_adaptor("native");
  ASSERT_TRUE(adaptor.ok());
  auto cap = (*adaptor)->query_fw_capability(*model);
  ASSERT_TRUE(cap.ok()) << cap.status().message();
  ASSERT_GE(cap->opwise.size(), 3u);
  for (const auto& [key, list] : cap->opwise) {
    ASSERT_FALSE(list.empty());
    EXPECT_EQ(list.back().precision, OpPrecision::kFp32) << key.name;
  }

  auto cfg = default_int8_config(*cap);
  ASSERT_TRUE(cfg.ok());
  cfg->calib_sampling_size = 300;
  // Conv/Gemm ops in name order: one bf16, one fp32, one with a per-tensor kl activation.
  std::vector<decltype(cap->opwise)::const_iterator> ops;
  for (auto i = cap->opwise.begin(); i != cap->opwise.end(); ++i) {
    if (i->first.op_type == "Conv" || i->first.op_type == "Gemm") ops.push_back(i);
  }
  ASSERT_GE(ops.size(), 3u);
  const std::string bf16_op = ops[0]->first.name;
  cfg->ops[bf16_op] = OpQuantConfig::bf16();
  const std::string fp32_op = ops[1]->first.name;
  cfg->ops[fp32_op] = OpQuantConfig::fp32();
  auto it = ops[2];
  OpQuantConfig& third = cfg->ops[it->first.name];
  for (const OpQuantConfig& c : it->second) {
    if (c.precision == OpPrecision::kInt8 && c.activation.algorithm == CalibAlgorithm::kKl &&
        c.activation.scheme == QuantScheme::kSym &&
        c.weight.granularity == QuantGranularity::kPerTensor) {
      third = c;
    }
  }
  ASSERT_EQ(third.activation.algorithm, CalibAlgorithm::kKl);

  auto q = (*adaptor)->tuning_cfg_to_fw(*cfg, *model);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->calib_iteration, 300);
  EXPECT_EQ(q->bf16_ops, std::vector<std::string>{bf16_op});
  EXPECT_EQ(q->op_wise_config.size(), cap->opwise.size() - 2);
  EXPECT_FALSE(q->op_wise_config.count(bf16_op));
  EXPECT_FALSE(q->op_wise_config.count(fp32_op));
  const auto& w = q->op_wise_config.at(it->first.name);
  EXPECT_FALSE(w.is_perchannel);
  EXPECT_FALSE(w.is_asymmetric);
  EXPECT_EQ(w.algorithm, CalibAlgorithm::kKl);
  EXPECT_EQ(w.weight_bit, 8);

  // A config the capability does not list is refused, naming the op.
  TuneConfig bad = *cfg;
  bad.ops[bf16_op].mode = QuantMode::kDynamic;
  bad.ops[bf16_op].precision = OpPrecision::kInt8;
  bad.ops[bf16_op].activation.algorithm = CalibAlgorithm::kPercentile;
  bad.ops[bf16_op].activation.granularity = QuantGranularity::kPerChannel;
  auto refused = (*adaptor)->tuning_cfg_to_fw(bad, *model);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(refused.status().message().find(bf16_op), std::string::npos);
}

TEST(AdaptorSessionTest, BothAdaptorsRunTheSameQdqModelInInt8) {
  auto calib_cfg = load_data_config(kSource + "/examples/fashion_mnist/calib.yaml");
  auto test_cfg = load_data_config(kSource + "/examples/fashion_mnist/test.yaml");
  ASSERT_TRUE(calib_cfg.ok() && test_cfg.ok());
  if (!std::filesystem::exists(calib_cfg->dataset.inputs[0].path)) {
    GTEST_SKIP() << calib_cfg->dataset.inputs[0].path << " missing (dataset-fashion-mnist)";
  }
  calib_cfg->dataset.limit = 200;
  test_cfg->dataset.limit = 1000;
  auto calib = load_dataset(*calib_cfg);
  auto test = load_dataset(*test_cfg);
  ASSERT_TRUE(calib.ok() && test.ok());

  auto made = make_adaptor("native");
  ASSERT_TRUE(made.ok());
  std::shared_ptr<const Adaptor> native = std::move(made).value();
  auto session = start_quantization_session(native, lenet(), *calib, 200, 50);
  ASSERT_TRUE(session.ok()) << session.status().message();
  EXPECT_EQ(session->stats.samples, 200);
  auto cfg = default_int8_config(session->capability);
  ASSERT_TRUE(cfg.ok());
  auto q = session->quantize(*cfg);
  ASSERT_TRUE(q.ok()) << q.status().message();

  // Every Conv and Gemm reads a dequantized activation and a dequantized weight.
  int dq = 0, weighted = 0;
  for (const Node& n : q->graph->nodes) dq += n.op_type == "DequantizeLinear";
  for (const auto& [key, list] : session->capability.opwise) {
    weighted += key.op_type == "Conv" || key.op_type == "Gemm";
  }
  EXPECT_GE(dq, 2 * weighted);

  auto fp32_exec = Executor::create(session->fp32);
  ASSERT_TRUE(fp32_exec.ok());
  auto fp32 = evaluate_top1(*fp32_exec, *test, 100);
  ASSERT_TRUE(fp32.ok());
  std::map<std::string, double> top1;
  for (const std::string& name : adaptor_names()) {
    auto a = make_adaptor(name);
    ASSERT_TRUE(a.ok());
    auto prepared = (*a)->prepare(q->graph, q->bf16_ops);
    ASSERT_TRUE(prepared.ok()) << name << ": " << prepared.status().message();
    // Lowered: no Q/DQ pair is left around the int8 convolutions and GEMMs.
    int fused = 0;
    for (const Node& n : (*prepared)->graph().nodes) fused += n.op_type == "QConv" || n.op_type == "QGemm";
    int conv_gemm = 0;
    for (const auto& [key, list] : session->capability.opwise) {
      conv_gemm += key.op_type == "Conv" || key.op_type == "Gemm";
    }
    EXPECT_EQ(fused, conv_gemm) << name;
    auto r = evaluate_top1([&](const std::vector<Tensor>& x) { return (*prepared)->run(x); },
                           *q->graph, *test, 100);
    ASSERT_TRUE(r.ok()) << r.status().message();
    top1[name] = r->top1;
  }
  EXPECT_NEAR(top1["native"], top1["onednn"], 0.3);
  EXPECT_NEAR(top1["native"], fp32->top1, 1.5);
}

}  // namespace
}  // namespace qtune
