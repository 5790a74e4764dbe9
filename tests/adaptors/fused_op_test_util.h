// Shared scaffolding of the fused-op tests (native_ops_test, onednn_ops_test): attribute
// builders, QDQ graphs built the way the QDQ builder emits them, the reference executor, and the
// closeness checks between a fused op's output and the reference's.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "tests/common/graph_test_util.h"
#include "common/graph.h"
#include "kernels/quantize_ref.h"

namespace qtune::fused_op_test {

// f32 outputs of a fused unit may differ from the reference by accumulation order and the point
// where the bias is added: relative to the output's magnitude.
inline constexpr float kF32OutputTol = 1e-4f;
// bf16 rounds both operands to 8 significant bits: ~2^-8 relative per product.
inline constexpr float kBf16RelTol = 2e-2f;

using test::float_attr;
using test::int_attr;
using test::ints_attr;
using test::str_attr;

inline Tensor random_f32(Shape shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(DType::kF32, std::move(shape));
  std::uniform_real_distribution<float> d(lo, hi);
  for (auto& v : t.span<float>()) v = d(rng);
  return t;
}

inline Tensor scalar_q(DType t, int32_t v) {
  Tensor z(t, {});
  if (t == DType::kU8) z.data<uint8_t>()[0] = static_cast<uint8_t>(v);
  if (t == DType::kS8) z.data<int8_t>()[0] = static_cast<int8_t>(v);
  if (t == DType::kS32) z.data<int32_t>()[0] = v;
  return z;
}

// Builds QDQ graphs the way the QDQ builder emits them (ONNX Runtime's convention).
struct QdqBuilder {
  Graph g;
  int counter = 0;

  QdqBuilder() { g.name = "qdq_test"; }
  std::string fresh(const std::string& base) { return base + "_" + std::to_string(counter++); }
  void input(const std::string& name, DType t, Shape s) { g.inputs.push_back({name, t, s}); }
  void output(const std::string& name) { g.outputs.push_back({name, DType::kUndefined, std::nullopt}); }
  Node& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
             std::map<std::string, Attribute> attrs = {}, std::string name = "") {
    Node n;
    n.name = name.empty() ? fresh(op) : name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = std::move(attrs);
    g.nodes.push_back(std::move(n));
    return g.nodes.back();
  }
  // x -> Q -> xq -> DQ -> returned name. The Q output name is `x + "_q"`.
  std::string quant_act(const std::string& x, float scale, int32_t zp, DType t) {
    const std::string s = x + "_scale", z = x + "_zero_point", q = x + "_q", dq = x + "_dq";
    g.initializers[s] = Tensor::scalar_f32(scale);
    g.initializers[z] = scalar_q(t, zp);
    node("QuantizeLinear", {x, s, z}, {q});
    node("DequantizeLinear", {q, s, z}, {dq});
    return dq;
  }
  // Quantizes an f32 weight to s8 (symmetric, per channel on `axis` or per tensor) and returns
  // the DequantizeLinear output; *scales receives the scales used.
  std::string quant_weight(const std::string& w, const Tensor& wf, int64_t axis, bool per_channel,
                           std::vector<float>* scales) {
    const int64_t c = per_channel ? wf.dim(axis) : 1;
    int64_t inner = 1;
    for (int64_t i = axis + 1; i < wf.rank(); ++i) inner *= wf.dim(i);
    auto chan = [&](int64_t i) { return per_channel ? (i / inner) % c : 0; };
    std::vector<float> mx(static_cast<size_t>(c), 0.0f);
    for (int64_t i = 0; i < wf.numel(); ++i) {
      mx[chan(i)] = std::max(mx[chan(i)], std::fabs(wf.data<float>()[i]));
    }
    scales->assign(static_cast<size_t>(c), 0.0f);
    for (int64_t k = 0; k < c; ++k) (*scales)[k] = mx[k] > 0 ? mx[k] / 127.0f : 1.0f;
    Tensor q(DType::kS8, wf.shape());
    for (int64_t i = 0; i < wf.numel(); ++i) {
      q.data<int8_t>()[i] = static_cast<int8_t>(
          quantize_value(wf.data<float>()[i], (*scales)[chan(i)], 0, qrange(DType::kS8)));
    }
    Tensor st = per_channel ? Tensor::from_f32({c}, *scales) : Tensor::scalar_f32((*scales)[0]);
    Tensor zp(DType::kS8, per_channel ? Shape{c} : Shape{});
    g.initializers[w + "_quantized"] = q;
    g.initializers[w + "_scale"] = st;
    g.initializers[w + "_zero_point"] = zp;
    const std::string out = w + "_dequantized";
    node("DequantizeLinear", {w + "_quantized", w + "_scale", w + "_zero_point"}, {out},
         {{"axis", int_attr(axis)}});
    return out;
  }
  std::string quant_bias(const std::string& b, const Tensor& bf, float x_scale,
                         const std::vector<float>& w_scales) {
    const int64_t n = bf.numel();
    Tensor q(DType::kS32, {n});
    std::vector<float> s(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      s[i] = x_scale * w_scales[w_scales.size() == 1 ? 0 : i];
      q.data<int32_t>()[i] =
          quantize_value(bf.data<float>()[i], s[i], 0, qrange(DType::kS32));
    }
    g.initializers[b + "_quantized"] = q;
    g.initializers[b + "_scale"] = w_scales.size() == 1 ? Tensor::scalar_f32(s[0]) : Tensor::from_f32({n}, s);
    g.initializers[b + "_zero_point"] =
        w_scales.size() == 1 ? scalar_q(DType::kS32, 0) : Tensor(DType::kS32, {n});
    const std::string out = b + "_dequantized";
    node("DequantizeLinear", {b + "_quantized", b + "_scale", b + "_zero_point"}, {out},
         {{"axis", int_attr(0)}});
    return out;
  }
  std::string quant_out(const std::string& y, float scale, int32_t zp, DType t) {
    const std::string s = y + "_scale", z = y + "_zero_point", q = y + "_q";
    g.initializers[s] = Tensor::scalar_f32(scale);
    g.initializers[z] = scalar_q(t, zp);
    node("QuantizeLinear", {y, s, z}, {q});
    return q;
  }
};

inline std::vector<Tensor> run_exec(Result<Executor> exec, const std::vector<Tensor>& in,
                             Graph* lowered) {
  EXPECT_TRUE(exec.ok()) << exec.status().message();
  if (!exec.ok()) return {};
  if (lowered) *lowered = exec->graph();
  auto out = exec->run(in);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

inline std::vector<Tensor> run_reference(const Graph& g, const std::vector<Tensor>& in) {
  return run_exec(Executor::create(std::make_shared<const Graph>(g)), in, nullptr);
}

inline int count_ops(const Graph& g, const std::string& op, const std::string& domain = "") {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op_type == op && (domain.empty() || node.domain == domain);
  return n;
}

// 8-bit outputs: at most one step apart (ties resolved differently), and rarely even that.
inline void expect_q8_close(const Tensor& ref, const Tensor& got) {
  ASSERT_EQ(ref.dtype(), got.dtype());
  ASSERT_EQ(ref.shape(), got.shape());
  int64_t max_diff = 0, sum = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const int64_t d = std::llabs(ref.get_i64(i) - got.get_i64(i));
    max_diff = std::max(max_diff, d);
    sum += d;
  }
  EXPECT_LE(max_diff, 1);
  EXPECT_LE(static_cast<double>(sum) / std::max<int64_t>(1, ref.numel()), 0.02);
}

inline void expect_f32_close(const Tensor& ref, const Tensor& got, float rel_tol) {
  ASSERT_EQ(got.dtype(), DType::kF32);
  ASSERT_EQ(ref.shape(), got.shape());
  float scale = 1e-6f;
  for (float v : ref.span<float>()) scale = std::max(scale, std::fabs(v));
  float max_diff = 0.0f;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    max_diff = std::max(max_diff, std::fabs(ref.data<float>()[i] - got.data<float>()[i]));
  }
  EXPECT_LE(max_diff, rel_tol * scale) << "max |ref| " << scale;
}

inline void expect_close(const Tensor& ref, const Tensor& got) {
  if (ref.dtype() == DType::kF32) {
    expect_f32_close(ref, got, kF32OutputTol);
  } else {
    expect_q8_close(ref, got);
  }
}

}  // namespace qtune::fused_op_test
