#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/kernel_registry.h"

namespace qtune {
namespace {

// Float sums here have at most a few hundred terms of magnitude ~1.
constexpr float kTol = 1e-4f;

Attribute ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute int1(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute flt(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
Attribute str(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}

struct Run {
  Status status;
  std::vector<Tensor> outputs;
};

// Runs one op directly through the registry; nullptr inputs are omitted optionals.
Run run_op(const std::string& op, std::map<std::string, Attribute> attrs,
           std::vector<const Tensor*> inputs, size_t num_outputs = 1, int64_t opset = 13) {
  Node n;
  n.name = "n1";
  n.op_type = op;
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) n.inputs.push_back(inputs[i] ? "in" + std::to_string(i) : "");
  for (size_t i = 0; i < num_outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  const OpFn* fn = KernelRegistry::instance().find("", op);
  if (!fn) return {Status::Internal("no op " + op), {}};
  OpContext ctx{n, opset, inputs, {}, nullptr, {}};
  ctx.outputs.resize(num_outputs);
  Status s = (*fn)(ctx);
  return {s, std::move(ctx.outputs)};
}

Tensor random_f32(Shape shape, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  Tensor t(DType::kF32, std::move(shape));
  for (auto& v : t.span<float>()) v = d(rng);
  return t;
}

void expect_close(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t i = 0; i < want.numel(); ++i) {
    ASSERT_NEAR(got.get_f64(i), want.get_f64(i), kTol * (1.0 + std::fabs(want.get_f64(i))))
        << "at " << i;
  }
}

// Direct-loop 2-D convolution, the textbook definition.
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor* b, int64_t group,
                    std::vector<int64_t> s, std::vector<int64_t> d, std::vector<int64_t> p,
                    int64_t oh, int64_t ow) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t M = w.dim(0), Cg = w.dim(1), KH = w.dim(2), KW = w.dim(3), Mg = M / group;
  Tensor y(DType::kF32, {N, M, oh, ow});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = b ? b->data<float>()[m] : 0.0;
          const int64_t g = m / Mg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t u = 0; u < KH; ++u)
              for (int64_t v = 0; v < KW; ++v) {
                const int64_t ih = i * s[0] - p[0] + u * d[0], iw = j * s[1] - p[1] + v * d[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x.data<float>()[((n * C + g * Cg + c) * H + ih) * W + iw] *
                       w.data<float>()[((m * Cg + c) * KH + u) * KW + v];
              }
          y.data<float>()[((n * M + m) * oh + i) * ow + j] = static_cast<float>(acc);
        }
  return y;
}

TEST(OpsNnTest, ConvMatchesDirectLoop) {
  std::mt19937 rng(1);
  struct C {
    int64_t n, c, h, w, m, k, group, stride, dil, pad;
    bool bias;
  };
  for (const C& c : {C{2, 3, 9, 8, 4, 3, 1, 1, 1, 1, true}, C{1, 4, 7, 7, 6, 3, 2, 2, 1, 0, false},
                     C{3, 2, 10, 6, 2, 2, 2, 1, 2, 2, true}, C{1, 8, 5, 5, 16, 1, 1, 1, 1, 0, true},
                     C{2, 6, 6, 6, 6, 3, 6, 1, 1, 1, false}}) {
    Tensor x = random_f32({c.n, c.c, c.h, c.w}, rng);
    Tensor w = random_f32({c.m, c.c / c.group, c.k, c.k}, rng);
    Tensor b = random_f32({c.m}, rng);
    const int64_t eff = (c.k - 1) * c.dil + 1;
    const int64_t oh = (c.h + 2 * c.pad - eff) / c.stride + 1;
    const int64_t ow = (c.w + 2 * c.pad - eff) / c.stride + 1;
    auto r = run_op("Conv",
                    {{"group", int1(c.group)},
                     {"strides", ints({c.stride, c.stride})},
                     {"dilations", ints({c.dil, c.dil})},
                     {"pads", ints({c.pad, c.pad, c.pad, c.pad})}},
                    {&x, &w, c.bias ? &b : nullptr});
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    expect_close(r.outputs[0], naive_conv2d(x, w, c.bias ? &b : nullptr, c.group,
                                            {c.stride, c.stride}, {c.dil, c.dil},
                                            {c.pad, c.pad}, oh, ow));
  }
}

// Sweeps strides, dilations, asymmetric pads and groups: covers both the implicit-GEMM path
// (every stride phase) and the pointwise path.
TEST(OpsNnTest, ConvGeometrySweepMatchesDirectLoop) {
  std::mt19937 rng(5);
  int checked = 0;
  for (int64_t k : {1, 2, 3})
    for (int64_t s : {1, 2, 3})
      for (int64_t d : {1, 2})
        for (int64_t pb : {0, 1})
          for (int64_t pe : {0, 2})
            for (int64_t group : {1, 2}) {
              const int64_t n = 2, c = 4, h = 9, w = 11, m = 6;
              const int64_t eff = (k - 1) * d + 1;
              const int64_t oh = (h + pb + pe - eff) / s + 1, ow = (w + pb + pe - eff) / s + 1;
              Tensor x = random_f32({n, c, h, w}, rng);
              Tensor wt = random_f32({m, c / group, k, k}, rng);
              Tensor b = random_f32({m}, rng);
              auto r = run_op("Conv",
                              {{"group", int1(group)},
                               {"strides", ints({s, s})},
                               {"dilations", ints({d, d})},
                               {"pads", ints({pb, pb, pe, pe})}},
                              {&x, &wt, &b});
              ASSERT_TRUE(r.status.ok()) << r.status.message();
              expect_close(r.outputs[0],
                           naive_conv2d(x, wt, &b, group, {s, s}, {d, d}, {pb, pb}, oh, ow));
              if (testing::Test::HasFatalFailure()) {
                ADD_FAILURE() << "k=" << k << " s=" << s << " d=" << d << " pb=" << pb
                              << " pe=" << pe << " group=" << group;
                return;
              }
              ++checked;
            }
  EXPECT_EQ(checked, 144);
}

TEST(OpsNnTest, ConvAutoPadSameUpperAndLower) {
  std::mt19937 rng(2);
  Tensor x = random_f32({1, 1, 4, 4}, rng), w = random_f32({1, 1, 2, 2}, rng);
  // Total padding 1 per dim: SAME_UPPER puts it at the end, SAME_LOWER at the start.
  auto up = run_op("Conv", {{"auto_pad", str("SAME_UPPER")}}, {&x, &w});
  auto lo = run_op("Conv", {{"auto_pad", str("SAME_LOWER")}}, {&x, &w});
  ASSERT_TRUE(up.status.ok() && lo.status.ok());
  Tensor x_up(DType::kF32, {1, 1, 5, 5}), x_lo(DType::kF32, {1, 1, 5, 5});
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      x_up.data<float>()[i * 5 + j] = x.data<float>()[i * 4 + j];
      x_lo.data<float>()[(i + 1) * 5 + j + 1] = x.data<float>()[i * 4 + j];
    }
  expect_close(up.outputs[0], naive_conv2d(x_up, w, nullptr, 1, {1, 1}, {1, 1}, {0, 0}, 4, 4));
  expect_close(lo.outputs[0], naive_conv2d(x_lo, w, nullptr, 1, {1, 1}, {1, 1}, {0, 0}, 4, 4));
}

TEST(OpsNnTest, Conv1dAnd3dWork) {
  // 1-D: [1,1,5] * [1,1,3] valid.
  Tensor x = Tensor::from_f32({1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor w = Tensor::from_f32({1, 1, 3}, {1, 0, -1});
  auto r = run_op("Conv", {}, {&x, &w});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 1, 3}));
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(r.outputs[0].data<float>()[i], -2.0f);
  // 3-D: all-ones 2x2x2 kernel over all-ones 3x3x3 input sums 8 per position.
  Tensor x3(DType::kF32, {1, 1, 3, 3, 3}), w3(DType::kF32, {1, 1, 2, 2, 2});
  for (auto& v : x3.span<float>()) v = 1.0f;
  for (auto& v : w3.span<float>()) v = 1.0f;
  auto r3 = run_op("Conv", {}, {&x3, &w3});
  ASSERT_TRUE(r3.status.ok()) << r3.status.message();
  EXPECT_EQ(r3.outputs[0].shape(), (Shape{1, 1, 2, 2, 2}));
  for (float v : r3.outputs[0].span<float>()) EXPECT_FLOAT_EQ(v, 8.0f);
}

TEST(OpsNnTest, ConvBadInputsAreInvalidAndNameTheNode) {
  Tensor x(DType::kF32, {1, 3, 5, 5}), w(DType::kF32, {2, 4, 3, 3});
  auto r = run_op("Conv", {}, {&x, &w});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status.message().find("node 'n1' (Conv)"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("channels"), std::string::npos) << r.status.message();

  Tensor w_ok(DType::kF32, {2, 3, 3, 3}), bad_bias(DType::kF32, {3});
  EXPECT_EQ(run_op("Conv", {}, {&x, &w_ok, &bad_bias}).status.code(), StatusCode::kInvalidInput);
  Tensor w_big(DType::kF32, {2, 3, 7, 7});
  EXPECT_EQ(run_op("Conv", {}, {&x, &w_big}).status.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_op("Conv", {{"strides", ints({1})}}, {&x, &w_ok}).status.code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(run_op("Conv", {{"auto_pad", str("SAME")}}, {&x, &w_ok}).status.code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(run_op("Conv", {}, {&x}).status.code(), StatusCode::kInvalidInput);
  Tensor xd(DType::kF64, {1, 3, 5, 5});  // W must share X's element type
  EXPECT_EQ(run_op("Conv", {}, {&xd, &w_ok}).status.code(), StatusCode::kInvalidInput);
}

TEST(OpsNnTest, ConvTransposeIsTheAdjointOfConv) {
  // Stride-2 ConvTranspose of a single 1 places the kernel; overlaps add.
  Tensor x = Tensor::from_f32({1, 1, 2}, {1, 2});
  Tensor w = Tensor::from_f32({1, 1, 3}, {1, 1, 1});
  auto r = run_op("ConvTranspose", {{"strides", ints({2})}}, {&x, &w});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 1, 5}));
  const std::vector<float> want = {1, 1, 3, 2, 2};
  for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(r.outputs[0].data<float>()[i], want[i]);
}

TEST(OpsNnTest, GemmAttributesAndBroadcastC) {
  // A^T is [[1,2],[3,4]] (A stored transposed), B = I * 2 via alpha.
  Tensor a = Tensor::from_f32({2, 2}, {1, 3, 2, 4});
  Tensor b = Tensor::from_f32({2, 2}, {1, 0, 0, 1});
  Tensor c = Tensor::from_f32({2}, {10, 20});
  auto r = run_op("Gemm", {{"transA", int1(1)}, {"alpha", flt(2.0f)}, {"beta", flt(0.5f)}},
                  {&a, &b, &c});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const std::vector<float> want = {7, 14, 11, 18};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(r.outputs[0].data<float>()[i], want[i]);

  Tensor b3 = Tensor::from_f32({3, 2}, {1, 2, 3, 4, 5, 6});
  auto bad = run_op("Gemm", {}, {&a, &b3});
  EXPECT_EQ(bad.status.code(), StatusCode::kInvalidInput);
  EXPECT_NE(bad.status.message().find("node 'n1' (Gemm)"), std::string::npos);
  Tensor c_bad = Tensor::from_f32({3}, {1, 2, 3});
  EXPECT_EQ(run_op("Gemm", {}, {&a, &b, &c_bad}).status.code(), StatusCode::kInvalidInput);
  // transB: B stored [N,K].
  auto tb = run_op("Gemm", {{"transB", int1(1)}}, {&b3, &b3});
  ASSERT_TRUE(tb.status.ok());
  EXPECT_EQ(tb.outputs[0].shape(), (Shape{3, 3}));
  EXPECT_FLOAT_EQ(tb.outputs[0].data<float>()[1], 1 * 3 + 2 * 4);
}

TEST(OpsNnTest, MatMulBroadcastsBatchesAndPromotesVectors) {
  std::mt19937 rng(3);
  Tensor a = random_f32({2, 1, 3, 4}, rng), b = random_f32({3, 4, 5}, rng);
  auto r = run_op("MatMul", {}, {&a, &b});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.outputs[0].shape(), (Shape{2, 3, 3, 5}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t m = 0; m < 3; ++m)
        for (int64_t n = 0; n < 5; ++n) {
          double acc = 0;
          for (int64_t k = 0; k < 4; ++k)
            acc += a.data<float>()[(i * 3 + m) * 4 + k] * b.data<float>()[(j * 4 + k) * 5 + n];
          EXPECT_NEAR(r.outputs[0].data<float>()[((i * 3 + j) * 3 + m) * 5 + n], acc, kTol);
        }
  Tensor v = Tensor::from_f32({4}, {1, 0, 0, 0});
  auto rv = run_op("MatMul", {}, {&v, &b});
  ASSERT_TRUE(rv.status.ok());
  EXPECT_EQ(rv.outputs[0].shape(), (Shape{3, 5}));
  EXPECT_FLOAT_EQ(rv.outputs[0].data<float>()[5], b.data<float>()[20]);
  auto rvv = run_op("MatMul", {}, {&v, &v});
  ASSERT_TRUE(rvv.status.ok());
  EXPECT_EQ(rvv.outputs[0].shape(), (Shape{}));
  EXPECT_FLOAT_EQ(rvv.outputs[0].data<float>()[0], 1.0f);
  // Shared B folds the batch into one GEMM; same answer.
  Tensor a3 = random_f32({4, 7, 4}, rng), b2 = random_f32({4, 6}, rng);
  auto r3 = run_op("MatMul", {}, {&a3, &b2});
  ASSERT_TRUE(r3.status.ok());
  EXPECT_EQ(r3.outputs[0].shape(), (Shape{4, 7, 6}));
  double acc = 0;
  for (int k = 0; k < 4; ++k) acc += a3.data<float>()[(3 * 7 + 6) * 4 + k] * b2.data<float>()[k * 6 + 5];
  EXPECT_NEAR(r3.outputs[0].data<float>()[(3 * 7 + 6) * 6 + 5], acc, kTol);

  Tensor bad = random_f32({2, 5, 5}, rng);
  EXPECT_EQ(run_op("MatMul", {}, {&a, &bad}).status.code(), StatusCode::kInvalidInput);
  Tensor bad_batch = random_f32({2, 4, 5}, rng), a_batch = random_f32({3, 3, 4}, rng);
  EXPECT_EQ(run_op("MatMul", {}, {&a_batch, &bad_batch}).status.code(), StatusCode::kInvalidInput);
}

TEST(OpsNnTest, MaxPoolFloatU8IndicesAndCeil) {
  Tensor x = Tensor::from_f32({1, 1, 3, 3}, {1, 9, 3, 4, 5, 6, 7, 8, 2});
  auto r = run_op("MaxPool", {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})},
                              {"ceil_mode", int1(1)}},
                  {&x}, 2);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 1, 2, 2}));
  const std::vector<float> want = {9, 6, 8, 2};
  const std::vector<int64_t> want_idx = {1, 5, 7, 8};
  for (int i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ(r.outputs[0].data<float>()[i], want[i]);
    EXPECT_EQ(r.outputs[1].data<int64_t>()[i], want_idx[i]);
  }
  Tensor xu(DType::kU8, {1, 2, 2, 2});
  const uint8_t vals[] = {1, 200, 3, 4, 5, 6, 255, 0};
  for (int i = 0; i < 8; ++i) xu.data<uint8_t>()[i] = vals[i];
  auto ru = run_op("MaxPool", {{"kernel_shape", ints({2, 2})}}, {&xu});
  ASSERT_TRUE(ru.status.ok());
  EXPECT_EQ(ru.outputs[0].dtype(), DType::kU8);
  EXPECT_EQ(ru.outputs[0].data<uint8_t>()[0], 200);
  EXPECT_EQ(ru.outputs[0].data<uint8_t>()[1], 255);

  EXPECT_EQ(run_op("MaxPool", {}, {&x}).status.code(), StatusCode::kInvalidInput);
  Tensor x2(DType::kF32, {3, 3});
  EXPECT_EQ(run_op("MaxPool", {{"kernel_shape", ints({2})}}, {&x2}).status.code(),
            StatusCode::kInvalidInput);
}

TEST(OpsNnTest, AveragePoolPaddingModes) {
  Tensor x = Tensor::from_f32({1, 1, 2, 2}, {1, 2, 3, 4});
  std::map<std::string, Attribute> attrs = {{"kernel_shape", ints({2, 2})},
                                            {"pads", ints({1, 1, 1, 1})}};
  auto ex = run_op("AveragePool", attrs, {&x});
  ASSERT_TRUE(ex.status.ok()) << ex.status.message();
  EXPECT_EQ(ex.outputs[0].shape(), (Shape{1, 1, 3, 3}));
  EXPECT_FLOAT_EQ(ex.outputs[0].data<float>()[0], 1.0f);   // only the corner is real
  EXPECT_FLOAT_EQ(ex.outputs[0].data<float>()[4], 2.5f);   // the full window
  attrs["count_include_pad"] = int1(1);
  auto in = run_op("AveragePool", attrs, {&x});
  ASSERT_TRUE(in.status.ok());
  EXPECT_FLOAT_EQ(in.outputs[0].data<float>()[0], 0.25f);  // padding counts as zeros
  EXPECT_FLOAT_EQ(in.outputs[0].data<float>()[1], 0.75f);
}

TEST(OpsNnTest, GlobalAveragePool) {
  Tensor x = Tensor::from_f32({1, 2, 2, 2}, {1, 2, 3, 4, 10, 10, 10, 14});
  auto r = run_op("GlobalAveragePool", {}, {&x});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 2, 1, 1}));
  EXPECT_FLOAT_EQ(r.outputs[0].data<float>()[0], 2.5f);
  EXPECT_FLOAT_EQ(r.outputs[0].data<float>()[1], 11.0f);
}

}  // namespace
}  // namespace qtune
