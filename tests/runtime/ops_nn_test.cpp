// Conv, ConvTranspose, Gemm and MatMul (runtime/ops/nn.cpp) run one node at a time through the
// versioned registry; every successful run also checks the produced type and shape against
// libonnx's inference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using op_test::make_node;
using op_test::make_tensor;
using op_test::values;

// Float sums here have at most a few hundred terms of magnitude ~1.
constexpr float kTol = 1e-4f;

Attribute ints(std::vector<int64_t> v) { return op_test::attr_ints(std::move(v)); }
Attribute int1(int64_t v) { return op_test::attr_int(v); }
Attribute flt(float v) { return op_test::attr_float(v); }
Attribute str(std::string v) { return op_test::attr_string(std::move(v)); }

struct Run {
  Status status;
  std::vector<Tensor> outputs;
};

// Runs one node at `opset`; nullptr inputs are omitted optionals ("" in the node).
Run run_op(const std::string& op, std::map<std::string, Attribute> attrs,
           std::vector<const Tensor*> inputs, size_t num_outputs = 1, int64_t opset = 13) {
  Node n = make_node(op, inputs.size(), num_outputs, std::move(attrs));
  n.name = "n1";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) n.inputs[i].clear();
  }
  auto r = op_test::run_node(n, inputs, opset);
  if (!r.ok()) return {r.status(), {}};
  return {Status::Ok(), std::move(*r)};
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

// Same values in another element type.
Tensor as_f64(const Tensor& t) {
  Tensor out(DType::kF64, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) out.data<double>()[i] = t.data<float>()[i];
  return out;
}
Tensor as_half(const Tensor& t, DType half) {
  Tensor out(half, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float f = t.data<float>()[i];
    out.data<uint16_t>()[i] = half == DType::kF16 ? f32_to_f16(f) : f32_to_bf16(f);
  }
  return out;
}
Tensor half_to_f32(const Tensor& t) {
  Tensor out(DType::kF32, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint16_t h = t.data<uint16_t>()[i];
    out.data<float>()[i] = t.dtype() == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
  }
  return out;
}
void expect_near_rel(const Tensor& got, const Tensor& want, double rel) {
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t i = 0; i < want.numel(); ++i) {
    ASSERT_NEAR(got.get_f64(i), want.get_f64(i), rel * (1.0 + std::fabs(want.get_f64(i)))) << "at " << i;
  }
}

// X [1, C, spatial...] with a unit dim inserted after the channels, W likewise.
Tensor with_unit_spatial(const Tensor& t) {
  Shape s = t.shape();
  s.insert(s.begin() + 2, 1);
  return t.reshaped(s);
}

TEST(OpsNnTest, ConvDoubleHalfAndNdAgreeWithTheF32Path) {
  std::mt19937 rng(11);
  Tensor x = random_f32({2, 4, 7, 6}, rng), w = random_f32({6, 2, 3, 2}, rng), b = random_f32({6}, rng);
  std::map<std::string, Attribute> attrs = {{"group", int1(2)}, {"strides", ints({2, 1})},
                                            {"dilations", ints({1, 2})}, {"pads", ints({1, 0, 2, 1})}};
  auto ref = run_op("Conv", attrs, {&x, &w, &b}, 1, 11);
  ASSERT_TRUE(ref.status.ok()) << ref.status.message();
  Tensor xd = as_f64(x), wd = as_f64(w), bd = as_f64(b);
  auto rd = run_op("Conv", attrs, {&xd, &wd, &bd}, 1, 11);
  ASSERT_TRUE(rd.status.ok()) << rd.status.message();
  EXPECT_EQ(rd.outputs[0].dtype(), DType::kF64);
  expect_close(rd.outputs[0], ref.outputs[0]);
  Tensor xh = as_half(x, DType::kF16), wh = as_half(w, DType::kF16), bh = as_half(b, DType::kF16);
  auto rh = run_op("Conv", attrs, {&xh, &wh, &bh}, 1, 1);
  ASSERT_TRUE(rh.status.ok()) << rh.status.message();
  EXPECT_EQ(rh.outputs[0].dtype(), DType::kF16);
  expect_near_rel(half_to_f32(rh.outputs[0]), ref.outputs[0], 2e-2);
  // Three spatial dims with a unit first one: the 3-D im2col path, and the generic N-D path
  // for four.
  std::map<std::string, Attribute> attrs3 = {{"group", int1(2)}, {"strides", ints({1, 2, 1})},
                                             {"dilations", ints({1, 1, 2})},
                                             {"pads", ints({0, 1, 0, 0, 2, 1})}};
  Tensor x3 = with_unit_spatial(x), w3 = with_unit_spatial(w);
  auto r3 = run_op("Conv", attrs3, {&x3, &w3, &b});
  ASSERT_TRUE(r3.status.ok()) << r3.status.message();
  expect_close(r3.outputs[0], with_unit_spatial(ref.outputs[0]));
  std::map<std::string, Attribute> attrs4 = {{"group", int1(2)}, {"strides", ints({1, 1, 2, 1})},
                                             {"dilations", ints({1, 1, 1, 2})},
                                             {"pads", ints({0, 0, 1, 0, 0, 0, 2, 1})}};
  Tensor x4 = with_unit_spatial(x3), w4 = with_unit_spatial(w3);
  auto r4 = run_op("Conv", attrs4, {&x4, &w4, &b});
  ASSERT_TRUE(r4.status.ok()) << r4.status.message();
  expect_close(r4.outputs[0], with_unit_spatial(with_unit_spatial(ref.outputs[0])));
  // bf16 is not in Conv's schema.
  Tensor xb = as_half(x, DType::kBF16), wb = as_half(w, DType::kBF16);
  EXPECT_EQ(run_op("Conv", {}, {&xb, &wb}).status.code(), StatusCode::kUnsupported);
}

TEST(OpsNnTest, ConvKernelShapeIsInferredFromW) {
  Tensor x = Tensor::from_f32({1, 1, 3}, {1, 2, 3});
  Tensor w = Tensor::from_f32({1, 1, 2}, {1, 1});
  auto r = run_op("Conv", {}, {&x, &w}, 1, 1);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{3, 5}));
  EXPECT_EQ(run_op("Conv", {{"kernel_shape", ints({3})}}, {&x, &w}).status.code(),
            StatusCode::kInvalidInput);
}

TEST(OpsNnTest, ConvTransposeTypesAndNdAgreeWithTheF32Path) {
  std::mt19937 rng(12);
  Tensor x = random_f32({2, 4, 3, 4}, rng), w = random_f32({4, 3, 3, 2}, rng), b = random_f32({6}, rng);
  std::map<std::string, Attribute> attrs = {{"group", int1(2)}, {"strides", ints({2, 3})},
                                            {"dilations", ints({1, 2})}, {"pads", ints({1, 0, 0, 2})},
                                            {"output_padding", ints({1, 1})}};
  auto ref = run_op("ConvTranspose", attrs, {&x, &w, &b}, 1, 11);
  ASSERT_TRUE(ref.status.ok()) << ref.status.message();
  EXPECT_EQ(ref.outputs[0].shape(), (Shape{2, 6, 7, 11}));
  Tensor xd = as_f64(x), wd = as_f64(w), bd = as_f64(b);
  auto rd = run_op("ConvTranspose", attrs, {&xd, &wd, &bd}, 1, 11);
  ASSERT_TRUE(rd.status.ok()) << rd.status.message();
  expect_close(rd.outputs[0], ref.outputs[0]);
  Tensor xh = as_half(x, DType::kF16), wh = as_half(w, DType::kF16), bh = as_half(b, DType::kF16);
  auto rh = run_op("ConvTranspose", attrs, {&xh, &wh, &bh}, 1, 11);
  ASSERT_TRUE(rh.status.ok()) << rh.status.message();
  expect_near_rel(half_to_f32(rh.outputs[0]), ref.outputs[0], 2e-2);
  // Four spatial dims (two unit ones in front) take the generic path.
  std::map<std::string, Attribute> attrs4 = {{"group", int1(2)}, {"strides", ints({1, 1, 2, 3})},
                                             {"dilations", ints({1, 1, 1, 2})},
                                             {"pads", ints({0, 0, 1, 0, 0, 0, 0, 2})},
                                             {"output_padding", ints({0, 0, 1, 1})}};
  Tensor x4 = with_unit_spatial(with_unit_spatial(x)), w4 = with_unit_spatial(with_unit_spatial(w));
  auto r4 = run_op("ConvTranspose", attrs4, {&x4, &w4, &b});
  ASSERT_TRUE(r4.status.ok()) << r4.status.message();
  expect_close(r4.outputs[0], with_unit_spatial(with_unit_spatial(ref.outputs[0])));
}

TEST(OpsNnTest, ConvTransposeOutputShapeAndAutoPad) {
  // x = [1, 2], kernel [1, 1, 1], stride 2: full output [1, 1, 3, 2, 2] (length 5).
  Tensor x = Tensor::from_f32({1, 1, 2}, {1, 2});
  Tensor w = Tensor::from_f32({1, 1, 3}, {1, 1, 1});
  // SAME_UPPER: output 4 = 2 * stride, the odd padding at the end.
  auto up = run_op("ConvTranspose", {{"strides", ints({2})}, {"auto_pad", str("SAME_UPPER")}}, {&x, &w});
  ASSERT_TRUE(up.status.ok()) << up.status.message();
  EXPECT_EQ(values<float>(up.outputs[0]), (std::vector<float>{1, 1, 3, 2}));
  auto lo = run_op("ConvTranspose", {{"strides", ints({2})}, {"auto_pad", str("SAME_LOWER")}}, {&x, &w});
  ASSERT_TRUE(lo.status.ok()) << lo.status.message();
  EXPECT_EQ(values<float>(lo.outputs[0]), (std::vector<float>{1, 3, 2, 2}));
  // output_shape larger than the strides produce: the extra lands at the end.
  auto big = run_op("ConvTranspose", {{"strides", ints({2})}, {"output_shape", ints({6})}}, {&x, &w}, 1, 9);
  ASSERT_TRUE(big.status.ok()) << big.status.message();
  EXPECT_EQ(values<float>(big.outputs[0]), (std::vector<float>{1, 1, 3, 2, 2, 0}));
  auto valid = run_op("ConvTranspose", {{"strides", ints({2})}, {"auto_pad", str("VALID")},
                                        {"output_padding", ints({1})}}, {&x, &w});
  ASSERT_TRUE(valid.status.ok()) << valid.status.message();
  EXPECT_EQ(values<float>(valid.outputs[0]), (std::vector<float>{1, 1, 3, 2, 2, 0}));
  Tensor w_bad = Tensor::from_f32({2, 1, 3}, {1, 1, 1, 1, 1, 1});
  EXPECT_EQ(run_op("ConvTranspose", {}, {&x, &w_bad}).status.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(run_op("ConvTranspose", {{"auto_pad", str("SAME")}}, {&x, &w}).status.code(),
            StatusCode::kInvalidInput);
}

TEST(OpsNnTest, GemmOpsetFormsOfC) {
  Tensor a = Tensor::from_f32({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_f32({2, 2}, {1, 0, 0, 1});
  Tensor c = Tensor::from_f32({2}, {10, 20});
  // C is required before opset 11.
  EXPECT_EQ(run_op("Gemm", {}, {&a, &b}, 1, 9).status.code(), StatusCode::kInvalidInput);
  auto r = run_op("Gemm", {}, {&a, &b}, 1, 11);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1, 2, 3, 4}));
  r = run_op("Gemm", {}, {&a, &b, &c}, 1, 7);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{11, 22, 13, 24}));
  // Opset 6 broadcasts C only with broadcast=1.
  EXPECT_EQ(run_op("Gemm", {}, {&a, &b, &c}, 1, 6).status.code(), StatusCode::kInvalidInput);
  r = run_op("Gemm", {{"broadcast", int1(1)}}, {&a, &b, &c}, 1, 6);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{11, 22, 13, 24}));
}

TEST(OpsNnTest, GemmDoubleIntegerAndHalfTypes) {
  const std::map<std::string, Attribute> attrs = {{"transB", int1(1)}, {"alpha", flt(2.0f)},
                                                  {"beta", flt(3.0f)}};
  // A [2,3] x B^T [3,2]; C [2,1] broadcast along columns.
  const std::vector<double> av = {1, 2, 3, 4, 5, 6}, bv = {1, 0, -1, 2, 1, 0}, cv = {1, -1};
  const std::vector<double> want = {2 * -2 + 3, 2 * 4 + 3, 2 * -2 - 3, 2 * 13 - 3};
  Tensor a = make_tensor(DType::kF64, {2, 3}, av), b = make_tensor(DType::kF64, {2, 3}, bv);
  Tensor c = make_tensor(DType::kF64, {2, 1}, cv);
  auto r = run_op("Gemm", attrs, {&a, &b, &c});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<double>(r.outputs[0]), want);
  auto as_ints = [](const std::vector<double>& v) { return std::vector<int64_t>(v.begin(), v.end()); };
  Tensor ai = make_tensor(DType::kS64, {2, 3}, as_ints(av)), bi = make_tensor(DType::kS64, {2, 3}, as_ints(bv));
  Tensor ci = make_tensor(DType::kS64, {2, 1}, as_ints(cv));
  r = run_op("Gemm", attrs, {&ai, &bi, &ci}, 1, 9);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<int64_t>(r.outputs[0]), as_ints(want));
  // Integers are not in the opset 7 schema.
  EXPECT_EQ(run_op("Gemm", attrs, {&ai, &bi, &ci}, 1, 7).status.code(), StatusCode::kUnsupported);
  // u32 wraps.
  Tensor au = make_tensor<uint32_t>(DType::kU32, {1, 1}, {0x80000000u});
  Tensor bu = make_tensor<uint32_t>(DType::kU32, {1, 1}, {2u});
  r = run_op("Gemm", {}, {&au, &bu}, 1, 11);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<uint32_t>(r.outputs[0]), (std::vector<uint32_t>{0}));
  Tensor as32 = make_tensor<int32_t>(DType::kS32, {1, 2}, {3, -4});
  Tensor bs32 = make_tensor<int32_t>(DType::kS32, {2, 1}, {5, 6});
  r = run_op("Gemm", {}, {&as32, &bs32}, 1, 13);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<int32_t>(r.outputs[0]), (std::vector<int32_t>{-9}));
  // bf16 from opset 13, f16 always.
  Tensor af = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6}), bf = Tensor::from_f32({2, 3}, {1, 0, -1, 2, 1, 0});
  Tensor cf = Tensor::from_f32({2, 1}, {1, -1});
  for (DType half : {DType::kF16, DType::kBF16}) {
    Tensor ah = as_half(af, half), bh = as_half(bf, half), ch = as_half(cf, half);
    r = run_op("Gemm", attrs, {&ah, &bh, &ch});
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    EXPECT_EQ(r.outputs[0].dtype(), half);
    EXPECT_EQ(values<float>(half_to_f32(r.outputs[0])), (std::vector<float>{-1, 11, -7, 23}));
  }
  Tensor ab = as_half(af, DType::kBF16), bb = as_half(bf, DType::kBF16);
  EXPECT_EQ(run_op("Gemm", {{"transB", int1(1)}}, {&ab, &bb}, 1, 11).status.code(),
            StatusCode::kUnsupported);
  // Mixed element types are an invalid model.
  EXPECT_EQ(run_op("Gemm", attrs, {&a, &bi, &c}).status.code(), StatusCode::kInvalidInput);
}

TEST(OpsNnTest, MatMulIntegerDoubleAndHalfTypes) {
  // [2,1,2,3] x [2,3,2]: batches broadcast to [2,2].
  std::vector<int32_t> av(12), bv2(12);
  for (int i = 0; i < 12; ++i) av[i] = i - 5;
  for (int i = 0; i < 12; ++i) bv2[i] = 7 - i;
  Tensor a = make_tensor(DType::kS32, {2, 1, 2, 3}, av), b = make_tensor(DType::kS32, {2, 3, 2}, bv2);
  auto r = run_op("MatMul", {}, {&a, &b}, 1, 9);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.outputs[0].shape(), (Shape{2, 2, 2, 2}));
  auto y = values<int32_t>(r.outputs[0]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int m = 0; m < 2; ++m)
        for (int n = 0; n < 2; ++n) {
          int32_t acc = 0;
          for (int k = 0; k < 3; ++k) acc += av[(i * 2 + m) * 3 + k] * bv2[(j * 3 + k) * 2 + n];
          EXPECT_EQ(y[((i * 2 + j) * 2 + m) * 2 + n], acc);
        }
  EXPECT_EQ(run_op("MatMul", {}, {&a, &b}, 1, 8).status.code(), StatusCode::kUnsupported);
  Tensor a64 = make_tensor<int64_t>(DType::kS64, {3}, {1, 2, 3});
  Tensor b64 = make_tensor<int64_t>(DType::kS64, {3}, {4, 5, 6});
  r = run_op("MatMul", {}, {&a64, &b64});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), Shape{});
  EXPECT_EQ(values<int64_t>(r.outputs[0]), (std::vector<int64_t>{32}));
  Tensor au = make_tensor<uint64_t>(DType::kU64, {1, 1}, {~uint64_t{0}});
  r = run_op("MatMul", {}, {&au, &au});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<uint64_t>(r.outputs[0]), (std::vector<uint64_t>{1}));  // (2^64-1)^2 mod 2^64

  std::mt19937 rng(13);
  Tensor af = random_f32({3, 4, 5}, rng), bf = random_f32({5, 2}, rng);
  auto ref = run_op("MatMul", {}, {&af, &bf});
  ASSERT_TRUE(ref.status.ok()) << ref.status.message();
  Tensor ad = as_f64(af), bd = as_f64(bf);
  r = run_op("MatMul", {}, {&ad, &bd}, 1, 1);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_close(r.outputs[0], ref.outputs[0]);
  for (DType half : {DType::kF16, DType::kBF16}) {
    Tensor ah = as_half(af, half), bh = as_half(bf, half);
    r = run_op("MatMul", {}, {&ah, &bh});
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    EXPECT_EQ(r.outputs[0].dtype(), half);
    expect_near_rel(half_to_f32(r.outputs[0]), ref.outputs[0], 5e-2);
  }
  Tensor ab = as_half(af, DType::kBF16), bb = as_half(bf, DType::kBF16);
  EXPECT_EQ(run_op("MatMul", {}, {&ab, &bb}, 1, 12).status.code(), StatusCode::kUnsupported);
}

// Random 1-3-D geometries: the generic f64 loops (Conv and ConvTranspose) against the f32 fast
// paths on the same values.
TEST(OpsNnTest, GenericDoublePathsMatchTheF32PathsOnRandomGeometries) {
  std::mt19937 rng(21);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int iter = 0; iter < 30; ++iter) {
    const int nd = 1 + iter % 3;
    const int64_t group = pick(1, 2), cg = pick(1, 3), mg = pick(1, 3);
    Shape xs{pick(1, 2), group * cg}, ws{group * mg, cg}, wt{group * cg, mg};
    std::vector<int64_t> strides, dilations, pads(2 * nd), out_pad;
    for (int d = 0; d < nd; ++d) {
      const int64_t k = pick(1, 3), dil = pick(1, 2), in = pick(1, 4) + (k - 1) * dil;
      xs.push_back(in);
      ws.push_back(k);
      wt.push_back(k);
      strides.push_back(pick(1, 3));
      dilations.push_back(dil);
      pads[d] = pick(0, k - 1);
      pads[d + nd] = pick(0, k - 1);
      out_pad.push_back(pick(0, static_cast<int>(strides.back()) - 1));
    }
    std::map<std::string, Attribute> attrs = {{"group", int1(group)}, {"strides", ints(strides)},
                                              {"dilations", ints(dilations)}, {"pads", ints(pads)}};
    Tensor x = random_f32(xs, rng), w = random_f32(ws, rng), b = random_f32({group * mg}, rng);
    Tensor xd = as_f64(x), wd = as_f64(w), bd = as_f64(b);
    auto f = run_op("Conv", attrs, {&x, &w, &b});
    auto d = run_op("Conv", attrs, {&xd, &wd, &bd});
    ASSERT_TRUE(f.status.ok() && d.status.ok()) << f.status.message() << d.status.message();
    expect_close(d.outputs[0], f.outputs[0]);
    attrs["output_padding"] = ints(out_pad);
    Tensor w2 = random_f32(wt, rng), w2d = as_f64(w2);
    auto tf = run_op("ConvTranspose", attrs, {&x, &w2, &b});
    auto td = run_op("ConvTranspose", attrs, {&xd, &w2d, &bd});
    ASSERT_TRUE(tf.status.ok() && td.status.ok()) << tf.status.message() << td.status.message();
    expect_close(td.outputs[0], tf.outputs[0]);
    if (testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "iteration " << iter;
      return;
    }
  }
}

}  // namespace
}  // namespace qtune
