// The int8 ops take the packed-kernel path for s8 weights without zero points and the reference
// GEMM otherwise. Shifting s8 weights to u8 with zero point 128 is the same product, so the two
// paths must agree exactly.
#include <gtest/gtest.h>

#include <random>

#include "runtime/kernel_registry.h"

namespace qtune {
namespace {

Tensor random_q8(DType t, Shape shape, std::mt19937& rng) {
  Tensor out(t, std::move(shape));
  for (int64_t i = 0; i < out.numel(); ++i) out.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  return out;
}

Tensor shifted_to_u8(const Tensor& s8) {
  Tensor out(DType::kU8, s8.shape());
  for (int64_t i = 0; i < s8.numel(); ++i) {
    out.data<uint8_t>()[i] = static_cast<uint8_t>(s8.data<int8_t>()[i] + 128);
  }
  return out;
}

Tensor scalar_of(DType t, int v) {
  Tensor out(t, {});
  if (t == DType::kU8) out.data<uint8_t>()[0] = static_cast<uint8_t>(v);
  else out.data<int8_t>()[0] = static_cast<int8_t>(v);
  return out;
}

Tensor run(const Node& n, std::vector<const Tensor*> inputs, bool constant_weight) {
  NodeCache cache;
  OpContext ctx{n, 13, std::move(inputs), {}};
  ctx.outputs.resize(1);
  ctx.cache = &cache;
  ctx.constant_inputs.assign(ctx.inputs.size(), false);
  ctx.constant_inputs[1] = constant_weight;
  const OpFn* fn = KernelRegistry::instance().find("", n.op_type);
  EXPECT_NE(fn, nullptr);
  Status s = (*fn)(ctx);
  EXPECT_TRUE(s.ok()) << s.message();
  return ctx.outputs[0];
}

void expect_equal_s32(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data<int32_t>()[i], b.data<int32_t>()[i]) << i;
}

TEST(PackedInt8OpsTest, ConvIntegerPackedPathEqualsReferencePath) {
  std::mt19937 rng(11);
  for (DType xt : {DType::kU8, DType::kS8}) {
    Node n;
    n.name = "conv";
    n.op_type = "ConvInteger";
    Attribute pads;
    pads.kind = Attribute::Kind::kInts;
    pads.ints = {1, 0, 1, 2};
    n.attrs["pads"] = pads;
    Attribute strides = pads;
    strides.ints = {2, 1};
    n.attrs["strides"] = strides;
    Attribute group;
    group.i = 2;
    n.attrs["group"] = group;
    const Tensor x = random_q8(xt, {3, 6, 9, 7}, rng);
    const Tensor w = random_q8(DType::kS8, {10, 3, 3, 3}, rng);
    const Tensor x_zp = scalar_of(xt, 5);
    const Tensor w_u8 = shifted_to_u8(w);
    const Tensor w_zp = scalar_of(DType::kU8, 128);
    for (bool constant : {true, false}) {
      expect_equal_s32(run(n, {&x, &w, &x_zp}, constant), run(n, {&x, &w_u8, &x_zp, &w_zp}, constant));
    }
  }
}

TEST(PackedInt8OpsTest, MatMulIntegerPackedPathEqualsReferencePath) {
  std::mt19937 rng(12);
  Node n;
  n.name = "mm";
  n.op_type = "MatMulInteger";
  const Tensor a = random_q8(DType::kU8, {2, 5, 37}, rng);
  const Tensor b = random_q8(DType::kS8, {37, 19}, rng);
  const Tensor a_zp = scalar_of(DType::kU8, 120);
  const Tensor b_u8 = shifted_to_u8(b);
  const Tensor b_zp = scalar_of(DType::kU8, 128);
  for (bool constant : {true, false}) {
    expect_equal_s32(run(n, {&a, &b, &a_zp}, constant), run(n, {&a, &b_u8, &a_zp, &b_zp}, constant));
  }
}

}  // namespace
}  // namespace qtune
