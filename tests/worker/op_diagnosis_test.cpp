// qtune diagnose's comparison on the bundled models (examples/fashion_mnist/*.tune.yaml): every
// int8 op is compared, all figures are finite and in range, the ranking is worst first, and an op
// whose activation range is deliberately ruined ranks first by its isolated error while the ops
// after it are not blamed for it.
#include "worker/op_diagnosis.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/data_config.h"
#include "common/onnx_io.h"
#include "common/tuning_config.h"
#include "coordinator/tuning_space.h"
#include "runtime/executor.h"

namespace qtune {
namespace {

const std::string kSource = QTUNE_SOURCE_DIR;
constexpr int64_t kSamples = 200;  // enough for stable errors on these models, fast in a test

struct Loaded {
  QuantizationSession session;
  TuneConfig all_int8;
  Dataset calib;
  int64_t batch_size = 100;
};

// The example's model, adaptor and calibration set, calibrated on kSamples samples.
Result<Loaded> load(const std::string& model) {
  QT_ASSIGN_OR_RETURN(TuningConfig cfg,
                      load_tuning_config(kSource + "/examples/fashion_mnist/" + model + ".tune.yaml"));
  QT_ASSIGN_OR_RETURN(std::unique_ptr<Adaptor> adaptor, make_adaptor(cfg.adaptor));
  QT_ASSIGN_OR_RETURN(Graph graph, load_onnx_model(cfg.model));
  QT_ASSIGN_OR_RETURN(DataConfig data, load_data_config(cfg.calibration_data));
  data.dataset.limit = kSamples;
  Loaded l;
  QT_ASSIGN_OR_RETURN(l.calib, load_dataset(data));
  l.batch_size = data.batch_size;
  QT_ASSIGN_OR_RETURN(l.session, start_quantization_session(std::move(adaptor),
                                                            std::make_shared<const Graph>(std::move(graph)),
                                                            l.calib, kSamples, data.batch_size));
  QT_ASSIGN_OR_RETURN(TuningSpace space, build_tuning_space(l.session.capability, *l.session.prepared, cfg));
  l.all_int8 = space.default_config(kSamples);
  return l;
}

void expect_sane(const TensorError& e, const std::string& what) {
  EXPECT_TRUE(std::isfinite(e.sqnr_db)) << what;
  EXPECT_LE(std::abs(e.sqnr_db), kF32SqnrDb) << what;
  EXPECT_TRUE(std::isfinite(e.cosine)) << what;
  EXPECT_GE(e.cosine, -1.0 - 1e-9) << what;
  EXPECT_LE(e.cosine, 1.0 + 1e-9) << what;
  EXPECT_TRUE(std::isfinite(e.max_abs_error)) << what;
  EXPECT_GE(e.max_abs_error, 0.0) << what;
  EXPECT_GT(e.values, 0) << what;
}

class OpDiagnosisTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OpDiagnosisTest, RanksEveryInt8OpAndARuinedRangeFirst) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST missing (Debian package dataset-fashion-mnist)";
  }
  auto l = load(GetParam());
  ASSERT_TRUE(l.ok()) << l.status().message();
  auto d = diagnose_ops(l->session, l->all_int8, l->calib, kSamples, l->batch_size);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->samples, kSamples);
  EXPECT_TRUE(d->skipped.empty()) << d->skipped.front();
  size_t int8_ops = 0;
  for (const auto& [name, op] : l->all_int8.ops) int8_ops += op.precision == OpPrecision::kInt8;
  ASSERT_EQ(d->ops.size(), int8_ops);
  for (const OpDiagnosis& o : d->ops) {
    expect_sane(o.accumulated, o.name + " accumulated");
    expect_sane(o.isolated, o.name + " isolated");
    if (o.weight) expect_sane(*o.weight, o.name + " weight");
    if (o.input) expect_sane(*o.input, o.name + " input");
    if (o.op_type == "Conv" || o.op_type == "Gemm" || o.op_type == "MatMul") {
      EXPECT_TRUE(o.weight.has_value()) << o.name;
    }
    // The model as quantized: clearly worse than f32 rounding, far from useless.
    EXPECT_LT(o.accumulated.sqnr_db, 100.0) << o.name;
    EXPECT_GT(o.accumulated.sqnr_db, 10.0) << o.name;
  }
  for (DiagnosisRank by : {DiagnosisRank::kIsolated, DiagnosisRank::kAccumulated}) {
    const auto r = ranked(*d, by);
    ASSERT_EQ(r.size(), d->ops.size());
    for (size_t i = 1; i < r.size(); ++i) {
      const double prev = by == DiagnosisRank::kIsolated ? r[i - 1].isolated.sqnr_db : r[i - 1].accumulated.sqnr_db;
      const double cur = by == DiagnosisRank::kIsolated ? r[i].isolated.sqnr_db : r[i].accumulated.sqnr_db;
      EXPECT_LE(prev, cur);
    }
  }

  // Ruin the activation range of the weighted op in the middle of the graph: a thousandth of
  // what calibration saw, so almost every value clips.
  std::vector<const OpDiagnosis*> weighted;
  for (const OpDiagnosis& o : d->ops) {
    if (o.weight && o.input) weighted.push_back(&o);
  }
  ASSERT_GE(weighted.size(), 2u);
  const OpDiagnosis& victim = *weighted[weighted.size() / 2];
  const Node* node = nullptr;
  for (const Node& n : l->session.prepared->nodes) {
    if (n.name == victim.name) node = &n;
  }
  ASSERT_NE(node, nullptr);
  QuantizationSession broken = l->session;
  auto st = broken.stats.tensors.find(node->inputs[0]);
  ASSERT_NE(st, broken.stats.tensors.end()) << node->inputs[0];
  st->second.min *= 1e-3f;
  st->second.max *= 1e-3f;
  st->second.hist_max *= 1e-3f;
  auto b = diagnose_ops(broken, l->all_int8, l->calib, kSamples, l->batch_size);
  ASSERT_TRUE(b.ok()) << b.status().message();
  const auto worst = ranked(*b, DiagnosisRank::kIsolated);
  ASSERT_FALSE(worst.empty());
  EXPECT_EQ(worst[0].name, victim.name) << "ranked first: " << worst[0].name << " at "
                                        << worst[0].isolated.sqnr_db << " dB";
  EXPECT_LT(worst[0].isolated.sqnr_db, victim.isolated.sqnr_db - 20.0);
  ASSERT_TRUE(worst[0].input.has_value());
  EXPECT_LT(worst[0].input->sqnr_db, victim.input->sqnr_db - 20.0);  // the input is the culprit
  EXPECT_NEAR(worst[0].weight->sqnr_db, victim.weight->sqnr_db, 1e-9);  // not the weight
  // Fed fp32 inputs, every op that does not read the ruined tensor keeps its own error exactly.
  size_t unaffected = 0;
  for (const Node& n : l->session.prepared->nodes) {
    if (std::find(n.inputs.begin(), n.inputs.end(), node->inputs[0]) != n.inputs.end()) continue;
    const OpDiagnosis* before = nullptr;
    const OpDiagnosis* after = nullptr;
    for (const OpDiagnosis& o : d->ops) before = o.name == n.name ? &o : before;
    for (const OpDiagnosis& o : b->ops) after = o.name == n.name ? &o : after;
    if (!before || !after) continue;
    EXPECT_NEAR(after->isolated.sqnr_db, before->isolated.sqnr_db, 1e-6) << n.name;
    ++unaffected;
  }
  EXPECT_GT(unaffected, 0u);
}

INSTANTIATE_TEST_SUITE_P(FashionMnist, OpDiagnosisTest, ::testing::Values("lenet", "resnet", "vit"));

// x -> MatMul(W1) -> h -> MatMul(W2) -> y on random data.
std::shared_ptr<const Graph> two_matmuls() {
  auto g = std::make_shared<Graph>();
  g->opset = 13;
  g->inputs.push_back({"x", DType::kF32, Shape{-1, 8}});
  g->outputs.push_back({"y", DType::kF32, Shape{-1, 3}});
  auto weight = [](int64_t rows, int64_t cols, float scale) {
    std::vector<float> v(static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(0.7f * static_cast<float>(i) + 0.3f);
    return Tensor::from_f32({rows, cols}, v);
  };
  g->initializers["W1"] = weight(8, 5, 0.8f);
  g->initializers["W2"] = weight(5, 3, 1.3f);
  Node a;
  a.name = "mm1";
  a.op_type = "MatMul";
  a.inputs = {"x", "W1"};
  a.outputs = {"h"};
  Node b;
  b.name = "mm2";
  b.op_type = "MatMul";
  b.inputs = {"h", "W2"};
  b.outputs = {"y"};
  g->nodes = {a, b};
  return g;
}

// The figures against their definitions, recomputed here from the two models' outputs; and the
// isolated error of the second op equals its error when the first runs in fp32.
TEST(OpDiagnosisTest, FiguresFollowTheirDefinitionsAndIsolatedMeansFp32Inputs) {
  std::vector<float> xs(64 * 8);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::cos(1.3f * static_cast<float>(i)) * (1.0f + static_cast<float>(i % 7));
  const Dataset data = Dataset::of(Tensor::from_f32({64, 8}, xs));
  auto adaptor = make_adaptor("native");
  ASSERT_TRUE(adaptor.ok()) << adaptor.status().message();
  auto session = start_quantization_session(std::move(adaptor).value(), two_matmuls(), data, 64, 16);
  ASSERT_TRUE(session.ok()) << session.status().message();
  auto space = build_tuning_space(session->capability, *session->prepared, TuningConfig{});
  ASSERT_TRUE(space.ok()) << space.status().message();
  const TuneConfig all_int8 = space->default_config(64);
  ASSERT_EQ(all_int8.ops.at("mm1").precision, OpPrecision::kInt8);
  ASSERT_EQ(all_int8.ops.at("mm2").precision, OpPrecision::kInt8);
  auto d = diagnose_ops(*session, all_int8, data, 64, 16);
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->ops.size(), 2u);
  EXPECT_EQ(d->ops[0].name, "mm1");
  EXPECT_EQ(d->ops[1].name, "mm2");

  // y of both models on all 64 samples at once.
  auto q = session->quantize(all_int8);
  ASSERT_TRUE(q.ok()) << q.status().message();
  auto f_exec = Executor::create(session->prepared);
  auto q_exec = Executor::create(q->graph);
  ASSERT_TRUE(f_exec.ok() && q_exec.ok());
  auto f = f_exec->run({data.inputs[0].values});
  auto qy = q_exec->run({data.inputs[0].values});
  ASSERT_TRUE(f.ok() && qy.ok());
  double ff = 0, qq = 0, qf = 0, noise = 0, max_abs = 0;
  for (int64_t i = 0; i < (*f)[0].numel(); ++i) {
    const double a = (*qy)[0].data<float>()[i], b = (*f)[0].data<float>()[i];
    ff += b * b, qq += a * a, qf += a * b, noise += (a - b) * (a - b);
    max_abs = std::max(max_abs, std::abs(a - b));
  }
  const TensorError& y = d->ops[1].accumulated;
  EXPECT_EQ(y.values, 64 * 3);
  EXPECT_NEAR(y.sqnr_db, 10 * std::log10(ff / noise), 1e-6);
  EXPECT_NEAR(y.cosine, qf / std::sqrt(ff * qq), 1e-9);
  EXPECT_NEAR(y.max_abs_error, max_abs, 1e-6);
  EXPECT_LT(y.sqnr_db, 60.0);  // int8 noise, not rounding
  // The first op reads the graph input: alone or in the model, the same.
  EXPECT_NEAR(d->ops[0].isolated.sqnr_db, d->ops[0].accumulated.sqnr_db, 1e-9);
  ASSERT_TRUE(d->ops[0].weight && d->ops[1].weight && d->ops[0].input && d->ops[1].input);

  TuneConfig first_fp32 = all_int8;
  first_fp32.ops["mm1"] = OpQuantConfig::fp32();
  auto alone = diagnose_ops(*session, first_fp32, data, 64, 16);
  ASSERT_TRUE(alone.ok()) << alone.status().message();
  ASSERT_EQ(alone->ops.size(), 1u);
  EXPECT_NEAR(d->ops[1].isolated.sqnr_db, alone->ops[0].accumulated.sqnr_db, 1e-6);
  EXPECT_NEAR(d->ops[1].isolated.max_abs_error, alone->ops[0].accumulated.max_abs_error, 1e-6);
  EXPECT_NEAR(d->ops[1].input->sqnr_db, alone->ops[0].input->sqnr_db, 1e-6);
  // In the all-int8 model mm2 also gets mm1's error.
  EXPECT_NE(d->ops[1].accumulated.sqnr_db, d->ops[1].isolated.sqnr_db);
  EXPECT_NEAR(kF32SqnrDb, 10.0 * std::log10(std::pow(2.0, 48)), 0.01);
}

}  // namespace
}  // namespace qtune
