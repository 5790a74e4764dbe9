// Shared by the per-operator tests: builds one-node graphs, runs a node through the versioned
// kernel registry exactly as the executor would (kernel chosen by opset, element types checked),
// and checks every produced output's type and shape against libonnx's inference for that node.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/kernel_registry.h"
#include "runtime/onnx_inference.h"
#include "tests/common/graph_test_util.h"

namespace qtune::op_test {

// The shared builders (tests/common/graph_test_util.h) under the names these tests use.
inline Attribute attr_int(int64_t v) { return test::int_attr(v); }
inline Attribute attr_ints(std::vector<int64_t> v) { return test::ints_attr(std::move(v)); }
inline Attribute attr_float(float v) { return test::float_attr(v); }
inline Attribute attr_floats(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}
inline Attribute attr_string(std::string v) { return test::str_attr(std::move(v)); }
inline Attribute attr_tensor(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}

// A node named "n" with inputs "in0".. ("" where `present` is false) and outputs "out0"...
inline Node make_node(const std::string& op, size_t n_inputs, size_t n_outputs = 1,
                      std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = "n";
  n.op_type = op;
  for (size_t i = 0; i < n_inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  for (size_t i = 0; i < n_outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  n.attrs = std::move(attrs);
  return n;
}

// Runs `node` at `opset` on `inputs` (nullptr for an omitted optional input); on success also
// checks the outputs against libonnx's shape and type inference, failing the test when they
// disagree. Set `check_inference` false only for nodes libonnx cannot infer.
inline Result<std::vector<Tensor>> run_node(const Node& node, std::vector<const Tensor*> inputs,
                                            int64_t opset = kLatestOpset,
                                            bool check_inference = true) {
  const Kernel* k = KernelRegistry::instance().find(node.domain, node.op_type, opset);
  if (!k) {
    return Status::Unsupported("no kernel for " + node.op_type + " at opset " +
                               std::to_string(opset));
  }
  OpContext ctx{node, opset, std::move(inputs), {}, nullptr, {}};
  ctx.outputs.resize(node.outputs.size());
  QT_RETURN_IF_ERROR(check_kernel_types(*k, ctx));
  QT_RETURN_IF_ERROR(k->fn(ctx));
  if (check_inference) {
    Status s = check_against_onnx_inference(node, opset, ctx.inputs, ctx.outputs);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  return std::move(ctx.outputs);
}

// The first output of run_node; an empty tensor (and a test failure) on error.
inline Tensor run1(const Node& node, std::vector<const Tensor*> inputs,
                   int64_t opset = kLatestOpset) {
  auto r = run_node(node, std::move(inputs), opset);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value()[0] : Tensor();
}

// The status code of run_node (for the error cases).
inline StatusCode run_code(const Node& node, std::vector<const Tensor*> inputs,
                           int64_t opset = kLatestOpset) {
  return run_node(node, std::move(inputs), opset).status().code();
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

template <typename T>
Tensor make_tensor(DType dtype, Shape shape, const std::vector<T>& v) {
  Tensor t(dtype, std::move(shape));
  EXPECT_EQ(static_cast<size_t>(t.numel()), v.size());
  std::memcpy(t.raw(), v.data(), std::min(v.size() * sizeof(T), t.nbytes()));
  return t;
}

// 0, 1, 2, ... as f32.
inline Tensor iota_f32(Shape shape) {
  Tensor t(DType::kF32, std::move(shape));
  std::iota(t.data<float>(), t.data<float>() + t.numel(), 0.0f);
  return t;
}

}  // namespace qtune::op_test
