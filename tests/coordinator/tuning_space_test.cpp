// The tuning space of the bundled lenet on the native adaptor, narrowed by op_type_dict and
// op_name_dict; constraints outside the capability are errors naming the YAML place.
#include "coordinator/tuning_space.h"

#include <gtest/gtest.h>

#include "adaptors/adaptor.h"
#include "adaptors/quantize/graph_passes.h"
#include "common/onnx_io.h"

namespace qtune {
namespace {

class TuningSpaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto g = load_onnx_model(std::string(QTUNE_SOURCE_DIR) + "/models/fashion_mnist/lenet.onnx");
    ASSERT_TRUE(g.ok());
    auto p = prepare_fp32_for_quantization(*g);
    ASSERT_TRUE(p.ok());
    graph_ = std::move(p).value();
    auto a = make_adaptor("native");
    ASSERT_TRUE(a.ok());
    auto c = (*a)->query_fw_capability(graph_);
    ASSERT_TRUE(c.ok()) << c.status().message();
    cap_ = std::move(c).value();
    cfg_.source_path = "tune.yaml";
  }
  OpConstraint constraint(const std::string& where) {
    OpConstraint c;
    c.where = "tune.yaml:" + where;
    return c;
  }

  Graph graph_;
  Capability cap_;
  TuningConfig cfg_;
};

TEST_F(TuningSpaceTest, GraphOrderAndDefaults) {
  auto s = build_tuning_space(cap_, graph_, cfg_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<std::string> names;
  for (const auto& op : s->ops) names.push_back(op.key.name);
  EXPECT_EQ(names, (std::vector<std::string>{"/conv1/Conv", "/Relu", "/MaxPool", "/conv2/Conv",
                                             "/Relu_1", "/MaxPool_1", "/Flatten", "/fc1/Gemm",
                                             "/Relu_2", "/fc2/Gemm"}));
  for (const auto& op : s->ops) {
    EXPECT_EQ(op.options.back().precision, OpPrecision::kFp32) << op.key.name;
    EXPECT_EQ(op.default_option().precision, OpPrecision::kInt8);
    EXPECT_EQ(op.default_option().activation.algorithm, CalibAlgorithm::kMinMax);
    EXPECT_EQ(op.default_option().mode, QuantMode::kStatic);
  }
  const TuneConfig d = s->default_config(300);
  EXPECT_EQ(d.calib_sampling_size, 300);
  EXPECT_EQ(s->int8_ops(d).size(), 10u);
}

TEST_F(TuningSpaceTest, TypeAndNameConstraintsNarrow) {
  OpConstraint conv = constraint("5:5");
  conv.activation.algorithm = {"kl"};
  conv.weight.granularity = {"per_tensor"};
  cfg_.op_type_dict["Conv"] = conv;
  OpConstraint fc2 = constraint("7:5");
  fc2.precision = {"fp32"};
  cfg_.op_name_dict["/fc2/Gemm"] = fc2;
  OpConstraint gemm = constraint("6:5");
  gemm.precision = {"int8"};
  cfg_.op_type_dict["Gemm"] = gemm;  // /fc2/Gemm is named: its own entry replaces this one
  auto s = build_tuning_space(cap_, graph_, cfg_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  const TunableOp* c1 = s->find("/conv1/Conv");
  ASSERT_NE(c1, nullptr);
  for (const auto& o : c1->options) {
    if (o.precision != OpPrecision::kInt8) continue;
    EXPECT_EQ(o.activation.algorithm, CalibAlgorithm::kKl);
    EXPECT_EQ(o.weight.granularity, QuantGranularity::kPerTensor);
  }
  EXPECT_TRUE(c1->allows(OpPrecision::kFp32));  // precision left free
  const TunableOp* fc2op = s->find("/fc2/Gemm");
  ASSERT_EQ(fc2op->options.size(), 1u);
  EXPECT_EQ(fc2op->options[0].precision, OpPrecision::kFp32);
  EXPECT_EQ(fc2op->default_option().precision, OpPrecision::kFp32);
  const TunableOp* fc1 = s->find("/fc1/Gemm");
  EXPECT_FALSE(fc1->allows(OpPrecision::kFp32));
  EXPECT_TRUE(fc1->allows(OpPrecision::kInt8));
}

TEST_F(TuningSpaceTest, ConstraintsOutsideTheCapabilityAreErrors) {
  auto expect = [&](const std::string& want) {
    auto s = build_tuning_space(cap_, graph_, cfg_);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(s.status().message().find(want), std::string::npos) << s.status().message();
  };
  cfg_.op_type_dict["LSTM"] = constraint("3:3");
  expect("tune.yaml:3:3: quantization.op_type_dict.LSTM: the model has no quantizable op");
  cfg_.op_type_dict.clear();
  cfg_.op_name_dict["/conv9/Conv"] = constraint("4:4");
  expect("tune.yaml:4:4: quantization.op_name_dict./conv9/Conv: not a quantizable op");
  cfg_.op_name_dict.clear();
  OpConstraint pool = constraint("5:5");
  pool.precision = {"bf16"};
  cfg_.op_type_dict["MaxPool"] = pool;
  expect("tune.yaml:5:5: quantization.op_type_dict.MaxPool: precision bf16 is outside the capability");
  OpConstraint pool_w = constraint("5:6");
  pool_w.weight.scheme = {"asym"};
  cfg_.op_type_dict["MaxPool"] = pool_w;
  expect("weight asym is outside the capability of op '/MaxPool'");
}

}  // namespace
}  // namespace qtune
