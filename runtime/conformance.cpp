#include "runtime/conformance.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "runtime/executor.h"
#include "common/onnx_io.h"
#include "runtime/onnx_inference.h"

namespace qtune {
namespace fs = std::filesystem;
namespace {

enum class Outcome { kPass, kFail, kSkip };

struct TestResult {
  Outcome outcome;
  std::string detail;
};

// input_0.pb, input_1.pb, ... in numeric order.
std::vector<fs::path> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  for (int i = 0;; ++i) {
    fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    out.push_back(p);
  }
  return out;
}

std::string compare(const Tensor& got, const Tensor& want, const std::string& name) {
  if (got.kind() != want.kind()) {
    static constexpr const char* kKinds[] = {"a tensor", "a sequence", "an optional"};
    return name + ": " + kKinds[static_cast<int>(got.kind())] + ", expected " +
           kKinds[static_cast<int>(want.kind())];
  }
  if (!want.is_tensor()) {  // sequences and optionals: element by element
    if (got.items().size() != want.items().size()) {
      return name + ": " + std::to_string(got.items().size()) + " elements, expected " +
             std::to_string(want.items().size());
    }
    for (size_t i = 0; i < want.items().size(); ++i) {
      std::string diff =
          compare(got.items()[i], want.items()[i], name + "{" + std::to_string(i) + "}");
      if (!diff.empty()) return diff;
    }
    return "";
  }
  if (got.dtype() != want.dtype()) {
    return name + ": dtype " + std::string(dtype_name(got.dtype())) + ", expected " +
           std::string(dtype_name(want.dtype()));
  }
  if (got.shape() != want.shape()) {
    return name + ": shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape());
  }
  const bool is_float = dtype_is_float(want.dtype());
  if (want.dtype() == DType::kString) {
    for (int64_t i = 0; i < want.numel(); ++i) {
      if (got.data<std::string>()[i] != want.data<std::string>()[i]) {
        return name + "[" + std::to_string(i) + "] = \"" + got.data<std::string>()[i] +
               "\", expected \"" + want.data<std::string>()[i] + "\"";
      }
    }
    return "";
  }
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (is_float) {
      const double g = got.get_f64(i), w = want.get_f64(i);
      if (std::isnan(w) && std::isnan(g)) continue;
      if (std::isinf(w) && g == w) continue;
      if (!(std::fabs(g - w) <= kConformanceAtol + kConformanceRtol * std::fabs(w))) {
        std::ostringstream os;
        os << name << "[" << i << "] = " << g << ", expected " << w;
        return os.str();
      }
    } else if (got.get_i64(i) != want.get_i64(i)) {
      return name + "[" + std::to_string(i) + "] = " + std::to_string(got.get_i64(i)) +
             ", expected " + std::to_string(want.get_i64(i));
    }
  }
  return "";
}

// ONNX's test data stores bf16 tensors as u16 bit patterns; read them as the model declares.
Tensor as_declared(Tensor t, const ValueInfo* declared) {
  if (declared && declared->dtype == DType::kBF16 && t.dtype() == DType::kU16) {
    return t.bitcast(DType::kBF16);
  }
  return t;
}

TestResult run_one(const fs::path& dir) {
  auto proto = std::make_shared<onnx::ModelProto>();
  {
    std::ifstream in(dir / "model.onnx", std::ios::binary);
    if (!in || !proto->ParseFromIstream(&in)) return {Outcome::kFail, "cannot parse model.onnx"};
  }
  auto graph = load_onnx_model((dir / "model.onnx").string());
  if (!graph.ok()) {
    const bool skip = graph.status().code() == StatusCode::kUnsupported;
    return {skip ? Outcome::kSkip : Outcome::kFail, graph.status().message()};
  }
  auto missing = unsupported_nodes(graph.value());
  if (!missing.empty()) return {Outcome::kSkip, "unsupported " + missing.front()};
  auto exec = Executor::create(std::make_shared<const Graph>(std::move(graph).value()));
  if (!exec.ok()) return {Outcome::kSkip, exec.status().message()};

  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) {
      sets.push_back(e.path());
    }
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {Outcome::kFail, "no test_data_set_* directory"};
  const Graph& g = exec->graph();
  for (const auto& set : sets) {
    std::vector<Tensor> inputs, expected;
    const ValueInfo kTensorValue;
    for (const auto& p : numbered_files(set, "input_")) {
      auto t = load_value_pb(p.string(), inputs.size() < g.inputs.size() ? g.inputs[inputs.size()]
                                                                          : kTensorValue);
      if (!t.ok()) return {Outcome::kSkip, t.status().message()};
      const size_t i = inputs.size();
      inputs.push_back(as_declared(std::move(t).value(), i < g.inputs.size() ? &g.inputs[i] : nullptr));
    }
    for (const auto& p : numbered_files(set, "output_")) {
      auto t = load_value_pb(p.string(), expected.size() < g.outputs.size()
                                             ? g.outputs[expected.size()]
                                             : kTensorValue);
      if (!t.ok()) return {Outcome::kSkip, t.status().message()};
      const size_t i = expected.size();
      expected.push_back(
          as_declared(std::move(t).value(), i < g.outputs.size() ? &g.outputs[i] : nullptr));
    }
    // A few upstream tests feed data that contradicts the model's own declared input shape;
    // a conforming runtime rejects such input, so they say nothing about the ops.
    for (size_t i = 0; i < inputs.size() && i < g.inputs.size(); ++i) {
      if (!inputs[i].is_tensor()) continue;
      const auto& decl = g.inputs[i].shape;
      if (decl && decl->size() == inputs[i].shape().size()) {
        bool same = true;
        for (size_t d = 0; d < decl->size(); ++d) {
          same = same && ((*decl)[d] < 0 || (*decl)[d] == inputs[i].shape()[d]);
        }
        if (same) continue;
      } else if (!decl) {
        continue;
      }
      return {Outcome::kSkip, "test data for input '" + g.inputs[i].name + "' has shape " +
                                  shape_str(inputs[i].shape()) + ", the model declares " +
                                  shape_str(*decl)};
    }
    auto outputs = exec->run(inputs);
    if (!outputs.ok()) {
      const bool skip = outputs.status().code() == StatusCode::kUnsupported;
      return {skip ? Outcome::kSkip : Outcome::kFail, outputs.status().message()};
    }
    if (outputs->size() != expected.size()) {
      return {Outcome::kFail, "produced " + std::to_string(outputs->size()) + " outputs, expected " +
                                  std::to_string(expected.size())};
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      std::string diff = compare((*outputs)[i], expected[i],
                                 set.filename().string() + "/output_" + std::to_string(i));
      if (!diff.empty()) return {Outcome::kFail, diff};
    }
    // Every produced type and shape must also be what libonnx's schemas infer for the model.
    Status agree = check_model_against_onnx_inference(*proto, inputs, *outputs);
    if (agree.code() == StatusCode::kInvalidInput) return {Outcome::kFail, agree.message()};
  }
  return {Outcome::kPass, ""};
}

}  // namespace

Result<ConformanceExclusions> load_conformance_exclusions(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidInput(path + ": cannot open");
  ConformanceExclusions out;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string name, reason;
    if (!(words >> name)) continue;
    std::getline(words >> std::ws, reason);
    if (reason.empty()) {
      return Status::InvalidInput(path + ":" + std::to_string(no) + ": test '" + name +
                                  "' has no reason; write \"test_name  why it cannot pass\"");
    }
    out[name] = reason;
  }
  return out;
}

ConformanceSummary run_conformance(const std::vector<std::string>& paths, std::ostream& log,
                                   const ConformanceExclusions& exclusions) {
  std::vector<fs::path> tests;
  for (const auto& p : paths) {
    fs::path root(p);
    if (fs::exists(root / "model.onnx")) {
      tests.push_back(root);
      continue;
    }
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      if (e.is_directory() && fs::exists(e.path() / "model.onnx")) found.push_back(e.path());
    }
    if (ec) {
      log << "FAIL " << p << ": " << ec.message() << "\n";
      continue;
    }
    std::sort(found.begin(), found.end());
    tests.insert(tests.end(), found.begin(), found.end());
  }
  ConformanceSummary sum;
  for (const auto& t : tests) {
    TestResult r;
    try {
      r = run_one(t);
    } catch (const std::exception& e) {
      r = {Outcome::kFail, std::string("exception: ") + e.what()};
    }
    const std::string name = t.filename().string();
    if (auto ex = exclusions.find(name); ex != exclusions.end() && r.outcome == Outcome::kFail) {
      r = {Outcome::kSkip, "excluded: " + ex->second};
      ++sum.excluded;
    }
    switch (r.outcome) {
      case Outcome::kPass: ++sum.passed; log << "PASS " << name << "\n"; break;
      case Outcome::kFail: ++sum.failed; log << "FAIL " << name << ": " << r.detail << "\n"; break;
      case Outcome::kSkip: ++sum.skipped; log << "SKIP " << name << ": " << r.detail << "\n"; break;
    }
  }
  return sum;
}

}  // namespace qtune
